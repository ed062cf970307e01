import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { checkUpdate, type GuardView } from './update-guard.js'
import { entryClock, segmentClock } from './layout.js'
import { LogDoc } from './log-doc.js'
import { mergeSmallRecords } from '../durable/merge-records.js'
import { encodeStructGroups } from './split-update.js'
import { appendEvents, writer } from '../testing/test-support.js'
import { MAX_UPDATE_CLIENTS, scanUpdate, ScanRefusal, type UpdateScan } from './update-scan.js'

function refusal(update: Uint8Array): ScanRefusal {
  try {
    scanUpdate(update)
  } catch (err) {
    if (err instanceof ScanRefusal) return err
    throw err
  }
  throw new Error('the scan took it')
}

/** A v1 update of one group whose structs `write` writes by hand. */
function handMade(client: number, clock: number, structs: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, structs)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, clock)
  write(e)
  encoding.writeVarUint(e, 0)
  return encoding.toUint8Array(e)
}

describe('scanUpdate', () => {
  it('reads the groups of honest updates: whole docs, diffs, chunks of several writers', () => {
    const writers = [writer(), writer(), writer()]
    writers.forEach((w, i) => appendEvents(w.log, [1, 600, 30][i] as number))
    const relay = new LogDoc()
    for (const w of writers) relay.applyRemote(Y.encodeStateAsUpdate(w.log.doc))
    const scan: UpdateScan = scanUpdate(Y.encodeStateAsUpdate(relay.doc))
    expect(scan.entries).toBe(631)
    const ends = new Map(writers.map((w) => [w.id.clientId, entryClock(w.log.length(w.id.id) - 1) + 1]))
    expect(new Map(scan.groups.map((g) => [g.client, g.end]))).toEqual(ends)
    expect(scanUpdate(Y.encodeStateAsUpdate(new Y.Doc()))).toEqual({ groups: [], entries: 0, structs: 0 })
    for (const u of writers[1]?.updates ?? []) expect(() => scanUpdate(u)).not.toThrow()
  })

  it('takes what mergeSmallRecords and Y.mergeUpdates write: one group per client, whatever the order of the parts', () => {
    const a = writer()
    const b = writer()
    appendEvents(a.log, 20)
    appendEvents(b.log, 20)
    const records = a.updates.map((update) => ({ update, entries: [{ node: a.id.id, seq: 0, at: 0, topic: 't', kind: 'event' as const }] }))
    const merged = mergeSmallRecords(records)
    expect(merged).toHaveLength(1)
    expect(scanUpdate((merged[0] as { update: Uint8Array }).update).groups).toHaveLength(1)
    const mixed = Y.mergeUpdates([...b.updates.slice(10), ...a.updates.slice(5).reverse(), ...b.updates.slice(0, 10)])
    expect(
      scanUpdate(mixed)
        .groups.map((g) => g.client)
        .sort(),
    ).toEqual([a.id.clientId, b.id.clientId].sort())
    // With a's first five missing, the merge writes one skip for the gap: the guard holds the update.
    const view = new LogDoc()
    view.applyRemote(Y.encodeStateAsUpdate(b.log.doc))
    expect(view.applyRemote(mixed).status).toBe('held')
  })

  it('refuses a client named twice, deletions, GC structs and foreign content', () => {
    const w = writer()
    appendEvents(w.log, 3)
    const structs = Y.decodeUpdate(Y.encodeStateAsUpdate(w.log.doc)).structs
    expect(refusal(encodeStructGroups([structs.slice(0, 2), structs.slice(2)])).reason).toBe('malformed-update')
    expect(refusal(encodeStructGroups([structs], new Map([[w.id.clientId, [{ clock: 2, len: 1 }]]]))).reason).toBe('delete')
    expect(refusal(encodeStructGroups([[new Y.GC(Y.createID(7, 0), 3)]])).reason).toBe('delete')
    const text = new Y.Doc()
    text.getText('notes').insert(0, 'hi')
    expect(refusal(Y.encodeStateAsUpdate(text)).reason).toBe('foreign-structure')
    const map = new Y.Doc()
    map.getMap('nodes').set('x', 1)
    expect(refusal(Y.encodeStateAsUpdate(map)).reason).toBe('foreign-structure')
  })

  it('refuses binary content shorter than any entry, and lengths past the end', () => {
    const short = new Y.Item(Y.createID(9, entryClock(0)), null, null, null, null, null, null, new Y.ContentBinary(new Uint8Array(20)))
    short.parent = Y.createID(9, segmentClock(0)) as unknown as Y.AbstractType<unknown>
    expect(refusal(encodeStructGroups([[short]])).reason).toBe('bad-entry')
    // A binary item (info 0x83: origin + binary) claiming 1000 bytes in a 10-byte update.
    const claim = handMade(9, 3, 1, (e) => [0x83, 9, 2, 0xe8, 0x07].forEach((b) => encoding.writeUint8(e, b)))
    expect(refusal(claim).reason).toBe('malformed-update')
    expect(refusal(Uint8Array.of(1, 5, 9, 0)).reason).toBe('malformed-update')
  })

  it('refuses floods of skip or array structs before anything is built from them, in a few ms', () => {
    const skips = handMade(12345, 0, 4_200_000, (e) => {
      for (let i = 0; i < 4_200_000; i++) {
        encoding.writeUint8(e, 10)
        encoding.writeVarUint(e, 1)
      }
    })
    const started = performance.now()
    expect(refusal(skips).reason).toBe('malformed-update')
    expect(performance.now() - started).toBeLessThan(20)
    // Arrays without entries: info 0x87 (origin + type), origin, type ref 0 (Y.Array).
    const arrays = handMade(12345, 1, 100_000, (e) => {
      for (let i = 0; i < 100_000; i++) {
        encoding.writeUint8(e, 0x87)
        ;[12345, i, 0].forEach((n) => encoding.writeVarUint(e, n))
      }
    })
    expect(refusal(arrays).reason).toBe('foreign-structure')
    const clients = encoding.createEncoder()
    encoding.writeVarUint(clients, MAX_UPDATE_CLIENTS + 1)
    expect(refusal(encoding.toUint8Array(clients)).reason).toBe('malformed-update')
  })

  it('is what the guard runs first: a refused scan is a refused update', () => {
    const view: GuardView = { stateOf: () => 0, headOfClient: () => undefined, isMember: () => true, entryBytes: () => undefined }
    expect(checkUpdate(view, encodeStructGroups([[new Y.GC(Y.createID(7, 0), 3)]]))).toMatchObject({ status: 'refuse', reason: 'delete' })
  })
})
