import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { StringDecoder } from 'node:string_decoder'

/** One complete line of a source: its bytes `from` (inclusive) to `to` (after the newline). */
export interface Line {
  from: number
  to: number
  text: string
}

/** Where a file source stands: which file (inode and truncations) and the byte offset in it. */
export interface Position {
  ino: number
  truncations: number
  offset: number
}

const CHUNK = 1 << 20

/**
 * An NDJSON file followed like `tail -F`: by name, so a rotation (the file
 * renamed away and a new one created) is noticed; the renamed file is read
 * to its end first, then the new one from 0. A file that became shorter
 * than the read position was truncated: it is read again from 0. Both are
 * announced through `onNotice`, and both start a new generation, which is
 * part of the position (a checkpoint's offset only means something in its
 * own generation).
 */
export class FileSource {
  readonly path: string
  readonly #onNotice: (text: string) => void
  #fd: number | undefined
  #pos: Position = { ino: 0, truncations: 0, offset: 0 }
  /** Read position (bytes consumed into `#partial` or lines). */
  #readAt = 0
  #partial = ''
  /** Where the next line starts in `#partial` (slicing per line would copy the chunk once per line). */
  #at = 0
  #partialFrom = 0
  #decoder = new StringDecoder('utf8')
  /** The file's size at the last read: what is behind. */
  #size = 0

  constructor(path: string, onNotice: (text: string) => void) {
    this.path = resolve(path)
    this.#onNotice = onNotice
  }

  get size(): number {
    return this.#size
  }

  /** Opens at a checkpoint's position, or at 0 / the end for a first run; says what it found. */
  open(at: Position | undefined, fromEnd: boolean): Position {
    let st: { ino: number; size: number }
    try {
      st = statSync(this.path)
    } catch {
      // Not there yet: follow picks it up when it appears.
      this.#pos = { ino: 0, truncations: at?.truncations ?? 0, offset: 0 }
      return this.#pos
    }
    if (at === undefined) {
      this.#attach(st.ino, fromEnd ? st.size : 0, 0)
    } else if (at.ino === st.ino) {
      if (st.size < at.offset) {
        this.#onNotice(`${this.path}: truncated while stopped (${st.size} bytes, checkpoint at ${at.offset}); reading it from 0`)
        this.#attach(st.ino, 0, at.truncations + 1)
      } else this.#attach(st.ino, at.offset, at.truncations)
    } else {
      // Rotated while stopped: finish the old file if it is still beside the new one.
      const old = findInode(dirname(this.path), at.ino)
      if (old !== undefined) {
        this.#onNotice(`${this.path}: rotated while stopped; finishing ${old} from ${at.offset} first`)
        this.#attachPath(old, at.ino, at.offset, at.truncations)
      } else {
        const lost = `lines after byte ${at.offset} of it were not forwarded`
        this.#onNotice(`${this.path}: rotated while stopped and the old file (inode ${at.ino}) is gone: ${lost}`)
        this.#attach(st.ino, 0, 0)
      }
    }
    return { ...this.#pos }
  }

  /** The position after the last line handed out... of this generation. */
  get position(): Position {
    return { ...this.#pos }
  }

  /**
   * Up to `maxLines` complete lines from the current generation (none when
   * nothing new is there). A line without its newline waits for it, unless
   * `atEnd` says the writer is done. Checks for rotation and truncation when
   * the file has nothing new; the switch is returned as `generation`.
   */
  read(maxLines: number, maxBytes: number, atEnd = false): { lines: Line[]; generation?: Position } {
    const lines: Line[] = []
    let bytes = 0
    while (lines.length < maxLines && bytes < maxBytes) {
      const nl = this.#partial.indexOf('\n', this.#at)
      if (nl >= 0) {
        const text = this.#partial.slice(this.#at, nl)
        const to = this.#partialFrom + Buffer.byteLength(text) + 1
        lines.push({ from: this.#partialFrom, to, text })
        bytes += to - this.#partialFrom
        this.#at = nl + 1
        this.#partialFrom = to
        continue
      }
      if (this.#fill() > 0) continue
      if (lines.length > 0) break
      if (atEnd && this.#partial.length > this.#at) {
        const to = this.#readAt
        lines.push({ from: this.#partialFrom, to, text: this.#partial.slice(this.#at) })
        this.#partial = ''
        this.#at = 0
        this.#partialFrom = to
        break
      }
      const generation = this.#switchIfMoved()
      return { lines, generation }
    }
    if (lines.length > 0) this.#pos = { ...this.#pos, offset: (lines.at(-1) as Line).to }
    return { lines }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }

  #fill(): number {
    if (this.#fd === undefined) return 0
    const buf = Buffer.allocUnsafe(CHUNK)
    const n = readSync(this.#fd, buf, 0, CHUNK, this.#readAt)
    if (n > 0) {
      this.#partial = this.#partial.slice(this.#at) + this.#decoder.write(buf.subarray(0, n))
      this.#at = 0
      this.#readAt += n
    }
    this.#size = Math.max(this.#readAt, this.#size)
    return n
  }

  /** At the end of the current file: a new file under the name, or this one shorter than what was read. */
  #switchIfMoved(): Position | undefined {
    let st: { ino: number; size: number } | undefined
    try {
      st = statSync(this.path)
    } catch {
      st = undefined
    }
    if (this.#fd === undefined) {
      if (st === undefined) return undefined
      this.#onNotice(`${this.path}: appeared; following it`)
      this.#attach(st.ino, 0, this.#pos.truncations)
      return { ...this.#pos }
    }
    const current = fstatSync(this.#fd)
    this.#size = current.size
    if (current.size < this.#readAt) {
      this.#onNotice(`${this.path}: file truncated; reading it from 0`)
      this.#attachFd(this.#fd, this.#pos.ino, 0, this.#pos.truncations + 1)
      return { ...this.#pos }
    }
    if (st !== undefined && st.ino !== this.#pos.ino) {
      this.#onNotice(`${this.path}: has been replaced; following the new file`)
      this.close()
      this.#attach(st.ino, 0, 0)
      return { ...this.#pos }
    }
    return undefined
  }

  #attach(ino: number, offset: number, truncations: number): void {
    this.#attachPath(this.path, ino, offset, truncations)
  }

  #attachPath(path: string, ino: number, offset: number, truncations: number): void {
    this.close()
    this.#attachFd(openSync(path, 'r'), ino, offset, truncations)
  }

  #attachFd(fd: number, ino: number, offset: number, truncations: number): void {
    this.#fd = fd
    this.#pos = { ino, truncations, offset }
    this.#readAt = offset
    this.#partial = ''
    this.#at = 0
    this.#partialFrom = offset
    this.#decoder = new StringDecoder('utf8')
  }
}

function findInode(dir: string, ino: number): string | undefined {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    try {
      if (statSync(path).ino === ino) return path
    } catch {
      // Gone between listing and stat.
    }
  }
  return undefined
}
