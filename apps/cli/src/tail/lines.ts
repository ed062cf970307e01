import type { Entry } from '@ylog/client'

/** What `ylog tail` prints on stdout, one line each: an entry, a lag marker, a reset marker. */
export type TailItem =
  | { type: 'entry'; source: string; entry: Entry }
  /** The node dropped these entries for this reader (it read too slowly); `ylog read --after` reads them. */
  | { type: 'lag'; source: string; node: string; from: number; to: number }
  | { type: 'reset'; source: string; reason: string }

export interface LineStyle {
  json: boolean
  color: boolean
  prefix: boolean
  /** A template such as `{source} {node}:{seq} {data}`; entries only, markers keep their own words. */
  format?: string
}

const COLOURS = [36, 33, 35, 32, 34, 91, 96, 93]
const FIELDS = ['source', 'node', 'seq', 'id', 'at', 'time', 'topic', 'kind', 'data', 'hash'] as const

export function fieldsHelp(): string {
  return FIELDS.map((f) => `{${f}}`).join(' ')
}

/** Turns items into lines; each source keeps one colour for the whole run. */
export class LinePrinter {
  readonly #style: LineStyle
  readonly #colours = new Map<string, number>()

  constructor(style: LineStyle) {
    this.#style = style
  }

  line(item: TailItem): string {
    if (this.#style.json) return JSON.stringify(jsonOf(item))
    if (item.type === 'entry' && this.#style.format !== undefined) return template(this.#style.format, item.source, item.entry)
    const missed = (lag: { node: string; from: number; to: number }): string =>
      `!! missed ${short(lag.node)}:${lag.from}-${lag.to}: the node dropped them for this slow reader (ylog read reads them)`
    const body =
      item.type === 'entry'
        ? entryText(item.entry)
        : this.#marker(item.type === 'lag' ? missed(item) : `!! reset: ${item.reason}; the last entries again`)
    return this.#style.prefix ? `${this.#label(item.source)} ${body}` : body
  }

  #label(source: string): string {
    if (!this.#style.color) return `[${source}]`
    let colour = this.#colours.get(source)
    if (colour === undefined) this.#colours.set(source, (colour = COLOURS[this.#colours.size % COLOURS.length] as number))
    return `\x1b[${colour}m[${source}]\x1b[39m`
  }

  #marker(text: string): string {
    return this.#style.color ? `\x1b[1;31m${text}\x1b[0m` : text
  }
}

function short(node: string): string {
  return node.slice(0, 8)
}

function entryText(entry: Entry): string {
  if (entry.kind === 'gap') {
    const d = entry.data as { stream?: string; from?: number; to?: number; count?: number }
    const range = `${d.from ?? '?'}-${d.to ?? '?'} of ${d.stream ?? '?'}`
    return `${short(entry.node)}:${entry.seq} GAP ${entry.topic}: events ${range} were dropped before the log`
  }
  return `${short(entry.node)}:${entry.seq} ${new Date(entry.at).toISOString()} ${entry.topic} ${entry.kind} ${JSON.stringify(entry.data)}`
}

function jsonOf(item: TailItem): Record<string, unknown> {
  if (item.type === 'entry') return { ...item.entry, source: item.source }
  const { type, ...rest } = item
  return { marker: type, ...rest }
}

function template(format: string, source: string, entry: Entry): string {
  return format.replace(/\{(\w+)\}/g, (whole, name: string) => {
    switch (name) {
      case 'source':
        return source
      case 'id':
        return `${entry.node}:${entry.seq}`
      case 'data':
        return JSON.stringify(entry.data)
      case 'node':
      case 'seq':
      case 'at':
      case 'time':
      case 'topic':
      case 'kind':
      case 'hash':
        return String(entry[name] ?? '')
      default:
        return whole
    }
  })
}
