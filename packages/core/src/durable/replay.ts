import { YlogError } from '../errors.js'
import { LogDoc } from '../doc/log-doc.js'
import type { LogDocOptions } from '../doc/log-types.js'
import type { NodeId } from '../entry/identity.js'
import type { StoredState, UpdateStore } from './update-store.js'
import { missingDependencies } from '../doc/reads.js'

/** Updates applied per Yjs transaction while replaying: progress is reported between chunks. */
const REPLAY_CHUNK = 10_000

export const RESTORE_ADVICE = 'restore the data directory from a backup, or move the file away and resync this node from its peers'

/**
 * Applies a store's snapshot and tail to `log` and returns each node's
 * length as of the snapshot (the tail after it still has to be verified).
 * Bytes that do not decode, or that leave structs waiting for missing ones,
 * are a damaged store: STORE_CORRUPT, never a partial log.
 */
export function replayStored(log: LogDoc, state: StoredState, onProgress?: (applied: number, total: number) => void): Map<NodeId, number> {
  if (state.snapshot.length > 0) replayStep(() => log.loadTrusted(state.snapshot, 'v2'), 'the snapshot')
  const snapshotHeads = new Map([...log.heads()].map(([node, head]) => [node, head.length]))
  for (let from = 0; from < state.tail.length; from += REPLAY_CHUNK) {
    const chunk = state.tail.slice(from, from + REPLAY_CHUNK)
    replayStep(() => log.loadTrusted(chunk), `stored updates ${from + 1}–${from + chunk.length} of the tail`)
    onProgress?.(from + chunk.length, state.tail.length)
  }
  // The guard holds back updates whose dependencies are missing, so a stored
  // log never has any: structs left waiting mean stored bytes changed (a
  // client id or a clock), and entries would silently be missing.
  const waiting = missingDependencies(log)
  if (waiting !== undefined) throw new YlogError('STORE_CORRUPT', `stored log is incomplete: ${waiting}; ${RESTORE_ADVICE}`)
  return snapshotHeads
}

function replayStep(step: () => void, what: string): void {
  try {
    step()
  } catch (err) {
    throw new YlogError(
      'STORE_CORRUPT',
      `cannot replay ${what}: the bytes do not decode as Yjs updates (${(err as Error).message}); ${RESTORE_ADVICE}`,
      { cause: err },
    )
  }
}

/** A document rebuilt from a store: what `DurableLog.open` starts from, and what a recovery after a failed commit returns to. */
export interface LoadedLog {
  log: LogDoc
  state: StoredState
  /** Each node's length as of the snapshot (the tail after it was verified here). */
  snapshotHeads: Map<NodeId, number>
}

/** Loads the store into a new document and verifies the chains the snapshot does not vouch for (all of them with `verify: 'full'`). */
export async function loadLog(
  options: LogDocOptions & { store: UpdateStore; verify?: 'tail' | 'full'; onReplayProgress?: (applied: number, total: number) => void },
): Promise<LoadedLog> {
  const log = new LogDoc(options)
  const state = await options.store.load()
  const snapshotHeads = replayStored(log, state, options.onReplayProgress)
  const check = log.verifyChains(options.verify === 'full' ? undefined : snapshotHeads)
  if (!check.ok)
    throw new YlogError(
      'STORE_CORRUPT',
      `stored log does not verify: node ${check.node} seq ${check.seq}: ${check.detail}; ${RESTORE_ADVICE}`,
    )
  return { log, state, snapshotHeads }
}
