import { Worker } from 'node:worker_threads'

/**
 * Starts a worker thread on the module `name` (without extension) beside
 * `callerUrl` (pass `import.meta.url`). Built code runs `name.js`; from
 * source (tsx, vitest) a worker does not inherit the TypeScript loader, so
 * it registers tsx first and then imports `name.ts`.
 */
export function startModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData })
  const source = JSON.stringify(new URL(`./${name}.ts`, callerUrl).href)
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${source}) })`, { eval: true, workerData })
}
