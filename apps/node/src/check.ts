import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DurableLog, NodeIdentity, openMembership, YlogError } from '@ylog/core'
import type { Config } from './config.js'
import { acquireLock, openSqliteStore } from './node.js'

export interface CheckReport {
  ok: boolean
  file: string
  entries: number
  nodes: number
  seconds: number
  problems: string[]
}

/**
 * `npm start -- --check`: the deep integrity check of a stopped node's data
 * directory: SQLite's integrity_check, the snapshot parts' checksums, and every
 * node's chain from seq 0 (signatures included). Takes the directory's lock,
 * so it never runs beside a live node; writes nothing.
 */
export async function checkDataDir(config: Config): Promise<CheckReport> {
  const started = performance.now()
  const file = join(config.data, 'ylog.db')
  if (!existsSync(file)) throw new YlogError('NO_STORE', `nothing to check: ${file} does not exist (is --data the node's data directory?)`)
  const release = acquireLock(join(config.data, 'ylog.lock'))
  try {
    const keyFile = join(config.data, 'node.key')
    // Without the key the log is read as a replica: every chain is still checked.
    const identity = existsSync(keyFile) ? NodeIdentity.load(keyFile) : undefined
    const store = await openSqliteStore(file, config.durability)
    let durable: DurableLog
    try {
      durable = await DurableLog.open({ identity, store, membership: openMembership })
    } catch (err) {
      await store.close().catch(() => undefined)
      return { ok: false, file, entries: 0, nodes: 0, seconds: elapsed(started), problems: [(err as Error).message] }
    }
    try {
      const { ok, problems } = await durable.checkIntegrity()
      const heads = [...durable.heads().values()]
      return { ok, file, entries: heads.reduce((n, h) => n + h.length, 0), nodes: heads.length, seconds: elapsed(started), problems }
    } finally {
      await durable.close()
    }
  } finally {
    release()
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started) / 1000
}
