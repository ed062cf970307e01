import { entriesBelowClock, scanUpdate } from '@ylog/core/internal'

/**
 * What the other side of a connection is known to hold, per Yjs client: its
 * state vector from its last sync step 1, raised by every update it has sent
 * since (an update it sends is one it has committed). Lag is the entries it
 * holds, by that knowledge, that the local doc still lacks.
 *
 * A state vector alone goes stale: it is sent once per connection, so the
 * peer's later appends would never count. Updates close that gap at the cost
 * of scanning them.
 */
export class KnownClocks {
  #clocks = new Map<number, number>()
  readonly #ignored = new Set<number>()

  /** A fresh step 1 is the whole truth about the peer: it replaces what was known. */
  noteStateVector(stateVector: Map<number, number>): void {
    this.#clocks = new Map(stateVector)
  }

  noteUpdate(update: Uint8Array): void {
    const ends = updateEnds(update)
    if (ends === undefined) return
    for (const [client, end] of ends) if (end > (this.#clocks.get(client) ?? 0)) this.#clocks.set(client, end)
  }

  /**
   * Does the peer hold everything up to these ends (from updateEnds)? Then
   * sending it that update is an echo: Yjs states are contiguous per client,
   * so holding clock n means holding every clock below it.
   */
  holds(ends: ReadonlyMap<number, number>): boolean {
    for (const [client, end] of ends) if ((this.#clocks.get(client) ?? 0) < end) return false
    return true
  }

  /** Leaves a writer out of the lag: its entries are refused here, so lacking them is no lag. */
  ignore(client: number): void {
    this.#ignored.add(client)
  }

  /** Entries the other side holds that this side lacks, by each client's clock here (`clockOf`). */
  lag(clockOf: (client: number) => number): number {
    let lag = 0
    for (const [client, clock] of this.#clocks) {
      if (this.#ignored.has(client)) continue
      lag += Math.max(0, entriesBelowClock(clock) - entriesBelowClock(clockOf(client)))
    }
    return lag
  }
}

/**
 * The clock after the last struct (skips aside) of each client in a v1
 * update. Read by the guard's scan (scanUpdate), which allocates nothing
 * per struct and gives up early on shapes the guard refuses, so a peer's
 * update costs about as much here as its bytes. Undefined for updates the
 * scan refuses (the guard refuses those too).
 */
export function updateEnds(update: Uint8Array): Map<number, number> | undefined {
  try {
    return new Map(
      scanUpdate(update)
        .groups.filter((g) => g.end > g.clock)
        .map((g) => [g.client, g.end]),
    )
  } catch {
    return undefined
  }
}
