import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { ENTRY_KINDS, isNodeId, peekEntry, peekTopicKind, validateTopic, YlogError, type DurableLog, type NodeId } from '@ylog/core'
import { Serial, type CheckedRun } from '@ylog/core/internal'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { quote } from './http-errors.js'
import { parseInteger } from './routes-events.js'
import { importCheckedRuns } from './import-entries.js'
import { ImportChecker } from './import-checker.js'

export { ChainVerifier, parseExportLine, type ChainEnds, type ExportLine, type ImportResult, type SignedLine } from './import-entries.js'
export { importEntries } from './import-check.js'

/** How long an import waits for the entries before its own to arrive (the part sent before it, still being applied). */
const CHAIN_WAIT_MS = 10_000

export const NDJSON = 'application/x-ndjson'
/** An import request's body: about 90,000 entries of the usual size; `ylog import` sends far less per request. */
export const IMPORT_BODY_LIMIT = 64 * 1024 * 1024
/** Characters of NDJSON per chunk of an export: large enough to amortize the stream, small enough not to hold the event loop. */
const CHUNK_CHARS = 256 * 1024

const NODE_ID = '^[0-9a-f]{64}$'
const WHOLE = '^[0-9]{1,16}$'

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorBody } } })

const exportQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1, maxLength: 256, description: 'only entries of this topic' },
    kind: { type: 'string', enum: ENTRY_KINDS, description: 'only entries of this kind' },
    node: { type: 'string', pattern: NODE_ID, description: "only this node's entries" },
    fromSeq: { type: 'string', pattern: WHOLE, description: 'only seqs at or above this (per node)' },
    toSeq: { type: 'string', pattern: WHOLE, description: 'only seqs at or below this (per node)' },
    since: { type: 'string', pattern: WHOLE, description: 'only entries with at >= since (ms since the epoch)' },
    until: { type: 'string', pattern: WHOLE, description: 'only entries with at < until (ms since the epoch)' },
  },
} as const

const exportLine = {
  type: 'object',
  required: ['node', 'seq', 'at', 'topic', 'kind', 'bytes'],
  properties: {
    node: { type: 'string', pattern: NODE_ID },
    seq: { type: 'integer', minimum: 0 },
    at: { type: 'integer', minimum: 0 },
    topic: { type: 'string' },
    kind: { type: 'string', enum: ENTRY_KINDS },
    bytes: { type: 'string', contentEncoding: 'base64', description: 'the signed entry (canonical CBOR); its hash is their SHA-256' },
  },
} as const

const importResult = {
  type: 'object',
  required: ['imported', 'present', 'nodes'],
  properties: {
    imported: { type: 'integer', description: 'entries new to this node, now committed' },
    present: { type: 'integer', description: 'entries it held already, byte for byte' },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['node', 'from', 'to', 'imported'],
        properties: { node: { type: 'string' }, from: { type: 'integer' }, to: { type: 'integer' }, imported: { type: 'integer' } },
      },
    },
  },
} as const

type ExportQuery = Partial<Record<'topic' | 'kind' | 'node' | 'fromSeq' | 'toSeq' | 'since' | 'until', string>>

interface ExportFilter {
  topic?: string
  kind?: string
  node?: NodeId
  fromSeq: number
  toSeq: number
  since: number
  until: number
}

export interface TransferRoutesOptions {
  durable: DurableLog
  /** This node's id: a running node never takes entries of its own chain it does not hold. */
  self: NodeId
  requireRead: Guard
  requireWrite: Guard
}

/** GET /api/export and POST /api/import: the signed entries as they are, out and in (`ylog export`, `ylog import`). */
export function transferRoutes(app: FastifyInstance, options: TransferRoutesOptions): void {
  // Its own scope: the NDJSON body parser and the larger body limit are for the import route alone.
  void app.register(async (scope) => {
    scope.addContentTypeParser(NDJSON, { parseAs: 'buffer', bodyLimit: IMPORT_BODY_LIMIT }, (_request, body, done) => done(null, body))
    routes(scope, options)
  })
}

