import { randomUUID } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { FileSource, type Line, type Position } from './file-source.js'
import type { LineSource } from './forwarder.js'

/** A followed file as a forwarder source. */
export class FollowedFile extends FileSource implements LineSource {
  get name(): string {
    return this.path
  }

  ended(): boolean {
    return false
  }
}

/** Files of a directory (not hidden, not checkpoint temp files), sorted: each is its own source with its own checkpoint. */
export function filesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => join(resolve(dir), name))
    .filter((path) => statSync(path).isFile())
    .sort()
}

/**
 * Stdin: lines as they come, offsets counted from this run's first byte.
 * It cannot be read again, so it has no checkpoint; its batches still
 * carry keys, so a retry after a timeout does not write twice.
 */
export class StdinSource implements LineSource {
  readonly name = `stdin-${randomUUID().slice(0, 8)}`
  #text = ''
  #at = 0
  #offset = 0
  #ended = false
  #size = 0

  constructor(input: Readable) {
    input.setEncoding('utf8')
    input.on('data', (chunk: string) => {
      this.#text = this.#text.slice(this.#at) + chunk
      this.#at = 0
      this.#size += Buffer.byteLength(chunk)
    })
    input.on('end', () => (this.#ended = true))
    input.on('error', () => (this.#ended = true))
  }

  get size(): number {
    return this.#size
  }

  open(): Position {
    return { ino: 0, truncations: 0, offset: 0 }
  }

  ended(): boolean {
    return this.#ended
  }

  read(maxLines: number, maxBytes: number, atEnd: boolean): { lines: Line[] } {
    const lines: Line[] = []
    let bytes = 0
    while (lines.length < maxLines && bytes < maxBytes) {
      const nl = this.#text.indexOf('\n', this.#at)
      const last = nl < 0 && atEnd && this.#ended && this.#text.length > this.#at
      if (nl < 0 && !last) break
      const text = this.#text.slice(this.#at, nl < 0 ? undefined : nl)
      const to = this.#offset + Buffer.byteLength(text) + (nl < 0 ? 0 : 1)
      lines.push({ from: this.#offset, to, text })
      bytes += to - this.#offset
      this.#offset = to
      this.#at = nl < 0 ? this.#text.length : nl + 1
    }
    return { lines }
  }
}
