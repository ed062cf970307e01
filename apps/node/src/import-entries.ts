import {
  isNodeId,
  peekEntry,
  sha256,
  signatureValid,
  verifyRun,
  YlogError,
  ZERO_HASH,
  type ChainStart,
  type DurableLog,
  type NodeId,
  type RunVerdict,
} from '@ylog/core'
import { applyCheckedRun, bytesEqual, type CheckedRun } from '@ylog/core/internal'

/**
 * One line of `GET /api/export` (and of `ylog export`): an entry's signed
 * bytes, which are all an import needs and all a verifier trusts, plus the
 * header fields read from them so that tools like jq can select lines
 * without decoding CBOR.
 */
export interface ExportLine {
  node: string
  seq: number
  at: number
  topic: string
  kind: string
  /** The signed entry (see @ylog/core's entry format), base64. */
  bytes: string
}

/** A line as an import reads it: where the entry claims to belong, and its bytes (verified later). */
export interface SignedLine {
  node: NodeId
  seq: number
  bytes: Uint8Array
}

/** Reads one export line; `where` names it in errors (e.g. "line 12"). */
export function parseExportLine(text: string, where: string): SignedLine {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new YlogError('BAD_JSON', `${where} is not JSON: ${(err as Error).message}`)
  }
  const { node, seq, bytes } = (typeof value === 'object' && value !== null ? value : {}) as Partial<Record<keyof ExportLine, unknown>>
  if (typeof node !== 'string' || !isNodeId(node)) {
    throw new YlogError('BAD_REQUEST', `${where}: "node" must be a node id (64 lowercase hex digits); is this a ylog export?`)
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new YlogError('BAD_REQUEST', `${where}: "seq" must be an integer 0 or more`)
  }
  if (typeof bytes !== 'string' || bytes === '') throw new YlogError('BAD_REQUEST', `${where}: "bytes" must be the signed entry in base64`)
  const buffer = Buffer.from(bytes, 'base64')
  return { node, seq, bytes: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) }
}

/** Entries per verifyRun: one signature check each, memory bounded. */
const RUN = 4096

interface Chain {
  key: Uint8Array
  start: ChainStart
  run: Uint8Array[]
  first: number
  next: number
  /** The first line's own prev and at: where a range of a file read apart links to the range before it. */
  firstPrev: Uint8Array
  firstAt: number
}

/** A node's lines as ChainVerifier saw them: seqs `from` to `to` (exclusive), and how they link to what comes before and after. */
export interface ChainEnds {
  node: NodeId
  from: number
  to: number
  firstPrev: string
  firstAt: number
  lastHash: string
  lastAt: number
}

/**
 * Checks the entries of an export as they come, node by node (lines of
 * different nodes may interleave; each node's must be contiguous and
 * ascending): every hash link, seq, time order and signature, RUN entries
 * per signature check. Where a node's lines start is taken from
 * `startOf` (a node's held head, or the first line's own prev for a file
 * read alone, whose link to what came before the receiver checks).
 */
export class ChainVerifier {
  readonly #chains = new Map<NodeId, Chain>()
  readonly #startOf: (line: SignedLine) => ChainStart

  constructor(startOf: (line: SignedLine) => ChainStart = startOfLine) {
    this.#startOf = startOf
  }

  add(line: SignedLine): void {
    let chain = this.#chains.get(line.node)
    if (chain === undefined) {
      const header = peekEntry(line.bytes)
      chain = {
        key: Buffer.from(line.node, 'hex'),
        start: this.#startOf(line),
        run: [],
        first: line.seq,
        next: line.seq,
        firstPrev: header?.prev ?? ZERO_HASH,
        firstAt: header?.at ?? 0,
      }
      this.#chains.set(line.node, chain)
    }
    if (line.seq !== chain.next) throw brokenChain(line.node, line.seq, `seq ${line.seq} follows seq ${chain.next - 1}; ${WHOLE_CHAINS}`)
    chain.run.push(line.bytes)
    chain.next++
    if (chain.run.length >= RUN) verify(line.node, chain)
  }

  /** Checks what is left of every chain; returns each node's seq range and its ends. */
  finish(): ChainEnds[] {
    for (const [node, chain] of this.#chains) verify(node, chain)
    return [...this.#chains].map(([node, c]) => ({
      node,
      from: c.first,
      to: c.next,
      firstPrev: Buffer.from(c.firstPrev).toString('hex'),
      firstAt: c.firstAt,
      lastHash: Buffer.from(c.start.prev).toString('hex'),
      lastAt: c.start.at,
    }))
  }
}

function verify(node: NodeId, chain: Chain): void {
  chain.start = verifyInRuns(node, chain.key, chain.run, chain.start)
  chain.run = []
}

/**
 * Checks one node's entries, in seq order, from `start`: hash links, seqs,
 * time order, and a signature per RUN entries. Throws at the first problem;
 * returns where the chain stands after them, and adds every entry's hash
 * to `hashes` if given.
 */
