import { YlogError } from '../errors.js'

/** How far ahead of a node's clock a given time may be, by default: a minute. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000

/**
 * The earliest plausible time a node takes from writers: 1e11 ms, early
 * March 1973. Below it a value is almost surely seconds since the epoch
 * (every count of seconds up to the year 5138 lies below it). The node
 * daemon uses it; a LogDoc's default floor is 0, for tests and simulations
 * with clocks of their own.
 */
export const PLAUSIBLE_MIN_TIME_MS = 1e11

/** What a given time must lie within, relative to the node's clock. */
export interface TimeLimits {
  /** How far ahead of the clock. */
  maxFutureMs: number
  /** The earliest time taken at all. */
  minMs: number
}

/**
 * Checks a time a writer gives (`at` or an event's `time`) against the
 * node's clock: milliseconds since the epoch, not more than `maxFutureMs`
 * ahead. A node's `at` never decreases, so one time far in the future would
 * stamp every later entry of that node with it, forever; and a value in the
 * wrong unit would be stored silently. Returns the value; throws BAD_TIME
 * naming the mistake.
 */
export function checkGivenTime(name: 'at' | 'time', value: number, now: number, { maxFutureMs, minMs }: TimeLimits): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new YlogError('BAD_TIME', `${name} must be a non-negative integer of milliseconds since the epoch, got ${value}`)
  }
  if (value > now + maxFutureMs) {
    const unit = value > now * 100 ? '; it looks like microseconds or nanoseconds: send milliseconds' : ''
    throw new YlogError(
      'BAD_TIME',
      `${name} ${value} (${iso(value)}) is ${value - now} ms ahead of this node's clock (${iso(now)}); the limit is ` +
        `${maxFutureMs} ms (the node's max clock skew)${unit}`,
    )
  }
  if (value < minMs) {
    const seconds = value * 1000 >= minMs && value * 1000 <= now + maxFutureMs
    const hint = seconds ? `; it looks like seconds since the epoch (${iso(value * 1000)}): send milliseconds, e.g. ${value * 1000}` : ''
    throw new YlogError('BAD_TIME', `${name} ${value} (${iso(value)}) is before ${iso(minMs)}, the earliest time this node takes${hint}`)
  }
  return value
}

function iso(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString()
}
