import * as ed from '@noble/ed25519'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import type { Entry } from '@ylog/client'
import { decode } from 'cborg'
import { getText } from './api.js'

// Synchronous SHA-512 from @noble/hashes: WebCrypto exists only in secure contexts, and a node on a LAN address over http is not one.
ed.hashes.sha512 = sha512

const DOMAIN = new TextEncoder().encode('ylog-entry-v1\n')
const SIG_TAIL = 66 // `58 40` and the 64-byte signature, always the last element

export type Verdict = { ok: true; checks: string[] } | { ok: false; reason: string; checks: string[] }

/** Signed bytes of one node's seqs, from GET /api/export (base64 of the canonical CBOR the node signed). */
export async function signedBytes(node: string, fromSeq: number, toSeq: number): Promise<Map<number, Uint8Array>> {
  const text = await getText(`/api/export?node=${node}&fromSeq=${fromSeq}&toSeq=${toSeq}`)
  const out = new Map<number, Uint8Array>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const parsed = JSON.parse(line) as { seq: number; bytes: string }
    out.set(
      parsed.seq,
      Uint8Array.from(atob(parsed.bytes), (c) => c.charCodeAt(0)),
    )
  }
  return out
}

/** JSON with sorted keys: canonical CBOR orders map keys its own way, the API's JSON another. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * Checks an entry in the browser, trusting nothing the server computed: the
 * bytes decode to the fields shown, the Ed25519 signature by the node's key
 * holds over them, their SHA-256 is the hash shown, and (past seq 0) `prev`
 * is the SHA-256 of the previous entry's bytes.
 */
export function verifyEntry(entry: Entry, bytes: Uint8Array | undefined, previous: Uint8Array | undefined): Verdict {
  const checks: string[] = []
  const fail = (reason: string): Verdict => ({ ok: false, reason, checks })
  if (bytes === undefined || bytes.length <= SIG_TAIL) return fail('the node served no signed bytes for this entry')
  let fields: unknown[]
  try {
    fields = decode(bytes, { useMaps: false }) as unknown[]
  } catch (err) {
    return fail(`the bytes do not decode as CBOR: ${(err as Error).message}`)
  }
  if (!Array.isArray(fields) || (fields.length !== 9 && fields.length !== 10)) return fail('the bytes are not an entry array')
  const [, writer, prev, seq, at, topic, kind, data] = fields
  const hex = (v: unknown): string => (v instanceof Uint8Array ? bytesToHex(v) : '')
  if (hex(writer) !== entry.node || seq !== entry.seq) return fail('the bytes name another node or seq')
  if (at !== entry.at || topic !== entry.topic || kind !== entry.kind || stable(data) !== stable(entry.data))
    return fail('the fields shown differ from the signed bytes')
  checks.push('fields match the signed bytes')
  const signed = new Uint8Array(DOMAIN.length + bytes.length - SIG_TAIL)
  signed.set(DOMAIN)
  signed.set(bytes.subarray(0, bytes.length - SIG_TAIL), DOMAIN.length)
  signed[DOMAIN.length] = (signed[DOMAIN.length] as number) - 1 // the array header of one element fewer: without sig
  const sig = fields[fields.length - 1]
  let good = false
  try {
    good = sig instanceof Uint8Array && ed.verify(sig, signed, hexToBytes(entry.node))
  } catch {
    good = false
  }
  if (!good) return fail('the Ed25519 signature does not verify')
  checks.push('Ed25519 signature by the node')
  if (bytesToHex(sha256(bytes)) !== entry.hash) return fail('the hash shown is not the SHA-256 of the bytes')
  checks.push('hash is the SHA-256 of the bytes')
  if (entry.seq === 0) {
    if (hex(prev) !== '0'.repeat(64)) return fail('seq 0 must link to 32 zero bytes')
    checks.push('first entry of its chain')
  } else if (previous !== undefined) {
    if (bytesToHex(sha256(previous)) !== hex(prev)) return fail('prev is not the hash of the previous entry')
    checks.push(`links to seq ${entry.seq - 1}`)
  } else {
    checks.push('previous entry not held here: link unchecked')
  }
  return { ok: true, checks }
}

/** Fetches the entry's bytes and its predecessor's, then verifies. */
export async function fetchAndVerify(entry: Entry): Promise<Verdict> {
  const bytes = await signedBytes(entry.node, Math.max(0, entry.seq - 1), entry.seq)
  return verifyEntry(entry, bytes.get(entry.seq), entry.seq > 0 ? bytes.get(entry.seq - 1) : undefined)
}
