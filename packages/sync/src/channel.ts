/*
 * One WebSocket speaking the sync protocol, shared by the server side
 * (sync-server.ts) and the dialer (peer.ts). Every update it receives goes
 * to DurableLog.applyRemote, i.e. the guard; nothing here calls
 * Y.applyUpdate. What it sends is only ever committed state.
 */
import type { ApplyResult, DurableLog, RefusalReason } from '@ylog/core'
import { splitUpdateByClient } from '@ylog/core/internal'
import type { RawData, WebSocket } from 'ws'
import { closeCodeFor, SYNC_CLOSE } from './close-codes.js'
import { KnownClocks } from './known-clocks.js'
import { CATCH_UP_BUFFER_BYTES, DEFAULT_MAX_BUFFERED_BYTES, isEmptyUpdate, readStateVector } from './limits.js'
import { decodeMessage, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate, describeDecodeFailure, type Message } from './protocol.js'

/** Sync step 2 answers are cut to about this size, far below any sane frame limit. */
export const STEP2_CHUNK_BYTES = 512 * 1024
/** After an update from this peer is held, how long its missing part may take before we ask the peer again. */
export const RESYNC_AFTER_MS = 1000

/** Why a connection was closed for misbehaving: a guard reason or one of the transport's own. */
export type SyncRefusalReason =
  | RefusalReason
  | 'read-only'
  | 'malformed-frame'
  | 'frame-too-large'
  | 'auth-failed'
  | 'auth-timeout'
  | 'awareness-limit'
  | 'backpressure'

/** pino-compatible; a FastifyBaseLogger fits. */
export interface SyncLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export const silentLogger: SyncLogger = { info: () => undefined, warn: () => undefined }

/**
 * Refusals that concern one writer's entries, not the connection: this node
 * does not accept that writer (its member list lacks it), while the peer
 * that relays it does. The rest of the update is still wanted.
 */
const WRITER_REFUSALS: ReadonlySet<RefusalReason> = new Set(['not-member', 'unknown-writer'])

export interface ChannelHooks {
  /** May updates with new content from the other side be applied? (The server: only once authenticated.) */
  mayWrite(): boolean
  /** A sync step 1 arrived; return false to leave it unanswered. */
  onStep1?(stateVector: Uint8Array): boolean
  onMessage(message: Message): void
  onRefused(reason: SyncRefusalReason, detail: string): void
  /** The entries of one writer (Yjs client) were refused and skipped; called once per writer and connection. */
  onSkipped(reason: RefusalReason, detail: string, client: number): void
  onClose(code: number, reason: string): void
}

export interface ChannelOptions {
  /** Ping every interval and end the connection when nothing came back within one (0: off). */
  heartbeatMs?: number
  /** Unsent bytes (ws.bufferedAmount) beyond which the connection is cut (default DEFAULT_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number
}

export class SyncChannel {
  readonly ws: WebSocket
  messagesIn = 0
  messagesOut = 0
  lastMessageAt: number | undefined
  /** What the other side holds, as far as its step 1 and its updates tell. */
  readonly known = new KnownClocks()
  #closed = false
  readonly #skipped = new Set<number>()
  readonly #durable: DurableLog
  readonly #logger: SyncLogger
  readonly #hooks: ChannelHooks
  readonly #maxBuffered: number
  /** Heard from the other side (a message or a pong) since the last ping. */
  #alive = true
  /** Frames ws has handed to the socket (their send callbacks ran): progress in sending, as seen at each beat. */
  #written = 0
  #writtenAtLastBeat = 0
  #heartbeat: NodeJS.Timeout | undefined
  #resync: NodeJS.Timeout | undefined

