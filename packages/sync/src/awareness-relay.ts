import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'

export interface AwarenessLimits {
  /** Client ids one connection may speak for. */
  maxClients: number
  /** Bytes of one client's state (its JSON). */
  maxStateBytes: number
}

export type AwarenessVerdict = { ok: true } | { ok: false; reason: 'malformed-frame' | 'awareness-limit'; detail: string }

/**
 * Awareness (who is connected, cursors) relayed between the connections of
 * one sync server; it never touches the log, and has a Y.Doc of its own.
 *
 * y-protocols keeps a clock per client id it ever heard of (`meta`), null
 * states included, and never forgets one: a client inventing ids grows it
 * without end. So every id is owned by the connection that last spoke for
 * it, each connection may own at most `maxClients` ids with states of at
 * most `maxStateBytes`, and when a connection goes its ids go with it,
 * meta included. Checked before y-protocols decodes anything.
 */
export class AwarenessRelay<C> {
  readonly awareness = new Awareness(new Y.Doc())
  readonly #limits: AwarenessLimits
  readonly #owner = new Map<number, C>()
  readonly #owned = new Map<C, Set<number>>()

  constructor(limits: AwarenessLimits) {
    this.#limits = limits
    this.awareness.setLocalState(null)
  }

  /** Applies one awareness update from `conn`, or says why it is refused (nothing of it is applied then). */
  apply(conn: C, update: Uint8Array): AwarenessVerdict {
    let ids: number[]
    try {
      ids = this.#clientsOf(update)
    } catch (err) {
      if (err instanceof LimitError) return { ok: false, reason: 'awareness-limit', detail: err.message }
      return { ok: false, reason: 'malformed-frame', detail: `awareness update does not decode: ${(err as Error).message}` }
    }
    const mine = this.#owned.get(conn) ?? new Set<number>()
    const added = new Set(ids.filter((id) => !mine.has(id)))
    if (mine.size + added.size > this.#limits.maxClients) {
      const detail = `a connection may speak for ${this.#limits.maxClients} awareness clients; this one named ${mine.size + added.size}`
      return { ok: false, reason: 'awareness-limit', detail }
    }
    try {
      applyAwarenessUpdate(this.awareness, update, conn)
    } catch (err) {
      return { ok: false, reason: 'malformed-frame', detail: `awareness update does not decode: ${(err as Error).message}` }
    }
    for (const id of added) {
      const previous = this.#owner.get(id)
      if (previous !== undefined) this.#owned.get(previous)?.delete(id)
      this.#owner.set(id, conn)
      mine.add(id)
    }
    this.#owned.set(conn, mine)
    return { ok: true }
  }

  /** Drops everything `conn` spoke for (other connections hear of the removal), its clocks included. */
  remove(conn: C): void {
    const ids = [...(this.#owned.get(conn) ?? [])]
    this.#owned.delete(conn)
    if (ids.length === 0) return
    removeAwarenessStates(this.awareness, ids, null)
    for (const id of ids) {
      this.#owner.delete(id)
      this.awareness.meta.delete(id)
    }
  }

  /** Every state held, as one awareness update (the answer to a query). */
  encodeAll(): Uint8Array {
    return encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()])
  }

  /** Ids the relay keeps anything for (states or clocks): what the bounds bound. */
  get size(): number {
    return this.awareness.meta.size
  }

  destroy(): void {
    this.awareness.destroy()
  }

  /** The client ids of an update, its states' sizes checked, without parsing any JSON. */
  #clientsOf(update: Uint8Array): number[] {
    const d = decoding.createDecoder(update)
    const count = decoding.readVarUint(d)
    const { maxClients, maxStateBytes } = this.#limits
    if (count > maxClients) throw new LimitError(`an awareness update of ${count} clients; a connection may speak for ${maxClients}`)
    const ids: number[] = []
    for (let i = 0; i < count; i++) {
      ids.push(decoding.readVarUint(d))
      decoding.readVarUint(d) // clock
      const length = decoding.readVarUint(d)
      if (length > maxStateBytes) throw new LimitError(`an awareness state of ${length} bytes; the limit is ${maxStateBytes}`)
      if (length > d.arr.length - d.pos) throw new Error('a state runs past the end of the update')
      d.pos += length
    }
    if (decoding.hasContent(d)) throw new Error('trailing bytes after the awareness update')
    return ids
  }
}

class LimitError extends Error {}
