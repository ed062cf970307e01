export { ERROR_CODES, YlogError, toWire, fromWire, type YlogErrorCode, type WireError } from './errors.js'
export { NodeIdentity, clientIdOf, isNodeId, verifySignature, referenceEd25519, KEY_FILE_HEADER, type NodeId } from './entry/identity.js'
export {
  decodeEntry,
  peekTopicKind,
  signEntry,
  peekEntry,
  signedMessage,
  validateTopic,
  validateBody,
  ENTRY_KINDS,
  ENTRY_FORMAT_VERSION,
  ENTRY_FORMAT_VERSION_TIMED,
  MAX_ENTRY_BYTES,
  MAX_FIELD_LENGTH,
  MAX_TOPIC_LENGTH,
  TOPIC_PATTERN,
  type Entry,
  type EntryInput,
  type EntryBody,
  type EntryKind,
  type EntryFields,
  type EntryHeader,
  type GapData,
  type JsonValue,
  type TransitionData,
} from './entry/entry.js'
export { DEFAULT_MAX_CLOCK_SKEW_MS, PLAUSIBLE_MIN_TIME_MS } from './entry/entry-time.js'
export { verifyRun, signatureValid, type ChainStart, type RunVerdict } from './entry/chain.js'
export { openMembership, memberList, type Membership } from './doc/membership.js'
export { encodeCursor, decodeCursor, START, type Cursor } from './entry/cursor.js'
export {
  checkUpdate,
  type Verdict,
  type RefusalReason,
  type ForkEvidence,
  type GuardView,
  type NodeHead,
  type AcceptedRun,
} from './doc/update-guard.js'
export {
  LogDoc,
  ORIGIN_LOCAL,
  ORIGIN_REMOTE,
  ORIGIN_REPLAY,
  type LogDocOptions,
  type Head,
  type SeqRange,
  type ApplyResult,
  type EntriesAdded,
  type UpdateOrigin,
  type SignedEntry,
} from './doc/log-doc.js'
export { sha256, toHex, fromHex, ZERO_HASH } from './entry/bytes.js'
export type {
  UpdateStore,
  EntryIndex,
  NodeTables,
  NodeStore,
  UpdateRecord,
  StoredState,
  IndexRow,
  IndexQuery,
  TimePosition,
  StoreStats,
  IdempotencyRecord,
  ConsumerRecord,
} from './durable/update-store.js'
export { MemoryUpdateStore } from './durable/memory-update-store.js'
export {
  DurableLog,
  DEFAULT_COMPACT_AFTER_UPDATES,
  type DurableLogOptions,
  type AppendOptions,
  type CommitInfo,
  type CommitListener,
  type CompactionInfo,
  type CompactionListener,
  type StoreHealth,
  type HealthListener,
  type RetryOptions,
} from './durable/durable-log.js'
export { isPassable } from './durable/store-health.js'
export { readPage, type PageQuery, type Page } from './consume/read-page.js'
export { encodeEntriesUpdate } from './doc/entries-update.js'
export {
  subscribe,
  type Subscription,
  type SubscribeOptions,
  type SubscriptionItem,
  type SubscriptionEntry,
  type SubscriptionGap,
} from './consume/subscription.js'
export {
  IngestQueue,
  type IngestQueueOptions,
  type IngestPolicy,
  type IngestGap,
  type IngestResult,
  type IngestStats,
} from './consume/ingest-queue.js'
export { missingDependencies } from './doc/reads.js'
