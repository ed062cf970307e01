export { SqliteUpdateStore, type SqliteUpdateStoreOptions } from './sqlite-update-store.js'
export { SCHEMA_VERSION } from './schema.js'
export { ThreadedSqliteStore } from './threaded-sqlite-store.js'
export { StoreReader, type StoreDelta } from './store-reader.js'
