import { LogDoc, NodeIdentity } from '@ylog/core'
import { afterAll, describe, expect, it } from 'vitest'
import { ImportChecker } from './import-checker.js'

const checker = new ImportChecker()
afterAll(() => checker.close())

/** Export lines of a writer's first `n` entries. */
function exportLines(n: number): string[] {
  const writer = new LogDoc({ identity: NodeIdentity.generate() })
  writer.appendBatch(Array.from({ length: n }, (_, i) => ({ topic: 't', kind: 'event' as const, data: { i } })))
  const node = writer.identity?.id as string
  return Array.from({ length: n }, (_, seq) => {
    const bytes = Buffer.from(writer.getBytes(node, seq) as Uint8Array).toString('base64')
    return JSON.stringify({ node, seq, at: 0, topic: 't', kind: 'event', bytes })
  })
}

describe('ImportChecker', () => {
  it('checks a body on its worker thread, a small one in Node’s shared buffer pool included, into runs with hashes', async () => {
    const lines = exportLines(3)
    // Small Buffers are views into a shared pool: only the body's own bytes may reach the worker.
    const body = Buffer.from(`${lines.join('\n')}\n`)
    expect(body.buffer.byteLength).toBeGreaterThan(body.byteLength)
    const runs = await checker.check(body)
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatchObject({ fromSeq: 0 })
    expect(runs[0]?.entries.map((e) => e.byteLength)).toEqual(lines.map((l) => Buffer.from(JSON.parse(l).bytes, 'base64').byteLength))
    expect(runs[0]?.hashes.every((h) => h.byteLength === 32)).toBe(true)
  })

  it('answers the first problem with its code and line, and goes on checking other bodies', async () => {
    const lines = exportLines(4)
    const swapped = [lines[0], lines[2], lines[1], lines[3]].join('\n')
    await expect(checker.check(Buffer.from(swapped))).rejects.toMatchObject({
      code: 'BROKEN_CHAIN',
      message: expect.stringMatching(/line 2/),
    })
    await expect(checker.check(Buffer.from('{"node":1}'))).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    expect(await checker.check(Buffer.from(lines.join('\n')))).toHaveLength(1)
  })
})
