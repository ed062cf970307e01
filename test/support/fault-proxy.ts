// A TCP proxy in front of a node's port that injects network faults on demand.
import { connect, createServer, type Server, type Socket } from 'node:net'

/** Bytes forwarded: `up` from clients to the target, `down` from the target to clients. */
export interface ProxyBytes {
  up: number
  down: number
}

/**
 * How a partition treats connections: 'blackhole' holds every byte (existing
 * and new connections stay open, as when packets are lost but TCP has not
 * given up yet; everything flows again on heal), 'refuse' resets existing
 * connections and every new one (as when the far side is unreachable).
 */
export type PartitionMode = 'blackhole' | 'refuse'

/** Chunks read ahead of a slow or delayed destination before the source is paused. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024

interface Pipe {
  readonly direction: keyof ProxyBytes
  queue: Array<{ chunk: Buffer; due: number }>
  queued: number
  timer: NodeJS.Timeout | undefined
  /** The source sent FIN; end the destination once the queue is flushed. */
  ended: boolean
  waitingDrain: boolean
}

interface Link {
  client: Socket
  upstream: Socket | undefined
  connected: boolean
  /** Blackholed by drop() (this connection only) rather than by a partition. */
  dropped: boolean
  up: Pipe
  down: Pipe
}

export class FaultProxy {
  readonly port: number
  #target: number
  readonly #host: string
  readonly #server: Server
  readonly #links = new Set<Link>()
  readonly #bytes: ProxyBytes = { up: 0, down: 0 }
  #delayMs = 0
  #partition: PartitionMode | undefined

