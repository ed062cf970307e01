import type { Command } from '@commander-js/extra-typings'
import type { EntryKind } from '@ylog/client'
import type { GlobalOptions } from '../context.js'
import { Output, UsageError, wholeNumber } from '../output.js'
import { fieldsHelp, LinePrinter } from '../tail/lines.js'
import { parseSource, tail, type SourceSpec } from '../tail/tail.js'

const HELP = `
A source is a node URL or a node's data directory, either as label=… (the label prefixes its lines; default host:port,
or the directory's name). A directory is read from outside, beside the node running on it or after it stopped: read-only,
no lock, whole commits only, every chain checked; -f reads it again every 200 ms.
Entries of one cluster are printed once, under the first source that delivered them (--no-dedupe prints every copy).
Gap entries and "missed" markers (a lagging stream) are lines of their own. A dropped connection resumes where it
stopped; a source whose log no longer holds what was printed (shorter heads, another hash, another node) gets a
"reset" line and its last N again. "+ source" and "- source" go to stderr as sources answer or stop answering.
--format fields: ${fieldsHelp()}`

export function tailCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('tail')
    .description('the last entries of several nodes, then (-f) new ones live, each line labelled with its source')
    .argument('[sources...]', 'node URLs or data directories, each optionally label=… (default: --url)')
    .option('-n, --lines <n>', 'entries per source first (0-1000)', wholeNumber('-n', 0, 1000), 10)
    .option('-f, --follow', 'then print new entries as they commit, until interrupted')
    .option('--topic <topic>', 'only this topic')
    .option('--kind <kind>', 'only this kind: transition, event or gap', kind)
    .option('--no-prefix', 'no source label before each line')
    .option('--no-dedupe', 'print an entry under every source that delivers it')
    .option('--format <template>', 'a line per entry from a template, e.g. "{source} {id} {data}"')
    .option(
      '--buffer <n>',
      'entries each node holds for this reader while it is slow (1-100000; the node defaults to 1024); past it, a "missed" line',
      wholeNumber('--buffer', 1, 100_000),
    )
    .addHelpText('after', HELP)
    .action(async (args, options, command) => {
      const globals = command.optsWithGlobals()
      const out = new Output({ json: globals.json === true })
      let sources: SourceSpec[]
      try {
        sources = (args.length === 0 ? [globals.url] : args).map(parseSource)
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
      const printer = new LinePrinter({ json: out.json, color: out.color, prefix: options.prefix, format: options.format })
      const controller = new AbortController()
      const stop = (): void => controller.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        await tail({
          sources,
          last: options.lines,
          follow: options.follow === true,
          topic: options.topic,
          kind: options.kind as EntryKind | undefined,
          buffer: options.buffer,
          dedupe: options.dedupe,
          token: globals.token,
          signal: controller.signal,
          onItem: (item) => process.stdout.write(`${printer.line(item)}\n`),
          onPresence: (source, up, detail) =>
            process.stderr.write(out.json ? `${JSON.stringify({ source, up, detail })}\n` : `${up ? '+' : '-'} ${source} (${detail})\n`),
        })
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })
}

function kind(text: string): string {
  if (!['transition', 'event', 'gap'].includes(text)) {
    throw new UsageError(`--kind ${JSON.stringify(text)} is not a kind: use transition, event or gap`)
  }
  return text
}
