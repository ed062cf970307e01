import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ClockWatch, TRUST_JUMP_AFTER_MS } from './clock-watch.js'

function fakeClock() {
  const state = { wall: Date.UTC(2026, 10, 27, 12), mono: 1000 }
  const lines: Array<{ level: string; msg: string; obj: object }> = []
  const logger = {
    warn: (obj: object, msg: string) => lines.push({ level: 'warn', msg, obj }),
    info: (obj: object, msg: string) => lines.push({ level: 'info', msg, obj }),
  }
  const clock = new ClockWatch(60_000, logger, { wall: () => state.wall, monotonic: () => state.mono })
  const registry = new Registry()
  clock.register(registry)
  const tick = (ms: number): void => {
    state.wall += ms
    state.mono += ms
  }
  return { state, lines, clock, registry, tick }
}

describe('ClockWatch', () => {
  it('follows the system clock while it agrees with the monotonic one, small steps included', () => {
    const { state, clock, tick, lines } = fakeClock()
    expect(clock.now()).toBe(state.wall)
    tick(5000)
    state.wall += 30_000 // an NTP step within the skew
    expect(clock.now()).toBe(state.wall)
    expect(lines).toEqual([])
  })

  it('stamps from the monotonic clock when the system clock jumps hours ahead, warns, and counts it', async () => {
    const { state, clock, tick, lines, registry } = fakeClock()
    const start = clock.now()
    state.wall += 3 * 3_600_000
    tick(1000)
    expect(clock.now()).toBe(start + 1000)
    expect(lines).toMatchObject([
      { level: 'warn', msg: expect.stringMatching(/jumped ahead .* stamping entries from the monotonic clock/) },
    ])
    tick(1000)
    expect(clock.now()).toBe(start + 2000)
    expect(lines).toHaveLength(1)
    const text = await registry.metrics()
    expect(text).toMatch(/ylog_clock_jumps_total\{direction="ahead"\} 1/)
    expect(text).toMatch(/ylog_clock_offset_seconds 10800/)
    // The clock comes back: the node says so and follows it again.
    state.wall -= 3 * 3_600_000
    tick(1000)
    expect(clock.now()).toBe(start + 3000)
    expect(lines[1]).toMatchObject({ level: 'info', msg: expect.stringMatching(/agrees with the monotonic clock again/) })
  })

  it('takes a jump ahead that lasts as a correction', () => {
    const { state, clock, tick, lines } = fakeClock()
    state.wall += 3_600_000
    clock.now()
    tick(TRUST_JUMP_AFTER_MS)
    expect(clock.now()).toBe(state.wall)
    expect(lines.at(-1)).toMatchObject({ level: 'warn', msg: expect.stringMatching(/taking it as a correction/) })
    tick(1000)
    expect(clock.now()).toBe(state.wall)
  })

  it('warns once when the system clock goes back, and about a last entry stamped ahead of it', async () => {
    const { state, clock, tick, lines, registry } = fakeClock()
    state.wall -= 3_600_000
    tick(1000)
    expect(clock.now()).toBe(state.wall)
    tick(1000)
    clock.now()
    expect(lines).toMatchObject([{ level: 'warn', msg: expect.stringMatching(/went back; entries keep this node's last time/) }])
    expect(await registry.metrics()).toMatch(/ylog_clock_jumps_total\{direction="back"\} 1/)
    clock.checkLastAt(state.wall + 3_600_000)
    clock.checkLastAt(state.wall + 1000)
    expect(lines).toHaveLength(2)
    expect(lines[1]).toMatchObject({ msg: expect.stringMatching(/last entry is stamped ahead of the system clock/) })
  })
})