  private constructor(server: Server, port: number, target: number, host: string) {
    this.#server = server
    this.port = port
    this.#target = target
    this.#host = host
    server.on('connection', (socket) => this.#accept(socket))
  }

  /** Listens on a free port of `host` and forwards to `targetPort` there. */
  static async start(targetPort: number, host = '127.0.0.1'): Promise<FaultProxy> {
    // allowHalfOpen: a FIN travels on to the other side like any byte, instead of Node answering it.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, () => resolve())
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address')
    return new FaultProxy(server, address.port, targetPort, host)
  }

  /** The port new connections are forwarded to; set it when the node behind restarts elsewhere. */
  get target(): number {
    return this.#target
  }

  set target(port: number) {
    this.#target = port
  }

  /** A copy of the byte counters. */
  get bytes(): ProxyBytes {
    return { ...this.#bytes }
  }

  /** Open client connections. */
  get connections(): number {
    return this.#links.size
  }

  /** Every byte from now on is forwarded `ms` later than it arrived (order is kept). 0 ends the delay. */
  delay(ms: number): void {
    this.#delayMs = Math.max(0, ms)
  }

  /** Blackholes the current connections until heal(); connections opened later flow normally. */
  drop(): void {
    for (const link of this.#links) link.dropped = true
    this.#flowAll()
  }

  /** Cuts the link: see PartitionMode. Lasts until heal(). */
  partition(mode: PartitionMode = 'blackhole'): void {
    this.#partition = mode
    if (mode === 'refuse') this.reset()
    this.#flowAll()
  }

  /** Ends a partition and every drop(); held bytes flow again. The delay stays. */
  heal(): void {
    this.#partition = undefined
    for (const link of this.#links) {
      link.dropped = false
      if (link.upstream === undefined) this.#connectUpstream(link)
    }
    this.#flowAll()
  }

  /** Destroys every current connection (a FIN where the kernel can, without flushing what is held). */
  cut(): void {
    for (const link of [...this.#links]) this.#destroy(link, false)
  }

  /** Destroys every current connection with a TCP RST to both sides. */
  reset(): void {
    for (const link of [...this.#links]) this.#destroy(link, true)
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #accept(client: Socket): void {
    if (this.#partition === 'refuse') {
      resetSocket(client)
      return
    }
    const pipe = (direction: keyof ProxyBytes): Pipe => ({
      direction,
      queue: [],
      queued: 0,
      timer: undefined,
      ended: false,
      waitingDrain: false,
    })
    const link: Link = { client, upstream: undefined, connected: false, dropped: false, up: pipe('up'), down: pipe('down') }
    this.#links.add(link)
    client.pause()
    this.#wire(client, link.up, link)
    // In a blackhole the dial itself hangs: the target hears of it only after heal().
    if (this.#partition === undefined) this.#connectUpstream(link)
  }

  #connectUpstream(link: Link): void {
    const upstream = connect({ port: this.#target, host: this.#host, allowHalfOpen: true })
    link.upstream = upstream
    upstream.pause()
    this.#wire(upstream, link.down, link)
    upstream.once('connect', () => {
      link.connected = true
      this.#pump(link, link.up)
      this.#pump(link, link.down)
    })
  }

  #wire(source: Socket, pipe: Pipe, link: Link): void {
    source.on('data', (chunk: Buffer) => {
      pipe.queue.push({ chunk, due: Date.now() + this.#delayMs })
      pipe.queued += chunk.byteLength
      this.#pump(link, pipe)
    })
    source.on('end', () => {
      pipe.ended = true
      this.#pump(link, pipe)
    })
    // An RST or a failed connect on one side is passed on as an RST to the other.
    source.on('error', () => this.#destroy(link, true))
    source.on('close', () => {
      const other = source === link.client ? link.upstream : link.client
      // Closed without a FIN first: the connection is gone, not half-closed.
      if (!pipe.ended) this.#destroy(link, false)
      else if (other === undefined || other.destroyed) this.#links.delete(link)
    })
  }

  #blocked(link: Link): boolean {
    return this.#partition !== undefined || link.dropped || !link.connected
  }

  #pump(link: Link, pipe: Pipe): void {
    const to = pipe.direction === 'up' ? link.upstream : link.client
    clearTimeout(pipe.timer)
    pipe.timer = undefined
    if (!this.#blocked(link) && to !== undefined && !to.destroyed) {
      const now = Date.now()
      while (!pipe.waitingDrain && pipe.queue.length > 0 && (pipe.queue[0] as { due: number }).due <= now) {
        const { chunk } = pipe.queue.shift() as { chunk: Buffer }
        pipe.queued -= chunk.byteLength
        this.#bytes[pipe.direction] += chunk.byteLength
        if (!to.write(chunk)) {
          pipe.waitingDrain = true
          to.once('drain', () => {
            pipe.waitingDrain = false
            this.#pump(link, pipe)
          })
        }
      }
      const next = pipe.queue[0]
      if (next !== undefined && !pipe.waitingDrain) pipe.timer = setTimeout(() => this.#pump(link, pipe), Math.max(0, next.due - now))
      if (next === undefined && pipe.ended && !to.writableEnded) to.end()
    }
    this.#flow(link, pipe)
  }

  // The source is read only while its bytes can go somewhere, so a blackhole or a slow reader back-pressures the sender through TCP.
  #flow(link: Link, pipe: Pipe): void {
    const from = pipe.direction === 'up' ? link.client : link.upstream
    if (from === undefined || from.destroyed) return
    const reading = !this.#blocked(link) && !pipe.waitingDrain && pipe.queued < MAX_QUEUED_BYTES
    if (reading) from.resume()
    else from.pause()
  }

  #flowAll(): void {
    for (const link of this.#links) {
      this.#pump(link, link.up)
      this.#pump(link, link.down)
    }
  }

  #destroy(link: Link, rst: boolean): void {
    this.#links.delete(link)
    for (const pipe of [link.up, link.down]) clearTimeout(pipe.timer)
    for (const socket of [link.client, link.upstream]) {
      if (socket === undefined || socket.destroyed) continue
      if (rst) resetSocket(socket)
      else socket.destroy()
    }
  }
}

function resetSocket(socket: Socket): void {
  try {
    socket.resetAndDestroy()
  } catch {
    // Not connected yet: there is no TCP state to reset.
    socket.destroy()
  }
}
