import { isNodeId, peekEntry, toHex, YlogError, ZERO_HASH, type DurableLog, type NodeId } from '@ylog/core'
import { checkEntry, type CheckedRun } from '@ylog/core/internal'
import {
  brokenChain,
  importCheckedRuns,
  parseExportLine,
  verifyInRuns,
  WHOLE_CHAINS,
  type ImportResult,
  type SignedLine,
} from './import-entries.js'

/**
 * The checks the guard makes of a synced update, made of an import body
 * (NDJSON export lines) before it reaches the log, so that they can run on
 * another thread: every line parsed, every entry well formed (checkEntry)
 * and where its line says it is, each node's lines contiguous and
 * ascending, each node's run verified (hash links, seqs, time order, a
 * signature per RUN entries) from its first entry's own prev, which
 * applyCheckedRun then requires to be the hash of the node's held head.
 * Throws a YlogError naming the line or the seq at the first problem.
 */
export function checkImportBody(body: Uint8Array): CheckedRun[] {
  const lines: SignedLine[] = []
  const wheres: string[] = []
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  let number = 0
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start)
    const line = text.slice(start, end === -1 ? text.length : end)
    start = end === -1 ? text.length : end + 1
    number++
    if (line.trim() === '') continue
    const where = `line ${number}`
    lines.push(parseExportLine(line, where))
    wheres.push(where)
  }
  if (lines.length === 0) throw new YlogError('BAD_REQUEST', 'the body holds no lines; send the NDJSON lines of an export')
  return checkSignedLines(lines, (i) => wheres[i] as string)
}

/** checkImportBody for lines parsed already; `where(i)` names line i in errors. */
export function checkSignedLines(lines: readonly SignedLine[], where: (i: number) => string = (i) => `entry ${i + 1}`): CheckedRun[] {
  const byNode = new Map<NodeId, SignedLine[]>()
  lines.forEach((signed, i) => {
    checkPlace(signed, where(i))
    const list = byNode.get(signed.node)
    if (list === undefined) return void byNode.set(signed.node, [signed])
    const before = list[list.length - 1] as SignedLine
    if (signed.seq !== before.seq + 1)
      throw brokenChain(signed.node, signed.seq, `(${where(i)}) follows seq ${before.seq}; ${WHOLE_CHAINS}`)
    list.push(signed)
  })
  return [...byNode].map(([node, list]) => checkRun(node, list))
}

/**
 * Imports signed entries into a log as synced entries on this thread
 * (checkSignedLines, then importCheckedRuns): what `ylog import --data`
 * does with a stopped node's directory.
 */
export function importEntries(durable: DurableLog, lines: readonly SignedLine[], own?: NodeId): Promise<ImportResult> {
  return importCheckedRuns(durable, checkSignedLines(lines), own)
}

/** The entry must be well formed, and be the entry of the node and seq its line names. */
function checkPlace(line: SignedLine, where: string): void {
  let entry: ReturnType<typeof checkEntry>
  try {
    entry = checkEntry(line.bytes)
  } catch (err) {
    throw new YlogError('MALFORMED_ENTRY', `${where}: node ${line.node} seq ${line.seq}: ${(err as Error).message}`)
  }
  if (toHex(entry.node) !== line.node || entry.seq !== line.seq) {
    throw new YlogError(
      'MALFORMED_ENTRY',
      `${where}: the entry is node ${toHex(entry.node)} seq ${entry.seq}, not the line's ${line.node} seq ${line.seq}`,
    )
  }
}

function checkRun(node: NodeId, list: SignedLine[]): CheckedRun {
  if (!isNodeId(node)) throw new YlogError('BAD_REQUEST', `${JSON.stringify(node)} is not a node id`)
  const entries = list.map((l) => l.bytes)
  const hashes: Uint8Array[] = []
  const first = list[0] as SignedLine
  // From the first entry's own prev: applyCheckedRun requires it to be the hash of the node's held head.
  verifyInRuns(node, Buffer.from(node, 'hex'), entries, { seq: first.seq, prev: peekEntry(first.bytes)?.prev ?? ZERO_HASH, at: 0 }, hashes)
  return { node, fromSeq: first.seq, entries, hashes }
}
