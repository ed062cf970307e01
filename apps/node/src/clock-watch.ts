import { Counter, Gauge, type Registry } from 'prom-client'

/** How long the wall clock may stay ahead of the monotonic one before the node believes it (a real correction, not a glitch). */
export const TRUST_JUMP_AFTER_MS = 10 * 60 * 1000

export interface ClockLogger {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

export interface ClockSources {
  /** Wall clock, ms since the epoch (default Date.now). */
  wall?: () => number
  /** Monotonic clock, ms from an arbitrary start (default performance.now). */
  monotonic?: () => number
}

/**
 * The clock a node stamps its entries' `at` with: the system clock, watched
 * against the monotonic one. A node's `at` never decreases, so a system
 * clock that jumps hours ahead and back would stamp every entry until the
 * clock caught up with that future time, and nothing could take it back.
 *
 * - The system clock jumps ahead of the monotonic clock by more than the
 *   skew: entries are stamped from the monotonic clock (the time the system
 *   clock would show without the jump) and the node warns. If the system
 *   clock stays ahead for TRUST_JUMP_AFTER_MS, the jump was a correction:
 *   the node takes the new time and says so.
 * - The system clock goes back by more than the skew: entries keep the
 *   node's last `at` until the clock catches up (the signer raises every
 *   time to it), and the node warns once per jump.
 *
 * Both show in `ylog_clock_offset_seconds` (system minus monotonic clock)
 * and `ylog_clock_jumps_total{direction}`.
 */
export class ClockWatch {
  readonly #wall: () => number
  readonly #monotonic: () => number
  readonly #skewMs: number
  readonly #logger: ClockLogger
  /** Wall time at monotonic 0, as far as the node believes the wall clock. */
  #base: number
  #aheadSince: number | undefined
  // Read at scrape time, not set on every append: stamping an entry is a hot path.
  readonly #offset: Gauge = new Gauge({
    name: 'ylog_clock_offset_seconds',
    help: 'System clock minus the monotonic clock the node trusts (positive: the system clock jumped ahead)',
    registers: [],
    collect: (): void => this.#offset.set((this.#wall() - Math.round(this.#base + this.#monotonic())) / 1000),
  })
  readonly #jumps = new Counter({
    name: 'ylog_clock_jumps_total',
    help: 'System clock jumps larger than the max clock skew, by direction',
    labelNames: ['direction'] as const,
    registers: [],
  })

  constructor(skewMs: number, logger: ClockLogger, sources: ClockSources = {}) {
    this.#wall = sources.wall ?? Date.now
    this.#monotonic = sources.monotonic ?? (() => performance.now())
    this.#skewMs = skewMs
    this.#logger = logger
    this.#base = this.#wall() - this.#monotonic()
  }

  /** Adds the clock's metrics to a node's registry. */
  register(registry: Registry): void {
    registry.registerMetric(this.#offset)
    registry.registerMetric(this.#jumps)
  }

  /** The time to stamp an entry with. */
  readonly now = (): number => {
    const mono = this.#monotonic()
    const wall = this.#wall()
    const trusted = Math.round(this.#base + mono)
    const offset = wall - trusted
    if (offset > this.#skewMs) return this.#ahead(wall, trusted, offset, mono)
    if (this.#aheadSince !== undefined) {
      this.#aheadSince = undefined
      this.#logger.info({ offsetMs: offset }, 'system clock agrees with the monotonic clock again; stamping entries with it')
    }
    if (offset < -this.#skewMs) {
      this.#jumps.inc({ direction: 'back' })
      this.#logger.warn(
        { behindMs: -offset, wall: new Date(wall).toISOString() },
        "system clock went back; entries keep this node's last time until the clock catches up (a node's times never go back)",
      )
      // Follow the wall clock from here (one warning per jump): it is what the next jump is measured against.
      this.#base = wall - mono
    }
    return wall
  }

  /** Before an entry is appended: warn when the node's last entry is stamped ahead of the clock (left by an earlier run). */
  checkLastAt(lastAt: number): void {
    const ahead = lastAt - this.#wall()
    if (ahead > this.#skewMs) {
      this.#logger.warn(
        { aheadMs: ahead, lastAt: new Date(lastAt).toISOString() },
        "this node's last entry is stamped ahead of the system clock; new entries carry that time until the clock " +
          "catches up (a node's times never go back)",
      )
    }
  }

  #ahead(wall: number, trusted: number, offset: number, mono: number): number {
    if (this.#aheadSince === undefined) {
      this.#aheadSince = mono
      this.#jumps.inc({ direction: 'ahead' })
      this.#logger.warn(
        {
          aheadMs: offset,
          wall: new Date(wall).toISOString(),
          stamping: new Date(trusted).toISOString(),
          trustAfterMs: TRUST_JUMP_AFTER_MS,
        },
        'system clock jumped ahead of the monotonic clock; stamping entries from the monotonic clock until the two agree again, ' +
          'or the jump lasts long enough to be a correction',
      )
      return trusted
    }
    if (mono - this.#aheadSince < TRUST_JUMP_AFTER_MS) return trusted
    this.#logger.warn(
      { aheadMs: offset, afterMs: mono - this.#aheadSince },
      'system clock stayed ahead: taking it as a correction and stamping entries with it',
    )
    this.#base = wall - mono
    this.#aheadSince = undefined
    return wall
  }
}
