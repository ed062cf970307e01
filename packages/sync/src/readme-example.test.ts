import { createServer } from 'node:http'
import { it, expect } from 'vitest'
import { DurableLog, LogDoc, MemoryUpdateStore, NodeIdentity } from '@ylog/core'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { attachSyncServer, connectPeer } from './index.js'
import { waitFor } from './test-support.js'

it('the README example runs', async () => {
  const b = NodeIdentity.generate()
  const durableB = await DurableLog.open({ identity: b, store: new MemoryUpdateStore() })
  const http = createServer()
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
  const port = (http.address() as { port: number }).port
  const server = attachSyncServer({ server: http, durable: durableB, identity: b, allowReadOnly: true })
  const a = NodeIdentity.generate()
  const durableA = await DurableLog.open({ identity: a, store: new MemoryUpdateStore() })
  const peer = connectPeer({ url: `ws://127.0.0.1:${port}/sync`, durable: durableA, identity: a })
  await durableA.append({ topic: 'agents', kind: 'event', data: { step: 'plan' } })
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(`ws://127.0.0.1:${port}/sync`, 'ylog', doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  })
  const replica = (): LogDoc => {
    const r = new LogDoc()
    r.applyRemote(Y.encodeStateAsUpdate(doc))
    return r
  }
  await waitFor(() => replica().length(a.id) === 1, 'entry at the stock client')
  expect([...replica().entries()][0]?.data).toEqual({ step: 'plan' })
  await peer.close()
  provider.destroy()
  await server.close()
  await new Promise<void>((r) => http.close(() => r()))
  await durableA.close()
  await durableB.close()
})
