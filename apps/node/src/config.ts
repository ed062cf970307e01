import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { isLoopback } from './loopback.js'

export type Durability = 'full' | 'normal'

/** Who may hold an unauthenticated, read-only sync connection: loopback addresses only, anyone, or nobody. */
export type ReadOnlySync = 'loopback' | 'any' | 'none'

export interface Config {
  /** Absolute path of the data directory (key file and database). */
  data: string
  host: string
  /** 0 asks the OS for any free port. */
  port: number
  /** When set, POST requests need `Authorization: Bearer <writeToken>`. */
  writeToken: string | undefined
  durability: Durability
  /** Compact the update log after this many updates follow the snapshot. */
  compactAfter: number
  /** Absolute path of the JSON config file that was read, if any. */
  configFile: string | undefined
  /** Sync endpoints to dial, e.g. ws://10.0.0.2:4747/sync (the cluster name is appended). */
  peers: string[]
  /** The sync endpoint is /sync/<cluster>; peers must use the same name. */
  cluster: string
  /** Node ids allowed to write besides this node (which is always a member). Empty and not open: this node alone. */
  members: string[]
  /** Any key may write (each only its own entries). Excludes `members`. */
  openMembership: boolean
  readOnlySync: ReadOnlySync
  /** When set, reads under /api need `Authorization: Bearer <readToken>` (or the write token). */
  readToken: string | undefined
  /** Appends waiting for the writer at most; past it, `ingestPolicy` decides. */
  ingestCapacity: number
  /** 'block': a full queue makes producers wait. 'drop': the event is refused (503) and a gap entry records the loss. */
  ingestPolicy: IngestPolicy
  /** Seconds an Idempotency-Key is remembered, counted from its first entry. */
  idempotencyTtl: number
  /** Seconds a writer's `at` or `time` may lie ahead of this node's clock; also how far the clock may jump before the node warns. */
  maxClockSkew: number
}

export type IngestPolicy = 'block' | 'drop'

export const DEFAULTS = {
  data: './.ylog',
  host: '127.0.0.1',
  port: 4747,
  durability: 'full',
  compactAfter: 20_000,
  cluster: 'ylog',
  readOnlySync: 'loopback',
  ingestCapacity: 10_000,
  ingestPolicy: 'block',
  idempotencyTtl: 86_400,
  maxClockSkew: 60,
} as const

