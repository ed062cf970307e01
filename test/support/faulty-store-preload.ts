// Loaded with --import before the daemon's main.ts: wraps every SQLite store the node opens in a FaultyStore whose
// append number YLOG_TEST_FAIL_APPEND (1-based) reaches the disk and then fails like a commit whose fsync failed
// (YLOG_TEST_FAULT=fsync) or is refused for permissions (=permission). Test-only: nothing in the daemon knows of it.
import { ThreadedSqliteStore } from '@ylog/sqlite'
import { FAULTS, FaultyStore } from '@ylog/core/testing'
import type { NodeStore, UpdateRecord } from '@ylog/core'

const fault = process.env.YLOG_TEST_FAULT === 'permission' ? 'permission' : 'fsync'
const failAt = Number(process.env.YLOG_TEST_FAIL_APPEND ?? 1)

class FailsOnce extends FaultyStore {
  #appends = 0

  constructor(
    inner: NodeStore,
    readonly file: string,
  ) {
    super(inner)
  }

  override async append(records: readonly UpdateRecord[]): Promise<number> {
    if (++this.#appends === failAt) this.fail(fault === 'fsync' ? 'fsync' : 'append', () => FAULTS[fault](this.file), 1)
    return super.append(records)
  }
}

const open = ThreadedSqliteStore.open.bind(ThreadedSqliteStore)
Object.assign(ThreadedSqliteStore, {
  open: async (path: string, options: object) => new FailsOnce(await open(path, options), path),
})
