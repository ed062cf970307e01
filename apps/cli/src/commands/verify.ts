import type { Command } from '@commander-js/extra-typings'
import type { Entry, YlogClient } from '@ylog/client'
import { fromHex, peekEntry, sha256, toHex, verifyRun, ZERO_HASH } from '@ylog/core'
import { checkDataDir } from '@ylog/node/check'
import { loadConfig } from '@ylog/node/config'
import { encode, rfc8949EncodeOptions } from 'cborg'
import { contextOf, type GlobalOptions } from '../context.js'
import { EXIT } from '../output.js'
import { Progress } from '../progress.js'

/** Entries per verifyRun call: one signature check per run, memory bounded. */
const RUN = 4096

export interface NodeVerdict {
  node: string
  entries: number
  /** The first entry that cannot be trusted, and why; absent when the whole chain holds. */
  break?: { seq: number; reason: string; detail: string }
}

export function verifyCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('verify')
    .description("check every signature, chain link and checksum: a stopped node's data directory (--data), or a running node (--url)")
    .option('--data <dir>', 'a data directory (the node must not be running): SQLite integrity, checksums, every chain and signature')
    .addHelpText(
      'after',
      '\nExit 0: intact. 1: damage found (each problem, or the first break per node, is printed). 2: usage error. 3: node unreachable.',
    )
    .action(async (options, command) => {
      const globals = command.optsWithGlobals()
      const { out, client } = contextOf(globals)
      if (options.data !== undefined) {
        const report = await checkDataDir(loadConfig(['--data', options.data], {}))
        out.result(report, (r: typeof report) =>
          r.ok
            ? `ok: ${r.entries} entries of ${r.nodes} nodes intact (${r.seconds} s)`
            : r.problems.map((p) => out.red(`damage: ${p}`)).join('\n'),
        )
        process.exitCode = report.ok ? EXIT.OK : EXIT.FAILED
        return
      }
      const total = (await client.heads()).heads.reduce((n, h) => n + h.length, 0)
      const progress = new Progress({ json: out.json, command: 'verify', phase: 'verifying', total })
      const verdicts = await verifyNode(client, () => progress.add(1))
      progress.end()
      for (const v of verdicts) {
        out.result(v, (x: NodeVerdict) =>
          x.break === undefined
            ? `${x.node} 0..${x.entries - 1} ok`
            : out.red(`${x.node} break at ${x.break.seq}: ${x.break.reason}: ${x.break.detail}`),
        )
      }
      process.exitCode = verdicts.every((v) => v.break === undefined) ? EXIT.OK : EXIT.FAILED
    })
}

/** Reads every entry the node serves, in (node, seq) order, and checks each node's chain from seq 0. */
export async function verifyNode(client: YlogClient, onEntry: () => void = () => undefined): Promise<NodeVerdict[]> {
  const verdicts: NodeVerdict[] = []
  let current: ChainCheck | undefined
  for await (const entry of client.readAll()) {
    if (current?.node !== entry.node) {
      if (current !== undefined) verdicts.push(current.finish())
      current = new ChainCheck(entry.node)
    }
    current.add(entry)
    onEntry()
  }
  if (current !== undefined) verdicts.push(current.finish())
  return verdicts
}

/** One node's chain, checked run by run as its entries arrive. */
class ChainCheck {
  readonly node: string
  readonly #key: Uint8Array
  #start = { seq: 0, prev: ZERO_HASH, at: 0 }
  #run: Uint8Array[] = []
  #entries = 0
  #break: NodeVerdict['break']

  constructor(node: string) {
    this.node = node
    this.#key = hexBytes(node)
  }

  add(entry: Entry): void {
    this.#entries++
    if (this.#break !== undefined) return
    const bytes = entryBytes(entry)
    if (entry.seq !== this.#start.seq + this.#run.length) {
      this.#break = {
        seq: this.#start.seq + this.#run.length,
        reason: 'missing',
        detail: `the node serves seq ${entry.seq} next; the seqs between are missing`,
      }
      return
    }
    if (toHex(sha256(bytes)) !== entry.hash) {
      this.#break = { seq: entry.seq, reason: 'bad-hash', detail: 'the entry does not hash to the hash it was served with' }
      return
    }
    this.#run.push(bytes)
    if (this.#run.length >= RUN) this.#check()
  }

  finish(): NodeVerdict {
    if (this.#break === undefined) this.#check()
    return { node: this.node, entries: this.#entries, ...(this.#break === undefined ? {} : { break: this.#break }) }
  }

  #check(): void {
    if (this.#run.length === 0) return
    const verdict = verifyRun(this.#key, this.#run, this.#start)
    if (!verdict.ok) {
      this.#break = { seq: verdict.seq, reason: verdict.reason, detail: verdict.detail }
      return
    }
    // peekEntry reads `at` at its fixed offset; decoding the whole entry would cost far more.
    const at = peekEntry(this.#run.at(-1) as Uint8Array)?.at ?? 0
    this.#start = { seq: this.#start.seq + this.#run.length, prev: verdict.hashes.at(-1) as Uint8Array, at }
    this.#run = []
  }
}

/** The canonical bytes of an entry as the API serves it (see @ylog/core's entry format): what its hash and signature cover. */
export function entryBytes(e: Entry): Uint8Array {
  const fields = [hexBytes(e.node), hexBytes(e.prev), e.seq, e.at, e.topic, e.kind, e.data]
  const array = e.time === undefined ? [1, ...fields, hexBytes(e.sig)] : [2, ...fields, e.time, hexBytes(e.sig)]
  return encode(array, rfc8949EncodeOptions)
}

/** Hex from the API as bytes; text that is not hex becomes empty bytes, which then fail the hash or signature check. */
function hexBytes(hex: string): Uint8Array {
  return fromHex(hex) ?? new Uint8Array(0)
}
