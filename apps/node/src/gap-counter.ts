import type { DurableLog, NodeId } from '@ylog/core'

/**
 * Gap entries per node, for /api/heads and /api/nodes: counted once from
 * the store's index at start, then from each commit's entries.
 */
export class GapCounter {
  readonly #counts = new Map<NodeId, number>()
  readonly #unsubscribe: () => void

  private constructor(durable: DurableLog) {
    this.#unsubscribe = durable.onCommit((_info, _updates, entries) => {
      for (const row of entries) if (row.kind === 'gap') this.#add(row.node)
    })
  }

  static async open(durable: DurableLog): Promise<GapCounter> {
    const counter = new GapCounter(durable)
    const rows = await durable.query({ kind: 'gap', limit: Number.POSITIVE_INFINITY })
    for (const { node } of rows) counter.#add(node)
    return counter
  }

  get(node: NodeId): number {
    return this.#counts.get(node) ?? 0
  }

  close(): void {
    this.#unsubscribe()
  }

  #add(node: NodeId): void {
    this.#counts.set(node, (this.#counts.get(node) ?? 0) + 1)
  }
}
