import { createWriteStream, existsSync } from 'node:fs'
import { Readable, Transform, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream } from 'node:stream/web'
import type { Command } from '@commander-js/extra-typings'
import { contextOf, type GlobalOptions } from '../context.js'
import { parseTime } from '../format.js'
import { request } from '../http.js'
import { importFile, type ImportSummary } from '../import.js'
import { UsageError, wholeNumber } from '../output.js'
import { Progress } from '../progress.js'

const NEWLINE = 10

export function transferCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('export')
    .description('write the signed entries as NDJSON, one entry per line with its signed bytes, in (node, seq) order, to stdout or --out')
    .option('--out <file>', 'write here instead of stdout')
    .option('--topic <topic>', 'only this topic')
    .option('--kind <kind>', 'only this kind')
    .option('--node <id>', "only this node's entries")
    .option('--from-seq <n>', 'only seqs from n (per node)', wholeNumber('--from-seq'))
    .option('--to-seq <n>', 'only seqs up to n, inclusive (per node)', wholeNumber('--to-seq'))
    .option('--since <time>', 'only entries appended at or after this time (ms or ISO 8601)', parseTime)
    .option('--until <time>', 'only entries appended before this time (ms or ISO 8601)', parseTime)
    .addHelpText(
      'after',
      `
Each line is {"node","seq","at","topic","kind","bytes"}: "bytes" is the signed entry in base64, all
that ylog import and an offline verifier need. An export without filters holds whole chains and
imports anywhere; a filtered one is for reading (jq, grep). Progress goes to stderr.`,
    )
    .action(async (options, command) => {
      const globals = command.optsWithGlobals()
      const { out, client } = contextOf(globals)
      const { topic, kind, node, fromSeq, toSeq, since, until } = options
      const query = { topic, kind, node, fromSeq, toSeq, since, until }
      // Unfiltered, the heads say how many lines will come: progress can show a percentage.
      const filtered = Object.values(query).some((v) => v !== undefined)
      const total = filtered ? undefined : (await client.heads()).heads.reduce((n, h) => n + h.length, 0)
      const res = await request(globals, 'GET', '/api/export', { query })
      const progress = new Progress({ json: out.json, command: 'export', phase: 'exporting', total })
      let lines = 0
      // Lines are counted, not parsed: the node's bytes go to the file as they are.
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          let n = 0
          for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) n++
          lines += n
          progress.add(n)
          done(null, chunk)
        },
      })
      const sink: Writable = options.out === undefined ? process.stdout : createWriteStream(options.out)
      const body = Readable.fromWeb((res.body ?? new Response('').body) as ReadableStream<Uint8Array>)
      await pipeline(body, count, sink, { end: options.out !== undefined })
      progress.end()
      // The summary goes to stderr (or, with --json and --out, stdout), never into the exported lines.
      const summary = (r: { exported: number }): string => `exported ${r.exported}`
      if (options.out !== undefined) out.result({ exported: lines, file: options.out }, summary)
      else out.note(`exported ${lines}`)
    })

  program
    .command('import')
    .description('import an export: every entry verified first (signature, chain link, seq), then written to a running or a stopped node')
    .argument('<file>', 'the NDJSON of ylog export, or - for stdin')
    .option('--data <dir>', "a stopped node's data directory (created if missing) instead of a running node")
    .option('--batch <n>', 'entries per request to a running node, 1-50000', wholeNumber('--batch', 1, 50_000), 4096)
    .addHelpText(
      'after',
      `
Nothing is written unless every line verifies. Entries held already are skipped, so importing the
same file twice changes nothing. A running node takes other nodes' entries as synced ones, under its
membership; its own chain, and a node's whole restore, go into its stopped data directory (--data),
which takes any validly signed chain. Progress goes to stderr.`,
    )
    .action(async (file, options, command) => {
      const globals = command.optsWithGlobals()
      const { out } = contextOf(globals)
      if (file !== '-' && !existsSync(file)) throw new UsageError(`${file} does not exist`)
      const progress = new Progress({ json: out.json, command: 'import', phase: 'verifying' })
      const summary = await importFile(file, { globals, data: options.data, batch: options.batch, progress })
      const human = (s: ImportSummary): string =>
        `imported ${s.imported} new of ${s.entries} entries (${s.present} held already), ${s.nodes.length} node(s)`
      out.result(summary, human)
    })
}