  /**
   * With a heartbeat, ping every interval, and end the connection when
   * nothing at all came back within one. Without it a connection whose far
   * side vanished (power loss, a NAT that forgot the flow) looks open for
   * as long as the OS keeps it, with nothing syncing over it.
   */
  constructor(ws: WebSocket, durable: DurableLog, logger: SyncLogger, hooks: ChannelHooks, options: ChannelOptions = {}) {
    this.ws = ws
    this.#durable = durable
    this.#logger = logger
    this.#hooks = hooks
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
    const heartbeatMs = options.heartbeatMs ?? 0
    if (heartbeatMs > 0) {
      this.#heartbeat = setInterval(() => this.#beat(heartbeatMs), heartbeatMs)
      this.#heartbeat.unref()
      ws.on('pong', () => (this.#alive = true))
    }
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary))
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already failed the connection (1009 for maxPayload) before any decoding.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#refused('frame-too-large', err.message, false)
      else if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) this.#refused('malformed-frame', err.message, false)
      else this.#logger.warn({ err: err.message }, 'sync connection error')
    })
    ws.on('close', (code, reason) => {
      this.#closed = true
      clearInterval(this.#heartbeat)
      clearTimeout(this.#resync)
      this.#hooks.onClose(code, reason.toString())
    })
  }

  #beat(heartbeatMs: number): void {
    // Still dialing: the dialer's handshake timeout covers that.
    if (this.ws.readyState !== 1) return
    // A peer busy reading a long catch-up from us may send nothing, and our ping waits behind that data:
    // its reading counts as a sign of life.
    const progressed = this.#written !== this.#writtenAtLastBeat
    this.#writtenAtLastBeat = this.#written
    if (!progressed && this.ws.bufferedAmount > 0) {
      // Whatever it sends, a side that has taken nothing of ours for a whole interval would make us hold more and more.
      this.#cut(`took none of ${this.ws.bufferedAmount} unsent bytes within a heartbeat (${heartbeatMs} ms)`)
      return
    }
    if (!this.#alive && !progressed) {
      this.#logger.warn({ silentMs: heartbeatMs }, 'sync connection silent for a whole heartbeat; dropping it')
      this.ws.terminate()
      return
    }
    this.#alive = false
    this.ws.ping()
  }

  get closed(): boolean {
    return this.#closed || this.ws.readyState > 1
  }

  /**
   * Sends one frame; `onWritten` runs once ws has handed it to the socket
   * (or the connection ended). Returns false when nothing was sent: the
   * connection is closed, or it leaves so much unsent that it is cut (a
   * side that does not read must not make this node hold frames for it
   * without end).
   */
  send(frame: Uint8Array, onWritten?: () => void): boolean {
    if (this.closed || this.ws.readyState !== 1) return false
    if (this.ws.bufferedAmount + frame.byteLength > this.#maxBuffered) {
      this.#cut(`${this.ws.bufferedAmount} bytes unsent, more than ${this.#maxBuffered}`)
      return false
    }
    this.ws.send(frame, () => {
      this.#written++
      onWritten?.()
    })
    this.messagesOut++
    return true
  }

  /** Ends a connection that does not read: counted and logged as `backpressure`; no close frame, it would wait behind the rest. */
  #cut(detail: string): void {
    this.#refused('backpressure', detail, false)
    this.ws.terminate()
  }

  /**
   * Our state vector, so the other side sends what we lack. It may count
   * updates not yet committed here: the other side then does not resend
   * them, and if this node crashes before committing, its next connection
   * asks again from what it replayed. (Waiting for a moment with nothing
   * pending instead could wait forever on a busy node.)
   */
  async sendStep1(): Promise<void> {
    this.send(encodeSyncStep1(this.#durable.stateVector()))
  }

  /** Closes for a policy violation, counts and logs it. */
  refuse(reason: SyncRefusalReason, detail: string): void {
    this.#refused(reason, detail, true)
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return
    this.#closed = true
    this.ws.close(code, truncate(reason))
  }

  #refused(reason: SyncRefusalReason, detail: string, close: boolean): void {
    if (this.#closed) return
    this.#hooks.onRefused(reason, detail)
    if (close) this.close(closeCodeFor(reason), `${reason}: ${detail}`)
    else this.#closed = true
  }

  #receive(data: RawData, isBinary: boolean): void {
    if (this.#closed) return
    this.#alive = true
    this.messagesIn++
    this.lastMessageAt = Date.now()
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.refuse('malformed-frame', 'expected one binary frame per message')
      return
    }
    let message: Message
    try {
      message = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    } catch (err) {
      this.refuse('malformed-frame', describeDecodeFailure(err))
      return
    }
    switch (message.type) {
      case 'sync-step1': {
        const stateVector = readStateVector(message.stateVector)
        if (stateVector === undefined) {
          this.refuse('malformed-frame', 'sync step 1 carries no state vector (or one of too many clients)')
          return
        }
        this.known.noteStateVector(stateVector)
        if (this.#hooks.onStep1?.(message.stateVector) === false) return
        void this.#answerStep1(message.stateVector)
        return
      }
      case 'sync-step2':
      case 'sync-update':
        void this.#apply(message.update)
        return
      default:
        this.#hooks.onMessage(message)
    }
  }

  /**
   * The committed part the other side lacks, in chunks, in order: a peer
   * back from a long absence may lack more than one frame may carry. Only
   * the last chunk is a sync step 2; the ones before it go as updates, since
   * a stock client calls itself synced at the first step 2 it receives. The
   * next chunk is sent only once less than CATCH_UP_BUFFER_BYTES wait
   * unsent, so a slow reader holds up its own catch-up, not this node.
   */
  async #answerStep1(stateVector: Uint8Array): Promise<void> {
    let chunks: Uint8Array[]
    try {
      chunks = this.#durable.committedDiffChunks(stateVector, STEP2_CHUNK_BYTES)
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'cannot answer sync step 1')
      this.close(SYNC_CLOSE.internal.code, 'cannot answer sync step 1')
      return
    }
    for (let i = 0; i < chunks.length && !this.closed; i++) {
      const chunk = chunks[i] as Uint8Array
      const frame = i === chunks.length - 1 ? encodeSyncStep2(chunk) : encodeSyncUpdate(chunk)
      await new Promise<void>((resolve) => {
        if (!this.send(frame, resolve) || this.ws.bufferedAmount < CATCH_UP_BUFFER_BYTES) resolve()
      })
    }
  }

  async #apply(update: Uint8Array): Promise<void> {
    if (!this.#hooks.mayWrite()) {
      // Not decoded: whatever it holds, this connection may not write it (a stock client's answer to our step 1 is the empty update).
      if (!isEmptyUpdate(update)) this.refuse('read-only', `only members may send updates (this one: ${update.byteLength} bytes)`)
      return
    }
    // Noted before applying: the commit that takes it tells every connection about it, and must not echo it back to this one.
    this.known.noteUpdate(update)
    try {
      const result = await this.#durable.applyRemote(update)
      if (result.status === 'held') this.#resyncSoon()
      if (result.status === 'accepted' || result.status === 'held') return
      if (WRITER_REFUSALS.has(result.reason)) await this.#applyPerWriter(update, result)
      else this.refuse(result.reason, result.detail)
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'cannot apply a remote update')
      this.close(SYNC_CLOSE.internal.code, 'the log cannot take updates')
    }
  }

  /**
   * An update refused for one writer this node does not accept: applies the
   * parts of the other writers and skips that one's, instead of closing. A
   * close would not help: the peer redials and resends the same update (its
   * step 2 holds every writer), so the two nodes would never sync at all.
   */
  async #applyPerWriter(update: Uint8Array, whole: ApplyResult & { status: 'refused' }): Promise<void> {
    let pieces: Map<number, Uint8Array>
    try {
      pieces = splitUpdateByClient(update)
    } catch {
      this.refuse(whole.reason, whole.detail)
      return
    }
    if (pieces.size === 1) {
      // All of it is that one writer's: nothing else to try.
      this.#skip([...pieces.keys()][0] as number, whole.reason, whole.detail)
      return
    }
    // The guard decides each piece in the synchronous part of applyRemote, so starting them all in a row keeps their order.
    const applied = [...pieces].map(([client, piece]) => ({ client, result: this.#durable.applyRemote(piece) }))
    const results = await Promise.all(applied.map((a) => a.result))
    // A forged or deleting piece closes the connection whatever else the update held.
    const hard = results.find((r): r is ApplyResult & { status: 'refused' } => r.status === 'refused' && !WRITER_REFUSALS.has(r.reason))
    if (hard !== undefined) {
      this.refuse(hard.reason, hard.detail)
      return
    }
    results.forEach((result, i) => {
      if (result.status === 'refused') this.#skip((applied[i] as (typeof applied)[number]).client, result.reason, result.detail)
      else if (result.status === 'held') this.#resyncSoon()
    })
  }

  /**
   * A held update waits for structs that should have come first. Usually
   * they are on their way (over another connection, or in the next frame);
   * if not, they were lost, e.g. held updates dropped when the held buffer
   * was full, and only a new sync would bring them: without this, not before
   * the connection is replaced. So once, a while later, if this peer still
   * holds entries we lack, ask it again with a step 1.
   */
  #resyncSoon(): void {
    if (this.#resync !== undefined) return
    this.#resync = setTimeout(() => {
      this.#resync = undefined
      if (!this.closed && this.known.lag((client) => this.#durable.clockOf(client)) > 0) void this.sendStep1()
    }, RESYNC_AFTER_MS)
    this.#resync.unref()
  }

  #skip(client: number, reason: RefusalReason, detail: string): void {
    this.known.ignore(client)
    if (this.#skipped.has(client)) return
    this.#skipped.add(client)
    this.#hooks.onSkipped(reason, detail, client)
  }
}

// A close reason is at most 123 bytes of UTF-8.
function truncate(reason: string): string {
  let out = reason
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1)
  return out
}
