import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogDoc, NodeIdentity } from '@ylog/core'
import { describe, expect, it } from 'vitest'
import { seam, verifyFile } from './verify-pass.js'

/** Export lines of two writers' first `n` entries each, interleaved as an export of a cluster may hold them. */
function interleaved(n: number): string[] {
  const writers = [0, 1].map(() => new LogDoc({ identity: NodeIdentity.generate() }))
  const lines: string[] = []
  for (let seq = 0; seq < n; seq++) {
    for (const w of writers) {
      w.append({ topic: 't', kind: 'event', data: { seq } })
      const node = w.identity?.id as string
      const bytes = Buffer.from(w.getBytes(node, seq) as Uint8Array).toString('base64')
      lines.push(JSON.stringify({ node, seq, at: 0, topic: 't', kind: 'event', bytes }))
    }
  }
  return lines
}

function file(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'ylog-verify-')), 'export.ndjson')
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

describe('verifyFile', () => {
  const lines = interleaved(200)

  it('checks a file in two halves on worker threads, with the same result as on one thread', async () => {
    const path = file(lines)
    let counted = 0
    const split = await verifyFile(path, 'export.ndjson', (n) => (counted += n), 1)
    const whole = await verifyFile(path, 'export.ndjson', () => undefined)
    expect(split).toEqual(whole)
    expect(split.entries).toBe(400)
    expect(counted).toBe(400)
    expect(split.nodes.map((n) => [n.from, n.to])).toEqual([
      [0, 200],
      [0, 200],
    ])
  })

  it('finds a chain broken near the middle of the file, within a half or at the seam', async () => {
    // Line 201 is one node's seq 100: without it that chain skips a seq.
    const path = file([...lines.slice(0, 200), ...lines.slice(201)])
    await expect(verifyFile(path, 'export.ndjson', () => undefined, 1)).rejects.toMatchObject({ code: 'BROKEN_CHAIN' })
  })

  it('joins the halves only where a node’s second half continues its first: next seq, its hash, no earlier time', () => {
    const node = 'a'.repeat(64)
    const before = { node, from: 0, to: 10, firstPrev: '00', firstAt: 1, lastHash: 'h9', lastAt: 50 }
    const after = { node, from: 10, to: 20, firstPrev: 'h9', firstAt: 50, lastHash: 'h19', lastAt: 90 }
    expect(seam([before], [after])).toEqual([{ ...before, to: 20, lastHash: 'h19', lastAt: 90 }])
    for (const wrong of [{ from: 11 }, { firstPrev: 'h8' }, { firstAt: 49 }]) {
      expect(() => seam([before], [{ ...after, ...wrong }])).toThrow(/BROKEN_CHAIN|an import takes whole chains/)
    }
  })

  it('names a bad line of the second half by its line number in the file', async () => {
    const broken = [...lines]
    broken[350] = '{"node": not json'
    const path = file(broken)
    await expect(verifyFile(path, 'export.ndjson', () => undefined, 1)).rejects.toMatchObject({
      code: 'BAD_JSON',
      message: expect.stringMatching(/^export\.ndjson line 351 is not JSON/),
    })
  })
})
