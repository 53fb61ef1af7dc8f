/**
 * Sessions in Redis, for services that outgrow one process. Rotation, grace and reuse detection run
 * in one Lua script; a refresh costs two round trips (lookup, rotate). Works on a single server and
 * on Redis Cluster: all keys of one family share a hash tag. Each user's sessions are listed in an
 * index on a hash tag of its own (`{u:<userId>}`), so listing or revoking them reads the index and
 * then each family on its own slot; a login writes the index first, then the family.
 *
 * @module stores/redis/redis-store
 */

import { CaaError, isCaaError } from '../../errors.js';
import type { Session } from '../../models.js';
import {
  EXPIRED_SESSION_RETENTION_MS,
  FAMILY_TAG_LENGTH,
  toSession,
  type CreateOptions,
  type CreateResult,
  type LookupResult,
  type RevokeUserSessionsFilter,
  type RotateRequest,
  type RotateResult,
  type SessionMetadata,
  type SessionRecord,
  type SessionStore,
  type StoreCondition,
  type StoredSessionInfo,
  type UseRequest,
  type UseResult,
} from '../session-store.js';
import type { SecretCipher } from '../secret-cipher.js';
import { toScriptClient, type AnyRedisClient, type RedisScriptClient } from './client.js';
import {
  CREATE,
  FAMILIES_READ,
  FAMILIES_REVOKE,
  INDEX_ADD,
  INDEX_DROP,
  INDEX_READ,
  LOOKUP,
  REVOKE,
  ROTATE,
  TRIM_BEGIN,
  TRIM_END,
  USE,
  USE_REVOKE,
  type RedisScript,
} from './scripts.js';

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
 *
 * @category Stores
 */
export const DEFAULT_REDIS_TIMEOUT_MS = 2_000;

/**
 * How long after its `createdAt` an entry of a user's index whose family does not exist is taken
 * for a login still on its way (its INDEX_ADD ran, its CREATE not yet), ms. Listing and trimming
 * leave such an entry alone, so that they never refuse a concurrent login; past this they revoke it
 * (a tombstone, which a CREATE later still would find) and drop it. `revokeUserSessions` does not
 * wait: it revokes pending entries at once.
 *
 * @internal
 * @example
 * ```ts
 * import { PENDING_CREATE_MS } from '../src/stores/redis/redis-store.js';
 *
 * // The index entry of a session logged out at once is pruned by the first listing this long after its login.
 * clock.advance(PENDING_CREATE_MS + 1);
 * await store.listUserSessions(userId, clock.t);
 * ```
 */
export const PENDING_CREATE_MS = 300_000;

/**
 * A user's trim lease lasts this many of the store's `timeoutMs`: a pass is about six calls, each
 * answered or failed within `timeoutMs`. A lease whose login failed (a store fault) or died runs out
 * on its own; logins meanwhile leave trimming to the next one after it.
 */
const TRIM_LEASE_CALLS = 8;

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
 *
 * @category Stores
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
  /**
   * Where the store reports conditions an operator must know of (an eviction policy that can drop
   * session keys, no persistence, Redis having lost its data): once per condition, never per
   * request. Default `console`.
   */
  logger?: RedisStoreLogger;
  /**
   * Durable writes: after every script that writes (CREATE, ROTATE, USE, REVOKE, and those of a
   * user's index and families), send `WAIT replicas timeoutMs` on the same connection and answer
   * 503 when fewer replicas acknowledged the write (a refresh retried then is recovered through
   * grace). Needs a client adapter with `evalThenWait` (both built-in ones); `timeoutMs` must be
   * less than the store's `timeoutMs`.
   */
  waitReplicas?: { replicas: number; timeoutMs: number };
}

/**
 * Where {@link RedisStore} reports its conditions.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { RedisStore, type RedisStoreLogger } from 'caa-auth';
 *
 * const log = pino();
 * const logger: RedisStoreLogger = { warn: (message) => log.warn({ component: 'caa-auth' }, message) };
 * const store = new RedisStore({ client, logger });
 * ```
 *
 * @category Stores
 */
export interface RedisStoreLogger {
  /**
   * Called once per condition the store notices (see {@link RedisStore.check}).
   *
   * @param message - One line, naming the condition and what to do about it.
   */
  warn(message: string): void;
}

/**
 * What {@link RedisStore.check} found on one server (each master of a Cluster).
 *
 * @example
 * ```ts
 * import type { RedisServerCheck } from 'caa-auth';
 *
 * const [first]: RedisServerCheck[] = (await store.check()).servers;
 * console.log(first?.version, first?.maxmemoryPolicy, first?.aof); // '7.0.15' 'noeviction' true
 * ```
 *
 * @category Stores
 */
export interface RedisServerCheck {
  /** `redis_version`. */
  version: string;
  /** `maxmemory_policy`: anything but `noeviction` can evict session keys. */
  maxmemoryPolicy: string;
  /** AOF persistence is on (`aof_enabled`). */
  aof: boolean;
}

