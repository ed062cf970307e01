import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DurableLog, NodeIdentity, openMembership } from '@ylog/core'
import { loadConfig } from '@ylog/node/config'
import { acquireLock, openSqliteStore } from '@ylog/node/node'
import { importEntries, parseExportLine, type ImportResult, type SignedLine } from '@ylog/node/transfer'
import type { GlobalOptions } from './context.js'
import { request } from './http.js'
import { batchesOf, joinLines, lineChunksOf, readableTwice } from './ndjson.js'
import type { Progress } from './progress.js'
import { verifyFile } from './verify-pass.js'

export interface ImportSummary {
  /** Lines (entries) in the file. */
  entries: number
  imported: number
  present: number
  nodes: Array<{ node: string; from: number; to: number }>
  target: string
}

interface ImportOptions {
  globals: GlobalOptions
  /** A stopped node's data directory; else the node at globals.url. */
  data?: string
  batch: number
  progress: Progress
}

/** Entries per commit into a data directory: one update and one transaction each. */
const OFFLINE_BATCH = 16_384

/**
 * Verifies every line of the file (a first pass that writes nothing), then
 * imports it: into a running node through POST /api/import, which checks
 * everything again against what it holds, or into a stopped node's data
 * directory through the same importEntries, under the directory's lock.
 */
export async function importFile(file: string, options: ImportOptions): Promise<ImportSummary> {
  const source = await readableTwice(file)
  try {
    const verified = await verifyFile(source.path, file, (n) => options.progress.add(n))
    const entries = verified.entries
    const nodes = verified.nodes.map(({ node, from, to }) => ({ node, from, to }))
    options.progress.end()
    options.progress.phase('importing', entries)
    const totals = options.data === undefined ? await toNode(source.path, options) : await toDataDir(source.path, file, options)
    options.progress.end()
    return { entries, imported: totals.imported, present: totals.present, nodes, target: options.data ?? options.globals.url }
  } finally {
    source.done()
  }
}

type Totals = Pick<ImportResult, 'imported' | 'present'>

/** Requests in flight at once: the node checks the next part on a worker thread while it applies this one. */
const IN_FLIGHT = 3

async function toNode(path: string, { globals, batch, progress }: ImportOptions): Promise<Totals> {
  const totals = { imported: 0, present: 0 }
  const send = async (body: Buffer, count: number): Promise<void> => {
    const res = await request(globals, 'POST', '/api/import', { body, type: 'application/x-ndjson' })
    const result = (await res.json()) as ImportResult
    totals.imported += result.imported
    totals.present += result.present
    progress.add(count)
  }
  // Parts go in file order; the node applies each after the one it continues (it waits for it), so two in flight
  // keep its checking thread and its log busy at once. The next part is read while those are sent.
  const sending: Array<Promise<void>> = []
  let failed: unknown
  try {
    for await (const lines of batchesOf(lineChunksOf(path), batch)) {
      // The lines go as they are: the node parses and checks them itself.
      const body = joinLines(lines)
      if (sending.length >= IN_FLIGHT) await sending.shift()
      if (failed !== undefined) break
      const part = send(body, lines.length)
      // Awaited in turn; a failure stops what comes after it and is thrown below.
      part.catch((err: unknown) => (failed ??= err))
      sending.push(part)
    }
  } finally {
    await Promise.allSettled(sending)
  }
  if (failed !== undefined) throw failed
  return totals
}

async function toDataDir(path: string, file: string, { data = '', progress }: ImportOptions): Promise<Totals> {
  const config = loadConfig(['--data', data], {})
  mkdirSync(resolve(config.data), { recursive: true, mode: 0o700 })
  const release = acquireLock(join(config.data, 'ylog.lock'))
  try {
    const keyFile = join(config.data, 'node.key')
    // Without a key the directory is a replica's; with one, the node's own chain is restored too.
    const identity = existsSync(keyFile) ? NodeIdentity.load(keyFile) : undefined
    const store = await openSqliteStore(join(config.data, 'ylog.db'), config.durability)
    const durable = await DurableLog.open({ identity, store, membership: openMembership }).catch(async (err: unknown) => {
      await store.close().catch(() => undefined)
      throw err
    })
    const totals = { imported: 0, present: 0 }
    try {
      for await (const lines of batchesOf(lineChunksOf(path), OFFLINE_BATCH)) {
        const signed: SignedLine[] = lines.map((l) => parseExportLine(l.bytes.toString(), `${file} line ${l.number}`))
        const result = await importEntries(durable, signed)
        totals.imported += result.imported
        totals.present += result.present
        progress.add(lines.length)
      }
    } finally {
      await durable.close()
    }
    return totals
  } finally {
    release()
  }
}
