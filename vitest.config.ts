import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      'caa-auth/client': fileURLToPath(new URL('./src/client/index.ts', import.meta.url)),
      'caa-auth/express': fileURLToPath(new URL('./src/integrations/express.ts', import.meta.url)),
      'caa-auth/fastify': fileURLToPath(new URL('./src/integrations/fastify.ts', import.meta.url)),
      'caa-auth/hono': fileURLToPath(new URL('./src/integrations/hono.ts', import.meta.url)),
      'caa-auth': fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Installs redis-server/redis-cli when missing (root + apt-get) or ends the run saying what to
    // install; then builds dist/ when missing or stale, for the tests of the built files.
    globalSetup: ['./test/support/redis-install.ts', './test/support/build-once.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
