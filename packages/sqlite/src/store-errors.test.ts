import { describe, expect, it } from 'vitest'
import { isPassable } from '@ylog/core'
import { storeError } from './store-errors.js'

const sqlite = (code: string, message: string): Error => Object.assign(new Error(message), { code })

describe('storeError sorts what can pass from what cannot', () => {
  it.each([
    ['SQLITE_FULL', 'STORE_FULL', true],
    ['ENOSPC', 'STORE_FULL', true],
    // Opening (even to read) on a full disk: the -shm index cannot be allocated.
    ['SQLITE_IOERR_SHMSIZE', 'STORE_FULL', true],
    ['SQLITE_IOERR_WRITE', 'STORE_IO', true],
    ['SQLITE_BUSY', 'STORE_IO', true],
    // After a failed fsync the kernel may have dropped pages it marked clean: only a restart knows what is on disk.
    ['SQLITE_IOERR_FSYNC', 'STORE_FAILED', false],
    ['SQLITE_READONLY', 'STORE_FAILED', false],
    ['SQLITE_CANTOPEN', 'STORE_FAILED', false],
    ['SQLITE_CORRUPT', 'STORE_CORRUPT', false],
  ])('%s is %s', (code, expected, passable) => {
    const err = storeError('/data/ylog.db', 'appending 3 updates', sqlite(code, 'what SQLite said'))
    expect(err.code).toBe(expected)
    expect(isPassable(err)).toBe(passable)
    // The file, what was being done and the cause, in every case.
    expect(err.message).toMatch(/\/data\/ylog\.db/)
    expect(err.message).toMatch(/what SQLite said/)
  })
})
