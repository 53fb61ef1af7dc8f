import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'client/index': 'src/client/index.ts',
    'integrations/express': 'src/integrations/express.ts',
    'integrations/fastify': 'src/integrations/fastify.ts',
    'integrations/hono': 'src/integrations/hono.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
  // The integrations import the core by the package's own name: one copy of it, whichever entry loads first.
  external: ['caa-auth', 'caa-auth/client', 'express', 'fastify', 'hono'],
});
