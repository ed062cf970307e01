import { createHash } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { mkdir, open, rename } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { EntryInput } from '@ylog/client'

/**
 * Where a source stands against one target. `offset` is the byte after the
 * last line the node acknowledged. `inflight` is the batch being sent: it is
 * written before the POST, so after a crash the very same batch (same
 * Idempotency-Key, same body) is sent again first, and the node, which
 * stored the key with the entries in one commit, answers it as a replay
 * instead of writing it twice, however the following batches are cut.
 * `next` is the batch after it, recorded while `inflight` is still being
 * sent (the forwarder's pipeline): it is sent only after `inflight` was
 * acknowledged, and a restart sends both again, in order.
 */
export interface Checkpoint {
  version: 1
  source: string
  target: string
  /** The file this offset is in (inode), and how many times it was truncated: together the file's generation. */
  ino: number
  truncations: number
  offset: number
  forwarded: number
  duplicates: number
  skipped: number
  inflight?: InflightBatch
  next?: InflightBatch
}

/** A batch as recorded before it is sent: its key, its source bytes and the very events. */
export interface InflightBatch {
  key: string
  from: number
  to: number
  events: EntryInput[]
}

/** `$XDG_STATE_HOME/ylog/forward`, else `~/.local/state/ylog/forward`. */
export function defaultCheckpointDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state')
  return join(state, 'ylog', 'forward')
}

/** One file per (source, target): a hash of both names it, and both are inside for people. */
export function checkpointPath(dir: string, source: string, target: string): string {
  const id = createHash('sha256').update(`${target}\n${source}`).digest('hex').slice(0, 20)
  return join(dir, `${id}.json`)
}

/** Undefined when there is none yet; an unreadable one is an error that says what to do, never a silent start from zero. */
export function readCheckpoint(path: string): Checkpoint | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CheckpointError(path, (err as Error).message)
  }
  let value: Partial<Checkpoint>
  try {
    value = JSON.parse(text) as Partial<Checkpoint>
  } catch {
    throw new CheckpointError(path, 'it is not JSON')
  }
  if (value.version !== 1 || typeof value.offset !== 'number' || typeof value.ino !== 'number' || typeof value.source !== 'string') {
    throw new CheckpointError(path, 'it is not a ylog forward checkpoint (version 1)')
  }
  return { forwarded: 0, duplicates: 0, skipped: 0, truncations: 0, ...value } as Checkpoint
}

/** Write, fsync, rename, fsync the directory: after a crash the file is the old one or the new one, whole. */
export function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  const dir = join(path, '..')
  mkdirSync(dir, { recursive: true })
  const temp = `${path}.tmp`
  const fd = openSync(temp, 'w', 0o600)
  try {
    writeSync(fd, JSON.stringify(checkpoint))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, path)
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}

/**
 * `writeCheckpoint` off the main thread, so the forwarder can send a batch
 * while the record of the next one is being synced. The state is serialised
 * when called: later changes to `checkpoint` are not part of this write.
 */
export async function writeCheckpointAsync(path: string, checkpoint: Checkpoint): Promise<void> {
  const text = JSON.stringify(checkpoint)
  const dir = join(path, '..')
  await mkdir(dir, { recursive: true })
  const temp = `${path}.tmp`
  const file = await open(temp, 'w', 0o600)
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(temp, path)
  const dirHandle = await open(dir, 'r')
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
}

export class CheckpointError extends Error {
  constructor(path: string, why: string) {
    super(
      `checkpoint ${path} cannot be read: ${why}. Nothing was sent. Fix or restore the file; or, to start over, ` +
        'move it away and run again with --from-end (skip what the source holds now) or without (send the whole source again)',
    )
  }
}
