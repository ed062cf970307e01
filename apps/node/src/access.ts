import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorBody } from './http-errors.js'

export type Guard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/**
 * An onRequest hook that lets a request through if it presents one of the
 * tokens as a bearer token; a no-op when no token is configured. What the
 * tokens guard is named in the 401's message.
 */
export function bearerGuard(tokens: ReadonlyArray<string | undefined>, what: 'writes' | 'reads'): Guard {
  const configured = tokens.filter((t): t is string => t !== undefined)
  if (configured.length === 0) return async () => {}
  // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
  const expected = configured.map((t) => createHash('sha256').update(t).digest())
  const name = what === 'writes' ? 'write token' : 'read token (or the write token)'
  return async (request, reply) => {
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')
    const presented = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest()
    // Every candidate is compared, so timing does not tell which one matched.
    let ok = false
    for (const digest of expected) ok = timingSafeEqual(presented, digest) || ok
    if (match !== null && ok) return
    const message = match === null ? `${what} need the header "Authorization: Bearer <${name}>"` : `the ${name} is wrong`
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="ylog"')
      .send({ error: { code: 'UNAUTHORIZED', message } } satisfies ErrorBody)
  }
}
