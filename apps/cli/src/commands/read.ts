import type { Command } from '@commander-js/extra-typings'
import type { Entry, EntryKind, Page, YlogClient } from '@ylog/client'
import { contextOf, type GlobalOptions } from '../context.js'
import { entryLine, parseTime } from '../format.js'
import { UsageError, wholeNumber, type Output } from '../output.js'

const KINDS = ['transition', 'event', 'gap']

export function readCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('read')
    .description('read entries: one page, everything to the end (--exit-at-end), or follow live (-f)')
    .option('--after <cursor>', 'start after this cursor (a "next" from an earlier read)')
    .option('--since <time>', 'only entries appended at or after this time (ms since the epoch or ISO 8601)', parseTime)
    .option('--topic <topic>', 'only this topic')
    .option('--kind <kind>', 'only this kind: transition, event or gap', kindOption)
    .option('--last <n>', 'the newest n entries (1-1000), then go on from there with -f', wholeNumber('--last', 1, 1000))
    .option('--limit <n>', 'entries per page, 1-1000', wholeNumber('--limit', 1, 1000), 100)
    .option('--count <n>', 'stop after n entries', wholeNumber('--count', 1))
    .option('--exit-at-end', 'read page after page until the current end of the log, then exit')
    .option('-f, --follow', 'keep going: print entries as they commit (from --after, --last or --since; else from now)')
    .addHelpText(
      'after',
      '\nWithout -f or --exit-at-end, one page; its "next" cursor goes to stderr ({"next":…} as the last line with --json).',
    )
    .action(async (options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      if (options.last !== undefined && (options.after !== undefined || options.since !== undefined))
        throw new UsageError('--last excludes --after and --since')
      let left = options.count ?? Number.POSITIVE_INFINITY
      const print = (entry: Entry): boolean => {
        out.result(entry, (e: Entry) => entryLine(out, e))
        return --left > 0
      }
      const filter = { topic: options.topic, kind: options.kind as EntryKind | undefined }
      let after = options.after
      if (options.last !== undefined) {
        const page = await client.last(options.last, filter)
        for (const entry of page.entries) if (!print(entry)) return finish(out, page.next)
        after = page.next
      } else if (!options.follow || options.exitAtEnd === true || options.since !== undefined || after !== undefined) {
        const end = await readPages(
          client,
          { ...filter, after, since: options.since, limit: options.limit },
          print,
          options.exitAtEnd === true || options.follow === true,
        )
        if (end.stopped || !options.follow) return finish(out, end.next)
        after = end.next
      }
      if (!options.follow) return finish(out, after ?? '')
      for await (const item of client.stream({ after: after ?? 'now', ...filter })) {
        if (item.type === 'gap') out.note(`missed ${item.node}:${item.from}-${item.to} (read them with --after)`)
        else if (!print(item.entry)) return finish(out, item.cursor)
      }
    })

  program
    .command('get')
    .description('one entry by node and seq')
    .argument('<node>', 'the node id (64 hex digits)')
    .argument('<seq>', 'the sequence number', wholeNumber('seq'))
    .action(async (node, seq, _options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      out.result(await client.get(node, seq), (e: Entry) => JSON.stringify(e, null, 2))
    })
}

/** Parses a --kind option: transition, event or gap. */
export function kindOption(text: string): string {
  if (!KINDS.includes(text)) throw new UsageError(`--kind ${JSON.stringify(text)} is not a kind: use transition, event or gap`)
  return text
}

/** Pages from `query`; all of them up to the current end when `toEnd`, else one. Stops early when `print` says so. */
async function readPages(
  client: YlogClient,
  query: Parameters<YlogClient['read']>[0] & object,
  print: (e: Entry) => boolean,
  toEnd: boolean,
): Promise<{ next: string; stopped: boolean }> {
  let after = query.after
  for (;;) {
    const page: Page = await client.read({ ...query, after })
    for (const entry of page.entries) if (!print(entry)) return { next: cursorAfter(page, entry), stopped: true }
    if (!toEnd || page.entries.length === 0 || page.next === after) return { next: page.next, stopped: false }
    after = page.next
  }
}

/** Stopping inside a page: the page's cursor would skip the rest, so only a whole page's cursor is exact. */
function cursorAfter(page: Page, entry: Entry): string {
  return page.entries.at(-1) === entry ? page.next : ''
}

function finish(out: Output, next: string): void {
  if (next === '') return
  if (out.json) out.result({ next })
  else out.note(`next: ${next}`)
}
