import { describe, expect, it } from 'vitest'
import { DurableLog, MemoryUpdateStore, NodeIdentity } from '@ylog/core'
import { assembleContext } from './index.js'

/** A fixed identity and clock, so every run renders the same bytes. */
async function openLog(seed = 1): Promise<DurableLog> {
  let now = Date.UTC(2025, 10, 23, 10, 0, 0)
  const identity = NodeIdentity.fromSeed(new Uint8Array(32).fill(seed))
  return DurableLog.open({ identity, store: new MemoryUpdateStore(), now: () => (now += 1000) })
}

/** The seed's feeder: ids 0-99, ids 3-5 dropped before they reached the log and recorded as one gap entry. */
async function seedLog(): Promise<DurableLog> {
  const durable = await openLog()
  for (let i = 0; i < 100; i++) {
    if (i === 3) await durable.append({ topic: 'pipeline', kind: 'gap', data: { stream: 'feeder', from: 3, to: 5 } })
    if (i >= 3 && i <= 5) continue
    await durable.append({
      topic: 'pipeline',
      kind: 'transition',
      data: { subject: `test_${i}`, from: 'backlog', to: 'coding', event: 'DepsMet' },
    })
  }
  return durable
}

describe('assembleContext', () => {
  it('names the seed gap: events between 3 and 5 were dropped, with the first and the last transitions', async () => {
    const durable = await seedLog()
    const { text, tokens, manifest } = await assembleContext(durable)
    expect(text).toContain('events between 3 and 5 were dropped')
    expect(text).toContain('test_0: backlog → coding (DepsMet)')
    expect(text).toContain('test_99: backlog → coding (DepsMet)')
    expect(tokens).toBeLessThanOrEqual(8000)
    expect(manifest.counts).toEqual({ included: 97, omitted: 0, dropped: 1, missing: 0, forked: 0 })
    expect(manifest.nodes[0]?.dropped).toMatchObject([{ seq: 3, stream: 'feeder', from: 3, to: 5 }])
    await durable.close()
  })

  it('keeps the gap line and the newest transitions under a small budget, and says what it left out', async () => {
    const durable = await seedLog()
    const { text, tokens, manifest } = await assembleContext(durable, { budget: 400 })
    expect(tokens).toBeLessThanOrEqual(400)
    expect(text).toContain('events between 3 and 5 were dropped')
    expect(text).toContain('test_99')
    expect(text).not.toContain('test_0:')
    const node = manifest.nodes[0]
    const firstShown = node?.included[0]?.from as number
    expect(node?.omitted).toEqual([
      { from: 0, to: 2 },
      { from: 4, to: firstShown - 1 },
    ])
    expect(manifest.counts.omitted).toBe(firstShown - 1)
    expect(text).toContain(`- left out for the budget: ${firstShown - 1} older entries (node `)
    await durable.close()
  })

  it('gives the same bytes for the same log and options', async () => {
    const a = await seedLog()
    const b = await seedLog()
    for (const options of [
      { budget: 300 },
      { budget: 600, format: 'markdown' as const, order: 'node' as const },
      { budget: 900, format: 'jsonl' as const },
    ]) {
      const [x, y] = [await assembleContext(a, options), await assembleContext(b, options)]
      expect(x.text).toBe(y.text)
      expect(x.manifest).toEqual(y.manifest)
    }
    await Promise.all([a.close(), b.close()])
  })

  it('renders JSON lines that parse, one object a line', async () => {
    const durable = await seedLog()
    const { text } = await assembleContext(durable, { budget: 1200, format: 'jsonl' })
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string })
    expect(lines.map((l) => l.type).slice(0, 4)).toEqual(['missing', 'dropped', 'left-out-for-the-budget', 'entries'])
    expect(lines.at(-1)).toMatchObject({ type: 'entry', kind: 'transition', data: { subject: 'test_99' } })
    await durable.close()
  })

  it('shortens an entry longer than the cap, with a marker, and counts the preamble', async () => {
    const durable = await openLog()
    await durable.append({ topic: 'agents', kind: 'event', data: { text: 'lorem ipsum '.repeat(2000) } })
    const { text, tokens } = await assembleContext(durable, { budget: 1000, maxEntryTokens: 200, preamble: 'You are reading a ylog log.' })
    expect(text.startsWith('You are reading a ylog log.\n')).toBe(true)
    expect(text).toMatch(/… \[shortened: the entry is \d+ tokens; all of it: GET \/api\/events\/[0-9a-f]{64}\/0\]/)
    expect(tokens).toBeLessThanOrEqual(1000)
    await durable.close()
  })

  it('refuses a budget too small for the lines about what is missing, and an unknown encoding, naming the option', async () => {
    const durable = await seedLog()
    await expect(assembleContext(durable, { budget: 10 })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
      message: expect.stringMatching(/^budget: 10 tokens do not hold/),
    })
    await expect(assembleContext(durable, { encoding: 'o300k' })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
      message: expect.stringContaining('known: o200k_base'),
    })
    await expect(assembleContext(durable, { kinds: ['gap' as 'event'] })).rejects.toMatchObject({
      message: expect.stringMatching(/^kinds:/),
    })
    await durable.close()
  })

  it('selects one subject through the index, and counts with a caller’s tokenizer', async () => {
    const durable = await openLog()
    for (let i = 0; i < 30; i++) {
      await durable.append({
        topic: 'pipeline',
        kind: 'transition',
        data: { subject: `story-${i % 3}`, from: `s${i}`, to: `s${i + 1}`, event: 'Next' },
      })
    }
    const words = (text: string): number => text.split(/\s+/).filter(Boolean).length
    const { text, manifest } = await assembleContext(durable, { subject: 'story-1', countTokens: words, budget: 10_000 })
    expect(text.match(/story-1:/g)).toHaveLength(10)
    expect(text).not.toContain('story-0')
    expect(manifest.tokenizer).toBe('custom')
    expect(manifest.tokens).toBe(words(text))
    await durable.close()
  })
})
