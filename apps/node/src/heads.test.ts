import { DurableLog, NodeIdentity } from '@ylog/core'
import { GatedStore, waitFor } from '@ylog/core/testing'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

describe('heads and nodes while a commit is held', () => {
  it('show only committed entries: a head a crash could take back is never reported', async () => {
    const identity = NodeIdentity.generate()
    const store = new GatedStore()
    const durable = await DurableLog.open({ identity, store })
    const app = buildServer({
      durable,
      tables: store,
      identity,
      config: {},
      metrics: createMetrics(durable, { defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    })
    await app.ready()
    store.release()
    await durable.append({ topic: 't', kind: 'event', data: 0 })
    const committed = (await app.inject({ url: '/api/heads' })).json()

    // Two more appends reach the document; their commit waits at the store.
    const pending = [durable.append({ topic: 't', kind: 'event', data: 1 }), durable.append({ topic: 't', kind: 'event', data: 2 })]
    await waitFor(() => durable.pending > 0, 'appends pending', { intervalMs: 0 })
    const heads = (await app.inject({ url: '/api/heads' })).json()
    expect(heads).toEqual(committed)
    expect(heads.heads).toMatchObject([{ node: identity.id, length: 1, hash: durable.get(identity.id, 0)?.hash }])
    const nodes = (await app.inject({ url: '/api/nodes' })).json()
    expect(nodes.nodes).toMatchObject([{ node: identity.id, length: 1, hash: durable.get(identity.id, 0)?.hash, holes: [] }])

    store.open()
    await Promise.all(pending)
    expect((await app.inject({ url: '/api/heads' })).json().heads).toMatchObject([{ length: 3, hash: durable.get(identity.id, 2)?.hash }])
    await app.close()
    await durable.close()
  })
})
