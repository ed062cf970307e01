/** Seqs per node remembered exactly; older ones count as printed (a tail never goes that far back). */
const WINDOW = 100_000

/**
 * Which (node, seq) entries were printed, and with which hash. Nodes of one
 * cluster deliver the same entries; the first source to deliver one prints
 * it. The hash is kept so that an entry that differs from the one printed
 * (a node restarted on old data signs new entries at old seqs) is printed.
 */
export class Dedupe {
  readonly #nodes = new Map<string, { hashes: Map<number, string>; floor: number }>()

  /** True when this entry is new here (print it), false when it was printed already. */
  first(node: string, seq: number, hash: string): boolean {
    let seen = this.#nodes.get(node)
    if (seen === undefined) this.#nodes.set(node, (seen = { hashes: new Map(), floor: -1 }))
    if (seq <= seen.floor) return false
    if (seen.hashes.get(seq) === hash) return false
    seen.hashes.set(seq, hash)
    if (seen.hashes.size > WINDOW) {
      // Map order is insertion order: forget the oldest half at once, so the cost stays constant per entry.
      let n = 0
      for (const old of seen.hashes.keys()) {
        if (n++ > WINDOW / 2) break
        seen.hashes.delete(old)
        seen.floor = Math.max(seen.floor, old)
      }
    }
    return true
  }
}