/**
 * What {@link RedisStore.check} reports.
 *
 * @example
 * ```ts
 * import type { RedisCheckReport } from 'caa-auth';
 *
 * const report: RedisCheckReport = await store.check();
 * if (report.warnings.length > 0) process.exitCode = 1; // a deployment check in CI
 * ```
 *
 * @category Stores
 */
export interface RedisCheckReport {
  servers: RedisServerCheck[];
  /** One line per problem found (also sent to the logger, once each). */
  warnings: string[];
}

/**
 * The lowest Redis the scripts run on: they start with a Redis 7 shebang (`#!lua flags=…`).
 *
 * @example
 * ```ts
 * import { MIN_REDIS_VERSION } from 'caa-auth';
 *
 * // A deployment check: store.check() warns (or, strict, throws) below this version; say which one is needed.
 * await store.check({ strict: true }).catch((err: unknown) => {
 *   console.error(`sessions need Redis ${MIN_REDIS_VERSION}+, noeviction and AOF:`, err);
 *   process.exit(1);
 * });
 * ```
 *
 * @category Stores
 */
export const MIN_REDIS_VERSION = '7.0.0';

/** `field` of an INFO reply (`field:value` lines). */
function infoField(info: string, field: string): string | undefined {
  for (const line of info.split('\n')) {
    if (line.startsWith(`${field}:`)) return line.slice(field.length + 1).trim();
  }
  return undefined;
}