/** A configuration mistake; the message says which setting, from where, and what to use instead. */
export class ConfigError extends Error {
  readonly code = 'CONFIG'

  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Key = 'data' | 'host' | 'port' | 'writeToken' | 'readToken' | 'durability' | 'compactAfter' | 'peers' | 'cluster' | 'members' | 'openMembership' | 'readOnlySync' | 'ingestCapacity' | 'ingestPolicy' | 'idempotencyTtl' | 'maxClockSkew'
export const KEYS: readonly Key[] = ['data', 'host', 'port', 'writeToken', 'readToken', 'durability', 'compactAfter', 'peers', 'cluster', 'members', 'openMembership', 'readOnlySync', 'ingestCapacity', 'ingestPolicy', 'idempotencyTtl', 'maxClockSkew']
/** Flags given once per value (--peer a --peer b); their env variables are comma-separated lists and their config keys arrays. */
const LIST_KEYS: readonly Key[] = ['peers', 'members']
/** Flags without a value. */
const BOOLEAN_KEYS: readonly Key[] = ['openMembership']

export const FLAGS: Record<Key | 'config', string> = {
  data: 'data',
  host: 'host',
  port: 'port',
  writeToken: 'write-token',
  readToken: 'read-token',
  ingestCapacity: 'ingest-capacity',
  ingestPolicy: 'ingest-policy',
  idempotencyTtl: 'idempotency-ttl',
  maxClockSkew: 'max-clock-skew',
  durability: 'durability',
  compactAfter: 'compact-after',
  peers: 'peer',
  cluster: 'cluster',
  members: 'member',
  openMembership: 'open-membership',
  readOnlySync: 'read-only-sync',
  config: 'config',
}

export const ENV: Record<Key | 'config', string> = {
  data: 'YLOG_DATA',
  host: 'YLOG_HOST',
  port: 'YLOG_PORT',
  writeToken: 'YLOG_WRITE_TOKEN',
  readToken: 'YLOG_READ_TOKEN',
  ingestCapacity: 'YLOG_INGEST_CAPACITY',
  ingestPolicy: 'YLOG_INGEST_POLICY',
  idempotencyTtl: 'YLOG_IDEMPOTENCY_TTL',
  maxClockSkew: 'YLOG_MAX_CLOCK_SKEW',
  durability: 'YLOG_DURABILITY',
  compactAfter: 'YLOG_COMPACT_AFTER',
  peers: 'YLOG_PEERS',
  cluster: 'YLOG_CLUSTER',
  members: 'YLOG_MEMBERS',
  openMembership: 'YLOG_OPEN_MEMBERSHIP',
  readOnlySync: 'YLOG_READ_ONLY_SYNC',
  config: 'YLOG_CONFIG',
}

/** Where a value came from, for error messages that point at the right place. */
interface Source {
  label: (key: Key) => string
  /** Flags and env are text; a JSON file has real numbers, and "80" there is a mistake worth reporting. */
  textual: boolean
}

/**
 * Reads settings from flags, then env, then the config file, then defaults.
 * Throws ConfigError for anything it cannot use. Reads the config file but
 * has no other effects, so it can be tested directly.
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, cwd: string = process.cwd()): Config {
  const flags = parseFlags(argv)
  const fromEnv = (key: Key | 'config'): string | undefined => {
    const value = env[ENV[key]]
    // An empty variable is how shells and compose files usually say "unset".
    return value === undefined || value === '' ? undefined : value
  }

  const configPath = (typeof flags.config === 'string' ? flags.config : undefined) ?? fromEnv('config')
  const configFile = configPath === undefined ? undefined : resolve(cwd, configPath)
  const file = configFile === undefined ? {} : readConfigFile(configFile)

  const flagSource: Source = { label: (key) => `--${FLAGS[key]}`, textual: true }
  const envSource: Source = { label: (key) => ENV[key], textual: true }
  const fileSource: Source = { label: (key) => `"${key}" in ${configFile}`, textual: false }

  /** The first place that sets `key`, as text, with where it came from. */
  const pick = (key: Key): { value: unknown; source: Source } | undefined => {
    if (flags[key] !== undefined) return { value: flags[key], source: flagSource }
    const e = fromEnv(key)
    if (e !== undefined) return { value: e, source: envSource }
    if (file[key] !== undefined) return { value: file[key], source: fileSource }
    return undefined
  }

  const data = pickText('data', pick('data')) ?? DEFAULTS.data
  const host = pickText('host', pick('host')) ?? DEFAULTS.host
  const port = pickInteger('port', pick('port'), 0, 65535, 'is not a port: use an integer 0-65535') ?? DEFAULTS.port
  const writeToken = pickToken('writeToken', pick('writeToken'))
  const readToken = pickToken('readToken', pick('readToken'))
  const ingestCapacity = pickInteger('ingestCapacity', pick('ingestCapacity'), 1, 10_000_000, 'is not a queue capacity: use an integer 1-10000000') ?? DEFAULTS.ingestCapacity
  const ingestPolicy = pickIngestPolicy(pick('ingestPolicy')) ?? DEFAULTS.ingestPolicy
  const idempotencyTtl = pickInteger('idempotencyTtl', pick('idempotencyTtl'), 1, 10 * 365 * 86_400, 'is not a number of seconds: use an integer 1-315360000 (86400 is a day)') ?? DEFAULTS.idempotencyTtl
  const maxClockSkew = pickInteger('maxClockSkew', pick('maxClockSkew'), 0, 86_400, 'is not a number of seconds: use an integer 0-86400 (60 is a minute)') ?? DEFAULTS.maxClockSkew
  const durability = pickDurability(pick('durability')) ?? DEFAULTS.durability
  const compactAfter = pickInteger('compactAfter', pick('compactAfter'), 1, Number.MAX_SAFE_INTEGER, 'is not a count of updates: use a positive integer') ?? DEFAULTS.compactAfter

