import { createHash } from 'node:crypto'
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import type { IngestSink, Refused } from './forwarder.js'
import type { Line } from './file-source.js'

/**
 * `--dead-letter FILE`: refused lines are appended there (one JSON object
 * each: source, byte range, the line, the node's code and message), synced,
 * and the node records the skipped range as a signed gap entry (POST
 * /api/gaps: stream `forward:<source>`, from and to the first and last byte,
 * inclusive), so a skipped event never vanishes silently: readers of the log
 * see the hole where it would have been.
 */
export function deadLetter(file: string, sink: IngestSink, target: string, topic = 'ylog.forward'): (refused: Refused) => Promise<void> {
  return async ({ source, lines, code, message }) => {
    const fd = openSync(file, 'a', 0o600)
    try {
      for (const line of lines) {
        writeSync(fd, `${JSON.stringify({ source, from: line.from, to: line.to, line: line.text, code, message })}\n`)
      }
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    const from = (lines[0] as Line).from
    const to = (lines.at(-1) as Line).to - 1
    if (sink.gap === undefined) throw new Error('this sink cannot record a gap entry')
    // The key names the range, so a retry of this record after a crash is a replay, not a second gap entry.
    const key = `fwd-gap-${createHash('sha256').update(`${target}\n${source}\n${from}\n${to}`).digest('hex')}`
    await sink.gap({ topic, stream: `forward:${source}`, from, count: to - from + 1 }, key)
  }
}
