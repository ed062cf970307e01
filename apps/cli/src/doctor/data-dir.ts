import { existsSync, readFileSync, statfsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DurableLog, openMembership } from '@ylog/core'
import { RESTORE_ADVICE } from '@ylog/core/internal'
import { checkDataDir } from '@ylog/node/check'
import { loadConfig } from '@ylog/node/config'
import { acquireLock, openSqliteStore } from '@ylog/node/node'
import { bytes, ok, problem, seconds, warning, type Finding } from './finding.js'

/** A start that takes longer than this keeps a restarted node away from its clients noticeably. */
const SLOW_REPLAY_MS = 10_000
/** Days of growth the free disk should hold before doctor warns, and before it calls it a problem. */
const WARN_DAYS = 30
const ADVICE = {
  noKey: 'a node creates it at its first start; ylog keygen --data creates one now',
  staleLock: 'nothing to do: the next start takes the lock over',
  noStore: 'an empty directory: a node creates the store at its first start',
  keyReadable: "the node's private key is readable by other users: anyone who reads it can sign as the node",
  slowReplay: 'a node compacts as it runs; a long replay after a long stop shrinks after one start',
  compactionRoom: 'free disk space: a compaction needs room to rewrite the snapshot',
} as const
const RESTORE = `${RESTORE_ADVICE} (ylog import <export> --data <dir> restores one)`
const PROBLEM_DAYS = 7

/**
 * Checks a data directory from outside: file modes, the lock, free disk
 * against the store's growth, and (when no live node holds the lock) the
 * store itself: the replay a start does, or with `deep` the full integrity
 * check of `ylog verify --data`.
 */
export async function checkDirectory(data: string, deep: boolean): Promise<Finding[]> {
  const dir = resolve(data)
  if (!existsSync(dir)) return [problem('data-dir', `${dir} does not exist`, "give the node's --data directory (default ./.ylog)")]
  const findings: Finding[] = [modeFinding('data-dir', dir, 0o077, 'chmod 700')]
  const key = join(dir, 'node.key')
  if (existsSync(key)) findings.push(modeFinding('key-file', key, 0o077, 'chmod 600'))
  else findings.push(warning('key-file', `${key} does not exist`, ADVICE.noKey))
  const holder = lockHolder(join(dir, 'ylog.lock'))
  if (holder === 'stale') findings.push(warning('lock', 'ylog.lock names a process that is gone (a crash or kill -9)', ADVICE.staleLock))
  const db = join(dir, 'ylog.db')
  if (!existsSync(db)) return [...findings, warning('store', `${db} does not exist`, ADVICE.noStore)]
  findings.push(modeFinding('store', db, 0o077, 'chmod 600'))
  if (typeof holder === 'number') {
    findings.push(ok('lock', `node process ${holder} holds the directory`))
    return [...findings, ...diskFindings(dir, db, undefined)]
  }
  try {
    findings.push(...(deep ? await deepCheck(dir) : await quickCheck(dir, db)))
  } catch (err) {
    // A store or key that cannot even be opened is the finding itself.
    const advice = (err as { code?: string }).code === 'KEY_FILE' ? 'fix the key file as the message says' : RESTORE
    findings.push(problem(deep ? 'integrity' : 'store', (err as Error).message, advice))
  }
  return findings
}

function modeFinding(check: string, path: string, forbidden: number, fix: string): Finding {
  const mode = statSync(path).mode & 0o777
  if ((mode & forbidden) === 0) return ok(check, `${path} is mode ${mode.toString(8)}`)
  const what = check === 'key-file' ? ADVICE.keyReadable : 'other users can read it'
  const level = check === 'key-file' ? problem : warning
  return level(check, `${path} is mode ${mode.toString(8)}: ${what}`, `${fix} ${path}`)
}

