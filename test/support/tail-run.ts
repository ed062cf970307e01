// `tail` run in process for the tail tests: its lines and presence changes collected, stopped on request.
import type { TailItem } from '../../apps/cli/src/tail/lines.js'
import { tail, type TailOptions } from '../../apps/cli/src/tail/tail.js'

export interface TailRun {
  items: TailItem[]
  /** `+ label` / `- label` as sources answer or stop answering. */
  presence: string[]
  done: Promise<void>
  /** Aborts the tail and waits for it to end. */
  stop(): Promise<void>
  /** Entry lines as `label data-json`. */
  entries(): string[]
  /** The `i` field of each entry's data, in print order. */
  data(): number[]
}

/** Starts `tail` with the last 10 and no follow unless `options` says otherwise; reconnects after 10 ms. */
export function runTail(options: Partial<TailOptions> & { sources: TailOptions['sources'] }): TailRun {
  const controller = new AbortController()
  const items: TailItem[] = []
  const presence: string[] = []
  const done = tail({
    last: 10,
    follow: false,
    retryDelayMs: 10,
    ...options,
    signal: controller.signal,
    onItem: (i) => items.push(i),
    onPresence: (s, up) => presence.push(`${up ? '+' : '-'} ${s}`),
  })
  return {
    items,
    presence,
    done,
    stop: async () => {
      controller.abort()
      await done
    },
    entries: () => items.flatMap((i) => (i.type === 'entry' ? [`${i.source} ${JSON.stringify(i.entry.data)}`] : [])),
    data: () => items.flatMap((i) => (i.type === 'entry' ? [(i.entry.data as { i: number }).i] : [])),
  }
}