export function verifyInRuns(
  node: NodeId,
  key: Uint8Array,
  entries: readonly Uint8Array[],
  start: ChainStart,
  hashes?: Uint8Array[],
): ChainStart {
  let at = start
  for (let i = 0; i < entries.length; i += RUN) {
    const run = entries.length <= RUN ? entries : entries.slice(i, i + RUN)
    const verdict = verifyRun(key, run, at)
    if (!verdict.ok) throw runError(node, verdict)
    hashes?.push(...verdict.hashes)
    const last = run[run.length - 1] as Uint8Array
    at = { seq: at.seq + run.length, prev: verdict.hashes[verdict.hashes.length - 1] as Uint8Array, at: peekEntry(last)?.at ?? 0 }
  }
  return at
}

/** Why a gap in a node's lines is refused: what the export it came from left out. */
export const WHOLE_CHAINS = 'an import takes whole chains (an export without --topic, --kind or time filters)'

/** A line read alone: trust its own prev and at, and check everything after it. */
function startOfLine(line: SignedLine): ChainStart {
  const header = peekEntry(line.bytes)
  return { seq: line.seq, prev: header?.prev ?? ZERO_HASH, at: 0 }
}

export function runError(node: NodeId, verdict: Extract<RunVerdict, { ok: false }>): YlogError {
  const code = verdict.reason === 'bad-signature' ? 'BAD_SIGNATURE' : verdict.reason === 'bad-entry' ? 'MALFORMED_ENTRY' : 'BROKEN_CHAIN'
  return new YlogError(code, `node ${node} seq ${verdict.seq}: ${verdict.reason}: ${verdict.detail}`)
}

export function brokenChain(node: NodeId, seq: number, detail: string): YlogError {
  return new YlogError('BROKEN_CHAIN', `node ${node} seq ${seq}: ${detail}`)
}

export interface ImportResult {
  /** Entries new to the log, now committed. */
  imported: number
  /** Entries the log held already, byte for byte. */
  present: number
  nodes: Array<{ node: NodeId; from: number; to: number; imported: number }>
}

/**
 * Adds runs checked by checkSignedLines (or checkImportBody) to a log.
 * Every run is placed before any is applied, so a body is taken whole or
 * not at all: held entries must be the same bytes, new ones must continue
 * the node's held head, the node must be a member, and `own` (a running
 * node's id) refuses entries of its chain it does not hold, since its signer
 * would write those seqs again. Entries held already are skipped, so
 * importing twice changes nothing. Then each run goes in through
 * applyCheckedRun, without the guard, whose checks were made already.
 */
export async function importCheckedRuns(durable: DurableLog, runs: readonly CheckedRun[], own?: NodeId): Promise<ImportResult> {
  const plans: CheckedRun[] = []
  let present = 0
  for (const run of runs) {
    const { node } = run
    if (!durable.membership.isMember(node)) {
      throw new YlogError('NOT_MEMBER', `node ${node} is not a member of this log; its entries cannot be imported here`)
    }
    const held = durable.committedLength(node)
    let skip = 0
    for (; skip < run.entries.length && run.fromSeq + skip < held; skip++) {
      sameAsHeld(durable, node, run.fromSeq + skip, run.entries[skip] as Uint8Array)
    }
    present += skip
    if (skip === run.entries.length) continue
    const from = run.fromSeq + skip
    if (from !== held) {
      const holds = held === 0 ? 'none' : `0-${held - 1}`
      throw brokenChain(node, from, `this node holds seqs ${holds} of it; the import continues at ${from}: the seqs between are missing`)
    }
    if (node === own) {
      const advice = 'stop it and import into its data directory (ylog import --data), or its next appends would fork'
      throw new YlogError('OWN_ENTRIES', `node ${node} is this node, which holds its seqs below ${held} only: ${advice}`)
    }
    const first = run.entries[skip] as Uint8Array
    const head = headAt(durable, node, from)
    const header = peekEntry(first)
    if (header === undefined || !bytesEqual(header.prev, head.prev) || header.at < head.at) {
      throw brokenChain(node, from, 'its prev is not the hash of the entry held before it, or its time is earlier')
    }
    plans.push({ node, fromSeq: from, entries: run.entries.slice(skip), hashes: run.hashes.slice(skip) })
  }
  for (const plan of plans) await applyCheckedRun(durable, plan)
  const nodes = plans.map((p) => ({ node: p.node, from: p.fromSeq, to: p.fromSeq + p.entries.length, imported: p.entries.length }))
  return { imported: nodes.reduce((n, p) => n + p.imported, 0), present, nodes }
}

/** The chain start of a node's new entries: its held head. */
function headAt(durable: DurableLog, node: NodeId, seq: number): ChainStart {
  const before = seq === 0 ? undefined : durable.getBytes(node, seq - 1)
  return { seq, prev: before === undefined ? ZERO_HASH : sha256(before), at: before === undefined ? 0 : (peekEntry(before)?.at ?? 0) }
}

function sameAsHeld(durable: DurableLog, node: NodeId, seq: number, bytes: Uint8Array): void {
  const held = durable.getBytes(node, seq) as Uint8Array
  if (bytesEqual(held, bytes)) return
  if (peekEntry(bytes)?.seq === seq && signatureValid(Buffer.from(node, 'hex'), bytes)) {
    const what = 'the import holds a validly signed entry other than the one held here: the node forked'
    throw new YlogError('FORKED', `node ${node} seq ${seq}: ${what}`)
  }
  const what = 'the import holds other bytes than the entry held here, not signed by the node'
  throw new YlogError('BAD_SIGNATURE', `node ${node} seq ${seq}: ${what}`)
}
