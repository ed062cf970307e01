import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DurableLog, LogDoc, MemoryUpdateStore, NodeIdentity, signEntry, type Entry, type EntryInput } from '@ylog/core'
import { craftAppend } from '@ylog/core/testing'
import { assembleContext, tokenCounter, type ContextOptions } from './index.js'
import { compareByTime } from './select.js'

const TOPICS = ['pipeline', 'agents', 'ylog.gaps']
const SUBJECTS = ['story-1', 'story-2', 'story-3']
const T0 = Date.UTC(2025, 0, 1)

interface NodePlan {
  ops: Array<{ kind: 'transition' | 'event' | 'gap'; topic: number; subject: number; step: number }>
  /** Updates (one per entry) withheld from the replica: a hole when later ones arrive. */
  withhold: [number, number] | undefined
  /** A second signed entry for this seq, sent to the replica: a fork. */
  forkAt: number | undefined
}

const op = fc.record({
  kind: fc.constantFrom('transition', 'event', 'event', 'gap'),
  topic: fc.nat(2),
  subject: fc.nat(2),
  step: fc.integer({ min: 0, max: 3 }),
})
const nodePlan = fc
  .record({
    ops: fc.array(op, { minLength: 1, maxLength: 40 }),
    withhold: fc.option(fc.tuple(fc.nat(30), fc.integer({ min: 1, max: 5 })), { nil: undefined }),
    forkAt: fc.option(fc.nat(30), { nil: undefined }),
  })
  .map((p): NodePlan => ({ ...p, withhold: p.withhold && [p.withhold[0], p.withhold[0] + p.withhold[1]] }))

/** Mostly absent: a filter on every key would leave most selections empty. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 })
}

const optionsArb = fc
  .record({
    // Tiny (often refused), tight (entries left out), huge (everything fits).
    budget: fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 200 }), weight: 1 },
      { arbitrary: fc.integer({ min: 200, max: 1500 }), weight: 3 },
      { arbitrary: fc.integer({ min: 1500, max: 50_000 }), weight: 1 },
    ),
    topics: rarely(fc.subarray(TOPICS.slice(0, 2), { minLength: 1 })),
    kinds: rarely(fc.subarray(['transition', 'event'] as const, { minLength: 1 })),
    subject: rarely(fc.constantFrom(...SUBJECTS)),
    since: rarely(fc.integer({ min: 0, max: 40 }).map((s) => T0 + s * 1000)),
    until: rarely(fc.integer({ min: 40, max: 120 }).map((s) => T0 + s * 1000)),
    order: fc.constantFrom('time', 'node'),
    format: fc.constantFrom('text', 'markdown', 'jsonl'),
    summaryScan: rarely(fc.integer({ min: 0, max: 50 })),
  })
  .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as ContextOptions & { budget: number })

function input(o: NodePlan['ops'][number], i: number): EntryInput {
  const topic = TOPICS[o.topic] as string
  if (o.kind === 'gap') return { topic, kind: 'gap', data: { stream: 'feed', from: i * 10, to: i * 10 + o.step } }
  if (o.kind === 'event') return { topic, kind: 'event', data: { i, note: 'x'.repeat(o.step * 20) } }
  return { topic, kind: 'transition', data: { subject: SUBJECTS[o.subject] as string, from: `s${i}`, to: `s${i + 1}`, event: 'Next' } }
}

/** A replica that heard from every planned writer, less the withheld updates, plus the forks. */
async function buildLog(plans: NodePlan[], seed: number): Promise<DurableLog> {
  const replica = await DurableLog.open({ store: new MemoryUpdateStore() })
  for (const [n, plan] of plans.entries()) {
    const identity = NodeIdentity.fromSeed(new Uint8Array(32).fill(seed + n + 1))
    let now = T0 + n * 7
    const writer = new LogDoc({ identity, now: () => now })
    const updates: Uint8Array[] = []
    writer.onUpdate((u) => updates.push(u))
    for (const [i, o] of plan.ops.entries()) {
      now += 1000 * o.step
      writer.append(input(o, i))
    }
    for (const [i, update] of updates.entries()) {
      if (plan.withhold === undefined || i < plan.withhold[0] || i >= plan.withhold[1]) await replica.applyRemote(update)
    }
    const real = plan.forkAt === undefined ? undefined : replica.get(identity.id, plan.forkAt)
    if (real !== undefined) {
      const fork = signEntry(identity, {
        seq: real.seq,
        prev: new Uint8Array(Buffer.from(real.prev, 'hex')),
        at: real.at,
        topic: 'agents',
        body: { kind: 'event', data: 'forked' },
      })
      const branch = new LogDoc()
      for (let seq = 0; seq < real.seq; seq++)
        branch.applyRemote(craftAppend(branch, identity.id, identity.clientId, replica.getBytes(identity.id, seq) as Uint8Array))
      await replica.applyRemote(craftAppend(branch, identity.id, identity.clientId, fork.bytes))
    }
  }
  await replica.flush()
  return replica
}

