import type { Command } from '@commander-js/extra-typings'
import type { ContextAnswer, ContextQuery } from '@ylog/client'
import { contextOf, type GlobalOptions } from '../context.js'
import { parseTime } from '../format.js'
import { UsageError, wholeNumber } from '../output.js'

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')

/** `ylog context`: the options of GET /api/context; the text on stdout, the counts on stderr (or the whole answer with --json). */
export function contextCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('context')
    .description('entries as text for a language model, within a token budget; what was left out or is missing is named')
    .option('--topic <topics>', 'only these topics, comma-separated', list)
    .option('--kind <kinds>', 'only these kinds, comma-separated: transition, event', kinds)
    .option('--node <ids>', 'only entries of these nodes, comma-separated ids', list)
    .option('--subject <subject>', "only this transition subject's history")
    .option('--since <time>', 'entries appended at or after (ms since the epoch or ISO 8601)', parseTime)
    .option('--until <time>', 'entries appended before (exclusive)', parseTime)
    .option('--budget <tokens>', 'tokens the text may take', wholeNumber('--budget', 1))
    .option('--encoding <name>', 'the tokenizer, e.g. o200k_base, cl100k_base')
    .option(
      '--order <order>',
      'time (oldest first across nodes) or node (grouped by node in seq order)',
      oneOf('--order', ['time', 'node'] as const),
    )
    .option('--format <format>', 'text, markdown or jsonl', oneOf('--format', ['text', 'markdown', 'jsonl'] as const))
    .option(
      '--max-entry-tokens <n>',
      'longer entry lines are shortened with a visible marker (at least 128)',
      wholeNumber('--max-entry-tokens', 128),
    )
    .action(async (options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      const query: ContextQuery = {
        topics: options.topic,
        kinds: options.kind,
        nodes: options.node,
        subject: options.subject,
        since: options.since,
        until: options.until,
        budget: options.budget,
        encoding: options.encoding,
        order: options.order,
        format: options.format,
        maxEntryTokens: options.maxEntryTokens,
      }
      const answer = await client.context(query)
      out.result(answer, (a: ContextAnswer) => a.text.replace(/\n$/, ''))
      const c = answer.manifest.counts
      const budget = `${answer.tokens}/${answer.manifest.budget} tokens (${answer.manifest.tokenizer})`
      out.note(out.dim(`${budget}: ${c.included} included, ${c.omitted ?? '?'} omitted, ${c.dropped} gaps, ${c.missing} missing`))
    })
}

function kinds(text: string): Array<'transition' | 'event'> {
  return list(text).map((k) => {
    if (k !== 'transition' && k !== 'event') {
      throw new UsageError(`--kind ${JSON.stringify(k)} is not a kind here: use transition or event (gaps are always named)`)
    }
    return k
  })
}

function oneOf<T extends string>(name: string, allowed: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(allowed as readonly string[]).includes(text)) {
      throw new UsageError(`${name} ${JSON.stringify(text)} is not one of ${allowed.join(', ')}`)
    }
    return text as T
  }
}
