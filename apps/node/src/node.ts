import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import {
  DurableLog,
  IngestQueue,
  memberList,
  MemoryUpdateStore,
  NodeIdentity,
  openMembership,
  PLAUSIBLE_MIN_TIME_MS,
  YlogError,
  type Entry,
  type EntryInput,
  type NodeId,
  type NodeStore,
} from '@ylog/core'
import { ThreadedSqliteStore } from '@ylog/sqlite'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ClockWatch } from './clock-watch.js'
import { joinCluster, type ClusterHandle } from './cluster.js'
import type { Config, Durability } from './config.js'
import { GapCounter } from './gap-counter.js'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

export interface NodeHandle {
  /** Where the API answers, e.g. http://127.0.0.1:4747 */
  url: string
  /** The bound port (the real one when the config asked for 0). */
  port: number
  node: NodeId
  replaySeconds: number
  /** True for `--store memory`: the log is gone when the process ends. */
  volatile: boolean
  app: FastifyInstance
  durable: DurableLog
  /** The sync endpoint and the peer connections. */
  cluster: ClusterHandle
  /** Stops accepting requests, lets in-flight ones and the group commit finish, then closes the store. */
  close(): Promise<void>
}

export interface StartOptions {
  /** Where the update log, the read index and the node tables live; default SQLite at `path`. Tests pass a MemoryUpdateStore. */
  openStore?: (path: string, durability: Durability) => NodeStore | Promise<NodeStore>
}

/** SQLite with commits on this thread and compaction on a worker, so a snapshot write never stalls HTTP or sync. */
export function openSqliteStore(path: string, durability: Durability): Promise<NodeStore> {
  return ThreadedSqliteStore.open(path, { durability })
}

