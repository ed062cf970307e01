import { YlogError, type Entry, type NodeId, type SeqRange } from '@ylog/core'
import { checkOptions, DEFAULT_BUDGET, DEFAULT_MAX_ENTRY_TOKENS, DEFAULT_SUMMARY_SCAN } from './options.js'
import { omission, type Omission } from './omission.js'
import { rangeSize, toRanges } from './ranges.js'
import { droppedText, forkText, Layout, missingText, omittedText } from './render.js'
import { compareByTime, newestFirst, selectGaps } from './select.js'
import { shortenLine } from './shorten.js'
import { DEFAULT_ENCODING, tokenCounter, type CountTokens } from './tokenizer.js'
import type { AssembledContext, ContextManifest, ContextOptions, ContextSource, DroppedRange, NodeManifest } from './types.js'

/** What is missing before any entry is chosen: gap entries, holes and forks of the nodes in scope. Never trimmed. */
interface Known {
  gaps: Array<DroppedRange & { node: NodeId }>
  holes: Map<NodeId, SeqRange[]>
  forks: Map<NodeId, number>
  nodes: NodeId[]
  /** Those as lines of the chosen format. */
  lines: string[]
}

interface Line {
  entry: Entry
  line: string
  tokens: number
}

/**
 * Context for a language model from a node's committed log: the newest
 * selected entries that fit the token budget, under lines that name
 * everything the reader is not seeing (dropped at the source, not yet
 * here, forked, left out for the budget). Those lines are reserved first
 * and never trimmed; if they alone exceed the budget, BAD_ARGUMENT says
 * how many tokens they need. Same log, same options: the same bytes.
 */
export async function assembleContext(source: ContextSource, options: ContextOptions = {}): Promise<AssembledContext> {
  checkOptions(options)
  const budget = options.budget ?? DEFAULT_BUDGET
  const count = options.countTokens ?? (await tokenCounter(options.encoding ?? DEFAULT_ENCODING))
  const layout = new Layout(options.format ?? 'text')
  const known = await findKnown(source, options, layout)
  const fixedTokens = [options.preamble ?? '', ...known.lines].reduce((n, line) => n + count(`${line}\n`), 0)
  // Room for the line about what the budget left out, estimated until the cut is known; the fit below corrects it.
  const worst = omittedText(
    1_000_000,
    known.nodes.map((node) => ({ node, ranges: [{ from: 0, to: 1_000_000 }] })),
    '',
  )
  const reserve = count(`${layout.missing('left out for the budget', worst, {})}\n`) + 48
  let used = fixedTokens + reserve + count(`${layout.entriesHeader(0, options.order ?? 'time')}\n`)
  const cap = options.maxEntryTokens ?? DEFAULT_MAX_ENTRY_TOKENS
  const shown: Line[] = []
  const left: Entry[] = []
  const stream = newestFirst(source, options)
  let complete = true
  for await (const entry of stream) {
    if (left.length === 0) {
      const line = shortenLine(layout.entry(entry, options.render), entry, cap, count, layout.format)
      const tokens = count(`${line}\n`)
      if (used + tokens <= budget) {
        shown.push({ entry, line, tokens })
        used += tokens
        continue
      }
    }
    if (left.length >= Math.max(1, options.summaryScan ?? DEFAULT_SUMMARY_SCAN)) {
      complete = false
      break
    }
    left.push(entry)
  }
  await stream.return(undefined)
  return fit(source, options, { layout, known, count, budget, shown, left, complete })
}

interface FitState {
  layout: Layout
  known: Known
  count: CountTokens
  budget: number
  shown: Line[]
  left: Entry[]
  complete: boolean
}

// The text is counted whole at the end, which is the number the budget is
// held to (token counts of pieces do not always add up exactly). While it is
// over, the oldest entry shown joins those left out.
async function fit(source: ContextSource, options: ContextOptions, s: FitState): Promise<AssembledContext> {
  for (;;) {
    const omitted =
      s.left.length === 0
        ? undefined
        : await omission(
            source,
            options,
            s.known,
            s.shown.map((l) => l.entry),
            s.left,
            s.complete,
          )
    const text = render(s.layout, s.known, options, s.shown, omitted)
    const tokens = s.count(text)
    if (tokens <= s.budget) return { text, tokens, manifest: manifest(options, s, omitted, tokens) }
    const oldest = s.shown.pop()
    if (oldest === undefined) {
      throw new YlogError(
        'BAD_ARGUMENT',
        `budget: ${s.budget} tokens do not hold the lines that say what is missing (${tokens} tokens); raise the budget or ` +
          `narrow the selection`,
      )
    }
    s.left.unshift(oldest.entry)
  }
}