function routes(app: FastifyInstance, { durable, self, requireRead, requireWrite }: TransferRoutesOptions): void {
  // Bodies are checked on a worker thread, several at once; they are placed one at a time: two at once could both
  // find a chain's same head and continue it, and one be refused.
  const checker = new ImportChecker()
  app.addHook('onClose', () => checker.close())
  const imports = new Serial()
  const inFlight = new ImportsInFlight(durable)
  app.get<{ Querystring: ExportQuery }>(
    '/api/export',
    {
      schema: {
        operationId: 'exportEntries',
        summary: 'Committed entries as NDJSON, each with its signed bytes, in (node, seq) order',
        description:
          "One line per entry (the schema of a line is given). Each node's committed length is taken when the request arrives: " +
          'entries committed later are not in this export. Without filters, every chain is whole, ' +
          'and the file imports anywhere (POST /api/import).',
        querystring: exportQuery,
        response: {
          200: { description: 'NDJSON, one entry per line', content: { [NDJSON]: { schema: exportLine } } },
          400: errorResponse('a parameter is malformed (BAD_REQUEST, BAD_ARGUMENT, BAD_TOPIC)'),
          401: errorResponse('a read token is configured and was not presented (UNAUTHORIZED)'),
        },
        security: [{ bearer: [] }, {}],
      },
      onRequest: requireRead,
    },
    async (request, reply) => {
      const filter = exportFilter(request.query)
      return reply
        .type(NDJSON)
        .header('cache-control', 'no-store')
        .send(Readable.from(exportChunks(durable, filter)))
    },
  )

  app.post<{ Body: Buffer }>(
    '/api/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        operationId: 'importEntries',
        summary: 'Import exported entries (NDJSON lines of GET /api/export) as synced entries: all verified, then all committed, or none',
        description:
          "Every entry is checked before anything is written: its signature, its link to the node's previous entry, its seq, " +
          "the node's membership. Entries held already (byte for byte) are skipped, so an import can be repeated. " +
          "Each node's entries must continue what this node holds. The parts of one import may be sent side by side: a part " +
          'that continues entries another import under way is bringing waits for them (up to 10 s).',
        body: { type: 'string', description: `NDJSON export lines, at most ${IMPORT_BODY_LIMIT / 1024 / 1024} MiB` },
        response: {
          200: { description: 'what was imported and what was held already', content: { 'application/json': { schema: importResult } } },
          400: errorResponse(
            'a malformed line or an entry that does not verify (BAD_JSON, BAD_REQUEST, MALFORMED_ENTRY, ' + 'BAD_SIGNATURE, BROKEN_CHAIN)',
          ),
          401: errorResponse('the write token was not presented (UNAUTHORIZED)'),
          403: errorResponse('entries of a node that is not a member (NOT_MEMBER)'),
          409: errorResponse("entries that fork a held chain (FORKED), or of this node's own chain that it does not hold (OWN_ENTRIES)"),
          413: errorResponse('the body is too large (BODY_TOO_LARGE)'),
          415: errorResponse(`the body is not ${NDJSON} (UNSUPPORTED_MEDIA_TYPE)`),
          503: errorResponse('the log cannot take writes now (CLOSED, STORE_FAILED)'),
        },
        security: [{ bearer: [] }, {}],
      },
      // The body is NDJSON text, not a JSON value: validated line by line below.
      validatorCompiler: () => () => true,
      // Counted from the moment it arrives, before its body is read: a part still being uploaded is an import under way.
      onRequest: [async (_request, reply) => inFlight.enter(reply.raw), requireWrite],
    },
    async (request) => {
      if (!(request.body instanceof Uint8Array)) {
        throw new YlogError(
          'UNSUPPORTED_MEDIA_TYPE',
          `send the NDJSON lines of an export as ${NDJSON}, not ${request.headers['content-type']}`,
        )
      }
      const runs = await checker.check(request.body)
      // A client may send the next part of an import before this one's answer: while other imports are under way,
      // this one waits until what it continues is in.
      await inFlight.until(runs, CHAIN_WAIT_MS)
      return imports.run(() => importCheckedRuns(durable, runs, self))
    },
  )
}