export async function startNode(config: Config, logger: FastifyBaseLogger, options: StartOptions = {}): Promise<NodeHandle> {
  // Before anything is created: a start that fails on its address must not leave a new key and database behind.
  await probeAddress(config)
  try {
    mkdirSync(config.data, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new YlogError('DATA_DIR', `cannot create data directory ${config.data}: ${(err as Error).message}`, { cause: err })
  }
  const releaseLock = acquireLock(join(config.data, 'ylog.lock'))
  const cleanup: Array<() => Promise<void> | void> = [releaseLock]
  const unwind = async (): Promise<void> => {
    for (const step of cleanup.reverse()) {
      try {
        await step()
      } catch (err) {
        logger.warn({ err }, 'cleanup after a failed start failed')
      }
    }
  }

  try {
    const keyFile = join(config.data, 'node.key')
    const { identity, created } = NodeIdentity.loadOrCreate(keyFile)
    logger.info({ node: identity.id, keyFile, created }, created ? 'created a new node identity' : 'loaded node identity')

    const volatile = options.openStore === undefined && config.store === 'memory'
    const dbFile = volatile ? ':memory:' : join(config.data, 'ylog.db')
    const store = volatile ? new MemoryUpdateStore() : await (options.openStore ?? openSqliteStore)(dbFile, config.durability)
    cleanup.push(() => store.close())
    if (volatile) logger.warn({ store: 'memory' }, 'the log is kept in memory only: nothing survives a restart (--store memory)')
    else logger.info({ file: dbFile, durability: config.durability }, 'opened store')

    // This node is always a member; without a list or open membership it is the only one.
    const membership = config.openMembership ? openMembership : memberList([...config.members, identity.id])
    if (config.peers.length > 0 && !config.openMembership && config.members.length === 0) {
      logger.warn(
        { peers: config.peers },
        'peers are configured but no members: this node accepts only its own entries and refuses to authenticate any peer (none ' +
          'is a member), so nothing syncs; list the peers with --member <node id> or use --open-membership',
      )
    }
    logger.info({ cluster: config.cluster, membership: membership.describe() }, 'membership')

    let lastProgress = 0
    const clock = new ClockWatch(config.maxClockSkew * 1000, logger.child({ component: 'clock' }))
    const durable = await DurableLog.open({
      identity,
      store,
      membership,
      now: clock.now,
      // Writers' times: at most the skew ahead of the clock, and none so early that it must be seconds, not milliseconds.
      maxClockSkewMs: config.maxClockSkew * 1000,
      minTimeMs: PLAUSIBLE_MIN_TIME_MS,
      // Signing on its own thread overlaps it with HTTP, Yjs and the store.
      signing: 'thread',
      compactAfterUpdates: config.compactAfter,
      onReplayProgress: (applied, total) => {
        // At most one line a second: a long tail would otherwise flood the log.
        const now = performance.now()
        if (applied === total || now - lastProgress >= 1000) {
          lastProgress = now
          logger.info({ applied, total }, 'replaying stored updates')
        }
      },
    }).catch((err: unknown) => {
      // The log above the store knows what is wrong but not where; the operator needs the file.
      if (err instanceof YlogError && err.code === 'STORE_CORRUPT' && !err.message.includes(dbFile))
        throw new YlogError(err.code, `${dbFile}: ${err.message}`, { cause: err })
      throw err
    })
    cleanup.pop()
    cleanup.push(() => durable.close())
    const entries = [...durable.heads().values()].reduce((n, h) => n + h.length, 0)
    logger.info({ replaySeconds: durable.replaySeconds, entries, nodes: durable.nodes().length }, 'replayed the stored log')
    cleanup.push(
      durable.onHealth((health) => {
        const { attempts, nextTryAt, failures, recoveries } = health
        const detail = { code: health.error?.code, err: health.error?.message, attempts, nextTryAt, failures }
        if (health.state === 'ok') logger.info({ failures, recoveries }, 'the store takes writes again; uncommitted entries were dropped')
        else if (health.state === 'retrying') logger.warn(detail, 'the store refuses writes (commits are refused meanwhile); retrying')
        else logger.error(detail, 'the store failed for a reason that does not pass: writes stop until a restart')
      }),
    )

    const metrics = createMetrics(durable)
    cleanup.push(() => metrics.close())
    clock.register(metrics.registry)
    const ownHead = durable.heads().get(identity.id)
    if (ownHead !== undefined) clock.checkLastAt(ownHead.at)
    const gaps = await GapCounter.open(durable)
    cleanup.push(() => gaps.close())
    const ingest = new IngestQueue(durable, {
      capacity: config.ingestCapacity,
      policy: config.ingestPolicy,
      stream: 'http',
      onGap: (gap) => {
        metrics.ingestDropped.inc(gap.count)
        if (gap.entry !== undefined) metrics.gaps.inc()
        // The loss is in the log (and on every peer) as a gap entry; the warning is for whoever watches this node.
        logger.warn(
          {
            stream: gap.stream,
            from: gap.from,
            to: gap.to,
            count: gap.count,
            topics: gap.topics,
            gapEntry: gap.entry === undefined ? null : `${gap.entry.node}:${gap.entry.seq}`,
            err: gap.error?.message,
          },
          'ingest queue full: events dropped and recorded as a gap entry',
        )
      },
    })
    // The sync side starts once the port is bound; until then the status route reports none of it.
    let cluster: ClusterHandle | undefined
    const app = buildServer({
      durable,
      tables: store,
      identity,
      config,
      metrics,
      logger,
      gaps,
      volatile,
      write: (inputs, idempotency) => writeThrough(durable, ingest, inputs, idempotency),
      cluster: {
        name: config.cluster,
        peers: () => cluster?.peers() ?? [],
        connections: () => cluster?.connections() ?? [],
      },
    })
    try {
      await app.listen({ host: config.host, port: config.port })
    } catch (err) {
      await app.close().catch(() => undefined)
      throw listenError(err as NodeJS.ErrnoException, config)
    }
    const port = (app.server.address() as AddressInfo).port

    try {
      cluster = joinCluster({
        server: app.server,
        durable,
        identity,
        cluster: config.cluster,
        peers: config.peers,
        readOnlySync: config.readOnlySync,
        logger: logger.child({ component: 'sync' }),
        onRefused: (reason) => metrics.refusedUpdates.inc({ reason }),
      })
    } catch (err) {
      await app.close().catch(() => undefined)
      throw err
    }
    const joined = cluster
    metrics.countSyncConnections(() => joined.openConnections())

    let closing: Promise<void> | undefined
    const close = (): Promise<void> => {
      closing ??= (async () => {
        try {
          // Peers first, then the sync endpoint (both before fastify, whose close waits for open sockets), then the log.
          await joined.close()
          // In-flight requests get 2 s to finish; a connection still open then (one the server never saw go idle) is cut, or
          // close() could wait for its keep-alive timeout.
          const cut = setTimeout(() => app.server.closeAllConnections(), 2000)
          await app.close()
          clearTimeout(cut)
          await ingest.close()
          metrics.close()
          gaps.close()
          await durable.close()
        } finally {
          releaseLock()
        }
      })()
      return closing
    }
    return {
      url: `http://${reachableHost(config.host)}:${port}`,
      port,
      node: identity.id,
      replaySeconds: durable.replaySeconds,
      volatile,
      app,
      durable,
      cluster: joined,
      close,
    }
  } catch (err) {
    await unwind()
    throw err
  }
}

/**
 * Single appends go through the bounded ingest queue (its policy decides
 * what a full queue does). Batches and idempotent requests go straight to
 * the log: each must commit as one unit with its key, which a queue that
 * may split or drop events cannot promise.
 */
async function writeThrough(
  durable: DurableLog,
  ingest: IngestQueue,
  inputs: EntryInput[],
  idempotency?: { key: string; requestHash: Uint8Array },
): Promise<Entry[]> {
  if (inputs.length !== 1 || idempotency !== undefined) return durable.appendBatch(inputs, { idempotency })
  const result = await ingest.push(inputs[0] as EntryInput)
  if (result.status === 'dropped') {
    throw new YlogError(
      'INGEST_FULL',
      `the ingest queue is full, so this event (ingest number ${result.ingest} of stream ${ingest.stream}) was dropped and ` +
        `recorded in a gap entry; retry later, or start the node with --ingest-policy block`,
    )
  }
  return [result.entry]
}

/**
 * Binds the configured address and lets it go at once, so a port in use or an address that is not this machine's
 * stops the start before the data directory is touched. The real bind comes only after replay (a node still
 * replaying refuses connections); should another process take the port in between, that bind fails the same way.
 */
async function probeAddress(config: Config): Promise<void> {
  const probe = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen({ host: config.host, port: config.port, exclusive: true }, resolve)
    })
  } catch (err) {
    throw listenError(err as NodeJS.ErrnoException, config)
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
}