async function findKnown(source: ContextSource, options: ContextOptions, layout: Layout): Promise<Known> {
  const holes = source.holes()
  const inScope = options.nodes === undefined ? () => true : (node: NodeId) => (options.nodes as readonly NodeId[]).includes(node)
  const nodes = [...new Set([...source.nodes(), ...holes.keys()])].filter(inScope).sort()
  const gaps = (await selectGaps(source, options)).map((entry) => {
    const data = entry.data as { stream: string; from: number; to: number }
    return {
      node: entry.node,
      id: `${entry.node}:${entry.seq}`,
      seq: entry.seq,
      hash: entry.hash,
      at: entry.at,
      stream: data.stream,
      from: data.from,
      to: data.to,
    }
  })
  const forks = new Map<NodeId, number>()
  for (const fork of source.forks()) {
    if (inScope(fork.node)) forks.set(fork.node, Math.min(fork.seq, forks.get(fork.node) ?? fork.seq))
  }
  const scopedHoles = new Map(
    [...holes].filter(([node, ranges]) => inScope(node) && ranges.length > 0).sort(([a], [b]) => (a < b ? -1 : 1)),
  )
  const sortedForks = new Map([...forks].sort(([a], [b]) => (a < b ? -1 : 1)))
  const lines: string[] = []
  for (const gap of gaps) lines.push(layout.missing('dropped', droppedText(gap), { ...gap }))
  for (const [node, ranges] of scopedHoles) lines.push(layout.missing('not yet here', missingText(node, ranges), { node, ranges }))
  for (const [node, seq] of sortedForks) lines.push(layout.missing('forked', forkText({ node, seq }), { node, seq }))
  return { gaps, holes: scopedHoles, forks: sortedForks, nodes, lines }
}

function render(layout: Layout, known: Known, options: ContextOptions, shown: readonly Line[], omitted: Omission | undefined): string {
  const missing = [...known.lines]
  if (omitted !== undefined) missing.push(layout.missing('left out for the budget', omitted.text, omitted.detail))
  const order = options.order ?? 'time'
  const entries = [...shown].sort(order === 'time' ? (a, b) => compareByTime(a.entry, b.entry) : (a, b) => byNode(a.entry, b.entry))
  const lines = [
    ...(options.preamble === undefined ? [] : [options.preamble]),
    layout.missingHeader(missing.length === 0),
    ...missing,
    layout.entriesHeader(entries.length, order),
    ...entries.map((l) => l.line),
  ]
  return `${lines.join('\n')}\n`
}

function byNode(a: Entry, b: Entry): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq
}

function manifest(options: ContextOptions, s: FitState, omitted: Omission | undefined, tokens: number): ContextManifest {
  const order = options.order ?? 'time'
  const shown = [...s.shown].sort(order === 'time' ? (a, b) => compareByTime(a.entry, b.entry) : (a, b) => byNode(a.entry, b.entry))
  const nodes: NodeManifest[] = s.known.nodes.map((node) => {
    const forkedFrom = s.known.forks.get(node)
    return {
      node,
      included: toRanges(shown.filter((l) => l.entry.node === node).map((l) => l.entry.seq)),
      omitted: omitted?.info.ranges.find((r) => r.node === node)?.ranges ?? [],
      dropped: s.known.gaps.filter((g) => g.node === node).map(({ node: _node, ...gap }) => gap),
      missing: s.known.holes.get(node) ?? [],
      ...(forkedFrom !== undefined && { forkedFrom }),
    }
  })
  const { topics, kinds, nodes: onlyNodes, subject, since, until } = options
  const selection = Object.fromEntries(
    Object.entries({ topics, kinds, nodes: onlyNodes, subject, since, until }).filter(([, v]) => v !== undefined),
  )
  return {
    tokenizer: options.countTokens !== undefined ? 'custom' : (options.encoding ?? DEFAULT_ENCODING),
    budget: s.budget,
    tokens,
    format: s.layout.format,
    order,
    selection,
    counts: {
      included: shown.length,
      omitted: omitted === undefined ? 0 : omitted.info.count,
      dropped: s.known.gaps.length,
      missing: [...s.known.holes.values()].reduce((n, r) => n + rangeSize(r), 0),
      forked: s.known.forks.size,
    },
    nodes,
    entries: shown.map((l) => ({ id: `${l.entry.node}:${l.entry.seq}`, hash: l.entry.hash })),
  }
}
