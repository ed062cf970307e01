import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { YlogError } from '@ylog/core'
import { KEYS, loadConfig } from './config.js'
import { SETTINGS } from './settings.js'
import { optionsTable, USAGE } from './usage.js'
import { isLoopback } from './loopback.js'

const cwd = '/srv/work'
const dir = mkdtempSync(join(tmpdir(), 'ylog-config-'))

function configFile(content: unknown, name = `c${Math.random().toString(36).slice(2)}.json`): string {
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

function fails(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadConfig(argv, env, cwd)
  } catch (err) {
    expect(err).toBeInstanceOf(YlogError)
    expect((err as YlogError).code).toBe('CONFIG')
    return (err as YlogError).message
  }
  throw new Error('expected a CONFIG error')
}

describe('loadConfig', () => {
  it('has defaults, with data relative to the working directory', () => {
    expect(loadConfig([], {}, cwd)).toEqual({
      data: '/srv/work/.ylog',
      host: '127.0.0.1',
      port: 4747,
      writeToken: undefined,
      store: 'sqlite',
      durability: 'full',
      compactAfter: 20_000,
      configFile: undefined,
      peers: [],
      cluster: 'ylog',
      members: [],
      openMembership: false,
      readOnlySync: 'loopback',
      readToken: undefined,
      ingestCapacity: 10_000,
      ingestPolicy: 'block',
      idempotencyTtl: 86_400,
      maxClockSkew: 60,
    })
  })

  it('reads the max clock skew from a flag, the environment or the file, and refuses a bad one', () => {
    expect(loadConfig(['--max-clock-skew', '5'], {}, cwd).maxClockSkew).toBe(5)
    expect(loadConfig([], { YLOG_MAX_CLOCK_SKEW: '0' }, cwd).maxClockSkew).toBe(0)
    expect(fails(['--max-clock-skew', '1m'])).toMatch(/--max-clock-skew "1m" is not a number of seconds: use an integer 0-86400/)
    expect(fails([], { YLOG_MAX_CLOCK_SKEW: '90000' })).toMatch(/YLOG_MAX_CLOCK_SKEW "90000" is not a number of seconds/)
  })

  it('reads the idempotency TTL from a flag, the environment or the file, and refuses a bad one', () => {
    expect(loadConfig(['--idempotency-ttl', '60'], {}, cwd).idempotencyTtl).toBe(60)
    expect(loadConfig([], { YLOG_IDEMPOTENCY_TTL: '3600' }, cwd).idempotencyTtl).toBe(3600)
    expect(fails(['--idempotency-ttl', '0'])).toMatch(/--idempotency-ttl "0" is not a number of seconds: use an integer 1-315360000/)
    expect(fails(['--idempotency-ttl', '1h'])).toMatch(/is not a number of seconds/)
  })

  it('reads every flag', () => {
    const c = loadConfig(
      ['--data', 'd', '--host', 'localhost', '--port', '0', '--write-token', 'tok', '--durability', 'normal', '--compact-after', '5'],
      {},
      cwd,
    )
    expect(c).toMatchObject({ data: '/srv/work/d', host: 'localhost', port: 0, writeToken: 'tok', durability: 'normal', compactAfter: 5 })
  })

  it('accepts --flag=value', () => {
    expect(loadConfig(['--port=4800', '--data=/abs'], {}, cwd)).toMatchObject({ port: 4800, data: '/abs' })
  })

  it('reads every environment variable', () => {
    const c = loadConfig(
      [],
      { YLOG_DATA: '/e', YLOG_HOST: '::1', YLOG_PORT: '1', YLOG_WRITE_TOKEN: 't', YLOG_DURABILITY: 'normal', YLOG_COMPACT_AFTER: '7' },
      cwd,
    )
    expect(c).toMatchObject({ data: '/e', host: '::1', port: 1, writeToken: 't', durability: 'normal', compactAfter: 7 })
  })

  it('treats empty environment variables as unset', () => {
    expect(loadConfig([], { YLOG_PORT: '', YLOG_WRITE_TOKEN: '' }, cwd)).toMatchObject({ port: 4747, writeToken: undefined })
  })

  it('reads every config file key', () => {
    const file = configFile({ data: '/f', host: '127.0.0.2', port: 9, writeToken: 'ft', durability: 'normal', compactAfter: 3 })
    expect(loadConfig(['--config', file], {}, cwd)).toMatchObject({
      data: '/f',
      host: '127.0.0.2',
      port: 9,
      writeToken: 'ft',
      durability: 'normal',
      compactAfter: 3,
      configFile: file,
    })
  })

  it('takes flags over env over file over defaults, key by key', () => {
    const file = configFile({ port: 1111, host: '127.0.0.3', durability: 'normal', compactAfter: 10 })
    const c = loadConfig(['--port', '3333', '--config', file], { YLOG_PORT: '2222', YLOG_HOST: '127.0.0.4' }, cwd)
    expect(c).toMatchObject({ port: 3333, host: '127.0.0.4', durability: 'normal', compactAfter: 10, data: '/srv/work/.ylog' })
  })

  it('finds the config file through YLOG_CONFIG, and --config wins over it', () => {
    const a = configFile({ port: 1 })
    const b = configFile({ port: 2 })
    expect(loadConfig([], { YLOG_CONFIG: a }, cwd).port).toBe(1)
    expect(loadConfig(['--config', b], { YLOG_CONFIG: a }, cwd).port).toBe(2)
  })

  it.each([
    [['--port', 'abc'], '--port "abc" is not a port: use an integer 0-65535'],
    [['--port', '65536'], '--port "65536" is not a port'],
    [['--port', '-1'], 'needs a value'],
    [['--port', '0x10'], '--port "0x10" is not a port'],
    [['--port', '80.5'], '--port "80.5" is not a port'],
    [['--port'], 'option --port needs a value'],
    [['--compact-after', '0'], '--compact-after "0" is not a count of updates: use a positive integer'],
    [['--compact-after', 'many'], '--compact-after "many" is not a count'],
    [['--durability', 'fast'], '--durability "fast" is not a durability: use "full"'],
    [['--host', ' '], '--host must be a non-empty string'],
    [['--data', ''], '--data must be a non-empty string'],
    [['--write-token', 'has space'], '--write-token must be a non-empty string of visible ASCII'],
    [['--prot', '1'], 'unknown option --prot; known options: --data, --host, --port'],
    [['-x'], 'unknown option -x'],
    [['serve'], 'unexpected argument "serve"'],
  ])('refuses %j', (argv, message) => {
    expect(fails(argv)).toContain(message)
  })

  it.each([
    [{ YLOG_PORT: 'abc' }, 'YLOG_PORT "abc" is not a port: use an integer 0-65535'],
    [{ YLOG_DURABILITY: 'FULL' }, 'YLOG_DURABILITY "FULL" is not a durability'],
    [{ YLOG_COMPACT_AFTER: '-5' }, 'YLOG_COMPACT_AFTER "-5" is not a count'],
    [{ YLOG_WRITE_TOKEN: 'a\tb' }, 'YLOG_WRITE_TOKEN must be'],
  ])('refuses env %j, naming the variable', (env, message) => {
    expect(fails([], env)).toContain(message)
  })

  it('names the config file and key in value errors', () => {
    const file = configFile({ port: '80' })
    expect(fails(['--config', file])).toBe(`"port" in ${file} "80" is not a port: use an integer 0-65535`)
    const file2 = configFile({ port: 1.5 })
    expect(fails(['--config', file2])).toContain(`"port" in ${file2} 1.5 is not a port`)
    const file3 = configFile({ host: 5 })
    expect(fails(['--config', file3])).toContain(`"host" in ${file3} must be a non-empty string, got 5`)
  })

  it('refuses unknown config keys', () => {
    const file = configFile({ port: 1, prot: 2, write_token: 'x' })
    expect(fails(['--config', file])).toBe(
      `config file ${file} has unknown key(s) "prot", "write_token"; allowed: data, host, port, writeToken, readToken, ` +
        'ingestCapacity, ingestPolicy, idempotencyTtl, maxClockSkew, store, durability, compactAfter, peers, cluster, members, ' +
        'openMembership, readOnlySync',
    )
  })

  it('refuses a missing, unparsable or non-object config file, naming it', () => {
    expect(fails(['--config', join(dir, 'missing.json')])).toContain(`cannot read config file ${join(dir, 'missing.json')}: ENOENT`)
    const bad = configFile('{"port": 1,}')
    expect(fails(['--config', bad])).toContain(`config file ${bad} is not valid JSON:`)
    const list = configFile([1, 2])
    expect(fails(['--config', list])).toContain(`config file ${list} must hold a JSON object`)
  })

  it('resolves a relative config path against the working directory', () => {
    configFile({ port: 5 }, 'rel.json')
    expect(loadConfig(['--config', 'rel.json'], {}, dir)).toMatchObject({ port: 5, configFile: join(dir, 'rel.json') })
  })

  it('refuses a non-loopback host without a write token', () => {
    for (const host of ['0.0.0.0', '192.168.1.5', '::', 'example.com', '128.0.0.1']) {
      expect(fails(['--host', host])).toContain(`refusing to listen on ${host} without a write token`)
    }
    expect(loadConfig(['--host', '0.0.0.0', '--write-token', 'secret'], {}, cwd).host).toBe('0.0.0.0')
    expect(loadConfig(['--host', '0.0.0.0'], { YLOG_WRITE_TOKEN: 'secret' }, cwd).writeToken).toBe('secret')
  })
})

