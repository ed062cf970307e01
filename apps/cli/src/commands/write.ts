import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'
import type { Command } from '@commander-js/extra-typings'
import type { EntryInput, Receipt } from '@ylog/client'
import { contextOf, type GlobalOptions } from '../context.js'
import { UsageError, wholeNumber } from '../output.js'

/** NDJSON lines per POST /api/events/batch (the node takes up to 1000). */
const DEFAULT_BATCH = 500

export function writeCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('append')
    .description('append one event from the options, or NDJSON events from stdin (one JSON object per line) in batches')
    .option('--topic <topic>', 'the topic, e.g. pipeline/build')
    .option('--kind <kind>', 'event or transition', 'event')
    .option('--data <json>', 'the data as JSON (an event takes any JSON; a transition {subject, from, to, event})')
    .option('--time <ms>', 'when the event happened, ms since the epoch', wholeNumber('--time'))
    .option('--idempotency-key <key>', 'a retry with the same key and body writes nothing twice')
    .option(
      '--batch <n>',
      `events per request when reading stdin, 1-1000 (default ${DEFAULT_BATCH})`,
      wholeNumber('--batch', 1, 1000),
      DEFAULT_BATCH,
    )
    .addHelpText(
      'after',
      `
Reading stdin (no --data), each batch is one POST /api/events/batch with the Idempotency-Key
"<prefix>-<first line number>-<sha256 of the batch's lines>": rerunning the same input after a
failure writes nothing twice. The prefix is --idempotency-key, default "ylog-append".`,
    )
    .action(async (options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      if (options.data !== undefined) {
        if (options.topic === undefined) throw new UsageError('--topic is required with --data')
        const input = {
          topic: options.topic,
          kind: options.kind,
          data: parseJson('--data', options.data),
          ...(options.time === undefined ? {} : { time: options.time }),
        } as EntryInput
        const receipt = await client.append(input, { idempotencyKey: options.idempotencyKey })
        out.result(receipt, (r: Receipt) => r.id)
        return
      }
      if (process.stdin.isTTY) throw new UsageError('nothing to append: give --topic and --data, or pipe NDJSON events to stdin')
      let batch: string[] = []
      let written = 0
      const send = async (): Promise<void> => {
        if (batch.length === 0) return
        const inputs = batch.map((line, i) => withTopic(parseJson(`stdin line ${written + i + 1}`, line), options.topic))
        const digest = createHash('sha256').update(batch.join('\n')).digest('hex').slice(0, 32)
        const key = `${options.idempotencyKey ?? 'ylog-append'}-${written + 1}-${digest}`
        const receipts = await client.appendBatch(inputs, { idempotencyKey: key })
        for (const receipt of receipts) out.result(receipt, (r: Receipt) => r.id)
        written += batch.length
        batch = []
      }
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
        if (line.trim() === '') continue
        batch.push(line)
        if (batch.length >= options.batch) await send()
      }
      await send()
      out.note(`appended ${written}`)
    })
}

function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${what} is not JSON: ${(err as Error).message}`)
  }
}

/** A line of stdin: an event object; --topic fills in a missing topic. */
function withTopic(value: unknown, topic: string | undefined): EntryInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError('each stdin line must be a JSON object such as {"topic":"t","kind":"event","data":1}')
  const event = value as Record<string, unknown>
  return { kind: 'event', ...(topic === undefined ? {} : { topic }), ...event } as EntryInput
}
