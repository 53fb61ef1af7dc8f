/**
 * The session store of the example servers, chosen by the environment: a `MemoryStore` by default,
 * a `RedisStore` over ioredis when `REDIS_URL` is set.
 *
 * The Redis client is set up to fail fast during an outage: no offline queue (a command while
 * disconnected fails at once instead of waiting for a reconnect), one retry per request, and a
 * store-level timeout of about a second. Each failure reaches the client as 503, never as a 4xx.
 */

import { Redis } from 'ioredis';
import { MemoryStore, RedisStore, type SessionStore } from 'caa-auth';

/** The store, what it is (for the startup line) and how to release it. */
export interface StoreHandle {
  store: SessionStore;
  /** `memory`, or `redis <host>:<port>` (never the URL: it may hold a password). */
  description: string;
  close(): Promise<void>;
}

/** Wait for one Redis call before the request is answered 503, ms. */
export const EXAMPLE_REDIS_TIMEOUT_MS = 1_000;

/**
 * Builds the store named by `env`. With `REDIS_URL`, connects first and rejects if Redis cannot be
 * reached, so a server never starts half-working. `REDIS_PREFIX` sets the key prefix (default `caa:`).
 */
export async function createStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = (line) => console.error(line),
): Promise<StoreHandle> {
  const url = env.REDIS_URL;
  if (url === undefined || url === '') {
    return { store: new MemoryStore(), description: 'memory', close: async () => {} };
  }

  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
  });
  const where = `${client.options.host ?? '?'}:${client.options.port ?? '?'}`;
  // Without a listener ioredis prints every reconnect failure; log one line per outage instead.
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    log(`[caa-example] redis ${where} unavailable: ${err instanceof Error ? err.message : 'unknown error'}`);
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log(`[caa-example] redis ${where} available again`);
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw err;
  }

  const options = env.REDIS_PREFIX === undefined ? {} : { prefix: env.REDIS_PREFIX };
  const store = new RedisStore({
    client,
    timeoutMs: EXAMPLE_REDIS_TIMEOUT_MS,
    logger: { warn: (message) => log(`[caa-example] ${message}`) },
    ...options,
  });
  // How Redis is set up for sessions (eviction policy, persistence, version): warned once at start.
  await store.check();
  return {
    store,
    description: `redis ${where}`,
    close: async () => {
      client.disconnect();
    },
  };
}