const A = 'a'.repeat(64)
const B = '0123456789abcdef'.repeat(4)

describe('cluster settings', () => {
  it('reads repeated --peer and --member flags, --cluster, --open-membership and --read-only-sync', () => {
    const c = loadConfig(
      [
        '--peer',
        'ws://127.0.0.1:4747/sync',
        '--peer=wss://b.example:443/sync',
        '--member',
        A,
        '--member',
        B,
        '--cluster',
        'prod.eu-1_x',
        '--read-only-sync',
        'none',
      ],
      {},
      cwd,
    )
    expect(c).toMatchObject({
      peers: ['ws://127.0.0.1:4747/sync', 'wss://b.example:443/sync'],
      members: [A, B],
      cluster: 'prod.eu-1_x',
      openMembership: false,
      readOnlySync: 'none',
    })
    expect(loadConfig(['--open-membership', '--read-only-sync', 'any'], {}, cwd)).toMatchObject({
      openMembership: true,
      readOnlySync: 'any',
      members: [],
    })
  })

  it('reads comma-separated lists and the other variables from the environment', () => {
    const c = loadConfig(
      [],
      { YLOG_PEERS: 'ws://a:1/sync, ws://b:2/sync,', YLOG_MEMBERS: `${A},${B}`, YLOG_CLUSTER: 'c', YLOG_READ_ONLY_SYNC: 'any' },
      cwd,
    )
    expect(c).toMatchObject({ peers: ['ws://a:1/sync', 'ws://b:2/sync'], members: [A, B], cluster: 'c', readOnlySync: 'any' })
    expect(loadConfig([], { YLOG_OPEN_MEMBERSHIP: '1' }, cwd).openMembership).toBe(true)
    expect(loadConfig([], { YLOG_OPEN_MEMBERSHIP: 'true' }, cwd).openMembership).toBe(true)
    expect(loadConfig([], { YLOG_OPEN_MEMBERSHIP: '0' }, cwd).openMembership).toBe(false)
  })

  it('reads arrays and booleans from the config file', () => {
    const file = configFile({ peers: ['ws://a:1/sync'], members: [A], cluster: 'f', readOnlySync: 'none' })
    expect(loadConfig(['--config', file], {}, cwd)).toMatchObject({
      peers: ['ws://a:1/sync'],
      members: [A],
      cluster: 'f',
      readOnlySync: 'none',
      openMembership: false,
    })
    const open = configFile({ openMembership: true })
    expect(loadConfig(['--config', open], {}, cwd).openMembership).toBe(true)
  })

  it('replaces whole lists by precedence (flags over env over file) and drops duplicates', () => {
    const file = configFile({ peers: ['ws://file:1/sync'], members: [A] })
    const c = loadConfig(
      ['--config', file, '--peer', 'ws://flag:1/sync', '--peer', 'ws://flag:1/sync'],
      { YLOG_PEERS: 'ws://env:1/sync', YLOG_MEMBERS: B },
      cwd,
    )
    expect(c).toMatchObject({ peers: ['ws://flag:1/sync'], members: [B] })
  })

  it.each([
    [
      ['--peer', 'http://127.0.0.1:4747/sync'],
      '--peer "http://127.0.0.1:4747/sync" is not a ws:// or wss:// URL: use a peer\'s sync endpoint such as ws://10.0.0.2:4747/sync',
    ],
    [['--peer', 'ws://ok:1/sync', '--peer', '127.0.0.1:4747'], '--peer "127.0.0.1:4747" is not a ws:// or wss:// URL'],
    [['--peer', 'ws://a:1/sync?x=1'], 'must not carry a query, fragment or credentials'],
    [['--peer'], 'option --peer needs a value'],
    [['--member', 'abc'], '--member "abc" is not a node id: use the 64 lowercase hex digits'],
    [['--member', A.toUpperCase()], 'is not a node id'],
    [['--cluster', 'a b'], '--cluster "a b" is not a cluster name: use 1-64 characters of A-Z a-z 0-9 . _ -'],
    [['--cluster', 'x'.repeat(65)], 'is not a cluster name'],
    [['--read-only-sync', 'all'], '--read-only-sync "all" is not a read-only sync policy: use "loopback"'],
    [['--open-membership=yes'], 'option --open-membership takes no value'],
    [['--open-membership', '--member', A], '--open-membership and --member exclude each other'],
  ])('refuses %j', (argv, message) => {
    expect(fails(argv)).toContain(message)
  })

  it.each([
    [{ YLOG_PEERS: 'ws://a:1/sync,tcp://b:2' }, 'YLOG_PEERS "tcp://b:2" is not a ws:// or wss:// URL'],
    [{ YLOG_MEMBERS: `${A},nope` }, 'YLOG_MEMBERS "nope" is not a node id'],
    [{ YLOG_OPEN_MEMBERSHIP: 'yes' }, 'YLOG_OPEN_MEMBERSHIP "yes" is not a boolean: use 1 or true'],
    [{ YLOG_CLUSTER: 'ä' }, 'YLOG_CLUSTER "ä" is not a cluster name'],
    [{ YLOG_READ_ONLY_SYNC: 'LOOPBACK' }, 'YLOG_READ_ONLY_SYNC "LOOPBACK" is not a read-only sync policy'],
  ])('refuses env %j', (env, message) => {
    expect(fails([], env)).toContain(message)
  })

  it('names the config file and key for bad cluster values', () => {
    const peers = configFile({ peers: 'ws://a:1/sync' })
    expect(fails(['--config', peers])).toBe(`"peers" in ${peers} must be an array of strings, got "ws://a:1/sync"`)
    const members = configFile({ members: [A, 5] })
    expect(fails(['--config', members])).toBe(`"members" in ${members} must hold only strings, got 5`)
    const open = configFile({ openMembership: 'true' })
    expect(fails(['--config', open])).toBe(`"openMembership" in ${open} "true" is not a boolean: use true or false`)
    const both = configFile({ openMembership: true, members: [A] })
    expect(fails(['--config', both])).toContain('exclude each other')
  })
})

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])(
    '%s is loopback',
    (host) => {
      expect(isLoopback(host)).toBe(true)
    },
  )
  it.each(['0.0.0.0', '10.0.0.1', '::', '::2', 'fe80::1', '::ffff:10.0.0.1', 'localhost.example.com', '127.0.0.1.nip.io'])(
    '%s is not',
    (host) => {
      expect(isLoopback(host)).toBe(false)
    },
  )
})

