import { YlogError } from '@ylog/core'

/** Counts the tokens of a text for one model: the number the budget is held to. */
export type CountTokens = (text: string) => number

interface EncodingModule {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number
}

// One import per encoding, each loaded on first use: an encoding's tables take
// tens of milliseconds and megabytes to build, and a node serves one or two.
const LOADERS: Readonly<Record<string, () => Promise<EncodingModule>>> = {
  o200k_base: () => import('gpt-tokenizer/encoding/o200k_base'),
  o200k_harmony: () => import('gpt-tokenizer/encoding/o200k_harmony'),
  cl100k_base: () => import('gpt-tokenizer/encoding/cl100k_base'),
  p50k_base: () => import('gpt-tokenizer/encoding/p50k_base'),
  p50k_edit: () => import('gpt-tokenizer/encoding/p50k_edit'),
  r50k_base: () => import('gpt-tokenizer/encoding/r50k_base'),
  gpt2: () => import('gpt-tokenizer/encoding/gpt2'),
}

/** The encodings gpt-tokenizer ships, by name: `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series) is the default. */
export const ENCODINGS: readonly string[] = Object.keys(LOADERS)

export const DEFAULT_ENCODING = 'o200k_base'

// Special-token strings in log data (`<|endoftext|>`) are text, counted as a
// model's API counts text in a message; gpt-tokenizer would otherwise throw.
const AS_TEXT = { disallowedSpecial: new Set<string>() }

const loaded = new Map<string, Promise<CountTokens>>()

/** The counter for an encoding gpt-tokenizer ships; BAD_ARGUMENT naming the known ones otherwise. */
export function tokenCounter(encoding: string = DEFAULT_ENCODING): Promise<CountTokens> {
  const load = Object.hasOwn(LOADERS, encoding) ? LOADERS[encoding] : undefined
  if (load === undefined) {
    return Promise.reject(
      new YlogError('BAD_ARGUMENT', `encoding: unknown encoding ${JSON.stringify(encoding)}; known: ${ENCODINGS.join(', ')}`),
    )
  }
  let counter = loaded.get(encoding)
  if (counter === undefined) {
    counter = load().then((module) => (text: string) => module.countTokens(text, AS_TEXT))
    loaded.set(encoding, counter)
  }
  return counter
}
