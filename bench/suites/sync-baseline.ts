// Child of sync.ts: the baselines, each piece in its own process.
//
//   sync-baseline.ts server ywebsocket      the stock @y/websocket-server (its setupWSConnection, as its bin does), memory only
//   sync-baseline.ts server hocuspocus      a Hocuspocus 3 Server with no extensions, memory only
//   sync-baseline.ts client <kind> <url>    a stock WebsocketProvider / HocuspocusProvider client
//
// Clients write raw Yjs the way a ylog node lays out its entries: one
// transaction per append pushing one ~458-byte Uint8Array into a segment
// Y.Array (512 per segment, segments in a Y.Array under a root Y.Map), so
// the updates on the wire have the same shape and size. (One flat Y.Array
// would make the writer itself O(n): Yjs walks the list on every push,
// ~3,000 pushes/s at 100k items; see core.append.naive_rate_100k.)
import { createServer } from 'node:http'
import { subscribe } from 'node:diagnostics_channel'
import type { AddressInfo, Socket } from 'node:net'
import { Server as HocuspocusServer } from '@hocuspocus/server'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { docs, setupWSConnection } from '@y/websocket-server/utils'
import { entriesBelowClock } from '@ylog/core/internal'
import { WebSocket, WebSocketServer } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { now, pace, serve, type Args } from './sync-ipc.js'

const [role, kind, url] = process.argv.slice(2) as ['server' | 'client', 'ywebsocket' | 'hocuspocus', string | undefined]
const ROOM = 'bench'
/** The writer's Yjs client id, so readers can count its entries from their state vector. */
const WRITER = 1
const ENTRY_BYTES = 458

/** How many of the writer's entries a doc holds, from its state vector (ylog's clock layout). */
function writerEntries(doc: Y.Doc | undefined): number {
  return doc === undefined ? 0 : entriesBelowClock(Y.getState(doc.store, WRITER))
}

if (role === 'server') await runServer()
else await runClient(url as string)

async function runServer(): Promise<void> {
  if (kind === 'ywebsocket') {
    // What @y/websocket-server's own bin (src/server.js) does, on port 0.
    const wss = new WebSocketServer({ noServer: true })
    wss.on('connection', (ws, req) => setupWSConnection(ws, req))
    const http = createServer((_req, res) => res.writeHead(200).end('okay'))
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    serve(
      { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}` },
      { held: () => writerEntries(docs.get(ROOM)), stop: () => void setTimeout(() => process.exit(0), 20) },
    )
  } else {
    const server = new HocuspocusServer({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false })
    await server.listen()
    serve(
      { url: `ws://127.0.0.1:${server.address.port}` },
      { held: () => writerEntries(server.hocuspocus.documents.get(ROOM)), stop: () => void setTimeout(() => process.exit(0), 20) },
    )
  }
}

async function runClient(serverUrl: string): Promise<void> {
  const dialed: Socket[] = []
  subscribe('net.client.socket', (message) => dialed.push((message as { socket: Socket }).socket))
  const doc = new Y.Doc()
  const Polyfill = WebSocket as unknown as typeof globalThis.WebSocket
  let connect: () => void
  let disconnect: () => void
  let synced: Promise<void>
  if (kind === 'ywebsocket') {
    const provider = new WebsocketProvider(serverUrl, ROOM, doc, { WebSocketPolyfill: Polyfill, disableBc: true })
    synced = new Promise((resolve) => provider.once('sync', () => resolve()))
    connect = () => provider.connect()
    disconnect = () => provider.disconnect()
  } else {
    const socket = new HocuspocusProviderWebsocket({ url: serverUrl, WebSocketPolyfill: Polyfill })
    const provider = new HocuspocusProvider({ websocketProvider: socket, name: ROOM, document: doc })
    synced = new Promise((resolve) => provider.on('synced', () => resolve()))
    provider.attach()
    connect = () => void socket.connect()
    disconnect = () => socket.disconnect()
  }
  await synced

  // Reader side: entries of the writer held, and when each arrived.
  const arrivals: number[] = []
  let held = 0
  const watchers: Array<{ count: number; resolve: (at: number) => void }> = []
  doc.on('update', () => {
    const count = writerEntries(doc)
    if (count <= held) return
    const t = now()
    for (let seq = held; seq < count; seq++) arrivals[seq] = t
    held = count
    for (let i = watchers.length - 1; i >= 0; i--) {
      const w = watchers[i] as (typeof watchers)[number]
      if (held >= w.count) {
        watchers.splice(i, 1)
        w.resolve(t)
      }
    }
  })
  const watch = (count: number): Promise<number> =>
    held >= count ? Promise.resolve(now()) : new Promise((resolve) => watchers.push({ count, resolve }))

  // Writer side: ylog's layout in plain Yjs.
  const payload = new Uint8Array(ENTRY_BYTES).map((_, i) => (i * 31 + 7) & 0xff)
  let written = 0
  let segments: Y.Array<Y.Array<Uint8Array>> | undefined
  let segment: Y.Array<Uint8Array> | undefined
  const appendOne = (): void => {
    if (written === 0) doc.clientID = WRITER
    const seq = written++
    const bytes = payload.slice()
    new DataView(bytes.buffer).setUint32(0, seq)
    doc.transact(() => {
      if (segments === undefined) doc.getMap<Y.Array<Y.Array<Uint8Array>>>('nodes').set('writer', (segments = new Y.Array()))
      if (seq % 512 === 0) segments.push([(segment = new Y.Array())])
      ;(segment as Y.Array<Uint8Array>).push([bytes])
    })
  }
  const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

  serve(
    { ready: true },
    {
      /** `count` appends as fast as possible, yielding to the event loop every `batch` so the socket drains. */
      async append(args: Args) {
        const t0 = now()
        for (let i = 0; i < Number(args.count); i++) {
          appendOne()
          if (i % Number(args.batch) === Number(args.batch) - 1) await yieldTurn()
        }
        return { t0, t1: now() }
      },
      /** Appends at `rate` per second for `seconds`; returns each call time (the seq is the index). */
      async paced(args: Args) {
        const rate = Number(args.rate)
        const total = Math.round(rate * Number(args.seconds))
        const from = written
        const calls = await pace(rate, total, () => appendOne())
        return { from, calls }
      },
      watch: (args: Args) => watch(Number(args.count)),
      arrivals(args: Args) {
        const out = new Float64Array(Number(args.count))
        for (let i = 0; i < out.length; i++) out[i] = arrivals[Number(args.from) + i] ?? Number.NaN
        return out
      },
      held: () => held,
      disconnect: () => disconnect(),
      connect: () => connect(),
      socketBytes: () => ({ read: dialed.reduce((n, s) => n + s.bytesRead, 0), written: dialed.reduce((n, s) => n + s.bytesWritten, 0) }),
      stop: () => void setTimeout(() => process.exit(0), 20),
    },
  )
}