  const peers = pickList('peers', pick('peers'), checkPeerUrl) ?? []
  const cluster = pickCluster(pick('cluster')) ?? DEFAULTS.cluster
  const membersPicked = pick('members')
  const members = pickList('members', membersPicked, checkNodeId) ?? []
  const openPicked = pick('openMembership')
  const open = pickBoolean('openMembership', openPicked) ?? false
  const readOnlySync = pickReadOnlySync(pick('readOnlySync')) ?? DEFAULTS.readOnlySync

  if (open && members.length > 0 && membersPicked !== undefined && openPicked !== undefined) {
    throw new ConfigError(
      `${openPicked.source.label('openMembership')} and ${membersPicked.source.label('members')} exclude each other: open membership admits every key; drop one of them`,
    )
  }
  if (!isLoopback(host) && writeToken === undefined) {
    throw new ConfigError(
      `refusing to listen on ${host} without a write token: anyone who can reach it could append to the log; set --write-token (or YLOG_WRITE_TOKEN), or use a loopback host such as 127.0.0.1`,
    )
  }
  return {
    data: resolve(cwd, data),
    host,
    port,
    writeToken,
    durability,
    compactAfter,
    configFile,
    peers: [...new Set(peers)],
    cluster,
    members: [...new Set(members)],
    openMembership: open,
    readOnlySync,
    readToken,
    ingestCapacity,
    ingestPolicy,
    idempotencyTtl,
    maxClockSkew,
  }
}

type Flags = Partial<Record<Key | 'config', string | string[] | boolean>>

function parseFlags(argv: readonly string[]): Flags {
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        (Object.entries(FLAGS) as Array<[Key | 'config', string]>).map(([key, flag]) => [
          flag,
          BOOLEAN_KEYS.includes(key as Key) ? { type: 'boolean' as const } : { type: 'string' as const, multiple: LIST_KEYS.includes(key as Key) },
        ]),
      ),
    }).values
  } catch (err) {
    throw new ConfigError(describeParseError(err as Error & { code?: string }))
  }
  const flags: Flags = {}
  for (const key of [...KEYS, 'config'] as const) {
    const value = values[FLAGS[key]]
    if (typeof value === 'string' || typeof value === 'boolean') flags[key] = value
    else if (Array.isArray(value)) flags[key] = value.filter((v): v is string => typeof v === 'string')
  }
  return flags
}

function describeParseError(err: Error & { code?: string }): string {
  const known = `known options: ${Object.values(FLAGS).map((f) => `--${f}`).join(', ')}, --help`
  const quoted = /'([^']+)'/.exec(err.message)?.[1]
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? err.message}; ${known}`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted ?? err.message)}: every setting is an option such as --port 4747; ${known}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = /'(--[a-z-]+)/.exec(err.message)?.[1]
      if (option !== undefined && err.message.includes('does not take an argument')) return `option ${option} takes no value: give it alone to turn it on`
      return option === undefined ? err.message : `option ${option} needs a value, as in ${option} <value>`
    }
    default:
      return err.message
  }
}

function readConfigFile(path: string): Partial<Record<Key, unknown>> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object with keys ${KEYS.join(', ')}`)
  }
  const unknown = Object.keys(parsed).filter((k) => !(KEYS as readonly string[]).includes(k))
  if (unknown.length > 0) {
    throw new ConfigError(`config file ${path} has unknown key(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${KEYS.join(', ')}`)
  }
  return parsed as Partial<Record<Key, unknown>>
}

