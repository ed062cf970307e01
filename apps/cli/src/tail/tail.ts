import { existsSync, statSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import type { EntryKind } from '@ylog/client'
import { Dedupe } from './dedupe.js'
import { DirSource } from './dir-source.js'
import type { TailItem } from './lines.js'
import { NodeSource } from './node-source.js'

/** A node's URL, or a data directory read from outside (with or without a node running on it). */
export type SourceSpec = { label: string; url: string } | { label: string; dir: string }

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
 * `label=URL`, `URL` (labelled host:port), `label=DIR` or `DIR` (a data
 * directory, labelled by its name); anything else is refused by name.
 */
export function parseSource(text: string): SourceSpec {
  const eq = text.indexOf('=')
  const scheme = text.indexOf('://')
  const [label, target] = eq > 0 && (scheme < 0 || eq < scheme) ? [text.slice(0, eq), text.slice(eq + 1)] : [undefined, text]
  if (!target.includes('://') && existsSync(target) && statSync(target).isDirectory()) {
    return { label: label ?? (basename(resolve(target)) || target), dir: target }
  }
  let parsed: URL
  try {
    parsed = new URL(target)
  } catch {
    throw new Error(
      `source ${JSON.stringify(text)} is neither a node URL nor a directory: use http://host:port, a node's data directory, or label=…`,
    )
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`source ${JSON.stringify(text)}: only http and https node URLs`)
  }
  return { label: label ?? parsed.host, url: target.replace(/\/+$/, '') }
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
    'dir' in spec
      ? new DirSource(
          { ...spec, last: options.last, follow: options.follow, topic: options.topic, kind: options.kind, signal: options.signal },
          { item: emit, presence: (up, detail) => options.onPresence(spec.label, up, detail) },
        ).run()
      : new NodeSource(
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
