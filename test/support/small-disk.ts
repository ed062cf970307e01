// A real file system that fills up: a size-limited tmpfs (mounting needs root) and a ballast file that takes what is
// left of it, to delete when a test "frees space".
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './node-process.js'

export const SKIPPED = 'skipped: mounting a size-limited tmpfs needs root (this run is not root, or mount is not allowed here)'

const mounts: string[] = []

/** Mounts a tmpfs of `size` (e.g. '6m'); undefined when not root or mount is refused. */
export function mountSmallDisk(size = '6m'): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = join(tempDir('ylog-pressure-'), 'disk')
  mkdirSync(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch {
    return undefined
  }
  mounts.push(dir)
  return dir
}

export function unmountSmallDisks(): void {
  for (const dir of mounts.splice(0)) execFileSync('umount', ['-l', dir])
}

/** Writes `path` until the file system refuses another byte; returns how many bytes it took. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  let written = 0
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        written += writeSync(fd, chunk, 0, size)
      } catch {
        size = Math.floor(size / 2)
      }
    }
  } finally {
    closeSync(fd)
  }
  return written
}