/**
 * The host of the URL a user can open: a wildcard address (every interface) is reached from this machine through
 * loopback, so 0.0.0.0 shows as 127.0.0.1 and :: as [::1]; other IPv6 addresses get their brackets.
 */
export function reachableHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (bare === '0.0.0.0') return '127.0.0.1'
  if (!bare.includes(':')) return bare
  return /^[0:]+$/.test(bare) ? '[::1]' : `[${bare}]`
}

function listenError(err: NodeJS.ErrnoException, config: Config): Error {
  const where = `${config.host}:${config.port}`
  switch (err.code) {
    case 'EADDRINUSE':
      return new YlogError(
        'ADDRESS_IN_USE',
        `cannot listen on ${where}: the address is already in use (another node?); choose another --port, or 0 for any free one`,
        { cause: err },
      )
    case 'EACCES':
      return new YlogError(
        'NO_PERMISSION',
        `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose a port of 1024 or more`,
        { cause: err },
      )
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new YlogError('NO_ADDRESS', `cannot listen on ${where}: ${config.host} is not an address of this machine`, { cause: err })
    default:
      return err
  }
}

/**
 * Takes the data directory's lock file, so two processes never write as the
 * same node: each would sign its own entry at the same seq, a fork that
 * peers must refuse. Returns the release function.
 */
export function acquireLock(path: string): () => void {
  const take = (): boolean => {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw new YlogError('DATA_DIR', `cannot create lock file ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  if (!take()) {
    const holder = Number.parseInt(readText(path), 10)
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new YlogError(
        'LOCKED',
        `data directory ${join(path, '..')} is in use by process ${holder} (lock file ${path}); stop that node first, or delete ` +
          `the lock file if that process is not a ylog node`,
      )
    }
    // The holder is gone (a crash or kill -9): the lock is stale.
    try {
      unlinkSync(path)
    } catch {
      // Someone else removed it first; take() below settles who wins.
    }
    if (!take())
      throw new YlogError('LOCKED', `data directory ${join(path, '..')} was locked by another process while starting (lock file ${path})`)
  }
  let released = false
  return () => {
    if (released) return
    released = true
    try {
      unlinkSync(path)
    } catch {
      // Already gone; nothing to release.
    }
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
