export { assembleContext } from './assemble.js'
export { ENCODINGS, DEFAULT_ENCODING, tokenCounter, type CountTokens } from './tokenizer.js'
export { DEFAULT_BUDGET, DEFAULT_MAX_ENTRY_TOKENS, DEFAULT_SUMMARY_SCAN, MAX_BUDGET, FORMATS, ORDERS } from './options.js'
export { entryLine } from './render.js'
export type {
  AssembledContext,
  ContextFormat,
  ContextKind,
  ContextManifest,
  ContextOptions,
  ContextOrder,
  ContextSource,
  DroppedRange,
  NodeManifest,
  OmissionInfo,
} from './types.js'
