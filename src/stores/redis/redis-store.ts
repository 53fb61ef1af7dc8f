/**
 * Sessions in Redis, for services that outgrow one process. Rotation, grace and reuse detection run
 * in one Lua script; a refresh costs two round trips (lookup, rotate). Works on a single server and
 * on Redis Cluster: all keys of one family share a hash tag.
 *
 * @module stores/redis/redis-store
 */

import { CaaError } from '../../errors.js';
import type { Session } from '../../models.js';
import {
  EXPIRED_SESSION_RETENTION_MS,
  FAMILY_TAG_LENGTH,
  toSession,
  type LookupResult,
  type RotateRequest,
  type RotateResult,
  type SessionRecord,
  type SessionStore,
  type UseRequest,
  type UseResult,
} from '../session-store.js';
import type { SecretCipher } from '../secret-cipher.js';
import { toScriptClient, type AnyRedisClient, type RedisScriptClient } from './client.js';
import { CREATE, LOOKUP, REVOKE, ROTATE, USE, type RedisScript } from './scripts.js';

/**
 * Default wait for one Redis call before it counts as a store fault, ms.
 *
 * @example
 * ```ts
 * import { DEFAULT_REDIS_TIMEOUT_MS, RedisStore } from 'caa-auth';
 *
 * // A Redis in another region needs more headroom before a slow call counts as a fault (503).
 * const store = new RedisStore({ client, timeoutMs: 2 * DEFAULT_REDIS_TIMEOUT_MS });
 * ```
 */
export const DEFAULT_REDIS_TIMEOUT_MS = 2_000;

/**
 * Options of {@link RedisStore}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, type RedisStoreOptions } from 'caa-auth';
 *
 * const options: RedisStoreOptions = {
 *   client: new Redis(process.env.REDIS_URL),
 *   prefix: 'shop:caa:', // several services share this Redis
 *   timeoutMs: 500, // answer 503 at once rather than hold requests while Redis is away
 * };
 * const store = new RedisStore(options);
 * ```
 */
export interface RedisStoreOptions {
  /** An ioredis `Redis`/`Cluster`, a node-redis client/cluster, or a {@link RedisScriptClient}. Connected by the caller. */
  client: AnyRedisClient;
  /** Prepended to every key; default `caa:`. Must not contain `{` or `}`. */
  prefix?: string;
  /**
   * How long one call may take before it fails with 503 `STORE_UNAVAILABLE`, ms. Default
   * {@link DEFAULT_REDIS_TIMEOUT_MS}. A call that timed out may still complete on the server;
   * rotation is built so that the client then recovers through grace.
   */
  timeoutMs?: number;
  /**
   * Keep each `secretKey` sealed (AES-256-GCM, see {@link createSecretCipher}) so that a dump of
   * Redis hands out no working credentials. Off by default.
   */
  secretCipher?: SecretCipher;
  /**
   * How long a live session is kept after its `expireIn` (for `SESSION_EXPIRED`), ms. Default
   * {@link EXPIRED_SESSION_RETENTION_MS} (1 day). Rotated keys expire with their family, without it.
   */
  expiredRetentionMs?: number;
  /**
   * Whose clock rotation, grace, reuse and expiry are judged by: `'redis'` (default), the Redis
   * server's `TIME`, so that app servers whose clocks differ never disagree; `'caller'`, the `now`
   * the use cases pass (their `now` option), for tests that move time by hand.
   */
  clock?: 'redis' | 'caller';
}

/**
 * A {@link SessionStore} on Redis (single server or Cluster), through ioredis or node-redis.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore } from 'caa-auth';
 *
 * const store = new RedisStore({ client: new Redis(process.env.REDIS_URL), prefix: 'myapp:caa:' });
 * ```
 */
export class RedisStore implements SessionStore {
  readonly #client: RedisScriptClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #cipher: SecretCipher | undefined;
  readonly #retentionMs: number;
  readonly #callerClock: boolean;

