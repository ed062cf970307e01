import { defineConfig } from 'vite'

export default defineConfig({
  // The node serves the build at its root; assets under /assets never collide with /api.
  base: '/',
  // Bundle the workspace packages from their TypeScript sources, so the console builds without their dist/.
  resolve: { conditions: ['ylog-source', 'browser', 'module', 'import', 'default'] },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The Content-Security-Policy allows scripts from 'self' only: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 400,
  },
})
