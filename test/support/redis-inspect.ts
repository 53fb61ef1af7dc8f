/**
 * Reading a RedisStore's keys behind its back, through the raw client (ioredis or node-redis), so
 * that the store tests check what Redis really holds and not what the store says it holds.
 */

import type { Redis } from 'ioredis';
import type { createClient } from 'redis';
import type { Session } from '../../src/index.js';
import type { SessionStoreFixture } from '../contract/session-store.contract.js';

type NodeRedisClient = ReturnType<typeof createClient>;

/** The raw commands the store tests read Redis with. */
export interface RawRedis {
  /** Every key matching `pattern`, by SCAN (never KEYS). */
  scan(pattern: string): Promise<string[]>;
  hgetall(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
  pttl(key: string): Promise<number>;
  type(key: string): Promise<string>;
  del(keys: string[]): Promise<void>;
  scriptFlush(): Promise<void>;
}

const SCAN_COUNT = 1_000;

export function ioredisRaw(client: Redis): RawRedis {
  return {
    async scan(pattern) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      return [...new Set(keys)].sort();
    },
    hgetall: (key) => client.hgetall(key),
    get: (key) => client.get(key),
    pttl: (key) => client.pttl(key),
    type: (key) => client.type(key),
    async del(keys) {
      if (keys.length > 0) await client.del(...keys);
    },
    async scriptFlush() {
      await client.script('FLUSH');
    },
  };
}

export function nodeRedisRaw(client: NodeRedisClient): RawRedis {
  return {
    async scan(pattern) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const reply = await client.scan(cursor, { MATCH: pattern, COUNT: SCAN_COUNT });
        cursor = String(reply.cursor);
        keys.push(...reply.keys.map(String));
      } while (cursor !== '0');
      return [...new Set(keys)].sort();
    },
    async hgetall(key) {
      const reply = await client.hGetAll(key);
      return Object.fromEntries(Object.entries(reply).map(([field, value]) => [field, String(value)]));
    },
    async get(key) {
      const value = await client.get(key);
      return value === null ? null : String(value);
    },
    pttl: async (key) => Number(await client.pTTL(key)),
    type: async (key) => String(await client.type(key)),
    async del(keys) {
      if (keys.length > 0) await client.del(keys);
    },
    async scriptFlush() {
      await client.scriptFlush();
    },
  };
}

/** The session keys (`P{T}:s:<apiKey>`) under `prefix`, each with the apiKey it names. */
export async function sessionKeys(raw: RawRedis, prefix: string): Promise<{ key: string; apiKey: string }[]> {
  const keys = await raw.scan(`${prefix}*`);
  const sessions: { key: string; apiKey: string }[] = [];
  for (const key of keys) {
    const at = key.indexOf('}:s:');
    if (at >= 0) sessions.push({ key, apiKey: key.slice(at + '}:s:'.length) });
  }
  return sessions;
}

/** The live sessions of `familyId` as Redis holds them: SCAN over the `s:` keys, then HGETALL. */
export async function liveSessionsInRedis(raw: RawRedis, prefix: string, familyId: string): Promise<Session[]> {
  const live: Session[] = [];
  for (const { key, apiKey } of await sessionKeys(raw, prefix)) {
    const hash = await raw.hgetall(key);
    if (hash.st !== 'live' || hash.fam !== familyId) continue;
    live.push({
      apiKey,
      secretKey: hash.sk ?? '',
      userId: hash.uid ?? '',
      expireIn: Number(hash.exp),
      familyId,
      issuedAt: Number(hash.iat),
    });
  }
  return live;
}

/** A contract fixture over a RedisStore whose keys all start with `prefix`. */
export function redisStoreFixture(
  store: SessionStoreFixture['store'],
  raw: RawRedis,
  prefix: string,
  close: () => Promise<void>,
): SessionStoreFixture {
  return {
    store,
    liveSessions: (familyId) => liveSessionsInRedis(raw, prefix, familyId),
    flush: async () => raw.del(await raw.scan(`${prefix}*`)),
    close,
  };
}
