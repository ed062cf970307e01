// The fault proxy itself: forwarding, byte counts, and each fault, against a plain TCP echo server.
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from './support/cluster.js'
import { FaultProxy } from './support/fault-proxy.js'

interface Echo {
  server: Server
  port: number
  /** Bytes received per accepted connection, in order of arrival. */
  received: number[]
  sockets: Socket[]
}

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function echoServer(): Promise<Echo> {
  const echo: Echo = { server: createServer(), port: 0, received: [], sockets: [] }
  echo.server.on('connection', (socket) => {
    const index = echo.received.push(0) - 1
    echo.sockets.push(socket)
    socket.on('error', () => undefined)
    socket.on('data', (chunk) => {
      echo.received[index] = (echo.received[index] ?? 0) + chunk.byteLength
      socket.write(chunk)
    })
  })
  await new Promise<void>((resolve) => echo.server.listen(0, '127.0.0.1', resolve))
  echo.port = (echo.server.address() as { port: number }).port
  cleanup.push(() => {
    for (const s of echo.sockets) s.destroy()
    return new Promise<void>((resolve) => echo.server.close(() => resolve()))
  })
  return echo
}

async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(port)
  cleanup.push(() => proxy.close())
  return proxy
}

interface Client {
  socket: Socket
  received: () => number
  closed: Promise<{ error: string | undefined }>
}

function client(port: number): Client {
  const socket = connect(port, '127.0.0.1')
  let received = 0
  let error: string | undefined
  socket.on('data', (chunk) => (received += chunk.byteLength))
  socket.on('error', (err: Error & { code?: string }) => (error = err.code ?? err.message))
  const closed = new Promise<{ error: string | undefined }>((resolve) => socket.on('close', () => resolve({ error })))
  cleanup.push(() => void socket.destroy())
  return { socket, received: () => received, closed }
}

const until = (check: () => boolean, what: string, ms = 5000): Promise<void> =>
  waitUntil(
    async () => check(),
    () => what,
    ms,
    5,
  )

/** Asserts that `check` stays true for `ms`: how a test shows that something does not happen. */
async function staysTrueFor(ms: number, check: () => boolean): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    expect(check()).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('FaultProxy', () => {
  it('forwards both ways and counts the bytes of each direction', async () => {
    const echo = await echoServer()
    const proxy = await proxyTo(echo.port)
    const c = client(proxy.port)
    c.socket.write(Buffer.alloc(100_000, 1))
    await until(() => c.received() === 100_000, 'the echo')
    expect(proxy.bytes).toEqual({ up: 100_000, down: 100_000 })
    expect(proxy.connections).toBe(1)
    c.socket.end()
    await c.closed
    await until(() => proxy.connections === 0, 'the link forgotten once both sides closed')
  })

  it('delays every byte by the set time and keeps their order', async () => {
    const echo = await echoServer()
    const proxy = await proxyTo(echo.port)
    const c = client(proxy.port)
    const chunks: string[] = []
    c.socket.on('data', (d) => chunks.push(d.toString()))
    proxy.delay(150)
    const started = Date.now()
    for (const s of ['a', 'b', 'c']) c.socket.write(s)
    await until(() => c.received() === 3, 'the echo')
    // Delayed on the way there and on the way back.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(chunks.join('')).toBe('abc')
    proxy.delay(0)
    const again = Date.now()
    c.socket.write('d')
    await until(() => c.received() === 4, 'the undelayed echo')
    expect(Date.now() - again).toBeLessThan(150)
  })

  it('a blackhole partition holds existing and new connections open, and heal lets everything through', async () => {
    const echo = await echoServer()
    const proxy = await proxyTo(echo.port)
    const old = client(proxy.port)
    old.socket.write('x')
    await until(() => old.received() === 1, 'the first echo')
    proxy.partition('blackhole')
    old.socket.write('held')
    const fresh = client(proxy.port)
    fresh.socket.write('new')
    await staysTrueFor(
      300,
      () =>
        echo.received.length === 1 && echo.received[0] === 1 && old.received() === 1 && !old.socket.destroyed && !fresh.socket.destroyed,
    )
    expect(proxy.bytes).toEqual({ up: 1, down: 1 })
    proxy.heal()
    await until(() => old.received() === 5 && fresh.received() === 3, 'the held bytes, delivered after heal')
    expect(echo.received).toEqual([5, 3])
  })

  it('a refusing partition resets existing connections and every new one until heal', async () => {
    const echo = await echoServer()
    const proxy = await proxyTo(echo.port)
    const old = client(proxy.port)
    old.socket.write('x')
    await until(() => old.received() === 1, 'the first echo')
    proxy.partition('refuse')
    expect((await old.closed).error).toBe('ECONNRESET')
    const refused = client(proxy.port)
    expect((await refused.closed).error).toBe('ECONNRESET')
    expect(echo.received).toEqual([1])
    proxy.heal()
    const after = client(proxy.port)
    after.socket.write('ok')
    await until(() => after.received() === 2, 'an echo after heal')
  })

  it('drop() blackholes only the current connections', async () => {
    const echo = await echoServer()
    const proxy = await proxyTo(echo.port)
    const old = client(proxy.port)
    old.socket.write('x')
    await until(() => old.received() === 1, 'the first echo')
    proxy.drop()
    old.socket.write('y')
    const fresh = client(proxy.port)
    fresh.socket.write('zz')
    await until(() => fresh.received() === 2, 'a new connection flows')
    expect(old.received()).toBe(1)
    proxy.heal()
    await until(() => old.received() === 2, 'the dropped one flows after heal')
  })

  it('cut() closes both sides; reset() sends an RST', async () => {
    const echo = await echoServer()
    const proxy = await proxyTo(echo.port)
    const a = client(proxy.port)
    a.socket.write('x')
    await until(() => a.received() === 1, 'echo')
    proxy.cut()
    expect((await a.closed).error).toBeUndefined()
    await until(() => echo.sockets[0]?.destroyed === true || echo.sockets[0]?.readableEnded === true, 'the target side closed too')

    const b = client(proxy.port)
    b.socket.write('x')
    await until(() => b.received() === 1, 'echo')
    proxy.reset()
    expect((await b.closed).error).toBe('ECONNRESET')
    expect(proxy.connections).toBe(0)
  })

  it('forwards new connections to a new target port; a dead target is passed on as a reset', async () => {
    const first = await echoServer()
    const proxy = await proxyTo(first.port)
    const second = await echoServer()
    proxy.target = second.port
    const c = client(proxy.port)
    c.socket.write('hi')
    await until(() => c.received() === 2, 'echo from the new target')
    expect(first.received).toEqual([])
    expect(second.received).toEqual([2])

    for (const s of second.sockets) s.destroy()
    await new Promise<void>((resolve) => second.server.close(() => resolve()))
    const dead = client(proxy.port)
    expect((await dead.closed).error).toBe('ECONNRESET')
  })
})
