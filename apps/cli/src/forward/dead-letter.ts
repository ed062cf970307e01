import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import type { IngestSink } from './forwarder.js'
import type { Line } from './file-source.js'

/**
 * `--dead-letter FILE`: refused lines are appended there (one JSON object
 * each: source, byte range, the line, the node's code and message), synced,
 * and a record naming the skipped range is appended to the node (topic
 * `ylog.forward`, data.skipped), so a skipped event never vanishes silently.
 */
export function deadLetter(file: string, sink: IngestSink, target: string): (s: { source: string; lines: Line[]; code: string; message: string }) => Promise<void> {
  return async ({ source, lines, code, message }) => {
    const fd = openSync(file, 'a', 0o600)
    try {
      for (const line of lines) writeSync(fd, `${JSON.stringify({ source, from: line.from, to: line.to, line: line.text, code, message })}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    const from = (lines[0] as Line).from
    const to = (lines.at(-1) as Line).to
    // The key names the range, so a retry of this record after a crash is a replay, not a second record.
    const key = `fwd-skip-${Buffer.from(`${target} ${source} ${from}`).toString('base64url').slice(-120)}-${to}`
    await sink.send([{ topic: 'ylog.forward', kind: 'event', data: { skipped: { source, from, to, lines: lines.length }, code, message, deadLetter: file } }], key)
  }
}
