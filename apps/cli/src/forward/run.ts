import { createServer, type Server } from 'node:http'
import { YlogClient, YlogClientError, type EntryInput } from '@ylog/client'
import { YlogError } from '@ylog/core/errors'
import { checkpointPath } from './checkpoint.js'
import { deadLetter } from './dead-letter.js'
import { forwardSource, type ForwardOptions, type ForwardResult, type IngestSink, type LineSource } from './forwarder.js'
import type { SkippedRange, SourceProgress } from './forwarder.js'
import { withRetry, type RetryPolicy } from './retry.js'

export interface RunOptions extends Pick<ForwardOptions, 'batchCount' | 'batchBytes' | 'lingerMs' | 'follow' | 'fromEnd' | 'toEvent'> {
  url: string
  token?: string
  timeoutMs: number
  retry: RetryPolicy
  checkpointDir: string
  deadLetterFile?: string
  /** The topic of the gap entries that record skipped lines (default ylog.forward). */
  gapTopic?: string
  metricsPort?: number
  signal: AbortSignal
  onNotice(text: string): void
  onProgress(all: SourceProgress[]): void
}

/**
 * The node's batch route: a replayed Idempotency-Key means the node had committed the whole batch already.
 * Gaps go to POST /api/gaps (the client library has no call for it yet), retried like batches.
 */
export function clientSink(client: YlogClient, o: { token?: string; timeoutMs: number; retry: RetryPolicy }): IngestSink {
  return {
    async send(events: EntryInput[], key: string) {
      const { entries, replayed } = await client.appendBatchOnce(events, key)
      return replayed ? { accepted: 0, duplicates: entries.length } : { accepted: entries.length, duplicates: 0 }
    },
    gap: (gap, key) => {
      const token = o.token ?? nonEmpty(process.env.YLOG_TOKEN)
      return withRetry(
        () => postGap(client.url, token, gap, key, o.timeoutMs),
        o.retry,
        () => undefined,
      )
    },
  }
}

async function postGap(url: string, token: string | undefined, gap: SkippedRange, key: string, timeoutMs: number): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': key }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(`${url}/api/gaps`, { method: 'POST', headers, body: JSON.stringify(gap), signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError'
    throw new YlogClientError(timedOut ? 'TIMEOUT' : 'NETWORK', `POST /api/gaps: ${(err as Error).message}`)
  }
  if (res.status === 201) return void (await res.arrayBuffer())
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined
  const code = body?.error?.code
  const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN)
  throw new YlogClientError(YlogError.isCode(code) ? code : 'BAD_RESPONSE', `POST /api/gaps: ${body?.error?.message ?? res.statusText}`, {
    status: res.status,
    ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}),
  })
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text
}

/**
 * Every source at once, each in its own order; the first stop (a refusal) ends the run with its error after the
 * others finish their batch.
 */
export async function runForward(
  sources: LineSource[],
  o: RunOptions,
  addSources?: (add: (s: LineSource) => void) => void,
): Promise<ForwardResult[]> {
  const client = new YlogClient({ url: o.url, token: o.token, timeoutMs: o.timeoutMs })
  const sink = clientSink(client, o)
  const progress = new Map<string, SourceProgress>()
  const metrics = o.metricsPort === undefined ? undefined : await serveMetrics(o.metricsPort, progress)
  const stop = new AbortController()
  o.signal.addEventListener('abort', () => stop.abort(), { once: true })
  const runs: Array<Promise<ForwardResult>> = []
  const start = (source: LineSource): void => {
    const run = forwardSource(source, {
      ...o,
      target: client.url,
      sink,
      checkpointPath: source.name.startsWith('stdin-') ? undefined : checkpointPath(o.checkpointDir, source.name, client.url),
      deadLetter: o.deadLetterFile === undefined ? undefined : deadLetter(o.deadLetterFile, sink, client.url, o.gapTopic),
      signal: stop.signal,
      onNotice: o.onNotice,
      onBatch: (p) => {
        progress.set(p.source, p)
        o.onProgress([...progress.values()])
      },
    })
    // A refusal stops every source (each finishes its batch in flight first), so the run ends with that error.
    run.catch(() => stop.abort())
    runs.push(run)
  }
  sources.forEach(start)
  addSources?.(start)
  try {
    const settled = await settleAll(runs)
    const failed = settled.find((s) => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    return settled.map((s) => (s as PromiseFulfilledResult<ForwardResult>).value)
  } finally {
    metrics?.close()
  }
}

/** Waits for runs that may be added while waiting (a directory's new files). */
async function settleAll(runs: Array<Promise<ForwardResult>>): Promise<Array<PromiseSettledResult<ForwardResult>>> {
  for (let n = -1; n !== runs.length; ) {
    n = runs.length
    await Promise.allSettled(runs)
  }
  return Promise.allSettled(runs)
}

/** `--metrics-port`: the counters in the Prometheus text format, per source. */
async function serveMetrics(port: number, progress: Map<string, SourceProgress>): Promise<Server> {
  const server = createServer((_req, res) => {
    const lines: string[] = []
    const metric = (name: string, help: string, type: 'counter' | 'gauge', pick: (p: SourceProgress) => number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const p of progress.values()) lines.push(`${name}{source=${JSON.stringify(p.source)}} ${pick(p)}`)
    }
    metric('ylog_forward_forwarded_total', 'events the node committed', 'counter', (p) => p.forwarded)
    const duplicates = 'events the node already held (a batch sent again after a crash or timeout)'
    metric('ylog_forward_duplicates_total', duplicates, 'counter', (p) => p.duplicates)
    metric('ylog_forward_retries_total', 'batch attempts retried after a transient failure', 'counter', (p) => p.retries)
    metric('ylog_forward_skipped_total', 'lines written to the dead-letter file', 'counter', (p) => p.skipped)
    metric('ylog_forward_lag_bytes', 'bytes of the source not acknowledged yet', 'gauge', (p) => p.lagBytes)
    metric('ylog_forward_lag_lines', 'lines read and not acknowledged yet', 'gauge', (p) => p.lagLines)
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  server.unref()
  return server
}
