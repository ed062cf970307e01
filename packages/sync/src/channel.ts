/*
 * One WebSocket speaking the sync protocol, shared by the server side
 * (sync-server.ts) and the dialer (peer.ts). Every update it receives goes
 * to DurableLog.applyRemote, i.e. the guard; nothing here calls
 * Y.applyUpdate. What it sends is only ever committed state.
 */
import type { RefusalReason, DurableLog } from '@ylog/core'
import type { RawData, WebSocket } from 'ws'
import * as Y from 'yjs'
import { decodeMessage, encodeSyncStep1, encodeSyncStep2, ProtocolError, type Message } from './protocol.js'

/** Sync step 2 answers are cut to about this size, far below any sane frame limit. */
const STEP2_CHUNK_BYTES = 512 * 1024

/** Why a connection was closed for misbehaving: a guard reason or one of the transport's own. */
export type SyncRefusalReason =
  | RefusalReason
  | 'read-only'
  | 'malformed-frame'
  | 'frame-too-large'
  | 'auth-failed'
  | 'auth-timeout'

/** pino-compatible; a FastifyBaseLogger fits. */
export interface SyncLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export const silentLogger: SyncLogger = { info: () => undefined, warn: () => undefined }

/** WebSocket close codes used here (RFC 6455). */
export const CLOSE_POLICY = 1008
export const CLOSE_TOO_BIG = 1009
export const CLOSE_INTERNAL = 1011

export interface ChannelHooks {
  /** May updates with new content from the other side be applied? (The server: only once authenticated.) */
  mayWrite(): boolean
  /** A sync step 1 arrived; return false to leave it unanswered. */
  onStep1?(stateVector: Uint8Array): boolean
  onMessage(message: Message): void
  onRefused(reason: SyncRefusalReason, detail: string): void
  onClose(code: number, reason: string): void
}

export class SyncChannel {
  readonly ws: WebSocket
  messagesIn = 0
  messagesOut = 0
  lastMessageAt: number | undefined
  #closed = false
  readonly #durable: DurableLog
  readonly #logger: SyncLogger
  readonly #hooks: ChannelHooks

  constructor(ws: WebSocket, durable: DurableLog, logger: SyncLogger, hooks: ChannelHooks) {
    this.ws = ws
    this.#durable = durable
    this.#logger = logger
    this.#hooks = hooks
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary))
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already failed the connection (1009 for maxPayload) before any decoding.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#refused('frame-too-large', err.message, false)
      else if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) this.#refused('malformed-frame', err.message, false)
      else this.#logger.warn({ err: err.message }, 'sync connection error')
    })
    ws.on('close', (code, reason) => {
      this.#closed = true
      this.#hooks.onClose(code, reason.toString())
    })
  }

  get closed(): boolean {
    return this.#closed || this.ws.readyState > 1
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.ws.readyState !== 1) return
    this.ws.send(frame)
    this.messagesOut++
  }

  /** Our committed state vector, so the other side sends what we lack. */
  async sendStep1(): Promise<void> {
    const doc = this.#durable.log.doc
    // Same rule as committedDiff: encode in the turn that finds nothing pending.
    for (;;) {
      await this.#durable.flush()
      if (this.#durable.pending === 0) break
    }
    this.send(encodeSyncStep1(Y.encodeStateVector(doc)))
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
    if (close) this.close(CLOSE_POLICY, `${reason}: ${detail}`)
    else this.#closed = true
  }

  #receive(data: RawData, isBinary: boolean): void {
    if (this.#closed) return
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
      this.refuse('malformed-frame', err instanceof ProtocolError ? err.message : String(err))
      return
    }
    switch (message.type) {
      case 'sync-step1':
        if (this.#hooks.onStep1?.(message.stateVector) === false) return
        void this.#answerStep1(message.stateVector)
        return
      case 'sync-step2':
      case 'sync-update':
        void this.#apply(message.update)
        return
      default:
        this.#hooks.onMessage(message)
    }
  }

  async #answerStep1(stateVector: Uint8Array): Promise<void> {
    try {
      // Y.decodeStateVector throws on garbage; check before the (costly) diff.
      Y.decodeStateVector(stateVector)
    } catch {
      this.refuse('malformed-frame', 'sync step 1 carries no state vector')
      return
    }
    try {
      // In chunks, in order: a peer back from a long absence may lack more than one frame may carry.
      for (const chunk of await this.#durable.committedDiffChunks(stateVector, STEP2_CHUNK_BYTES)) this.send(encodeSyncStep2(chunk))
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'cannot answer sync step 1')
      this.close(CLOSE_INTERNAL, 'cannot answer sync step 1')
    }
  }

  async #apply(update: Uint8Array): Promise<void> {
    if (!this.#hooks.mayWrite()) {
      const content = newContent(this.#durable.log.doc, update)
      if (content === 'malformed') this.refuse('malformed-update', 'the update does not decode')
      else if (content) this.refuse('read-only', 'this connection has not authenticated as a member, so it may not write')
      return
    }
    try {
      const result = await this.#durable.applyRemote(update)
      if (result.status === 'refused') this.refuse(result.reason, result.detail)
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'cannot apply a remote update')
      this.close(CLOSE_INTERNAL, 'the log cannot take updates')
    }
  }
}

/**
 * Does an update carry anything the doc lacks (or any delete)? A fresh stock
 * client answers our step 1 with an empty update, and one that reconnects may
 * resend structs we already have; neither is a write.
 */
export function newContent(doc: Y.Doc, update: Uint8Array): boolean | 'malformed' {
  let decoded: { structs: Array<Y.Item | Y.GC | Y.Skip>; ds: { clients: Map<number, unknown> } }
  try {
    decoded = Y.decodeUpdate(update) as typeof decoded
  } catch {
    return 'malformed'
  }
  if (decoded.ds.clients.size > 0) return true
  return decoded.structs.some((s) => !(s instanceof Y.Skip) && s.id.clock + s.length > Y.getState(doc.store, s.id.client))
}

// A close reason is at most 123 bytes of UTF-8.
function truncate(reason: string): string {
  let out = reason
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1)
  return out
}