describe('options given to npm instead of the node', () => {
  it('are refused under npm, naming the fix', () => {
    const env = { npm_lifecycle_event: 'start', npm_config_open_membership: 'true', npm_config_port: '4800' }
    expect(fails([], env)).toBe(
      '--port --open-membership went to npm, not to the node: npm takes options before "--" for itself; run npm start -- --port ' +
        '--open-membership …',
    )
  })

  it("are none of the node's business outside npm, or when npm has its own settings", () => {
    expect(loadConfig([], { npm_config_open_membership: 'true' }, cwd).openMembership).toBe(false)
    expect(loadConfig([], { npm_lifecycle_event: 'start', npm_config_cache: '/tmp/npm' }, cwd).port).toBe(4747)
  })
})

describe('the settings table', () => {
  it('is the options table of apps/node/README.md, row for row', () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
    const table = optionsTable()
    // On failure, the expected table is printed: paste it into the README.
    expect(readme.includes(`${table}\n`), `apps/node/README.md's options table differs from the settings; it should read:\n${table}`).toBe(
      true,
    )
  })

  it('gives --help a line for every flag and variable, with its default', () => {
    for (const key of KEYS) {
      const setting = SETTINGS[key]
      expect(USAGE).toContain(`--${setting.flag}`)
      expect(USAGE).toContain(setting.env)
    }
    expect(USAGE).toContain('Default 4747. Env YLOG_PORT.')
  })

  it('loads each default when nothing is set', () => {
    const config = loadConfig([], {}, cwd)
    for (const key of KEYS) if (key !== 'data') expect(config[key]).toEqual(SETTINGS[key].default)
  })
})
