import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { sha256 } from '../entry/bytes.js'
import { signEntry, type EntryFields } from '../entry/entry.js'
import { NodeIdentity } from '../entry/identity.js'
import { LogDoc } from './log-doc.js'
import { appendEvents, craftAppend, fingerprint } from '../testing/test-support.js'

const SEED = Number(process.env.YLOG_PROPERTY_SEED ?? 20261123)
const RUNS = Number(process.env.YLOG_PROPERTY_RUNS ?? 25)

function observable(log: LogDoc) {
  return {
    entries: [...log.entries()],
    merged: [...log.merged()].map((e) => e.hash),
    heads: [...log.heads()],
    holes: [...log.holes()],
  }
}

describe('properties', () => {
  it('nodes exchanging updates in any order, with duplicates and delays, converge', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 2, maxLength: 4 }),
        fc.integer({ min: 1, max: 2 ** 31 - 2 }),
        (counts, scheduleSeed) => {
          const ids = counts.map(() => NodeIdentity.generate())
          const logs = ids.map((identity) => new LogDoc({ identity }))
          // Every update ever produced, and per receiver what it has not seen yet.
          const inboxes = logs.map(() => [] as Uint8Array[])
          logs.forEach((log, i) => log.onUpdate((u) => inboxes.forEach((inbox, j) => j !== i && inbox.push(u))))
          const pending = counts.slice()
          // The delivery schedule comes from a seeded Lehmer generator, so a failure replays exactly.
          let state = scheduleSeed
          const next = (n: number): number => {
            state = (state * 48271) % 2147483647
            return state % n
          }
          // Interleave appends and deliveries; deliveries are random, sometimes duplicated.
          for (let step = 0; step < 400 && (pending.some((p) => p > 0) || inboxes.some((b) => b.length > 0)); step++) {
            const who = next(logs.length)
            if (pending[who]! > 0 && next(3) === 0) {
              appendEvents(logs[who]!, 1)
              pending[who]!--
              continue
            }
            const inbox = inboxes[who]!
            if (inbox.length === 0) continue
            const k = next(inbox.length)
            const update = inbox[k]!
            if (next(4) !== 0) inbox.splice(k, 1) // else: delivered again later
            expect(logs[who]!.applyRemote(update).status).not.toBe('refused')
          }
          for (const [i, p] of pending.entries()) appendEvents(logs[i]!, p)
          // Drain: deliver everything left, in order, twice.
          for (const [i, inbox] of inboxes.entries()) for (const u of [...inbox, ...inbox]) logs[i]!.applyRemote(u)
          const first = observable(logs[0]!)
          for (const log of logs) {
            expect(observable(log)).toEqual(first)
            expect(log.verifyChains()).toEqual({ ok: true, entries: counts.reduce((a, b) => a + b, 0) })
          }
          expect(first.holes).toEqual([])
        },
      ),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it('any change to an entry, its signature, seq, prev or place is refused and changes nothing', () => {
    const writer = NodeIdentity.generate()
    const source = new LogDoc({ identity: writer })
    appendEvents(source, 6)
    const head = source.heads().get(writer.id)!
    const honest: EntryFields = {
      seq: 6,
      prev: new Uint8Array(Buffer.from(head.hash, 'hex')),
      at: head.at,
      topic: 't',
      body: { kind: 'event', data: { i: 6 } },
    }
    const honestBytes = signEntry(writer, honest).bytes
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({
            kind: fc.constant('flip' as const),
            at: fc.nat({ max: honestBytes.byteLength - 1 }),
            mask: fc.integer({ min: 1, max: 255 }),
          }),
          fc.record({ kind: fc.constant('seq' as const), seq: fc.nat({ max: 1000 }).filter((s) => s !== 6) }),
          fc.record({ kind: fc.constant('prev' as const), salt: fc.nat() }),
          fc.record({ kind: fc.constant('place' as const), seq: fc.nat({ max: 5 }) }),
        ),
        (change) => {
          const replica = new LogDoc()
          replica.applyRemote(Y.encodeStateAsUpdate(source.doc))
          let bytes: Uint8Array
          switch (change.kind) {
            case 'flip':
              bytes = Uint8Array.from(honestBytes)
              bytes[change.at] = (bytes[change.at] as number) ^ change.mask
              break
            case 'seq':
              bytes = signEntry(writer, { ...honest, seq: change.seq }).bytes
              break
            case 'prev':
              bytes = signEntry(writer, { ...honest, prev: sha256(Uint8Array.of(change.salt & 255, change.salt >> 8)) }).bytes
              break
            case 'place':
              bytes = source.getBytes(writer.id, change.seq) as Uint8Array // a real entry, in the wrong place
              break
          }
          const before = fingerprint(replica)
          const result = replica.applyRemote(craftAppend(replica, writer.id, writer.clientId, bytes))
          expect(result.status).toBe('refused')
          expect(fingerprint(replica)).toBe(before)
        },
      ),
      { seed: SEED, numRuns: RUNS * 8 },
    )
  })

  it('a snapshot loaded into a fresh doc gives identical reads, heads and holes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 3 }), (counts) => {
        const main = new LogDoc()
        for (const n of counts) {
          const w = new LogDoc({ identity: NodeIdentity.generate() })
          appendEvents(w, n)
          main.applyRemote(Y.encodeStateAsUpdate(w.doc))
        }
        const copy = new LogDoc()
        copy.loadTrusted(main.encodeSnapshot(), 'v2')
        expect(observable(copy)).toEqual(observable(main))
        const v1 = new LogDoc()
        v1.loadTrusted(Y.encodeStateAsUpdate(main.doc))
        expect(observable(v1)).toEqual(observable(main))
      }),
      { seed: SEED, numRuns: Math.max(5, Math.ceil(RUNS / 3)) },
    )
  })
})
