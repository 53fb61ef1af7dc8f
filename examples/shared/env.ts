/**
 * What the example servers read from the environment.
 *
 * - `PORT` (default 3003, as in the original API document) and `HOST` (default 127.0.0.1)
 * - `REDIS_URL`, `REDIS_PREFIX`: see `createStoreFromEnv`
 * - `LOG_LEVEL` (default `info`): at `debug` (or `trace`) each caa-auth event is logged as one line
 *   (its type and kind, see `describeEvent`); Fastify also uses it as its logger's level
 * - `CAA_EXAMPLE_TEST_ROUTES=1`: seeds a disposable second user and enables
 *   `DELETE /api/admin/users/:id`, unauthenticated, for the end-to-end tests only. Never set it
 *   anywhere else.
 */

export interface ServerEnv {
  host: string;
  port: number;
  testRoutes: boolean;
  logLevel: string;
  /** `LOG_LEVEL` is `debug` or `trace`: log caa-auth events. */
  logEvents: boolean;
}

export function readServerEnv(env: NodeJS.ProcessEnv = process.env): ServerEnv {
  const port = Number(env.PORT ?? '3003');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError('PORT must be a port number');
  const logLevel = env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'info' : env.LOG_LEVEL;
  return {
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    port,
    testRoutes: env.CAA_EXAMPLE_TEST_ROUTES === '1',
    logLevel,
    logEvents: logLevel === 'debug' || logLevel === 'trace',
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
