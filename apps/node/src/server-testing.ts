// One in-process server per test, on its own store, closed after the test: the harness the server tests share.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DurableLog, NodeIdentity, type NodeStore } from '@ylog/core'
import { SqliteUpdateStore } from '@ylog/sqlite'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterEach } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

export interface Node {
  app: FastifyInstance
  durable: DurableLog
  identity: NodeIdentity
  length: () => number
}

/** Registers the cleanup in the calling test file; `open` lists what `setup` started, for tests that build their own. */
export function serverHarness(): { setup: (options?: { writeToken?: string; store?: NodeStore }) => Promise<Node>; open: Node[] } {
  const open: Node[] = []
  afterEach(async () => {
    for (const node of open.splice(0)) {
      await node.app.close()
      await node.durable.close().catch(() => undefined)
    }
  })
  const setup = async (options: { writeToken?: string; store?: NodeStore } = {}): Promise<Node> => {
    const identity = NodeIdentity.generate()
    const store =
      options.store ?? SqliteUpdateStore.open(join(mkdtempSync(join(tmpdir(), 'ylog-server-')), 'ylog.db'), { durability: 'normal' })
    const durable = await DurableLog.open({ identity, store })
    const metrics = createMetrics(durable, { defaultMetrics: false })
    const app = buildServer({
      durable,
      tables: store,
      identity,
      config: { writeToken: options.writeToken },
      metrics,
      logger: pino({ level: 'silent' }),
    })
    await app.ready()
    const node = { app, durable, identity, length: () => durable.committedLength(identity.id) }
    open.push(node)
    return node
  }
  return { setup, open }
}

export const event = (n: number): { topic: string; kind: 'event'; data: { n: number } } => ({ topic: 'agents', kind: 'event', data: { n } })

export function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/api/events', payload: body as object, headers })
}
