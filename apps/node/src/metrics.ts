import type { DurableLog } from '@ylog/core'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface NodeMetrics {
  /** A registry of its own, so two nodes in one process (tests) never share series. */
  readonly registry: Registry
  /** Entries appended through the API and acknowledged (committed). */
  readonly appends: Counter
  readonly commits: Counter
  readonly commitBatchEntries: Histogram
  readonly commitSeconds: Histogram
  /** Compactions and how long each held commits up (snapshot encoding and writing). */
  readonly compactionSeconds: Histogram
  readonly replaySeconds: Gauge
  /** Sync refusals by reason: connections closed for misbehaving, and writers skipped (not-member, unknown-writer) once per connection. */
  readonly refusedUpdates: Counter<'reason'>
  /** Gap entries this node wrote for events its ingest queue dropped. */
  readonly gaps: Counter
  /** Events the ingest queue dropped (each one named by a gap entry). */
  readonly ingestDropped: Counter
  /** Open Server-Sent Events streams. */
  readonly streams: Gauge
  /** Commits (or compactions) that failed, by the code they failed with; and recoveries that brought writes back. */
  readonly storeFailures: Counter<'code'>
  readonly storeRecoveries: Counter
  /** Tells the ylog_sync_connections gauge how to count (server connections plus open peers); 0 until called. */
  countSyncConnections(count: () => number): void
  /** Stops listening to the log; the registry keeps its last values. */
  close(): void
}

const BATCH_BUCKETS = Array.from({ length: 13 }, (_, i) => 2 ** i) // 1 .. 4096
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
const COMPACTION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Metrics for one node, fed by its DurableLog's commits and read from its store at scrape time. */
export function createMetrics(durable: DurableLog, options: { defaultMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry()
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry })

  const appends = new Counter({
    name: 'ylog_appends_total',
    help: 'Entries appended through the HTTP API and committed',
    registers: [registry],
  })
  const commits = new Counter({ name: 'ylog_commits_total', help: 'Group commits written to the store', registers: [registry] })
  const commitBatchEntries = new Histogram({
    name: 'ylog_commit_batch_entries',
    help: 'Entries per group commit',
    buckets: BATCH_BUCKETS,
    registers: [registry],
  })
  const commitSeconds = new Histogram({
    name: 'ylog_commit_seconds',
    help: 'Time to write one group commit to the store',
    buckets: COMMIT_BUCKETS,
    registers: [registry],
  })
  const compactionSeconds = new Histogram({
    name: 'ylog_compaction_seconds',
    help: 'Time one compaction held commits up (encoding the tail as snapshot parts and writing them)',
    buckets: COMPACTION_BUCKETS,
    registers: [registry],
  })
  const replaySeconds = new Gauge({
    name: 'ylog_replay_seconds',
    help: 'Seconds the last start spent replaying and verifying the stored log',
    registers: [registry],
  })
  replaySeconds.set(durable.replaySeconds)

  new Gauge({
    name: 'ylog_database_bytes',
    help: 'Bytes the store occupies',
    registers: [registry],
    async collect() {
      try {
        this.set((await durable.storeStats()).totalBytes)
      } catch {
        // A closed or failed store has no size to report; keep the last value rather than failing the scrape.
      }
    },
  })
  new Gauge({
    name: 'ylog_entries',
    help: 'Entries held by this node, all writers included',
    registers: [registry],
    collect() {
      let total = 0
      for (const head of durable.heads().values()) total += head.length
      this.set(total)
    },
  })

  const refusedUpdates = new Counter({
    name: 'ylog_refused_updates_total',
    help:
      'Sync refusals by reason: connections closed for misbehaving (a guard refusal such as fork, read-only, auth-failed, ' +
      'awareness-limit, backpressure, …) and writers whose entries were skipped (not-member, unknown-writer; once per connection)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const gaps = new Counter({
    name: 'ylog_gaps_total',
    help: 'Gap entries this node appended to record events its ingest queue dropped',
    registers: [registry],
  })
  const ingestDropped = new Counter({
    name: 'ylog_ingest_dropped_total',
    help: 'Events the ingest queue dropped when full (policy drop); each is named by a gap entry',
    registers: [registry],
  })
  const streams = new Gauge({
    name: 'ylog_event_streams',
    help: 'Open Server-Sent Events streams (GET /api/events/stream)',
    registers: [registry],
  })
  new Gauge({
    name: 'ylog_guard_mismatches',
    help: 'Accepted updates Yjs applied otherwise than the guard checked them (a bug; the unchecked part was dropped): alert above 0',
    registers: [registry],
    collect() {
      this.set(durable.guardMismatches)
    },
  })
  let syncConnections: () => number = () => 0
  new Gauge({
    name: 'ylog_sync_connections',
    help: 'Open sync connections: accepted on /sync plus authenticated peers this node dialed',
    registers: [registry],
    collect() {
      this.set(syncConnections())
    },
  })

  const stopCommits = durable.onCommit((info) => {
    commits.inc()
    commitBatchEntries.observe(info.entries)
    commitSeconds.observe(info.seconds)
  })
  const stopCompactions = durable.onCompaction((info) => compactionSeconds.observe(info.seconds))
  const storeFailures = new Counter({
    name: 'ylog_store_failures_total',
    help: 'Commits or compactions that failed, by code: STORE_FULL and STORE_IO are retried, anything else stops writes until restart',
    labelNames: ['code'] as const,
    registers: [registry],
  })
  const storeRecoveries = new Counter({
    name: 'ylog_store_recoveries_total',
    help: 'Times writes resumed after a failed commit, without a restart',
    registers: [registry],
  })
  new Gauge({
    name: 'ylog_store_writable',
    help: '1 while the store takes writes, 0 while the node retries a failed store or has stopped writing',
    registers: [registry],
    collect() {
      this.set(durable.health.state === 'ok' ? 1 : 0)
    },
  })
  let seen = durable.health
  const stopHealth = durable.onHealth((health) => {
    if (health.failures > seen.failures) storeFailures.inc({ code: health.error?.code ?? 'unknown' }, health.failures - seen.failures)
    if (health.recoveries > seen.recoveries) storeRecoveries.inc(health.recoveries - seen.recoveries)
    seen = health
  })

  return {
    registry,
    appends,
    commits,
    commitBatchEntries,
    commitSeconds,
    compactionSeconds,
    replaySeconds,
    refusedUpdates,
    gaps,
    ingestDropped,
    streams,
    storeFailures,
    storeRecoveries,
    countSyncConnections: (count) => {
      syncConnections = count
    },
    close: () => {
      stopCommits()
      stopCompactions()
      stopHealth()
    },
  }
}
