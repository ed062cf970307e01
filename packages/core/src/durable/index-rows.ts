import { peekEntry, peekTopicKind, type Entry, type EntryKind } from '../entry/entry.js'
import type { NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'
import type { LogDoc } from '../doc/log-doc.js'
import type { IndexRow } from './update-store.js'

/** The index row of an entry appended here (its fields are at hand). */
export function indexRowOfEntry(entry: Entry): IndexRow {
  return withSubject({ node: entry.node, seq: entry.seq, at: entry.at, topic: entry.topic, kind: entry.kind }, entry)
}

/**
 * The index row of an entry the document holds (from a peer). Read in
 * place: these bytes passed the guard, so a full decode (CBOR, hash, hex)
 * would only repeat it; only a transition is decoded, for its subject.
 */
export function indexRowAt(log: LogDoc, node: NodeId, seq: number): IndexRow {
  const bytes = log.getBytes(node, seq) as Uint8Array
  const header = peekEntry(bytes)
  const fields = peekTopicKind(bytes)
  if (header === undefined || fields === undefined)
    throw new YlogError('MALFORMED_ENTRY', `entry ${node}:${seq} in the document does not have an entry layout`)
  const row: IndexRow = { node, seq, at: header.at, topic: fields.topic, kind: fields.kind as EntryKind }
  return row.kind === 'transition' ? withSubject(row, log.get(node, seq)) : row
}

/** A transition's index row carries its subject, so one work item's history is an index lookup. */
function withSubject(row: IndexRow, entry: Entry | undefined): IndexRow {
  if (entry?.kind === 'transition') row.subject = entry.data.subject
  return row
}
