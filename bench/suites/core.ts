// @ylog/core figures: append rate flatness, the naive Y.Array baseline,
// chain verification, heap per entry, snapshot load.
import { spawnSync } from 'node:child_process'
import { sign, createPrivateKey, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { LogDoc, NodeIdentity, verifyRun, ZERO_HASH } from '@ylog/core'
import { rate, report, sampleData, settleHeap, type Figures } from '../harness.js'

const TOTAL = Number(process.env.YLOG_BENCH_CORE_ENTRIES ?? 1_000_000)
const figures: Figures = {}

// Baselines: how fast can this machine sign at all, with OpenSSL (node:crypto)
// and with the signer NodeIdentity uses (libsodium where it loads): the
// ceiling of a signed append, since one node's signatures are sequential.
{
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), randomBytes(32)]),
    format: 'der',
    type: 'pkcs8',
  })
  const msg = randomBytes(330)
  for (let i = 0; i < 2000; i++) sign(null, msg, key)
  let t = performance.now()
  for (let i = 0; i < 20000; i++) sign(null, msg, key)
  figures['core.baseline.sign_rate'] = rate(20000, performance.now() - t)
  const signer = NodeIdentity.generate()
  for (let i = 0; i < 2000; i++) signer.sign(msg)
  t = performance.now()
  for (let i = 0; i < 20000; i++) signer.sign(msg)
  if (signer.signingBackend !== 'libsodium') console.error('libsodium did not load: core.sign_rate is OpenSSL again')
  figures['core.sign_rate'] = rate(20000, performance.now() - t)
}

settleHeap()
const heapBefore = process.memoryUsage()
const identity = NodeIdentity.generate()
const log = new LogDoc({ identity })
let encodedBytes = 0
const window10k = [5_000, 15_000] as const
const window1m = [TOTAL - 50_000, TOTAL] as const
let t10k = 0
let t1m = 0
for (let i = 0; i < TOTAL; i++) {
  if (i === window10k[0]) t10k = performance.now()
  if (i === window10k[1]) figures['core.append.rate_10k'] = rate(window10k[1] - window10k[0], performance.now() - t10k)
  if (i === window1m[0]) t1m = performance.now()
  log.append({ topic: 'pipeline/stages', kind: 'event', data: sampleData(i) })
}
figures['core.append.rate_1m'] = rate(window1m[1] - window1m[0], performance.now() - t1m)
figures['core.append.flatness'] = Number(
  ((figures['core.append.rate_1m'] as number) / (figures['core.append.rate_10k'] as number)).toFixed(3),
)
figures['core.append.vs_sign_ceiling'] = Number(
  ((figures['core.append.rate_1m'] as number) / (figures['core.sign_rate'] as number)).toFixed(3),
)
for (let seq = 0; seq < TOTAL; seq += 97) encodedBytes += (log.getBytes(identity.id, seq) as Uint8Array).byteLength
const sampled = Math.ceil(TOTAL / 97)
figures['core.entry.encoded_bytes'] = Math.round(encodedBytes / sampled)
settleHeap()
const heapAfter = process.memoryUsage()
const heapBytes = heapAfter.heapUsed + heapAfter.arrayBuffers - (heapBefore.heapUsed + heapBefore.arrayBuffers)
figures['core.heap.bytes_per_entry'] = Math.round(heapBytes / TOTAL)
figures['core.heap.ratio_to_encoded'] = Number((figures['core.heap.bytes_per_entry'] / figures['core.entry.encoded_bytes']).toFixed(3))

// Chain verification of a 100k run, as a peer receiving this node's entries would.
{
  const run: Uint8Array[] = []
  for (let seq = 0; seq < Math.min(100_000, TOTAL); seq++) run.push(log.getBytes(identity.id, seq) as Uint8Array)
  const t = performance.now()
  const verdict = verifyRun(identity.publicKey, run, { seq: 0, prev: ZERO_HASH, at: 0 })
  if (!verdict.ok) throw new Error('chain did not verify')
  figures['core.verify.chain_rate'] = rate(run.length, performance.now() - t)
}

// The whole guard (decode, layout, entry structure, chain) on a 20k-entry update.
{
  const source = new LogDoc({ identity: NodeIdentity.generate() })
  for (let i = 0; i < 20_000; i++) source.append({ topic: 'pipeline/stages', kind: 'event', data: sampleData(i) })
  const update = Y.encodeStateAsUpdate(source.doc)
  const replica = new LogDoc()
  const t = performance.now()
  if (replica.applyRemote(update).status !== 'accepted') throw new Error('guard refused an honest update')
  figures['core.guard.accept_rate'] = rate(20_000, performance.now() - t)
}

// Snapshot load, in a fresh process so the loaded doc is alone in its heap.
{
  const dir = mkdtempSync(join(tmpdir(), 'ylog-bench-'))
  const file = join(dir, 'snapshot.bin')
  writeFileSync(file, log.encodeSnapshot())
  const child = spawnSync(process.execPath, [...process.execArgv, join(import.meta.dirname, 'core-load.ts'), file], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  })
  if (child.status !== 0) throw new Error(`snapshot load failed: ${child.stderr}`)
  const loaded = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { seconds: number; length: number; verifySeconds: number }
  if (loaded.length !== TOTAL) throw new Error(`snapshot loaded ${loaded.length} entries, expected ${TOTAL}`)
  figures[`core.snapshot.load_${TOTAL >= 1_000_000 ? '1m' : TOTAL}_s`] = Number(loaded.seconds.toFixed(3))
  figures['core.snapshot.verify_chains_s'] = Number(loaded.verifySeconds.toFixed(3))
  rmSync(dir, { recursive: true, force: true })
}

// Baseline: the same entry bytes pushed one by one onto a plain Y.Array.
{
  const doc = new Y.Doc()
  const array = doc.getArray<Uint8Array>('log')
  const N = Math.min(100_000, TOTAL)
  let t = 0
  for (let i = 0; i < N; i++) {
    if (i === N - 10_000) t = performance.now()
    array.push([log.getBytes(identity.id, i) as Uint8Array])
  }
  figures['core.append.naive_rate_100k'] = rate(10_000, performance.now() - t)
  figures['core.append.vs_naive_at_100k'] = Number(
    ((figures['core.append.rate_10k'] as number) / figures['core.append.naive_rate_100k']).toFixed(2),
  )
}

report(figures)