function versionBelow(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < b.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
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
 *
 * @category Stores
 */
export class RedisStore implements SessionStore {
  readonly #client: RedisScriptClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #cipher: SecretCipher | undefined;
  readonly #retentionMs: number;
  readonly #callerClock: boolean;
  readonly #logger: RedisStoreLogger;
  readonly #wait: { replicas: number; timeoutMs: number } | undefined;
  /** Conditions reported so far: each only once. */
  readonly #reported = new Set<string>();
  /** The conditions reported so far, for listeners that subscribe later. */
  readonly #conditions: StoreCondition[] = [];
  readonly #listeners: ((condition: StoreCondition) => void)[] = [];
  /** Hash tags whose epoch key this store has seen: a later lookup without it means lost data. */
  readonly #epochs = new Set<string>();

  /**
   * A store on `options.client`; connects nothing itself (the client does).
   *
   * @param options - `client` (required), `prefix`, `timeoutMs`, `secretCipher`, `expiredRetentionMs`, `clock`, `logger`, `waitReplicas`.
   */
  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('RedisStore: needs its options, { client } at least: new RedisStore({ client: new Redis(url) })');
    }
    this.#client = toScriptClient(options.client);
    this.#prefix = options.prefix ?? 'caa:';
    if (typeof this.#prefix !== 'string' || this.#prefix.includes('{') || this.#prefix.includes('}')) {
      throw new TypeError('RedisStore: prefix must be a string without { or }');
    }
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    if (typeof this.#timeoutMs !== 'number' || !(this.#timeoutMs > 0) || !Number.isFinite(this.#timeoutMs)) {
      throw new TypeError('RedisStore: timeoutMs must be a positive number of ms');
    }
    if (options.clock !== undefined && options.clock !== 'redis' && options.clock !== 'caller') {
      throw new TypeError("RedisStore: clock must be 'redis' or 'caller'");
    }
    this.#cipher = options.secretCipher;
    this.#retentionMs = options.expiredRetentionMs ?? EXPIRED_SESSION_RETENTION_MS;
    this.#callerClock = options.clock === 'caller';
    this.#logger = options.logger ?? console;
    this.#wait = options.waitReplicas;
    if (this.#wait !== undefined) {
      const { replicas, timeoutMs } = this.#wait;
      if (!Number.isInteger(replicas) || replicas < 1 || !Number.isInteger(timeoutMs) || timeoutMs < 1) {
        throw new TypeError('RedisStore: waitReplicas needs { replicas, timeoutMs }, positive integers');
      }
      if (this.#client.evalThenWait === undefined) {
        throw new TypeError('RedisStore: waitReplicas needs a client adapter with evalThenWait');
      }
      if (timeoutMs >= this.#timeoutMs) {
        throw new TypeError('RedisStore: waitReplicas.timeoutMs must be less than timeoutMs, or every write times out first');
      }
    }
  }

  /** Reports a condition once (per store), through the logger and to every listener. */
  #report(condition: StoreCondition['condition'], message: string): void {
    if (this.#reported.has(condition)) return;
    this.#reported.add(condition);
    this.#conditions.push({ condition, message });
    try {
      this.#logger.warn(`caa-auth RedisStore: ${message}`);
    } catch {
      // A logger that throws must not change an answer.
    }
    for (const listener of this.#listeners) notify(listener, { condition, message });
  }

  /**
   * {@link SessionStore.onCondition}: `listener` hears each condition the store reports (an
   * eviction policy that can drop session keys, no persistence, a Redis too old, lost data), once
   * each, those reported before the call included. `createCaaAuth` turns them into
   * `store.condition` events.
   *
   * @param listener - Called with each condition; what it throws is ignored.
   *
   * @example
   * ```ts
   * store.onCondition((condition) => alerts.page(`sessions store: ${condition.message}`));
   * await store.check();
   * ```
   */
  onCondition(listener: (condition: StoreCondition) => void): void {
    this.#listeners.push(listener);
    for (const condition of this.#conditions) notify(listener, condition);
  }

  /** The `now` argument of a script: empty for the server's clock. */
  #now(now: number): string {
    return this.#callerClock ? String(now) : '';
  }

  /**
   * `P{T}:`, the start of every key of the family that `apiKey` belongs to.
   *
   * @param apiKey - Any apiKey of the family.
   */
  keyPrefix(apiKey: string): string {
    return `${this.#prefix}{${apiKey.slice(0, FAMILY_TAG_LENGTH)}}:`;
  }

  /**
   * Checks how the Redis server (every master of a Cluster) is set up for sessions: its version
   * (at least {@link MIN_REDIS_VERSION}), `maxmemory-policy` (anything but `noeviction` can evict
   * session keys: a revoked or rotated pair could work again, a replay pass) and persistence (AOF;
   * without it a restart logs everyone out). Each problem is sent to the `logger` once and
   * returned; with `{ strict: true }` the call rejects with an `Error` naming them instead. Call it
   * at start-up.
   *
   * @param options - `strict`: reject with the problems instead of only reporting them.
   *
   * @example
   * ```ts
   * const store = new RedisStore({ client });
   * await store.check({ strict: process.env.NODE_ENV === 'production' });
   * ```
   */
  async check(options: { strict?: boolean } = {}): Promise<RedisCheckReport> {
    const info = this.#client.info;
    if (info === undefined) throw new TypeError('RedisStore.check needs a client adapter with info (both built-in ones have it)');
    const sections = await Promise.all(['server', 'memory', 'persistence'].map((section) => info(section)));
    const [server = [], memory = [], persistence = []] = sections;
    const servers: RedisServerCheck[] = server.map((text, i) => ({
      version: infoField(text, 'redis_version') ?? 'unknown',
      maxmemoryPolicy: infoField(memory[i] ?? '', 'maxmemory_policy') ?? 'unknown',
      aof: infoField(persistence[i] ?? '', 'aof_enabled') === '1',
    }));
    const warnings: string[] = [];
    const problem = (condition: StoreCondition['condition'], message: string): void => {
      warnings.push(message);
      this.#report(condition, message);
    };
    for (const { version, maxmemoryPolicy, aof } of servers) {
      if (versionBelow(version, MIN_REDIS_VERSION)) {
        problem('version', `Redis ${version} is older than ${MIN_REDIS_VERSION}: its scripts (Redis 7 shebang flags) will not load`);
      }
      if (maxmemoryPolicy !== 'noeviction') {
        problem(
          'eviction',
          `maxmemory-policy is ${maxmemoryPolicy}: Redis may evict session keys under memory pressure (sessions lost, replays and reuse undetected); use noeviction, or a Redis of its own for sessions`,
        );
      }
      if (!aof) problem('persistence', 'AOF persistence is off: a Redis restart loses the sessions written since the last snapshot');
    }
    if (options.strict === true && warnings.length > 0) {
      throw new Error(`RedisStore.check: ${warnings.join('; ')}`);
    }
    return { servers, warnings: [...new Set(warnings)] };
  }

  /**
   * Saves a login: its index entry first (INDEX_ADD), then the family (CREATE), so that no family is
   * ever live without its entry. A family a concurrent {@link RedisStore.revokeUserSessions} revoked
   * between the two is left revoked (CREATE finds its tombstone and writes nothing). With
   * `maxSessions`, the index is counted again after CREATE (the count at INDEX_ADD cannot decide: a
   * login counted early may be created after a later one trimmed), and beyond it the user's oldest
   * live families are revoked, never this one. One login trims at a time per user (a lease in Redis):
   * the others leave it to that one, which looks again before it ends, so that a login flood costs
   * each pass one reading of the index, not each login.
   *
   * @param session - The new session (its first pair and its family).
   * @param now - The caller's clock, epoch ms (the scripts use Redis's `TIME` unless `clock: 'caller'`).
   * @param options - `metadata` (kept for the device list) and `maxSessions` (beyond it, the user's oldest are revoked).
   */
  async create(session: Session, now: number, options: CreateOptions = {}): Promise<CreateResult> {
    const { apiKey, userId, familyId } = session;
    if (!Number.isFinite(session.createdAt)) throw new TypeError('RedisStore: a session needs createdAt, the login as epoch ms');
    const tag = this.keyPrefix(apiKey);
    const { endsAt } = options;
    const indexTtl = endsAt !== undefined && Number.isFinite(endsAt) ? String(ttl(endsAt + this.#retentionMs, now)) : '';
    const entry = `${session.createdAt}:${apiKey.slice(0, FAMILY_TAG_LENGTH)}`;
    answerFor(await this.#run(INDEX_ADD, [this.#indexKey(userId)], [userId, familyId, entry, indexTtl], true), userId);
    const reply = answerFor(
      await this.#run(
        CREATE,
        [`${tag}s:${apiKey}`, `${tag}f:${familyId}`],
        [
          apiKey,
          this.#seal(session.secretKey, session),
          userId,
          familyId,
          String(session.issuedAt),
          String(session.expireIn),
          String(ttl(session.expireIn + this.#retentionMs, now)),
          String(session.createdAt),
          JSON.stringify(options.metadata ?? {}),
        ],
        true,
      ),
      apiKey,
    );
    // Revoked before it was created: its credentials never work, and there is nothing to trim for.
    if (reply[0] === 'revoked') return { evicted: [] };
    if (reply[0] !== 'created') throw unexpectedReply();
    this.#epochs.add(tag);
    const { maxSessions } = options;
    if (maxSessions === undefined || !Number.isFinite(maxSessions)) return { evicted: [] };
    return { evicted: await this.#trim(userId, familyId, maxSessions, now) };
  }

  /**
   * The live families of a user, oldest login first: the index, then each hash tag's families
   * (FAMILIES_READ, one call per tag, in parallel). Entries of families that ended (expired, revoked)
   * are dropped from the index; an entry whose family does not exist is left alone for
   * `PENDING_CREATE_MS` (a login whose CREATE has not run yet), then revoked (a tombstone) and
   * dropped. A logout, a reuse and {@link RedisStore.revoke} leave their family's entry to this and to
   * a login's trim: those calls do not know the user, and a round trip more on them is not worth it.
   *
   * @param userId - The user's id, as a string.
   * @param now - The caller's clock, epoch ms.
   */
  async listUserSessions(userId: string, now: number): Promise<StoredSessionInfo[]> {
    const entries = await this.#readIndex(userId, '');
    if (entries.length === 0) return [];
    const { live, ended, overdue } = await this.#inspect(userId, entries, now);
    await this.#prune(userId, ended, overdue, now);
    return live;
  }

  /**
   * Revokes a user's families (all, all but `except`, or only `sessionId`, which must be in the
   * user's index) and returns the ids of those that were live, oldest login first. Every entry
   * read is revoked, a login still on its way included (its CREATE will find the tombstone), then
   * dropped from the index; a family that had ended already is left as it is. A login whose
   * INDEX_ADD comes after the index was read is not revoked: it is listed afterwards.
   *
   * @param userId - The user's id, as a string.
   * @param now - The caller's clock, epoch ms.
   * @param filter - Which sessions: all (`{}`), all but one (`except`), or one (`sessionId`); family ids.
   */
  async revokeUserSessions(userId: string, now: number, filter: RevokeUserSessionsFilter = {}): Promise<string[]> {
    const read = await this.#readIndex(userId, filter.sessionId ?? '');
    const entries = read.filter((entry) => entry.familyId !== filter.except);
    if (entries.length === 0) return [];
    const live = await this.#revokeFamilies(userId, entries, now);
    await this.#drop(userId, entries);
    return entries.filter((entry) => live.has(entry.familyId)).sort(byLogin).map((entry) => entry.familyId);
  }

  /**
   * Keeps a user within `maxSessions` live families after `own` was created: when the index holds
   * more entries and no other login of the user is trimming (TRIM_BEGIN), revokes the oldest live
   * ones beyond the limit (never `own`) and prunes the ones that ended, then once more for as long
   * as logins came meanwhile (TRIM_END). Returns the families it found live and revoked, oldest first.
   */
  async #trim(userId: string, own: string, maxSessions: number, now: number): Promise<string[]> {
    const keys = [this.#indexKey(userId), `${this.#prefix}{u:${userId}}:t`];
    const args = [userId, String(maxSessions), String(TRIM_LEASE_CALLS * this.#timeoutMs), own];
    const evicted: IndexEntry[] = [];
    let reply = answerFor(await this.#run(TRIM_BEGIN, keys, args, true), userId);
    while (reply[0] === 'trim') {
      evicted.push(...(await this.#trimPass(userId, own, toIndexEntries(reply), maxSessions, now)));
      reply = answerFor(await this.#run(TRIM_END, keys, args, true), userId);
    }
    if (reply[0] !== 'within' && reply[0] !== 'busy' && reply[0] !== 'done') throw unexpectedReply();
    return evicted.sort(byLogin).map((entry) => entry.familyId);
  }

  /** One pass of a trim over the entries read; returns those it found live and revoked. */
  async #trimPass(userId: string, own: string, entries: readonly IndexEntry[], maxSessions: number, now: number): Promise<IndexEntry[]> {
    const { live, ended, overdue } = await this.#inspect(userId, entries, now);
    const others = live.filter((info) => info.sessionId !== own);
    const excess = new Set(others.slice(0, Math.max(0, live.length - maxSessions)).map((info) => info.sessionId));
    const revoke = entries.filter((entry) => excess.has(entry.familyId));
    const revoked = revoke.length === 0 ? new Set<string>() : await this.#revokeFamilies(userId, revoke, now);
    await this.#drop(userId, revoke);
    await this.#prune(userId, ended, overdue, now);
    // Only those this pass found live: a family revoked meanwhile (a listing, a logout) is not named.
    return revoke.filter((entry) => revoked.has(entry.familyId));
  }

  /** The user's index (INDEX_READ): every entry, or only `familyId`'s. */
  async #readIndex(userId: string, familyId: string): Promise<IndexEntry[]> {
    return toIndexEntries(answerFor(await this.#run(INDEX_READ, [this.#indexKey(userId)], [userId, familyId], false), userId));
  }

  /**
   * What each entry's family is now (FAMILIES_READ, one call per hash tag, in parallel): the live
   * ones as listed, oldest login first; the entries of families that ended (`ended`: their family
   * key is there without a live head, or is another user's); and those of logins that have not come
   * for `PENDING_CREATE_MS` (`overdue`: no family key).
   */
  async #inspect(
    userId: string,
    entries: readonly IndexEntry[],
    now: number,
  ): Promise<{ live: StoredSessionInfo[]; ended: IndexEntry[]; overdue: IndexEntry[] }> {
    const live: StoredSessionInfo[] = [];
    const ended: IndexEntry[] = [];
    const overdue: IndexEntry[] = [];
    await Promise.all(
      [...byTag(entries)].map(async ([tag, group]) => {
        const reply = answerFor(
          await this.#run(
            FAMILIES_READ,
            group.map((entry) => this.#familyKey(tag, entry.familyId)),
            [userId, this.#now(now), ...group.map((entry) => entry.familyId)],
            false,
          ),
          userId,
        );
        if (reply.length !== 2 + FAMILY_STATE_FIELDS * group.length) throw unexpectedReply();
        const storeNow = Number(reply[0]);
        group.forEach((entry, i) => {
          const [state, createdAt, metadata, refreshedAt, expireIn] = reply.slice(2 + FAMILY_STATE_FIELDS * i, 2 + FAMILY_STATE_FIELDS * (i + 1));
          if (state === 'live') {
            const loggedIn = text(createdAt);
            live.push({
              sessionId: entry.familyId,
              userId,
              createdAt: loggedIn === undefined ? entry.createdAt : Number(loggedIn),
              refreshedAt: Number(refreshedAt),
              expireIn: Number(expireIn),
              metadata: toMetadata(metadata),
            });
          } else if (state === 'dead' || state === 'foreign') {
            ended.push(entry);
          } else if (state === 'absent') {
            // A login whose CREATE may still come: left alone while young.
            if (!(storeNow - entry.createdAt <= PENDING_CREATE_MS)) overdue.push(entry);
          } else {
            throw unexpectedReply();
          }
        });
      }),
    );
    live.sort((a, b) => a.createdAt - b.createdAt || compareIds(a.sessionId, b.sessionId));
    return { live, ended, overdue };
  }

  /** Revokes `entries`' families (FAMILIES_REVOKE, one call per hash tag, in parallel); returns the ids of those that were live. */
  async #revokeFamilies(userId: string, entries: readonly IndexEntry[], now: number): Promise<Set<string>> {
    const live = new Set<string>();
    // A tombstone must outlive any CREATE still on its way, however short the retention.
    const tombstoneTtl = String(Math.max(this.#retentionMs, PENDING_CREATE_MS));
    await Promise.all(
      [...byTag(entries)].map(async ([tag, group]) => {
        const reply = answerFor(
          await this.#run(
            FAMILIES_REVOKE,
            group.map((entry) => this.#familyKey(tag, entry.familyId)),
            [userId, this.#now(now), tombstoneTtl, ...group.map((entry) => entry.familyId)],
            true,
          ),
          userId,
        );
        if (reply.length !== 2 + group.length) throw unexpectedReply();
        group.forEach((entry, i) => {
          if (Number(reply[2 + i]) === 1) live.add(entry.familyId);
        });
      }),
    );
    return live;
  }

  /**
   * Drops the entries of families that ended, and of overdue logins once revoked (a tombstone, which
   * a CREATE that still comes finds). An ended family is left as it is: an expired pair keeps
   * reading as expired (`SESSION_EXPIRED`), and nothing of it can be used again.
   */
  async #prune(userId: string, ended: readonly IndexEntry[], overdue: readonly IndexEntry[], now: number): Promise<void> {
    if (overdue.length > 0) await this.#revokeFamilies(userId, overdue, now);
    await this.#drop(userId, [...ended, ...overdue]);
  }

  /** Drops entries from the user's index (INDEX_DROP). */
  async #drop(userId: string, entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length === 0) return;
    answerFor(await this.#run(INDEX_DROP, [this.#indexKey(userId)], [userId, ...entries.map((entry) => entry.familyId)], true), userId);
  }

  /** `P{u:<userId>}:i`, the user's index: a hash tag of its own, whatever slot the families are on. */
  #indexKey(userId: string): string {
    return `${this.#prefix}{u:${userId}}:i`;
  }

  /** `P{T}:f:<familyId>`, rebuilt from an index entry's tag. */
  #familyKey(tag: string, familyId: string): string {
    return `${this.#prefix}{${tag}}:f:${familyId}`;
  }

  async lookup(apiKey: string, now: number): Promise<LookupResult> {
    const tag = this.keyPrefix(apiKey);
    const reply = answerFor(await this.#run(LOOKUP, [`${tag}s:${apiKey}`], [apiKey, this.#now(now)], false), apiKey);
    const storeNow = Number(reply[0]);
    if (reply[2] === 1 || reply[2] === '1') this.#epochs.add(tag);
    else if (this.#epochs.has(tag)) {
      this.#report(
        'data-lost',
        'Redis has lost its data (a restart without persistence, a flush, or eviction): every session it held is gone. Enable AOF persistence and maxmemory-policy noeviction.',
      );
    }
    const record = toRecord(apiKey, reply, storeNow);
    if (record !== null) record.secretKey = this.#open(record.secretKey, record);
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
    const reply = answerFor(
      await this.#run(
        ROTATE,
        keys,
        [
          apiKey,
          familyId,
          this.#now(now),
          String(request.graceMs),
          next.apiKey,
          this.#seal(next.secretKey, next),
          String(next.issuedAt),
          String(next.expireIn),
          String(this.#retentionMs),
          String(request.signedAt),
          String(request.toleranceMs),
          replay === undefined ? '' : String(replay.expiresAt),
          replay === undefined ? '' : replay.id,
          request.scheme === 'caa-v2' ? 'v2' : '',
        ],
        true,
      ),
      apiKey,
    );
    const outcome: unknown = reply[0];
    if (outcome === 'rotated') return { outcome, session: toSession(next) };
    if (outcome === 'grace') {
      const [, , key, secretKey, issuedAt, expireIn, createdAt] = reply;
      if (typeof key !== 'string' || typeof secretKey !== 'string') throw unexpectedReply();
      const loggedIn = text(createdAt);
      const session: Session = {
        apiKey: key,
        secretKey,
        userId: next.userId,
        familyId,
        issuedAt: Number(issuedAt),
        expireIn: Number(expireIn),
        // A successor written before `cat` existed: its own issue time, as a lookup reads it.
        createdAt: loggedIn === undefined ? Number(issuedAt) : Number(loggedIn),
      };
      session.secretKey = this.#open(secretKey, session);
      return { outcome, session };
    }
    if (outcome === 'reused' || outcome === 'replayed' || outcome === 'not-found') return { outcome };
    throw unexpectedReply();
  }

  async use(request: UseRequest): Promise<UseResult> {
    const { apiKey, familyId, replay } = request;
    const tag = this.keyPrefix(apiKey);
    const keys = [`${tag}s:${apiKey}`, `${tag}f:${familyId}`];
    if (replay !== undefined) keys.push(`${tag}r:${replay.key}`);
    const reply = answerFor(
      await this.#run(
        request.revoke ? USE_REVOKE : USE,
        keys,
        [
          apiKey,
          familyId,
          this.#now(request.now),
          String(request.graceMs),
          String(request.signedAt),
          String(request.toleranceMs),
          request.revoke ? '1' : '0',
          replay === undefined ? '' : String(replay.expiresAt),
          replay === undefined ? '' : replay.id,
          request.scheme === 'caa-v2' ? 'v2' : '',
        ],
        true,
      ),
      apiKey,
    );
    const outcome: unknown = reply[0];
    if (outcome === 'live' || outcome === 'revoked' || outcome === 'reused' || outcome === 'replayed' || outcome === 'not-found') {
      return { outcome };
    }
    throw unexpectedReply();
  }

  async revoke(apiKey: string): Promise<void> {
    answerFor(await this.#run(REVOKE, [`${this.keyPrefix(apiKey)}s:${apiKey}`], [apiKey], true), apiKey);
  }

  /** Seals a secret bound to its record: a sealed secret moved to another record does not open. */
  #seal(secretKey: string, session: Pick<Session, 'apiKey' | 'userId' | 'familyId' | 'expireIn'>): string {
    return this.#cipher === undefined ? secretKey : this.#cipher.seal(secretKey, sealContext(session));
  }

  /**
   * Opens a stored secret; one that does not open is a fault of the store's data or keys (503), and
   * so is a sealed-looking value in a store without a cipher (a cipher removed by mistake).
   */
  #open(stored: string, session: Pick<Session, 'apiKey' | 'userId' | 'familyId' | 'expireIn'>): string {
    if (this.#cipher === undefined) {
      if (stored.startsWith(SEALED_PREFIX)) {
        throw new CaaError('STORE_UNAVAILABLE', { cause: new Error('a sealed secretKey in a store without a secretCipher') });
      }
      return stored;
    }
    try {
      return this.#cipher.open(stored, sealContext(session));
    } catch (cause) {
      throw new CaaError('STORE_UNAVAILABLE', { cause: safeCause(cause) });
    }
  }

  /**
   * Runs a script by its SHA-1, loading it with EVAL when the server does not have it (after a
   * restart). With `waitReplicas`, a script that writes is followed by WAIT on the same connection.
   */
  #run(script: RedisScript, keys: string[], args: string[], writes: boolean): Promise<unknown> {
    const call = new ScriptCall(this.#timeoutMs);
    void this.#answer(call, script, keys, args, writes);
    return call.answer;
  }

  /** Sends the script and answers `call` with its reply or its fault (a no-op once it timed out). */
  async #answer(call: ScriptCall, script: RedisScript, keys: string[], args: string[], writes: boolean): Promise<void> {
    try {
      const wait = writes ? this.#wait : undefined;
      call.resolve(wait === undefined ? await this.#evalsha(script, keys, args, call) : await this.#evalshaThenWait(script, keys, args, call, wait));
    } catch (cause) {
      call.reject(isCaaError(cause) ? cause : new CaaError('STORE_UNAVAILABLE', { cause: safeCause(cause) }));
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

  async #evalshaThenWait(
    script: RedisScript,
    keys: string[],
    args: string[],
    call: { timedOut: boolean },
    wait: { replicas: number; timeoutMs: number },
  ): Promise<unknown> {
    const send = this.#client.evalThenWait;
    if (send === undefined) throw new TypeError('RedisStore: waitReplicas needs a client adapter with evalThenWait');
    let result: readonly [unknown, unknown];
    try {
      result = await send('EVALSHA', script.sha1, keys, args, wait.replicas, wait.timeoutMs);
    } catch (err) {
      if (call.timedOut || !(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      result = await send('EVAL', script.source, keys, args, wait.replicas, wait.timeoutMs);
    }
    const [reply, acknowledged] = result;
    if (Number(acknowledged) < wait.replicas) {
      throw new CaaError('STORE_UNAVAILABLE', {
        cause: new Error(`WAIT: ${Number(acknowledged)} of ${wait.replicas} replicas acknowledged the write within ${wait.timeoutMs} ms`),
      });
    }
    return reply;
  }
}

/**
 * One script call in flight, answered once: by its reply, by its fault, or `timeoutMs` after it
 * started by 503 `STORE_UNAVAILABLE`, whichever comes first. One timer (its callback shared, the
 * call passed as its argument) and one promise per call, instead of a timeout promise raced
 * against the call.
 */
class ScriptCall {
  /** Set when the timeout answered: the caller has its 503, so a NOSCRIPT retry would be a late write. */
  timedOut = false;
  readonly answer: Promise<unknown>;
  #answered = false;
  #resolve: (reply: unknown) => void = ignore;
  #reject: (reason: unknown) => void = ignore;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    this.answer = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#timer = setTimeout(ScriptCall.#expire, timeoutMs, this, timeoutMs);
  }

  resolve(reply: unknown): void {
    if (this.#answered) return;
    this.#answered = true;
    clearTimeout(this.#timer);
    this.#resolve(reply);
  }

  reject(reason: unknown): void {
    if (this.#answered) return;
    this.#answered = true;
    clearTimeout(this.#timer);
    this.#reject(reason);
  }

  static #expire(call: ScriptCall, timeoutMs: number): void {
    if (call.#answered) return;
    call.timedOut = true;
    call.reject(new CaaError('STORE_UNAVAILABLE', { cause: new Error(`Redis call timed out after ${timeoutMs} ms`) }));
  }
}

function ignore(): void {}

/** Calls a condition listener; what it throws must not change an answer. */
function notify(listener: (condition: StoreCondition) => void, condition: StoreCondition): void {
  try {
    listener({ ...condition });
  } catch {
    // Ignored, as a throwing logger is.
  }
}

/** A sealed secretKey (see createSecretCipher) starts with this. */
const SEALED_PREFIX = 'g1.';

/** What a sealed secret is bound to: its apiKey, user, family and expiry. */
function sealContext(session: Pick<Session, 'apiKey' | 'userId' | 'familyId' | 'expireIn'>): string {
  return `caa-session\n${session.apiKey}\n${session.userId}\n${session.familyId}\n${session.expireIn}`;
}

/**
 * The cause of a STORE_UNAVAILABLE, without what a client library attaches to its errors: ioredis
 * keeps the command and its arguments (a new secretKey, in plain text) in `ReplyError.command`.
 * Only the error's name, its first line of message (bounded) and its code are kept.
 */
function safeCause(cause: unknown): Error {
  if (!(cause instanceof Error)) return new Error(typeof cause === 'string' ? cause.slice(0, 200) : 'store fault');
  const safe = new Error((cause.message.split('\n')[0] ?? '').slice(0, 200));
  safe.name = cause.name;
  const code: unknown = (cause as { code?: unknown }).code;
  if (typeof code === 'string') Object.defineProperty(safe, 'code', { value: code, enumerable: true });
  return safe;
}

/**
 * The reply of a script, checked to answer for `id` — the apiKey, or for the index and families
 * scripts the userId (a reply matched to another command is a 503).
 */
function answerFor(reply: unknown, id: string): readonly unknown[] {
  if (!Array.isArray(reply) || reply[1] !== id) {
    throw new CaaError('STORE_UNAVAILABLE', { cause: new TypeError('a Redis reply that does not answer for its request') });
  }
  return reply;
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
 * A record from a LOOKUP reply ({ now, apiKey, epoch, st, sk, uid, fam, iat, exp, nx, rat, nexp, u, cat, v2 });
 * a tombstone past its successor's expiry (the family's end) reads as gone. A record written before
 * `cat` existed reads its own `iat` as the login.
 */
function toRecord(apiKey: string, reply: readonly unknown[], now: number): SessionRecord | null {
  const state = reply[3];
  if (state !== 'live' && state !== 'rotated') return null;
  const successorExpireIn = text(reply[11]);
  if (state === 'rotated' && successorExpireIn !== undefined && now >= Number(successorExpireIn)) return null;
  const issuedAt = Number(reply[7]);
  const createdAt = text(reply[13]);
  const record: SessionRecord = {
    apiKey,
    state,
    secretKey: text(reply[4]) ?? '',
    userId: text(reply[5]) ?? '',
    familyId: text(reply[6]) ?? '',
    issuedAt,
    expireIn: Number(reply[8]),
    createdAt: createdAt === undefined ? issuedAt : Number(createdAt),
  };
  if (state === 'rotated') {
    const successor = text(reply[9]);
    const rotatedAt = text(reply[10]);
    if (successor !== undefined) record.successor = successor;
    if (rotatedAt !== undefined) record.rotatedAt = Number(rotatedAt);
  } else if (text(reply[12]) !== undefined) {
    record.used = true;
  }
  // The family verified a caa-v2 request: no legacy header for it any more.
  if (text(reply[14]) !== undefined) record.v2 = true;
  return record;
}

/** One entry of a user's index: a family, its login and its hash tag. */
interface IndexEntry {
  readonly familyId: string;
  readonly createdAt: number;
  readonly tag: string;
}

/** Fields per family in a FAMILIES_READ reply: state, cat, md, iat, exp. */
const FAMILY_STATE_FIELDS = 5;

/** An index entry from its field and value (`<createdAt>:<tag>`); undefined for one the store did not write. */
function toIndexEntry(field: unknown, value: unknown): IndexEntry | undefined {
  const familyId = text(field);
  const entry = text(value);
  if (familyId === undefined || entry === undefined) return undefined;
  const colon = entry.indexOf(':');
  const createdAt = Number(entry.slice(0, colon));
  const tag = entry.slice(colon + 1);
  if (colon < 1 || !Number.isFinite(createdAt) || tag.length !== FAMILY_TAG_LENGTH) return undefined;
  return { familyId, createdAt, tag };
}

/** The index entries of a reply { …, userId, familyId₁, entry₁, … }; entries the store did not write are skipped. */
function toIndexEntries(reply: readonly unknown[]): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (let i = 2; i + 1 < reply.length; i += 2) {
    const entry = toIndexEntry(reply[i], reply[i + 1]);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

/** Entries grouped by hash tag: each group is one script call, on one slot. */
function byTag(entries: readonly IndexEntry[]): Map<string, IndexEntry[]> {
  const groups = new Map<string, IndexEntry[]>();
  for (const entry of entries) {
    const group = groups.get(entry.tag);
    if (group === undefined) groups.set(entry.tag, [entry]);
    else group.push(entry);
  }
  return groups;
}

/** By code unit, as the memory store orders ties. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byLogin(a: IndexEntry, b: IndexEntry): number {
  return a.createdAt - b.createdAt || compareIds(a.familyId, b.familyId);
}

/** The metadata a family keeps (`md`, JSON); `{}` when absent or not what CREATE writes. */
function toMetadata(value: unknown): SessionMetadata {
  const json = text(value);
  if (json === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const fields = Object.entries(parsed);
  for (const [, field] of fields) {
    if (field !== null && typeof field !== 'string' && typeof field !== 'boolean' && !(typeof field === 'number' && Number.isFinite(field))) return {};
  }
  // fromEntries defines each key as data, so a key named __proto__ stays a key.
  return Object.fromEntries(fields) as SessionMetadata;
}
