import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Router tests start real processes and move hundreds of MiB over loopback TLS.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Two cores: files that each run routers would only fight for CPU if run together.
    fileParallelism: false,
  },
});
