import { DEFAULT_COMPACT_AFTER_UPDATES, isNodeId, YlogError, type IngestPolicy } from '@ylog/core'
import { DEFAULT_CLUSTER } from '@ylog/sync'

/*
 * Every setting of the node, written once: its flag, environment variable,
 * config file key, default, parser and help text. The config loader
 * (config.ts), `--help` (usage.ts) and the options table in
 * apps/node/README.md (checked by a test) are all derived from this table.
 */

export type Durability = 'full' | 'normal'

/** Where the log lives: SQLite in the data directory, or memory only (a throwaway node: nothing survives a restart). */
export type StoreKind = 'sqlite' | 'memory'

/** Who may hold an unauthenticated, read-only sync connection: loopback addresses only, anyone, or nobody. */
export type ReadOnlySync = 'loopback' | 'any' | 'none'

export type { IngestPolicy }

/** A configuration mistake (code CONFIG); the message says which setting, from where, and what to use instead. */
export function configError(message: string): YlogError {
  return new YlogError('CONFIG', message)
}

/** Where a value came from: how to name it in an error, and whether it arrived as text (flags, env) or as JSON. */
export interface Where {
  label: string
  textual: boolean
}

export interface Setting<T> {
  flag: string
  /** What follows the flag in help, e.g. `<n>` or `block|drop`; none for a switch. */
  value?: string
  env: string
  default: T
  /** The default as the help and the README show it; `none` when there is none. */
  shown?: string
  /** Markdown; --help shows it without backticks and links. */
  help: string
  /** Repeatable flag, comma-separated variable, array in the file. */
  list?: boolean
  /** A switch without a value. */
  switch?: boolean
  parse: (value: unknown, where: Where) => T
}

const fail = (where: Where, value: unknown, problem: string): never => {
  throw configError(`${where.label} ${JSON.stringify(value)} ${problem}`)
}

function text(value: unknown, where: Where): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw configError(`${where.label} must be a non-empty string, got ${JSON.stringify(value)}`)
  return value
}

function integer(min: number, max: number, problem: string): (value: unknown, where: Where) => number {
  return (value, where) => {
    // Text (flags, env) must be plain decimal digits: Number() would accept "0x10", " 8 " and "1e3".
    const n = !where.textual
      ? typeof value === 'number'
        ? value
        : Number.NaN
      : typeof value === 'string' && /^[0-9]+$/.test(value)
        ? Number(value)
        : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) fail(where, value, problem)
    return n
  }
}

function token(value: unknown, where: Where): string {
  // The token travels in an HTTP header, so it must be visible ASCII without spaces.
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) {
    throw configError(`${where.label} must be a non-empty string of visible ASCII characters without spaces`)
  }
  return value
}

function oneOf<T extends string>(choices: readonly T[], problem: string): (value: unknown, where: Where) => T {
  return (value, where) => (choices.includes(value as T) ? (value as T) : fail(where, value, problem))
}

function list(check: (item: string, where: Where) => string): (value: unknown, where: Where) => string[] {
  return (value, where) => {
    let items: unknown[]
    if (Array.isArray(value)) items = value
    else if (typeof value === 'string' && where.textual)
      items = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
    else throw configError(`${where.label} must be an array of strings, got ${JSON.stringify(value)}`)
    return items.map((item) => {
      if (typeof item !== 'string') throw configError(`${where.label} must hold only strings, got ${JSON.stringify(item)}`)
      return check(item, where)
    })
  }
}

function peerUrl(item: string, where: Where): string {
  let url: URL | undefined
  try {
    url = new URL(item)
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) {
    fail(where, item, "is not a ws:// or wss:// URL: use a peer's sync endpoint such as ws://10.0.0.2:4747/sync")
  }
  if (url?.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    fail(
      where,
      item,
      "must not carry a query, fragment or credentials: use a peer's sync endpoint such as ws://10.0.0.2:4747/sync " +
        '(the cluster name is appended)',
    )
  }
  return item
}

function nodeId(item: string, where: Where): string {
  if (!isNodeId(item)) fail(where, item, 'is not a node id: use the 64 lowercase hex digits a node prints as "node" in its ready line')
  return item
}

