// The YlogClientError a client call fails with, for tests that expect a refusal.
import { YlogClientError } from '@ylog/client'
import { expect } from 'vitest'

export async function refusal(promise: Promise<unknown>): Promise<YlogClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(YlogClientError)
  return err as YlogClientError
}