/**
 * The imports under way, for the parts of one import sent side by side:
 * `until` waits while a run starts past what its node holds and another
 * import, which may bring those seqs, is still under way and not waiting
 * itself.
 */
class ImportsInFlight {
  readonly #durable: DurableLog
  #count = 0
  readonly #waiting = new Set<() => void>()

  constructor(durable: DurableLog) {
    this.#durable = durable
    durable.onCommit(() => this.#wake())
  }

  /** Counts an import request until its response is closed (answered, or the connection gone). */
  enter(response: ServerResponse): void {
    this.#count++
    response.once('close', () => {
      this.#count--
      this.#wake()
    })
  }

  /**
   * Resolves when every run's node holds the seqs before it, when every import under way is waiting too (none of
   * them can bring what the others wait for: the part before them was refused, or never sent), or after `timeoutMs`.
   */
  async until(runs: readonly CheckedRun[], timeoutMs: number): Promise<void> {
    const short = (): boolean => runs.some((run) => this.#durable.committedLength(run.node) < run.fromSeq)
    const waits = (): boolean => short() && this.#count > this.#waiting.size
    if (!short() || this.#count <= this.#waiting.size + 1) return
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (waits()) return
        clearTimeout(timer)
        this.#waiting.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#waiting.delete(check)
        resolve()
      }, timeoutMs)
      this.#waiting.add(check)
      // Every other import may now be waiting too.
      this.#wake()
    })
  }

  #wake(): void {
    for (const check of [...this.#waiting]) check()
  }
}

function exportFilter(q: ExportQuery): ExportFilter {
  // The schema's patterns document these; the checks here word the errors (and hold whatever validates the schema).
  if (q.topic !== undefined) validateTopic(q.topic)
  if (q.node !== undefined && !isNodeId(q.node)) {
    throw new YlogError('BAD_ARGUMENT', `node ${quote(q.node)} is not a node id: use 64 lowercase hex digits`)
  }
  const whole = (name: string, text: string | undefined, fallback: number): number =>
    text === undefined ? fallback : parseInteger(name, text, 0, Number.MAX_SAFE_INTEGER, 'an integer 0 or more')
  return {
    topic: q.topic,
    kind: q.kind,
    node: q.node,
    fromSeq: whole('fromSeq', q.fromSeq, 0),
    toSeq: whole('toSeq', q.toSeq, Number.MAX_SAFE_INTEGER),
    since: whole('since', q.since, 0),
    until: whole('until', q.until, Number.MAX_SAFE_INTEGER),
  }
}

/** The export's lines in chunks, reading only the committed prefix of each node as it stood at the start. */
function* exportChunks(durable: DurableLog, filter: ExportFilter): Generator<string> {
  const nodes = filter.node === undefined ? durable.nodes() : [filter.node]
  const ends = nodes.map((node) => Math.min(durable.committedLength(node), filter.toSeq + 1))
  const timed = filter.since > 0 || filter.until < Number.MAX_SAFE_INTEGER
  let chunk = ''
  for (let n = 0; n < nodes.length; n++) {
    const node = nodes[n] as NodeId
    for (let seq = filter.fromSeq; seq < (ends[n] as number); seq++) {
      const bytes = durable.getBytes(node, seq)
      if (bytes === undefined) break
      const at = peekEntry(bytes)?.at ?? 0
      if (timed && (at < filter.since || at >= filter.until)) continue
      const tk = peekTopicKind(bytes)
      if ((filter.topic !== undefined && tk?.topic !== filter.topic) || (filter.kind !== undefined && tk?.kind !== filter.kind)) continue
      const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
      const topic = JSON.stringify(tk?.topic ?? '')
      chunk += `{"node":"${node}","seq":${seq},"at":${at},"topic":${topic},"kind":"${tk?.kind ?? ''}","bytes":"${base64}"}\n`
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk
        chunk = ''
      }
    }
  }
  if (chunk !== '') yield chunk
}
