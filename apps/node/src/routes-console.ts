import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'

/** Where `npm run build -w @ylog/console` writes; the same from src/ (tsx) and dist/ (compiled). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url))

/**
 * Scripts, styles and API calls from this origin only: no inline script or
 * style, no other origin, no framing. The console's JavaScript sets styles
 * through the CSSOM (allowed), never through style attributes.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
}
// Vite names every asset by content hash in one flat folder: nothing else is served, so no path can leave it.
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
}

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * The web console (apps/console) at `/`, its hashed assets under
 * `/assets/`. Files are read per request, so a rebuild shows at the next
 * load; a missing build answers 503 naming the command that builds it.
 */
export function consoleRoutes(app: FastifyInstance, { root = CONSOLE_DIST }: { root?: string } = {}): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const html = await readOrUndefined(join(root, 'index.html'))
    if (html === undefined) {
      return secure(reply)
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(
          `The ylog console is not built: ${join(root, 'index.html')} is missing.\n` +
            'Build it with `npm run build -w @ylog/console` (`npm ci` does this), then reload.\n' +
            'The HTTP API is under /api; /openapi.json describes it.\n',
        )
    }
    return secure(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html)
  })

  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params
    const type = TYPES[extname(file)]
    const body = ASSET_NAME.test(file) && type !== undefined ? await readOrUndefined(join(root, 'assets', file)) : undefined
    if (body === undefined || type === undefined) {
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no console asset ${file}; reload / for the current build` } })
    }
    // Names change with content, so a cached copy never goes stale.
    return secure(reply).header('cache-control', 'public, max-age=31536000, immutable').type(type).send(body)
  })
}
