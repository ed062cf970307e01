export { YlogClient, DEFAULT_URL, type ClientOptions, type WriteOptions } from './client.js'
export { YlogClientError, isTransient, errorFromFetch } from './errors.js'
export type { StreamItem, StreamOptions } from './stream.js'
export type {
  AckOptions,
  BackwardsPage,
  Consumer,
  ContextAnswer,
  ContextQuery,
  ConnectionView,
  Entry,
  EntryInput,
  EntryKind,
  Head,
  Heads,
  NodeView,
  Nodes,
  Page,
  PeerView,
  ReadQuery,
  Receipt,
  SeqRange,
  TopicView,
} from './types.js'
