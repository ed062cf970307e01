import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

/** Bytes of an unread request body read and thrown away so the client gets its refusal; past this the connection closes. */
export const DRAIN_LIMIT = 16 * 1024 * 1024
const DRAIN_MS = 10_000

/**
 * Reads what is left of a request body and discards it, up to DRAIN_LIMIT
 * bytes and DRAIN_MS. Resolves true when the body was read to its end (the
 * connection can stay open), false when it is too large, too slow or broken
 * (close the connection after the answer).
 */
export function drainBody(raw: IncomingMessage): Promise<boolean> {
  if (raw.complete || raw.readableEnded) return Promise.resolve(true)
  const declared = Number(raw.headers['content-length'])
  if (declared > DRAIN_LIMIT) return Promise.resolve(false)
  return new Promise((resolve) => {
    let seen = 0
    const finish = (drained: boolean): void => {
      clearTimeout(timer)
      raw.off('data', onData)
      raw.off('end', onEnd)
      raw.off('error', onError)
      resolve(drained)
    }
    const onData = (chunk: Buffer): void => {
      seen += chunk.length
      if (seen > DRAIN_LIMIT) finish(false)
    }
    const onEnd = (): void => finish(true)
    const onError = (): void => finish(false)
    const timer = setTimeout(() => finish(false), DRAIN_MS)
    raw.on('data', onData)
    raw.once('end', onEnd)
    raw.once('error', onError)
    raw.resume()
  })
}

/** The methods each route path takes, to answer 405 with `Allow` for the others. */
export function allowedMethods(app: FastifyInstance): { allowed(path: string): string[] } {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    // Path parameters (`:node`) match one segment.
    const pattern = new RegExp(
      `^${route.url
        .split('/')
        .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/')}$`,
    )
    routes.push({ pattern, methods })
  })
  return {
    allowed: (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort(),
  }
}
