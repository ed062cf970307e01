import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { batchesOf, joinLines, lineChunksOf, type Line } from './ndjson.js'

async function linesOf(text: string, chunkBytes: number): Promise<Array<[number, string]>> {
  const file = join(mkdtempSync(join(tmpdir(), 'ylog-ndjson-')), 'lines.ndjson')
  writeFileSync(file, text)
  const out: Array<[number, string]> = []
  for await (const chunk of lineChunksOf(file, chunkBytes)) for (const l of chunk) out.push([l.number, l.bytes.toString()])
  return out
}

describe('lineChunksOf', () => {
  const text = '{"a":1}\r\n\n   \n{"b":"two words"}\n{"c":[1,2,3,4,5,6,7,8,9]}\n\t\r\n{"d":4}'
  const expected: Array<[number, string]> = [
    [1, '{"a":1}'],
    [4, '{"b":"two words"}'],
    [5, '{"c":[1,2,3,4,5,6,7,8,9]}'],
    [7, '{"d":4}'],
  ]

  it('splits on line breaks, drops CR and blank lines, numbers lines as an editor does, keeps a last line without a break', async () => {
    expect(await linesOf(text, 1 << 20)).toEqual(expected)
  })

  it('joins lines that straddle read chunks, whatever the chunk size', async () => {
    for (const size of [1, 2, 3, 5, 7, 16]) expect(await linesOf(text, size)).toEqual(expected)
  })

  it('batches across chunks, and joins a batch back into an NDJSON body', async () => {
    const chunks = async function* (): AsyncGenerator<Line[]> {
      yield [1, 2].map((n) => ({ bytes: Buffer.from(`{"n":${n}}`), number: n }))
      yield [3, 4, 5].map((n) => ({ bytes: Buffer.from(`{"n":${n}}`), number: n }))
    }
    const batches: Line[][] = []
    for await (const b of batchesOf(chunks(), 2)) batches.push(b)
    expect(batches.map((b) => b.map((l) => l.number))).toEqual([[1, 2], [3, 4], [5]])
    expect(joinLines(batches[1] as Line[]).toString()).toBe('{"n":3}\n{"n":4}\n')
  })
})
