// Helpers shared by this package's tests: honest logs and hand-made updates.
import * as Y from 'yjs'
import { NodeIdentity } from '../entry/identity.js'
import { LogDoc, type LogDocOptions } from '../doc/log-doc.js'
import { entryClock, ROOT_MAP, SEGMENT_SIZE } from '../doc/layout.js'
import { MemoryUpdateStore } from '../durable/memory-update-store.js'
import type { UpdateRecord } from '../durable/update-store.js'

export function writer(options: Omit<LogDocOptions, 'identity'> = {}): { log: LogDoc; id: NodeIdentity; updates: Uint8Array[] } {
  const id = NodeIdentity.generate()
  const log = new LogDoc({ ...options, identity: id })
  const updates: Uint8Array[] = []
  log.onUpdate((u) => updates.push(u))
  return { log, id, updates }
}

export function appendEvents(log: LogDoc, n: number, topic = 't'): void {
  for (let i = 0; i < n; i++) log.append({ topic, kind: 'event', data: { i } })
}

/**
 * Builds the update a peer writing as `client` would send to push `bytes`
 * as the next struct of `node`'s part, on top of the state `base` holds.
 */
export function craftAppend(base: LogDoc, node: string, client: number, bytes: Uint8Array): Uint8Array {
  const doc = new Y.Doc({ gc: false })
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(base.doc))
  doc.clientID = client
  const before = Y.encodeStateVector(doc)
  doc.transact(() => {
    const root = doc.getMap<Y.Array<Y.Array<Uint8Array>>>(ROOT_MAP)
    let segments = root.get(node)
    if (segments === undefined) {
      segments = new Y.Array()
      root.set(node, segments)
    }
    const length = base.length(node)
    if (length % SEGMENT_SIZE === 0) segments.push([new Y.Array()])
    ;(segments.get(segments.length - 1) as Y.Array<Uint8Array>).push([bytes])
  })
  return Y.encodeStateAsUpdate(doc, before)
}

/** Everything observable about a log, for "nothing changed" assertions. */
export function fingerprint(log: LogDoc): string {
  return JSON.stringify({
    sv: Buffer.from(Y.encodeStateVector(log.doc)).toString('hex'),
    heads: [...log.heads().values()],
    entries: [...log.entries()].map((e) => e.hash),
    forks: log.forks().length,
  })
}

export { entryClock }

/** A small seeded PRNG (mulberry32): fault schedules and generated inputs replay exactly from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A store whose commits wait until the test releases them: the writer's speed is in the test's hands. */
export class GatedStore extends MemoryUpdateStore {
  #gates: Array<() => void> = []
  #credits = 0
  failing = false
  /** Entries stored so far (index rows of the committed records). */
  committed = 0

  override async append(records: readonly UpdateRecord[]): Promise<number> {
    if (this.#credits > 0) this.#credits--
    else await new Promise<void>((resolve) => this.#gates.push(resolve))
    if (this.failing) throw new Error('disk full')
    const id = await super.append(records)
    this.committed += records.reduce((n, r) => n + r.entries.length, 0)
    return id
  }

  /** Commits waiting at the gate. */
  get waiting(): number {
    return this.#gates.length
  }

  /** Lets one commit through: the one waiting now, or else the next. */
  release(): void {
    const gate = this.#gates.shift()
    if (gate !== undefined) gate()
    else this.#credits++
  }

  /** Lets every commit through from now on. */
  open(): void {
    this.#credits = Number.POSITIVE_INFINITY
    for (const gate of this.#gates.splice(0)) gate()
  }
}

/**
 * Polls `check` until it is true: the one way tests wait for something
 * asynchronous (never a fixed sleep). Throws once `timeoutMs` has passed,
 * naming `what` (or what `what()` says about the state at that moment).
 * `intervalMs` 0 polls on every turn of the event loop.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string | Promise<string>) = 'the condition',
  { timeoutMs = 10_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${typeof what === 'string' ? what : await what()}`)
    await new Promise<void>((resolve) => (intervalMs === 0 ? setImmediate(resolve) : setTimeout(resolve, intervalMs)))
  }
}
