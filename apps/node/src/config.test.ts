import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, isLoopback, loadConfig } from './config.js'

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
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).message
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('has defaults, with data relative to the working directory', () => {
    expect(loadConfig([], {}, cwd)).toEqual({
      data: '/srv/work/.ylog',
      host: '127.0.0.1',
      port: 4747,
      writeToken: undefined,
      durability: 'full',
      compactAfter: 20_000,
      configFile: undefined,
    })
  })

  it('reads every flag', () => {
    const c = loadConfig(['--data', 'd', '--host', 'localhost', '--port', '0', '--write-token', 'tok', '--durability', 'normal', '--compact-after', '5'], {}, cwd)
    expect(c).toMatchObject({ data: '/srv/work/d', host: 'localhost', port: 0, writeToken: 'tok', durability: 'normal', compactAfter: 5 })
  })

  it('accepts --flag=value', () => {
    expect(loadConfig(['--port=4800', '--data=/abs'], {}, cwd)).toMatchObject({ port: 4800, data: '/abs' })
  })

  it('reads every environment variable', () => {
    const c = loadConfig([], { YLOG_DATA: '/e', YLOG_HOST: '::1', YLOG_PORT: '1', YLOG_WRITE_TOKEN: 't', YLOG_DURABILITY: 'normal', YLOG_COMPACT_AFTER: '7' }, cwd)
    expect(c).toMatchObject({ data: '/e', host: '::1', port: 1, writeToken: 't', durability: 'normal', compactAfter: 7 })
  })

  it('treats empty environment variables as unset', () => {
    expect(loadConfig([], { YLOG_PORT: '', YLOG_WRITE_TOKEN: '' }, cwd)).toMatchObject({ port: 4747, writeToken: undefined })
  })

  it('reads every config file key', () => {
    const file = configFile({ data: '/f', host: '127.0.0.2', port: 9, writeToken: 'ft', durability: 'normal', compactAfter: 3 })
    expect(loadConfig(['--config', file], {}, cwd)).toMatchObject({ data: '/f', host: '127.0.0.2', port: 9, writeToken: 'ft', durability: 'normal', compactAfter: 3, configFile: file })
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
    expect(fails(['--config', file])).toBe(`config file ${file} has unknown key(s) "prot", "write_token"; allowed: data, host, port, writeToken, durability, compactAfter`)
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

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])('%s is loopback', (host) => {
    expect(isLoopback(host)).toBe(true)
  })
  it.each(['0.0.0.0', '10.0.0.1', '::', '::2', 'fe80::1', '::ffff:10.0.0.1', 'localhost.example.com', '127.0.0.1.nip.io'])('%s is not', (host) => {
    expect(isLoopback(host)).toBe(false)
  })
})
