// Every path in the node's own /openapi.json, tried with each method it does not document: 405 METHOD_NOT_ALLOWED
// with an Allow header naming exactly the documented methods (HEAD with GET), over real HTTP to an in-process node.
import { loadConfig } from '@ylog/node/config'
import { startNode, type NodeHandle } from '@ylog/node/node'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from './support/node-process.js'

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const
const WRITE_TOKEN = 'allow-write'
/** Served but left out of the document (the console and the document itself): GET only. */
const HIDDEN: Record<string, Record<string, unknown>> = { '/': { get: {} }, '/assets/{file}': { get: {} }, '/openapi.json': { get: {} } }

let node: NodeHandle
let paths: Record<string, Record<string, unknown>>

beforeAll(async () => {
  const config = loadConfig(['--data', tempDir('ylog-allow-'), '--port', '0', '--store', 'memory'], { YLOG_WRITE_TOKEN: WRITE_TOKEN })
  node = await startNode(config, pino({ level: 'silent' }))
  paths = ((await (await fetch(`${node.url}/openapi.json`)).json()) as { paths: typeof paths }).paths
})
afterAll(async () => {
  await node.close()
})

/** A concrete URL path for an OpenAPI path template: each `{param}` becomes one segment. */
const concrete = (template: string): string => template.replace(/\{[^}]+\}/g, 'x1')

describe('405 with Allow', () => {
  it('answers every documented path, for each method it does not take, with 405 and the documented methods', async () => {
    expect(paths).toHaveProperty(['/api/consumers/{name}', 'put'])
    const wrong: string[] = []
    for (const [template, operations] of Object.entries({ ...paths, ...HIDDEN })) {
      const documented = Object.keys(operations)
        .map((m) => m.toUpperCase())
        .filter((m) => (METHODS as readonly string[]).includes(m) || m === 'HEAD')
      const expected = [...new Set([...documented, ...(documented.includes('GET') ? ['HEAD'] : [])])].sort()
      for (const method of METHODS.filter((m) => !documented.includes(m))) {
        const res = await fetch(`${node.url}${concrete(template)}`, {
          method,
          headers: { authorization: `Bearer ${WRITE_TOKEN}`, 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{}',
        })
        const body = (await res.json().catch(() => undefined)) as { error?: { code?: string } } | undefined
        const allow = (res.headers.get('allow') ?? '')
          .split(',')
          .map((m) => m.trim())
          .filter((m) => m !== '')
          .sort()
        const got = `${res.status} ${body?.error?.code} [${allow.join(', ')}]`
        const want = `405 METHOD_NOT_ALLOWED [${expected.join(', ')}]`
        if (got !== want) wrong.push(`${method} ${template}: got ${got}, want ${want}`)
      }
    }
    expect(wrong).toEqual([])
  })
})
