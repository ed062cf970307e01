import { existsSync, statSync } from 'node:fs'
import type { EntryKind } from '@ylog/client'
import { Dedupe } from './dedupe.js'
import type { TailItem } from './lines.js'
import { NodeSource } from './node-source.js'

export interface SourceSpec {
  label: string
  url: string
}

export interface TailOptions {
  sources: readonly SourceSpec[]
  last: number
  follow: boolean
  topic?: string
  kind?: EntryKind
  /** Entries each node holds for this reader while it reads slowly (the node's default when absent). */
  buffer?: number
  /** Print an entry (node, seq) once, under the first source that delivered it (default true). */
  dedupe?: boolean
  token?: string
  retryDelayMs?: number
  signal: AbortSignal
  /** Every line for stdout, in the order it is to be printed. */
  onItem(item: TailItem): void
  /** `+ source` / `- source`: a source answers, or stopped answering and is being retried. */
  onPresence(source: string, up: boolean, detail: string): void
}

/**
 * `label=URL` or `URL` (labelled host:port); anything else is refused by name. A data directory is refused
 * with what to do instead: reading the store of a running node from outside would decode its Yjs updates
 * from SQLite beside the node's own writer and compactions, which nothing checks yet; the node's URL serves
 * the same entries, resumable and deduplicated.
 */
export function parseSource(text: string): SourceSpec {
  if (!text.includes('://') && existsSync(text) && statSync(text).isDirectory()) {
    throw new Error(
      `source ${JSON.stringify(text)} is a directory: ylog tail reads nodes over HTTP. Tail the URL of the node that runs on ` +
        `it (its log says "ready" with the url), or start one: ylog serve --data ${text}`,
    )
  }
  const eq = text.indexOf('=')
  const scheme = text.indexOf('://')
  const [label, url] = eq > 0 && (scheme < 0 || eq < scheme) ? [text.slice(0, eq), text.slice(eq + 1)] : [undefined, text]
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`source ${JSON.stringify(text)} is not a node URL: use http://host:port or label=http://host:port`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`source ${JSON.stringify(text)}: only http and https node URLs`)
  }
  return { label: label ?? parsed.host, url: url.replace(/\/+$/, '') }
}

/**
 * Follows several sources at once. Resolves when every source is done
 * (without follow: after its last N; with follow: when `signal` aborts);
 * rejects with the first refusal a retry cannot fix.
 */
export async function tail(options: TailOptions): Promise<void> {
  const dedupe = options.dedupe === false ? undefined : new Dedupe()
  const emit = (item: TailItem): void => {
    // Markers are always printed; entries once per (node, seq, hash) across sources.
    if (item.type === 'entry' && dedupe !== undefined && !dedupe.first(item.entry.node, item.entry.seq, item.entry.hash)) return
    options.onItem(item)
  }
  const runs = options.sources.map((spec) =>
    new NodeSource(
      {
        ...spec,
        token: options.token,
        last: options.last,
        follow: options.follow,
        topic: options.topic,
        kind: options.kind,
        buffer: options.buffer,
        retryDelayMs: options.retryDelayMs,
        signal: options.signal,
      },
      { item: emit, presence: (up, detail) => options.onPresence(spec.label, up, detail) },
    ).run(),
  )
  await Promise.all(runs)
}
