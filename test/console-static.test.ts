// The node's console route without a browser: a missing build is a clear 503,
// assets are served by name only from the build's one folder, with the CSP.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { CONSOLE_CSP, consoleRoutes } from '../apps/node/src/routes-console.js'
import { tempDir } from './support/node-process.js'

describe('console route', () => {
  it('answers a missing build with 503 and the command that builds it', async () => {
    const app = Fastify()
    consoleRoutes(app, { root: join(tempDir(), 'nothing') })
    const res = await app.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(503)
    expect(res.body).toContain('npm run build -w @ylog/console')
    await app.close()
  })

  it('serves index.html and hashed assets with the CSP, nothing outside the assets folder', async () => {
    const root = tempDir()
    mkdirSync(join(root, 'assets'))
    writeFileSync(join(root, 'index.html'), '<!doctype html><script type="module" src="/assets/a-1.js"></script>')
    writeFileSync(join(root, 'assets', 'a-1.js'), 'export {}')
    writeFileSync(join(root, 'secret.js'), 'nope')
    const app = Fastify()
    consoleRoutes(app, { root })
    const index = await app.inject({ method: 'GET', url: '/' })
    expect(index.statusCode).toBe(200)
    expect(index.headers['content-security-policy']).toBe(CONSOLE_CSP)
    const asset = await app.inject({ method: 'GET', url: '/assets/a-1.js' })
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['content-type']).toContain('text/javascript')
    expect(asset.headers['cache-control']).toContain('immutable')
    for (const url of ['/assets/..%2Fsecret.js', '/assets/%2E%2E%2Fsecret.js', '/assets/missing.js', '/assets/a-1.exe']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(404)
    }
    await app.close()
  })
})