function lockHolder(file: string): number | 'stale' | undefined {
  if (!existsSync(file)) return undefined
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10)
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'stale'
  try {
    process.kill(pid, 0)
    return pid
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : 'stale'
  }
}

/**
 * Opens the store as a start does, under the lock: replay time, and the newest and oldest entry times. Nothing in the log
 * changes; closing it checkpoints the WAL and moves appends a crash left in the append journal into the database, as a stop would.
 */
async function quickCheck(dir: string, db: string): Promise<Finding[]> {
  const config = loadConfig(['--data', dir], {})
  const release = acquireLock(join(dir, 'ylog.lock'))
  try {
    const store = await openSqliteStore(db, config.durability)
    const started = performance.now()
    let durable: DurableLog
    try {
      durable = await DurableLog.open({ identity: undefined, store, membership: openMembership })
    } catch (err) {
      await store.close().catch(() => undefined)
      return [problem('store', `the store does not open: ${(err as Error).message}`, RESTORE)]
    }
    try {
      const ms = performance.now() - started
      const entries = durable.nodes().reduce((n, node) => n + durable.committedLength(node), 0)
      const findings = [ok('store', `${entries} entries of ${durable.nodes().length} nodes; every chain checked from the snapshot on`)]
      findings.push(
        ms > SLOW_REPLAY_MS
          ? warning('replay', `a start replays for ${seconds(ms)}`, ADVICE.slowReplay)
          : ok('replay', `a start replays in ${seconds(ms)}`),
      )
      const oldest = (await durable.query({ limit: 1 }))[0]
      const newest = (await durable.query({ newestFirst: true, limit: 1 }))[0]
      const at = (p: { node: string; seq: number } | undefined): number | undefined =>
        p === undefined ? undefined : durable.get(p.node, p.seq)?.at
      const [first, last] = [at(oldest), at(newest)]
      const span = first === undefined || last === undefined ? undefined : last - first
      return [...findings, ...diskFindings(dir, db, span)]
    } finally {
      await durable.close()
    }
  } finally {
    release()
  }
}

async function deepCheck(dir: string): Promise<Finding[]> {
  const report = await checkDataDir(loadConfig(['--data', dir], {}))
  const findings = report.ok
    ? [ok('integrity', `${report.entries} entries of ${report.nodes} nodes intact: SQLite, checksums, every chain (${report.seconds} s)`)]
    : report.problems.map((p) => problem('integrity', p, RESTORE))
  return [...findings, ...diskFindings(dir, join(dir, 'ylog.db'), undefined)]
}

/** Free disk against the store: room for a compaction (it rewrites the snapshot), and days of growth at the store's average rate. */
function diskFindings(dir: string, db: string, spanMs: number | undefined): Finding[] {
  const size = ['', '-wal', '-shm', '-appends'].reduce((n, suffix) => n + (existsSync(db + suffix) ? statSync(db + suffix).size : 0), 0)
  const fs = statfsSync(dir)
  const free = fs.bavail * fs.bsize
  const findings: Finding[] = []
  if (free < size) findings.push(problem('disk', `${bytes(free)} free for a store of ${bytes(size)}`, ADVICE.compactionRoom))
  const perDay = spanMs !== undefined && spanMs > 60_000 ? (size / spanMs) * 86_400_000 : undefined
  if (perDay !== undefined) {
    const days = free / perDay
    const growth = `the store (${bytes(size)}) grew ${bytes(perDay)} a day on average`
    const text = `${bytes(free)} free; ${growth}: about ${Math.floor(days)} days left`
    if (days < PROBLEM_DAYS) findings.push(problem('disk', text, 'add disk space or move the data directory now'))
    else if (days < WARN_DAYS) findings.push(warning('disk', text, 'plan more disk space: the log only grows'))
    else findings.push(ok('disk', text))
  } else if (findings.length === 0) {
    findings.push(ok('disk', `${bytes(free)} free; the store holds ${bytes(size)}`))
  }
  return findings
}
