/** One thing doctor looked at: what it found, and what to do about it. */
export interface Finding {
  check: string
  level: 'ok' | 'warning' | 'problem'
  message: string
  /** What to do; absent when nothing needs doing. */
  advice?: string
}

export const ok = (check: string, message: string): Finding => ({ check, level: 'ok', message })
export const warning = (check: string, message: string, advice: string): Finding => ({ check, level: 'warning', message, advice })
export const problem = (check: string, message: string, advice: string): Finding => ({ check, level: 'problem', message, advice })

/** Healthy, warnings only, or problems: the verdict that sets doctor's exit code (0, 4, 1). */
export function verdict(findings: readonly Finding[]): 'healthy' | 'warnings' | 'problems' {
  if (findings.some((f) => f.level === 'problem')) return 'problems'
  return findings.some((f) => f.level === 'warning') ? 'warnings' : 'healthy'
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}