function selected(entry: Entry, o: ContextOptions): boolean {
  const inTime = (o.since === undefined || entry.at >= o.since) && (o.until === undefined || entry.at < o.until)
  if (!inTime) return false
  if (entry.kind === 'gap') return o.topics === undefined || o.topics.includes(entry.topic) || entry.topic === 'ylog.gaps'
  if (o.topics !== undefined && !o.topics.includes(entry.topic)) return false
  if (o.kinds !== undefined && !o.kinds.includes(entry.kind)) return false
  return o.subject === undefined || (entry.kind === 'transition' && entry.data.subject === o.subject)
}

describe('assembleContext over random logs (fast-check, real tokenizer)', () => {
  it('stays within the budget, names every gap, hole and fork, and accounts for every selected entry once', async () => {
    const count = await tokenCounter('o200k_base')
    await fc.assert(
      fc.asyncProperty(fc.array(nodePlan, { minLength: 1, maxLength: 3 }), optionsArb, fc.nat(200), async (plans, options, seed) => {
        const log = await buildLog(plans, seed)
        try {
          const result = await assembleContext(log, options).catch((err: Error) => err)
          if (result instanceof Error) {
            // The only refusal: the lines about what is missing alone exceed the budget.
            expect(result.message).toMatch(/^budget: \d+ tokens do not hold the lines that say what is missing \((\d+) tokens\)/)
            expect(Number(/\((\d+) tokens\)/.exec(result.message)?.[1])).toBeGreaterThan(options.budget)
            return
          }
          const { text, tokens, manifest } = result
          expect(tokens).toBe(count(text))
          expect(tokens).toBeLessThanOrEqual(options.budget)
          expect((await assembleContext(log, options)).text).toBe(text)

          const all = [...log.entries()]
          const gaps = all.filter((e) => e.kind === 'gap' && selected(e, options))
          const matching = all.filter((e) => e.kind !== 'gap' && selected(e, options)).sort((a, b) => -compareByTime(a, b))
          for (const gap of gaps) {
            const data = gap.data as { from: number; to: number }
            expect(text).toContain(`events between ${data.from} and ${data.to} were dropped`)
          }
          expect(manifest.nodes.flatMap((n) => n.dropped.map((d) => d.id)).sort()).toEqual(gaps.map((g) => `${g.node}:${g.seq}`).sort())
          for (const [node, ranges] of log.holes()) {
            if (ranges.length === 0) continue
            expect(manifest.nodes.find((n) => n.node === node)?.missing).toEqual(ranges)
            expect(text).toContain(`node ${node.slice(0, 8)}: seqs`)
          }
          for (const fork of log.forks()) {
            expect(manifest.nodes.find((n) => n.node === fork.node)?.forkedFrom).toBe(fork.seq)
            expect(text).toContain(`signed two different entries for seq ${fork.seq}`)
          }
          // The entries shown are the newest of the selection; every other one lies in an omitted range, which holds nothing
          // shown or dropped.
          const shown = manifest.entries.map((e) => e.id)
          expect(new Set(shown)).toEqual(new Set(matching.slice(0, shown.length).map((e) => `${e.node}:${e.seq}`)))
          const rangesOf = (node: string) => manifest.nodes.find((n) => n.node === node)?.omitted ?? []
          const within = (node: string, seq: number) => rangesOf(node).some((r) => seq >= r.from && seq <= r.to)
          for (const e of matching.slice(shown.length)) expect(within(e.node, e.seq)).toBe(true)
          for (const id of shown) expect(within(id.slice(0, 64), Number(id.slice(65)))).toBe(false)
          for (const gap of gaps) expect(within(gap.node, gap.seq)).toBe(false)
          if (manifest.counts.omitted !== null) expect(manifest.counts.omitted).toBe(matching.length - shown.length)
          if (matching.length > shown.length) expect(text).toMatch(/left[ -]out[ -]for[ -]the[ -]budget/)
        } finally {
          await log.close()
        }
      }),
      { numRuns: 150, seed: 20251123 },
    )
  }, 60_000)
})
