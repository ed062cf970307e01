import type { Entry } from '@ylog/client'
import { describe, expect, it } from 'vitest'
import { Dedupe } from './dedupe.js'
import { LinePrinter } from './lines.js'

const entry = (seq: number, kind: Entry['kind'], data: unknown): Entry =>
  ({ node: 'ab'.repeat(32), seq, prev: '', hash: `h${seq}`, at: 0, topic: 't', kind, data, sig: '' }) as unknown as Entry
const plain = (prefix: boolean, format?: string): LinePrinter => new LinePrinter({ json: false, color: false, prefix, format })

describe('tail lines', () => {
  it('prints gap entries and lag markers as lines of their own, labelled', () => {
    const p = new LinePrinter({ json: false, color: false, prefix: true })
    const gap = p.line({ type: 'entry', source: 'a', entry: entry(3, 'gap', { stream: 'ingest', from: 4, to: 9 }) })
    expect(gap).toBe('[a] abababab:3 GAP t: events 4-9 of ingest were dropped before the log')
    expect(p.line({ type: 'lag', source: 'a', node: 'cd'.repeat(32), from: 5, to: 7 })).toMatch(/^\[a\] !! missed cdcdcdcd:5-7/)
    expect(p.line({ type: 'reset', source: 'b', reason: 'shorter heads' })).toBe('[b] !! reset: shorter heads; the last entries again')
  })

  it('--no-prefix, --format and --json', () => {
    const one = { type: 'entry', source: 'a', entry: entry(1, 'event', { x: 1 }) } as const
    expect(plain(false).line(one)).toMatch(/^abababab:1 /)
    expect(plain(true, '{source} {seq} {data} {nope}').line(one)).toBe('a 1 {"x":1} {nope}')
    const lag = new LinePrinter({ json: true, color: false, prefix: true }).line({ type: 'lag', source: 'a', node: 'n', from: 1, to: 2 })
    expect(JSON.parse(lag)).toEqual({ marker: 'lag', source: 'a', node: 'n', from: 1, to: 2 })
  })

  it('dedupes by (node, seq), but prints an entry with another hash at a printed seq', () => {
    const d = new Dedupe()
    expect(d.first('n', 0, 'h0')).toBe(true)
    expect(d.first('n', 0, 'h0')).toBe(false)
    expect(d.first('n', 0, 'other')).toBe(true)
  })
})
