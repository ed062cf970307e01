import { readFileSync } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

export type Durability = 'full' | 'normal'

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
}

export const DEFAULTS = {
  data: './.ylog',
  host: '127.0.0.1',
  port: 4747,
  durability: 'full',
  compactAfter: 20_000,
} as const

/** A configuration mistake; the message says which setting, from where, and what to use instead. */
export class ConfigError extends Error {
  readonly code = 'CONFIG'

  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Key = 'data' | 'host' | 'port' | 'writeToken' | 'durability' | 'compactAfter'
const KEYS: readonly Key[] = ['data', 'host', 'port', 'writeToken', 'durability', 'compactAfter']

const FLAGS: Record<Key | 'config', string> = {
  data: 'data',
  host: 'host',
  port: 'port',
  writeToken: 'write-token',
  durability: 'durability',
  compactAfter: 'compact-after',
  config: 'config',
}

const ENV: Record<Key | 'config', string> = {
  data: 'YLOG_DATA',
  host: 'YLOG_HOST',
  port: 'YLOG_PORT',
  writeToken: 'YLOG_WRITE_TOKEN',
  durability: 'YLOG_DURABILITY',
  compactAfter: 'YLOG_COMPACT_AFTER',
  config: 'YLOG_CONFIG',
}

export const USAGE = `usage: npm start -- [options]

  --data <dir>             data directory (default ${DEFAULTS.data}, relative to the working directory)   env YLOG_DATA
  --host <addr>            address to listen on (default ${DEFAULTS.host})                                 env YLOG_HOST
  --port <n>               port, 0 for any free one (default ${DEFAULTS.port})                            env YLOG_PORT
  --write-token <t>        require "Authorization: Bearer <t>" on writes                          env YLOG_WRITE_TOKEN
  --durability full|normal fsync every commit, or leave it to the OS (default ${DEFAULTS.durability})        env YLOG_DURABILITY
  --compact-after <n>      compact after n updates (default ${DEFAULTS.compactAfter})                           env YLOG_COMPACT_AFTER
  --config <file.json>     JSON file with keys ${KEYS.join(', ')}   env YLOG_CONFIG
  --help                   print this and exit

Flags override environment variables, which override the config file, which overrides the defaults.`

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

  const configPath = flags.config ?? fromEnv('config')
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
  const writeToken = pickToken(pick('writeToken'))
  const durability = pickDurability(pick('durability')) ?? DEFAULTS.durability
  const compactAfter = pickInteger('compactAfter', pick('compactAfter'), 1, Number.MAX_SAFE_INTEGER, 'is not a count of updates: use a positive integer') ?? DEFAULTS.compactAfter

  if (!isLoopback(host) && writeToken === undefined) {
    throw new ConfigError(
      `refusing to listen on ${host} without a write token: anyone who can reach it could append to the log; set --write-token (or YLOG_WRITE_TOKEN), or use a loopback host such as 127.0.0.1`,
    )
  }
  return { data: resolve(cwd, data), host, port, writeToken, durability, compactAfter, configFile }
}

/** True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (h.toLowerCase() === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) {
    const lower = h.toLowerCase()
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
    if (mapped !== null) return (mapped[1] as string).startsWith('127.')
    return !lower.includes('.') && expandsToLoopback(lower)
  }
  return false
}

function expandsToLoopback(ipv6: string): boolean {
  const [head = '', tail = ''] = ipv6.includes('::') ? ipv6.split('::') : [ipv6, '']
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.length === 8 && groups.slice(0, 7).every((g) => Number.parseInt(g, 16) === 0) && Number.parseInt(groups[7] as string, 16) === 1
}

type Flags = Partial<Record<Key | 'config', string>>

function parseFlags(argv: readonly string[]): Flags {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(Object.values(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
    }).values
  } catch (err) {
    throw new ConfigError(describeParseError(err as Error & { code?: string }))
  }
  const flags: Flags = {}
  for (const key of [...KEYS, 'config'] as const) {
    const value = values[FLAGS[key]]
    if (typeof value === 'string') flags[key] = value
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

function pickToken(picked: { value: unknown; source: Source } | undefined): string | undefined {
  if (picked === undefined) return undefined
  const { value, source } = picked
  // The token travels in an HTTP header, so it must be visible ASCII without spaces.
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ConfigError(`${source.label('writeToken')} must be a non-empty string of visible ASCII characters without spaces`)
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
