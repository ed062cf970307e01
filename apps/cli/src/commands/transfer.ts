import { createWriteStream } from 'node:fs'
import type { Writable } from 'node:stream'
import type { Command } from '@commander-js/extra-typings'
import type { EntryKind } from '@ylog/client'
import { contextOf, type GlobalOptions } from '../context.js'
import { parseTime } from '../format.js'
import { wholeNumber } from '../output.js'

export function transferCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('export')
    .description('write the signed entries, as the node serves them, as NDJSON (one entry per line) to stdout or --out')
    .option('--out <file>', 'write here instead of stdout')
    .option('--topic <topic>', 'only this topic')
    .option('--kind <kind>', 'only this kind')
    .option('--node <id>', "only this node's entries")
    .option('--from-seq <n>', 'with --node: from this seq', wholeNumber('--from-seq'))
    .option('--to-seq <n>', 'with --node: up to this seq (inclusive)', wholeNumber('--to-seq'))
    .option('--since <time>', 'only entries appended at or after this time (ms or ISO 8601)', parseTime)
    .action(async (options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      const sink: Writable = options.out === undefined ? process.stdout : createWriteStream(options.out)
      let written = 0
      let chunk = ''
      const flush = async (): Promise<void> => {
        if (chunk !== '' && !sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve))
        chunk = ''
      }
      for await (const entry of client.readAll({ topic: options.topic, kind: options.kind as EntryKind | undefined, since: options.since })) {
        if (options.node !== undefined && entry.node !== options.node) continue
        if (options.fromSeq !== undefined && entry.seq < options.fromSeq) continue
        if (options.toSeq !== undefined && entry.seq > options.toSeq) continue
        chunk += `${JSON.stringify(entry)}\n`
        written++
        if (chunk.length > 1 << 20) await flush()
      }
      await flush()
      if (sink !== process.stdout) await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())))
      // The summary goes to stderr (or, with --json and --out, stdout), never into the exported lines.
      if (options.out !== undefined) out.result({ exported: written, file: options.out }, (r: { exported: number }) => `exported ${r.exported}`)
      else out.note(`exported ${written}`)
    })
}
