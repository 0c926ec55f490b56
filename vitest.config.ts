import { defineConfig } from 'vitest/config'

// Tests read each package's TypeScript source through the `@wharf/source` export condition, so no build
// is needed before `npm test`.
export default defineConfig({
  resolve: { conditions: ['@wharf/source'] },
  ssr: { resolve: { conditions: ['@wharf/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/web/e2e/**/*.test.ts'],
    // Many tests start servers and scripts as real processes; a saturated 2-core CI machine is slow at it.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files share one PostgreSQL server and spawn servers on loopback ports; two cores are the machine.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
})