function boolean(value: unknown, where: Where): boolean {
  if (typeof value === 'boolean') return value
  if (where.textual && (value === '1' || value === 'true')) return true
  if (where.textual && (value === '0' || value === 'false')) return false
  return fail(where, value, `is not a boolean: ${where.textual ? 'use 1 or true (0 or false to turn it off)' : 'use true or false'}`)
}

/** The settings, in the order help and the README list them. */
export const SETTINGS = {
  data: {
    flag: 'data',
    value: '<dir>',
    env: 'YLOG_DATA',
    default: './.ylog',
    help: "data directory; relative paths are resolved against the working directory (also for the config file's value)",
    parse: text,
  },
  host: { flag: 'host', value: '<addr>', env: 'YLOG_HOST', default: '127.0.0.1', help: 'address to listen on', parse: text },
  port: {
    flag: 'port',
    value: '<n>',
    env: 'YLOG_PORT',
    default: 4747,
    help: 'port; `0` picks any free one (see the ready line)',
    parse: integer(0, 65535, 'is not a port: use an integer 0-65535'),
  },
  writeToken: {
    flag: 'write-token',
    value: '<t>',
    env: 'YLOG_WRITE_TOKEN',
    default: undefined as string | undefined,
    help: 'when set, writes (`POST /api/events…`, `PUT /api/consumers/…`) need `Authorization: Bearer <t>`',
    parse: token,
  },
  readToken: {
    flag: 'read-token',
    value: '<t>',
    env: 'YLOG_READ_TOKEN',
    default: undefined as string | undefined,
    help:
      'when set, reads under `/api` (and the event stream) need `Authorization: Bearer <t>` or the write token; `/healthz`, ' +
      '`/readyz`, `/metrics` and `/openapi.json` stay open. Without it reads are open',
    parse: token,
  },
  ingestCapacity: {
    flag: 'ingest-capacity',
    value: '<n>',
    env: 'YLOG_INGEST_CAPACITY',
    default: 10_000,
    help: 'single appends waiting for the writer at most (see [Ingest queue](#ingest-queue-and-gap-entries))',
    parse: integer(1, 10_000_000, 'is not a queue capacity: use an integer 1-10000000'),
  },
  ingestPolicy: {
    flag: 'ingest-policy',
    value: 'block|drop',
    env: 'YLOG_INGEST_POLICY',
    default: 'block' as IngestPolicy,
    help:
      'when the queue is full: requests wait (`block`), or the event is refused with `503 INGEST_FULL` and a gap entry ' +
      'records the loss (`drop`)',
    parse: oneOf<IngestPolicy>(
      ['block', 'drop'],
      'is not an ingest policy: use "block" (producers wait for room) or "drop" (refuse with 503 and record a gap entry)',
    ),
  },
  idempotencyTtl: {
    flag: 'idempotency-ttl',
    value: '<s>',
    env: 'YLOG_IDEMPOTENCY_TTL',
    default: 86_400,
    help: 'seconds an `Idempotency-Key` is remembered, from its first entry (see [Idempotency](#idempotency))',
    parse: integer(1, 10 * 365 * 86_400, 'is not a number of seconds: use an integer 1-315360000 (86400 is a day)'),
  },
  maxClockSkew: {
    flag: 'max-clock-skew',
    value: '<s>',
    env: 'YLOG_MAX_CLOCK_SKEW',
    default: 60,
    help:
      "seconds a writer's `at` or `time` may lie ahead of this node's clock (further is `400 BAD_TIME`), " +
      'and how far the system clock may jump before the node warns (see [Clock](#clock))',
    parse: integer(0, 86_400, 'is not a number of seconds: use an integer 0-86400 (60 is a minute)'),
  },
  store: {
    flag: 'store',
    value: 'sqlite|memory',
    env: 'YLOG_STORE',
    default: 'sqlite' as StoreKind,
    help:
      '`sqlite` keeps the log in `<data>/ylog.db`; `memory` keeps it in memory only, for throwaway nodes in tests and ' +
      'demos: nothing survives a restart (the ready line and `/readyz` say so), though the key and lock still live in the data directory',
    parse: oneOf<StoreKind>(
      ['sqlite', 'memory'],
      'is not a store: use "sqlite" (the log in <data>/ylog.db) or "memory" (nothing survives a restart)',
    ),
  },
  durability: {
    flag: 'durability',
    value: 'full|normal',
    env: 'YLOG_DURABILITY',
    default: 'full' as Durability,
    help: '`full` fsyncs every commit; `normal` leaves it to the OS (a power loss, not a crash, can lose the last commits)',
    parse: oneOf<Durability>(
      ['full', 'normal'],
      'is not a durability: use "full" (fsync every commit) or "normal" (faster; a power loss may lose the last commits)',
    ),
  },
  compactAfter: {
    flag: 'compact-after',
    value: '<n>',
    env: 'YLOG_COMPACT_AFTER',
    default: DEFAULT_COMPACT_AFTER_UPDATES,
    help: 'compact once this many updates follow the snapshot (or 16 MiB of them): what they hold is added to the snapshot',
    parse: integer(1, Number.MAX_SAFE_INTEGER, 'is not a count of updates: use a positive integer'),
  },
  peers: {
    flag: 'peer',
    value: '<ws-url>',
    env: 'YLOG_PEERS',
    default: [] as string[],
    shown: 'none',
    list: true,
    help:
      "a peer's sync endpoint to dial, `ws://` or `wss://`, e.g. `ws://10.0.0.2:4747/sync` (`/<cluster>` " +
      'is appended). The node redials with backoff while a peer is down',
    parse: list(peerUrl),
  },
  cluster: {
    flag: 'cluster',
    value: '<name>',
    env: 'YLOG_CLUSTER',
    default: DEFAULT_CLUSTER,
    help: '1–64 characters of `A-Z a-z 0-9 . _ -`; the endpoint is `/sync/<name>` and peers must use the same name',
    parse: (value: unknown, where: Where): string =>
      typeof value === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(value)
        ? value
        : fail(where, value, 'is not a cluster name: use 1-64 characters of A-Z a-z 0-9 . _ -'),
  },
  members: {
    flag: 'member',
    value: '<node id>',
    env: 'YLOG_MEMBERS',
    default: [] as string[],
    shown: 'none',
    list: true,
    help: 'a node (64 lowercase hex digits) allowed to write to the log; this node is always a member',
    parse: list(nodeId),
  },
  openMembership: {
    flag: 'open-membership',
    env: 'YLOG_OPEN_MEMBERSHIP',
    default: false,
    shown: 'off',
    switch: true,
    help: 'any node key may write (each only its own entries); excludes `--member`',
    parse: boolean,
  },
  readOnlySync: {
    flag: 'read-only-sync',
    value: 'loopback|any|none',
    env: 'YLOG_READ_ONLY_SYNC',
    default: 'loopback' as ReadOnlySync,
    help: 'who may follow the log over `/sync` without a node key: clients on `127.0.0.0/8` and `::1` only, anyone, or nobody',
    parse: oneOf<ReadOnlySync>(
      ['loopback', 'any', 'none'],
      'is not a read-only sync policy: use "loopback" (unauthenticated readers from this machine only), "any" (from anywhere) or "none"',
    ),
  },
} satisfies Record<string, Setting<unknown>>

export type SettingKey = keyof typeof SETTINGS
export type Settings = { -readonly [K in SettingKey]: (typeof SETTINGS)[K]['default'] }
export const KEYS = Object.keys(SETTINGS) as SettingKey[]

/** The --config setting: where the others may come from, so not itself a config file key. */
export const CONFIG_FILE_SETTING = {
  flag: 'config',
  value: '<file.json>',
  env: 'YLOG_CONFIG',
  help: 'JSON object with any of the config keys above',
} as const

/** What a setting's default looks like in help and the README. */
export function shownDefault(setting: Setting<unknown>): string {
  if (setting.shown !== undefined) return setting.shown
  return setting.default === undefined ? 'none' : String(setting.default)
}
