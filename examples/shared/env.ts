/**
 * What the example servers read from the environment.
 *
 * - `PORT` (default 3003, as in the original API document) and `HOST` (default 127.0.0.1)
 * - `REDIS_URL`, `REDIS_PREFIX`: see `createStoreFromEnv`
 * - `CAA_EXAMPLE_TEST_ROUTES=1`: seeds a disposable second user and enables
 *   `DELETE /api/admin/users/:id`, unauthenticated, for the end-to-end tests only. Never set it
 *   anywhere else.
 */

export interface ServerEnv {
  host: string;
  port: number;
  testRoutes: boolean;
}

export function readServerEnv(env: NodeJS.ProcessEnv = process.env): ServerEnv {
  const port = Number(env.PORT ?? '3003');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError('PORT must be a port number');
  return {
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    port,
    testRoutes: env.CAA_EXAMPLE_TEST_ROUTES === '1',
  };
}

/** Runs `close` once on SIGINT or SIGTERM, then exits. */
export function onShutdown(close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[caa-example] error while stopping on ${signal}: ${err instanceof Error ? err.message : 'unknown'}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