function pickText(key: Key, picked: { value: unknown; source: Source } | undefined): string | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${source.label(key)} must be a non-empty string, got ${JSON.stringify(value)}`)
  }
  return value
}

function pickInteger(key: Key, picked: { value: unknown; source: Source } | undefined, min: number, max: number, problem: string): number | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  // Text (flags, env) must be plain decimal digits: Number() would accept "0x10", " 8 " and "1e3".
  const n = !source.textual ? (typeof value === 'number' ? value : Number.NaN) : typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${source.label(key)} ${JSON.stringify(value)} ${problem}`)
  }
  return n
}

function pickToken(key: 'writeToken' | 'readToken', picked: { value: unknown; source: Source } | undefined): string | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  // The token travels in an HTTP header, so it must be visible ASCII without spaces.
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ConfigError(`${source.label(key)} must be a non-empty string of visible ASCII characters without spaces`)
  }
  return value
}

function pickDurability(picked: { value: unknown; source: Source } | undefined): Durability | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  if (value !== 'full' && value !== 'normal') {
    throw new ConfigError(`${source.label('durability')} ${JSON.stringify(value)} is not a durability: use "full" (fsync every commit) or "normal" (faster; a power loss may lose the last commits)`)
  }
  return value
}

/** peers / members: an array in the config file, a comma-separated list in env, repeated flags. */
function pickList(key: Key, picked: { value: unknown; source: Source } | undefined, check: (item: string, where: string) => string): string[] | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  let items: unknown[]
  if (Array.isArray(value)) items = value
  else if (typeof value === 'string' && source.textual) items = value.split(',').map((v) => v.trim()).filter((v) => v !== '')
  else throw new ConfigError(`${source.label(key)} must be an array of strings, got ${JSON.stringify(value)}`)
  return items.map((item) => {
    if (typeof item !== 'string') throw new ConfigError(`${source.label(key)} must hold only strings, got ${JSON.stringify(item)}`)
    return check(item, source.label(key))
  })
}

function checkPeerUrl(text: string, where: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) {
    throw new ConfigError(`${where} ${JSON.stringify(text)} is not a ws:// or wss:// URL: use a peer's sync endpoint such as ws://10.0.0.2:4747/sync`)
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(`${where} ${JSON.stringify(text)} must not carry a query, fragment or credentials: use a peer's sync endpoint such as ws://10.0.0.2:4747/sync (the cluster name is appended)`)
  }
  return text
}

function checkNodeId(text: string, where: string): string {
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new ConfigError(`${where} ${JSON.stringify(text)} is not a node id: use the 64 lowercase hex digits a node prints as "node" in its ready line`)
  }
  return text
}

function pickCluster(picked: { value: unknown; source: Source } | undefined): string | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    throw new ConfigError(`${source.label('cluster')} ${JSON.stringify(value)} is not a cluster name: use 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  return value
}

function pickBoolean(key: Key, picked: { value: unknown; source: Source } | undefined): boolean | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  if (typeof value === 'boolean') return value
  if (source.textual && typeof value === 'string') {
    if (value === '1' || value === 'true') return true
    if (value === '0' || value === 'false') return false
  }
  const expected = source.textual ? 'use 1 or true (0 or false to turn it off)' : 'use true or false'
  throw new ConfigError(`${source.label(key)} ${JSON.stringify(value)} is not a boolean: ${expected}`)
}

function pickReadOnlySync(picked: { value: unknown; source: Source } | undefined): ReadOnlySync | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  if (value !== 'loopback' && value !== 'any' && value !== 'none') {
    throw new ConfigError(
      `${source.label('readOnlySync')} ${JSON.stringify(value)} is not a read-only sync policy: use "loopback" (unauthenticated readers from this machine only), "any" (from anywhere) or "none"`,
    )
  }
  return value
}

function pickIngestPolicy(picked: { value: unknown; source: Source } | undefined): IngestPolicy | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  if (value !== 'block' && value !== 'drop') {
    throw new ConfigError(`${source.label('ingestPolicy')} ${JSON.stringify(value)} is not an ingest policy: use "block" (producers wait for room) or "drop" (refuse with 503 and record a gap entry)`)
  }
  return value
}
