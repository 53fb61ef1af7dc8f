/**
 * The store's own minimal command interface (two commands: EVALSHA and EVAL), and one thin adapter
 * per supported client: `ioredis` (Redis and Cluster) and the official `redis` (node-redis; client
 * and cluster). No client library is imported: both are optional peer dependencies.
 *
 * @module stores/redis/client
 */

/**
 * What {@link RedisStore} needs of a Redis connection.
 *
 * @example
 * ```ts
 * import { RedisClient } from 'bun';
 * import { RedisStore, type RedisScriptClient } from 'caa-auth';
 *
 * // An adapter for Bun's built-in client, through its raw send(); other clients take the same few lines.
 * const redis = new RedisClient(process.env.REDIS_URL);
 * const client: RedisScriptClient = {
 *   evalshaScript: (sha1, keys, args) => redis.send('EVALSHA', [sha1, String(keys.length), ...keys, ...args]),
 *   evalScript: (source, keys, args) => redis.send('EVAL', [source, String(keys.length), ...keys, ...args]),
 * };
 * // The store reloads its scripts only after an error whose message starts with NOSCRIPT: check the client's do.
 * const store = new RedisStore({ client });
 * ```
 */
export interface RedisScriptClient {
  /** EVALSHA; rejects with an error whose message starts with `NOSCRIPT` when the script is not cached. */
  evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** EVAL. */
  evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
}

/**
 * The part of an `ioredis` `Redis` or `Cluster` the adapter uses.
 *
 * @example
 * ```ts
 * import { Cluster } from 'ioredis';
 * import { RedisStore, ioredisAdapter, type IoredisLike } from 'caa-auth';
 *
 * // A Cluster fits as well as a Redis: all keys of one family share a hash tag, hence one slot.
 * const cluster: IoredisLike = new Cluster([{ host: 'redis-1', port: 6379 }]);
 * const store = new RedisStore({ client: ioredisAdapter(cluster) });
 * ```
 */
export interface IoredisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * The part of a node-redis client (`createClient`) or cluster (`createCluster`) the adapter uses.
 *
 * @example
 * ```ts
 * import { createCluster } from 'redis';
 * import { RedisStore, nodeRedisAdapter, type NodeRedisLike } from 'caa-auth';
 *
 * // Connected first: the store sends commands but never opens a connection itself.
 * const cluster: NodeRedisLike = await createCluster({ rootNodes: [{ url: 'redis://redis-1:6379' }] }).connect();
 * const store = new RedisStore({ client: nodeRedisAdapter(cluster) });
 * ```
 */
export interface NodeRedisLike {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(source: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * Adapts an `ioredis` client or cluster.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, ioredisAdapter } from 'caa-auth';
 *
 * const store = new RedisStore({ client: ioredisAdapter(new Redis(process.env.REDIS_URL)) });
 * ```
 */
export function ioredisAdapter(client: IoredisLike): RedisScriptClient {
  return {
    evalshaScript: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    evalScript: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
  };
}

/**
 * Adapts a node-redis (`redis` package) client or cluster.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisStore, nodeRedisAdapter } from 'caa-auth';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = new RedisStore({ client: nodeRedisAdapter(client) });
 * ```
 */
export function nodeRedisAdapter(client: NodeRedisLike): RedisScriptClient {
  return {
    evalshaScript: (sha1, keys, args) => client.evalSha(sha1, { keys: [...keys], arguments: [...args] }),
    evalScript: (source, keys, args) => client.eval(source, { keys: [...keys], arguments: [...args] }),
  };
}

/**
 * Any client {@link RedisStore} accepts: its own interface, or an ioredis or node-redis connection.
 *
 * @example
 * ```ts
 * import { RedisStore, type AnyRedisClient } from 'caa-auth';
 *
 * // Takes whichever client the application already has; RedisStore picks the adapter once, at construction.
 * export function sessionStore(client: AnyRedisClient): RedisStore {
 *   return new RedisStore({ client, prefix: 'shop:caa:' });
 * }
 * ```
 */
export type AnyRedisClient = RedisScriptClient | IoredisLike | NodeRedisLike;

/**
 * Picks the adapter for a client once, at construction. node-redis spells `evalSha` in camel case,
 * ioredis `evalsha` in lower case; the two never both appear on one client.
 */
export function toScriptClient(client: AnyRedisClient): RedisScriptClient {
  if ('evalshaScript' in client) return client;
  if ('evalSha' in client && typeof client.evalSha === 'function') return nodeRedisAdapter(client);
  if ('evalsha' in client && typeof client.evalsha === 'function') return ioredisAdapter(client);
  throw new TypeError('RedisStore: client must be an ioredis or node-redis client, or a RedisScriptClient');
}