  constructor(options: RedisStoreOptions) {
    this.#client = toScriptClient(options.client);
    this.#prefix = options.prefix ?? 'caa:';
    if (this.#prefix.includes('{') || this.#prefix.includes('}')) {
      throw new TypeError('RedisStore: prefix must not contain { or }');
    }
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    this.#cipher = options.secretCipher;
    this.#retentionMs = options.expiredRetentionMs ?? EXPIRED_SESSION_RETENTION_MS;
    this.#callerClock = options.clock === 'caller';
  }

  /** The `now` argument of a script: empty for the server's clock. */
  #now(now: number): string {
    return this.#callerClock ? String(now) : '';
  }

  /** `P{T}:`, the start of every key of the family that `apiKey` belongs to. */
  keyPrefix(apiKey: string): string {
    return `${this.#prefix}{${apiKey.slice(0, FAMILY_TAG_LENGTH)}}:`;
  }

  async create(session: Session, now: number): Promise<void> {
    const tag = this.keyPrefix(session.apiKey);
    await this.#run(
      CREATE,
      [`${tag}s:${session.apiKey}`, `${tag}f:${session.familyId}`],
      [
        this.#seal(session.secretKey, session.apiKey),
        session.userId,
        session.familyId,
        String(session.issuedAt),
        String(session.expireIn),
        session.apiKey,
        String(ttl(session.expireIn + this.#retentionMs, now)),
      ],
    );
  }

  async lookup(apiKey: string, now: number): Promise<LookupResult> {
    const reply = await this.#run(LOOKUP, [`${this.keyPrefix(apiKey)}s:${apiKey}`], [apiKey, this.#now(now)]);
    if (!Array.isArray(reply)) throw unexpectedReply();
    const storeNow = Number(reply[0]);
    const record = toRecord(apiKey, reply, storeNow);
    if (record !== null) record.secretKey = this.#open(record.secretKey, apiKey);
    return this.#callerClock ? { record } : { record, now: storeNow };
  }

  async rotate(request: RotateRequest): Promise<RotateResult> {
    const { apiKey, familyId, next, now, replay } = request;
    const tag = this.keyPrefix(apiKey);
    if (this.keyPrefix(next.apiKey) !== tag) {
      throw new TypeError('RedisStore: a successor apiKey must keep the hash tag of its family');
    }
    const keys = [`${tag}s:${apiKey}`, `${tag}s:${next.apiKey}`, `${tag}f:${familyId}`];
    if (replay !== undefined) keys.push(`${tag}r:${replay.key}`);
    const lifetime = next.expireIn - now;
    const reply = await this.#run(ROTATE, keys, [
      apiKey,
      familyId,
      this.#now(now),
      String(request.graceMs),
      next.apiKey,
      this.#seal(next.secretKey, next.apiKey),
      String(Math.max(1, Math.ceil(lifetime))),
      String(this.#retentionMs),
      String(request.signedAt),
      String(request.toleranceMs),
      replay === undefined ? '' : String(replay.expiresAt),
      replay === undefined ? '' : replay.id,
    ]);
    if (!Array.isArray(reply)) throw unexpectedReply();
    const outcome: unknown = reply[0];
    if (outcome === 'rotated') {
      const issuedAt = Number(reply[1]);
      return { outcome, session: { ...toSession(next), issuedAt, expireIn: Number(reply[2]) } };
    }
    if (outcome === 'grace') {
      const [, key, secretKey, issuedAt, expireIn] = reply as unknown[];
      if (typeof key !== 'string' || typeof secretKey !== 'string') throw unexpectedReply();
      return {
        outcome,
        session: {
          apiKey: key,
          secretKey: this.#open(secretKey, key),
          userId: next.userId,
          familyId,
          issuedAt: Number(issuedAt),
          expireIn: Number(expireIn),
        },
      };
    }
    if (outcome === 'reused' || outcome === 'replayed' || outcome === 'not-found') return { outcome };
    throw unexpectedReply();
  }

  async use(request: UseRequest): Promise<UseResult> {
    const { apiKey, familyId, replay } = request;
    const tag = this.keyPrefix(apiKey);
    const keys = [`${tag}s:${apiKey}`, `${tag}f:${familyId}`];
    if (replay !== undefined) keys.push(`${tag}r:${replay.key}`);
    const outcome = await this.#run(USE, keys, [
      apiKey,
      familyId,
      this.#now(request.now),
      String(request.graceMs),
      String(request.signedAt),
      String(request.toleranceMs),
      request.revoke ? '1' : '0',
      replay === undefined ? '' : String(replay.expiresAt),
      replay === undefined ? '' : replay.id,
    ]);
    if (outcome === 'live' || outcome === 'revoked' || outcome === 'reused' || outcome === 'replayed' || outcome === 'not-found') {
      return { outcome };
    }
    throw unexpectedReply();
  }

  async revoke(apiKey: string): Promise<void> {
    await this.#run(REVOKE, [`${this.keyPrefix(apiKey)}s:${apiKey}`], [apiKey]);
  }

  #seal(secretKey: string, apiKey: string): string {
    return this.#cipher === undefined ? secretKey : this.#cipher.seal(secretKey, apiKey);
  }

  /** Opens a stored secret; one that does not open is a fault of the store's data or keys (503). */
  #open(stored: string, apiKey: string): string {
    if (this.#cipher === undefined) return stored;
    try {
      return this.#cipher.open(stored, apiKey);
    } catch (cause) {
      throw new CaaError('STORE_UNAVAILABLE', { cause });
    }
  }

  /** Runs a script by its SHA-1, loading it with EVAL when the server does not have it (after a restart). */
  async #run(script: RedisScript, keys: string[], args: string[]): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const call = { timedOut: false };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        call.timedOut = true;
        reject(new Error(`Redis call timed out after ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#evalsha(script, keys, args, call), timeout]);
    } catch (cause) {
      throw new CaaError('STORE_UNAVAILABLE', { cause });
    } finally {
      clearTimeout(timer);
    }
  }

  async #evalsha(script: RedisScript, keys: string[], args: string[], call: { timedOut: boolean }): Promise<unknown> {
    try {
      return await this.#client.evalshaScript(script.sha1, keys, args);
    } catch (err) {
      // Once the caller has been answered 503, sending the script again would only be a late write.
      if (!call.timedOut && err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return this.#client.evalScript(script.source, keys, args);
      }
      throw err;
    }
  }
}

/** PX for a deadline: at least 1 ms, so that a record is never written without expiry. */
function ttl(deadline: number, now: number): number {
  return Math.max(1, Math.ceil(deadline - now));
}

function unexpectedReply(): CaaError {
  return new CaaError('STORE_UNAVAILABLE', { cause: new TypeError('unexpected Redis reply') });
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/**
 * A record from a LOOKUP reply ({ now, st, sk, uid, fam, iat, exp, nx, rat, nexp, u }); a
 * tombstone past its successor's expiry (the family's end) reads as gone.
 */
function toRecord(apiKey: string, reply: readonly unknown[], now: number): SessionRecord | null {
  const state = reply[1];
  if (state !== 'live' && state !== 'rotated') return null;
  const successorExpireIn = text(reply[9]);
  if (state === 'rotated' && successorExpireIn !== undefined && now >= Number(successorExpireIn)) return null;
  const record: SessionRecord = {
    apiKey,
    state,
    secretKey: text(reply[2]) ?? '',
    userId: text(reply[3]) ?? '',
    familyId: text(reply[4]) ?? '',
    issuedAt: Number(reply[5]),
    expireIn: Number(reply[6]),
  };
  if (state === 'rotated') {
    const successor = text(reply[7]);
    const rotatedAt = text(reply[8]);
    if (successor !== undefined) record.successor = successor;
    if (rotatedAt !== undefined) record.rotatedAt = Number(rotatedAt);
  } else if (text(reply[10]) !== undefined) {
    record.used = true;
  }
  return record;
}
