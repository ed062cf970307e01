/*
 * The wire format: y-websocket's framing, so stock Yjs clients connect, plus
 * one ylog message type for peer authentication.
 *
 * One WebSocket binary frame = one message. lib0 varUint / varUint8Array
 * (varUint length, then the bytes):
 *
 *   varUint(0 messageSync)       varUint(syncType) varUint8Array(payload)
 *       syncType 0 step 1          payload = Yjs state vector of the sender
 *       syncType 1 step 2          payload = Yjs update (what the receiver lacks)
 *       syncType 2 update          payload = Yjs update
 *   varUint(1 messageAwareness)  varUint8Array(y-protocols awareness update)
 *   varUint(2 messageAuth)       varUint(0 permission denied) varString(reason)
 *   varUint(3 messageQueryAwareness)   (no payload)
 *   varUint(100 messageYlogAuth) varUint8Array(CBOR auth message, see auth.ts)
 *
 * y-protocols' readSyncMessage/readSyncStep2/readUpdate call Y.applyUpdate
 * on the doc directly, which would bypass the update guard; so sync messages
 * are decoded here into plain values and the caller hands step-2 and update
 * payloads to DurableLog.applyRemote.
 */
import { YlogError } from '@ylog/core'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export const messageSync = 0
export const messageAwareness = 1
export const messageAuth = 2
export const messageQueryAwareness = 3
/** ylog's own message: the mutual peer authentication of auth.ts. */
export const messageYlogAuth = 100

export const messageYjsSyncStep1 = 0
export const messageYjsSyncStep2 = 1
export const messageYjsUpdate = 2

export type Message =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'auth-denied'; reason: string }
  | { type: 'query-awareness' }
  | { type: 'ylog-auth'; payload: Uint8Array }

/** A frame that does not decode as a message (code PROTOCOL); the connection is closed. */
export function protocolError(message: string, options?: { cause?: unknown }): YlogError {
  return new YlogError('PROTOCOL', message, options)
}

/** The message of a PROTOCOL error, or the text of anything else thrown while decoding. */
export function describeDecodeFailure(err: unknown): string {
  return err instanceof YlogError && err.code === 'PROTOCOL' ? err.message : String(err)
}

/** Decodes one frame. Throws a PROTOCOL error on anything malformed, trailing bytes included. */
export function decodeMessage(frame: Uint8Array): Message {
  let message: Message
  const decoder = decoding.createDecoder(frame)
  try {
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case messageSync: {
        const sub = decoding.readVarUint(decoder)
        const payload = decoding.readVarUint8Array(decoder)
        if (sub === messageYjsSyncStep1) message = { type: 'sync-step1', stateVector: payload }
        else if (sub === messageYjsSyncStep2) message = { type: 'sync-step2', update: payload }
        else if (sub === messageYjsUpdate) message = { type: 'sync-update', update: payload }
        else throw protocolError(`unknown sync message type ${sub}`)
        break
      }
      case messageAwareness:
        message = { type: 'awareness', update: decoding.readVarUint8Array(decoder) }
        break
      case messageAuth: {
        const sub = decoding.readVarUint(decoder)
        if (sub !== 0) throw protocolError(`unknown auth message type ${sub}`)
        message = { type: 'auth-denied', reason: decoding.readVarString(decoder) }
        break
      }
      case messageQueryAwareness:
        message = { type: 'query-awareness' }
        break
      case messageYlogAuth:
        message = { type: 'ylog-auth', payload: decoding.readVarUint8Array(decoder) }
        break
      default:
        throw protocolError(`unknown message type ${type}`)
    }
  } catch (err) {
    if (err instanceof YlogError && err.code === 'PROTOCOL') throw err
    // lib0 throws plain Errors (unexpected end of array, varint too long).
    throw protocolError(`malformed frame: ${(err as Error).message}`, { cause: err })
  }
  if (decoding.hasContent(decoder)) throw protocolError('trailing bytes after the message')
  return message
}

function withSync(sub: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageSync)
  encoding.writeVarUint(encoder, sub)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => withSync(messageYjsSyncStep1, stateVector)
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => withSync(messageYjsSyncStep2, update)
export const encodeSyncUpdate = (update: Uint8Array): Uint8Array => withSync(messageYjsUpdate, update)

export function encodeAwareness(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageAwareness)
  encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}

export function encodeYlogAuth(payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageYlogAuth)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}
