/*
 * The Yjs shape of the log, and why.
 *
 *   doc.getMap('nodes')            root map, one key per node (its hex id)
 *     '<node id>' -> Y.Array       the node's segments
 *       [Y.Array, Y.Array, ...]    segments of SEGMENT_SIZE entries each
 *         [Uint8Array, ...]        encoded entries (ContentBinary)
 *
 * A plain Y.Array.push per entry costs O(n) (see shared measurements): Yjs
 * walks from its last search marker to the end of the list. Pushing into a
 * segment of at most SEGMENT_SIZE items keeps that walk bounded, so appends
 * stay flat to millions of entries; measured, this shape also loads from a
 * snapshot about twice as fast as a per-node Y.Map keyed by seq.
 *
 * Each node writes only its own part, under the Yjs client id derived from
 * its key (clientIdOf), and only ever appends. So the Yjs clock of every
 * struct a node writes is fixed by the layout:
 *
 *   clock 0                    the node's segments array (key in 'nodes')
 *   segmentClock(k)            segment k
 *   entryClock(seq)            the entry with that seq
 *
 * The update guard checks every incoming struct against this layout, and
 * reads resolve (client, clock) directly instead of walking Yjs lists.
 */
export const ROOT_MAP = 'nodes'
export const SEGMENT_SIZE = 512

export function segmentClock(segment: number): number {
  return 1 + segment * (SEGMENT_SIZE + 1)
}

export function entryClock(seq: number): number {
  return 2 + seq + Math.floor(seq / SEGMENT_SIZE)
}

export type ClockRole =
  | { role: 'root' }
  | { role: 'segment'; segment: number }
  | { role: 'entry'; seq: number; segment: number; index: number }

export function roleOfClock(clock: number): ClockRole {
  if (clock === 0) return { role: 'root' }
  const segment = Math.floor((clock - 1) / (SEGMENT_SIZE + 1))
  const offset = (clock - 1) % (SEGMENT_SIZE + 1)
  if (offset === 0) return { role: 'segment', segment }
  const index = offset - 1
  return { role: 'entry', seq: segment * SEGMENT_SIZE + index, segment, index }
}

/** Number of entries among a node's clocks 0 .. state-1. */
export function entriesBelowClock(state: number): number {
  if (state <= 1) return 0
  return state - 1 - (Math.floor((state - 2) / (SEGMENT_SIZE + 1)) + 1)
}
