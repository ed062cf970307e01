import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['ylog-source'] },
  ssr: { resolve: { conditions: ['ylog-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/temp-root.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
