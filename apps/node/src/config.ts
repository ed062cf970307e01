import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { isLoopback } from './loopback.js'
import { CONFIG_FILE_SETTING, configError, KEYS, SETTINGS, type Setting, type SettingKey, type Settings, type Where } from './settings.js'

export { configError, KEYS, type Durability, type IngestPolicy, type ReadOnlySync, type StoreKind } from './settings.js'

/** The node's configuration: every setting (settings.ts), with `data` absolute, and the config file that was read. */
export interface Config extends Settings {
  /** Absolute path of the JSON config file that was read, if any. */
  configFile: string | undefined
}

/** Each setting's default, by config key. */
export const DEFAULTS = Object.fromEntries(KEYS.map((key) => [key, SETTINGS[key].default])) as Settings

type Flags = Partial<Record<SettingKey | 'config', string | string[] | boolean>>

/**
 * Reads settings from flags, then env, then the config file, then defaults.
 * Throws a YlogError CONFIG for anything it cannot use. Reads the config file but
 * has no other effects, so it can be tested directly.
 */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): Config {
  refuseOptionsGivenToNpm(env)
  const flags = parseFlags(argv)
  // An empty variable is how shells and compose files usually say "unset".
  const fromEnv = (name: string): string | undefined => (env[name] === '' ? undefined : env[name])

  const configPath = (typeof flags.config === 'string' ? flags.config : undefined) ?? fromEnv(CONFIG_FILE_SETTING.env)
  const configFile = configPath === undefined ? undefined : resolve(cwd, configPath)
  const file = configFile === undefined ? {} : readConfigFile(configFile)

  /** The first place that sets `key`, with where it came from. */
  const pick = (key: SettingKey): { value: unknown; where: Where } | undefined => {
    const setting: Setting<unknown> = SETTINGS[key]
    if (flags[key] !== undefined) return { value: flags[key], where: { label: `--${setting.flag}`, textual: true } }
    const e = fromEnv(setting.env)
    if (e !== undefined) return { value: e, where: { label: setting.env, textual: true } }
    if (file[key] !== undefined) return { value: file[key], where: { label: `"${key}" in ${configFile}`, textual: false } }
    return undefined
  }
  const picked = Object.fromEntries(KEYS.map((key) => [key, pick(key)])) as Record<SettingKey, ReturnType<typeof pick>>
  const settings = Object.fromEntries(
    KEYS.map((key) => {
      const setting: Setting<unknown> = SETTINGS[key]
      const p = picked[key]
      return [key, p === undefined ? setting.default : setting.parse(p.value, p.where)]
    }),
  ) as Settings

  const open = picked.openMembership
  const members = picked.members
  if (settings.openMembership && settings.members.length > 0 && open !== undefined && members !== undefined) {
    throw configError(
      `${open.where.label} and ${members.where.label} exclude each other: open membership admits every key; drop one of them`,
    )
  }
  if (!isLoopback(settings.host) && settings.writeToken === undefined) {
    throw configError(
      `refusing to listen on ${settings.host} without a write token: anyone who can reach it could append to the log; set ` +
        `--write-token (or YLOG_WRITE_TOKEN), or use a loopback host such as 127.0.0.1`,
    )
  }
  return {
    ...settings,
    data: resolve(cwd, settings.data),
    peers: [...new Set(settings.peers)],
    members: [...new Set(settings.members)],
    configFile,
  }
}

/**
 * `npm start --open-membership` (without `--`) gives the option to npm, which
 * only warns and passes it on as the variable npm_config_open_membership: the
 * node would start without it. Under npm, such a variable for one of the
 * node's own flags is that mistake.
 */
function refuseOptionsGivenToNpm(env: Readonly<Record<string, string | undefined>>): void {
  if (env.npm_lifecycle_event === undefined) return
  const flags = [...KEYS.map((key) => SETTINGS[key].flag), CONFIG_FILE_SETTING.flag]
  const given = flags.filter((flag) => env[`npm_config_${flag.replaceAll('-', '_')}`] !== undefined)
  if (given.length === 0) return
  const options = given.map((flag) => `--${flag}`).join(' ')
  const fix = `npm ${env.npm_lifecycle_event} -- ${options} …`
  throw configError(`${options} went to npm, not to the node: npm takes options before "--" for itself; run ${fix}`)
}

function parseFlags(argv: readonly string[]): Flags {
  const byFlag = new Map<string, SettingKey | 'config'>([
    ...KEYS.map((key) => [SETTINGS[key].flag, key] as const),
    [CONFIG_FILE_SETTING.flag, 'config'],
  ])
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        [...byFlag].map(([flag, key]) => {
          const setting: Partial<Setting<unknown>> = key === 'config' ? {} : SETTINGS[key]
          return [
            flag,
            setting.switch === true ? { type: 'boolean' as const } : { type: 'string' as const, multiple: setting.list === true },
          ]
        }),
      ),
    }).values
  } catch (err) {
    throw configError(describeParseError(err as Error & { code?: string }, [...byFlag.keys()]))
  }
  const flags: Flags = {}
  for (const [flag, key] of byFlag) {
    const value = values[flag]
    if (typeof value === 'string' || typeof value === 'boolean') flags[key] = value
    else if (Array.isArray(value)) flags[key] = value.filter((v): v is string => typeof v === 'string')
  }
  return flags
}

function describeParseError(err: Error & { code?: string }, flags: readonly string[]): string {
  const known = `known options: ${flags.map((f) => `--${f}`).join(', ')}, --help`
  const quoted = /'([^']+)'/.exec(err.message)?.[1]
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? err.message}; ${known}`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted ?? err.message)}: every setting is an option such as --port 4747; ${known}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = /'(--[a-z-]+)/.exec(err.message)?.[1]
      if (option !== undefined && err.message.includes('does not take an argument'))
        return `option ${option} takes no value: give it alone to turn it on`
      return option === undefined ? err.message : `option ${option} needs a value, as in ${option} <value>`
    }
    default:
      return err.message
  }
}

function readConfigFile(path: string): Partial<Record<SettingKey, unknown>> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw configError(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw configError(`config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw configError(`config file ${path} must hold a JSON object with keys ${KEYS.join(', ')}`)
  }
  const unknown = Object.keys(parsed).filter((k) => !(KEYS as readonly string[]).includes(k))
  if (unknown.length > 0) {
    throw configError(
      `config file ${path} has unknown key(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${KEYS.join(', ')}`,
    )
  }
  return parsed as Partial<Record<SettingKey, unknown>>
}
