import { isIPv4, isIPv6 } from 'node:net'

/** True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (h.toLowerCase() === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) {
    const lower = h.toLowerCase()
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
    if (mapped !== null) return (mapped[1] as string).startsWith('127.')
    return !lower.includes('.') && expandsToLoopback(lower)
  }
  return false
}

function expandsToLoopback(ipv6: string): boolean {
  const [head = '', tail = ''] = ipv6.includes('::') ? ipv6.split('::') : [ipv6, '']
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return (
    groups.length === 8 && groups.slice(0, 7).every((g) => Number.parseInt(g, 16) === 0) && Number.parseInt(groups[7] as string, 16) === 1
  )
}
