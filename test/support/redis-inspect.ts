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
  /** DBSIZE: every key of the database. */
  dbsize(): Promise<number>;
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
    dbsize: () => client.dbsize(),
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
    dbsize: async () => Number(await client.dbSize()),
  };
}

/** SCAN and HGETALL: all that reading the session hashes takes. */
export type SessionReader = Pick<RawRedis, 'scan' | 'hgetall'>;

/** A session hash `P{T}:s:<apiKey>` as Redis holds it: the apiKey its key names, and its fields. */
export interface SessionHash {
  readonly apiKey: string;
  readonly fields: Record<string, string>;
}

/** The session keys (`P{T}:s:<apiKey>`) under `prefix`, each with the apiKey it names. */
export async function sessionKeys(raw: SessionReader, prefix: string): Promise<{ key: string; apiKey: string }[]> {
  const keys = await raw.scan(`${prefix}*`);
  const sessions: { key: string; apiKey: string }[] = [];
  for (const key of keys) {
    const at = key.indexOf('}:s:');
    if (at >= 0) sessions.push({ key, apiKey: key.slice(at + '}:s:'.length) });
  }
  return sessions;
}

/** Every session hash under `prefix`, whatever its state: SCAN over the `s:` keys, then HGETALL. */
export async function allSessions(raw: SessionReader, prefix: string): Promise<SessionHash[]> {
  const sessions: SessionHash[] = [];
  for (const { key, apiKey } of await sessionKeys(raw, prefix)) sessions.push({ apiKey, fields: await raw.hgetall(key) });
  return sessions;
}

/** The session a (live) session hash stands for. */
function sessionOf({ apiKey, fields }: SessionHash): Session {
  return {
    apiKey,
    secretKey: fields.sk ?? '',
    userId: fields.uid ?? '',
    expireIn: Number(fields.exp),
    familyId: fields.fam ?? '',
    issuedAt: Number(fields.iat),
    // `cat`: the family's login; a record written before it existed has none and reads it as `iat`.
    createdAt: Number(fields.cat ?? fields.iat),
  };
}

/** The live sessions of `familyId` as Redis holds them, expired or not. */
export async function liveSessionsInRedis(raw: SessionReader, prefix: string, familyId: string): Promise<Session[]> {
  const sessions = await allSessions(raw, prefix);
  return sessions.filter(({ fields }) => fields.st === 'live' && fields.fam === familyId).map(sessionOf);
}

/**
 * The live sessions of every family as Redis holds them, but those whose `exp` is at or before
 * `now` (a hash with no readable `exp` stays in, for the caller's comparison to show it).
 */
export async function unexpiredLiveSessionsInRedis(raw: SessionReader, prefix: string, now: number): Promise<Session[]> {
  const sessions = await allSessions(raw, prefix);
  return sessions.filter(({ fields }) => fields.st === 'live' && !(Number(fields.exp) <= now)).map(sessionOf);
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
    size: async () => (await raw.scan(`${prefix}*`)).length,
    flush: async () => raw.del(await raw.scan(`${prefix}*`)),
    close,
  };
}
