/**
 * The storage port of caa-auth: a small async interface over plain records. The rules of rotation
 * (one successor, grace, reuse detection, replay markers) live in each store's `rotate` and
 * `lookup` so that they are atomic where the data is; the shared contract suite in
 * `test/contract/` is what every store must pass.
 *
 * @module stores/session-store
 */

import type { Session } from '../models.js';

/**
 * Every apiKey of one family starts with the same this-many characters (the first 12 bits of the
 * family's first apiKey; the other 244 bits of a successor are fresh). Stores may shard on them:
 * {@link RedisStore} uses them as the Redis Cluster hash tag, so a family lives on one slot.
 *
 * @example
 * ```ts
 * import { FAMILY_TAG_LENGTH } from 'caa-auth';
 *
 * // A custom store over several databases picks one by the tag, so a family never spans two.
 * const shardOf = (apiKey: string) => shards[hash(apiKey.slice(0, FAMILY_TAG_LENGTH)) % shards.length];
 * ```
 */
export const FAMILY_TAG_LENGTH = 2;

/**
 * How long a store keeps a record after its `expireIn`, ms (1 day). Without it a store forgets a
 * session the moment it expires, and an expired apiKey could never be told apart from an unknown
 * one (`SESSION_EXPIRED` vs `APIKEY_NOT_FOUND`, spec §5).
 *
 * @example
 * ```ts
 * import { EXPIRED_SESSION_RETENTION_MS } from 'caa-auth';
 *
 * // The cleanup job of a custom SQL store: rows stay past expiry, so expired keys still read SESSION_EXPIRED.
 * await sql`DELETE FROM caa_sessions WHERE expire_in < ${Date.now() - EXPIRED_SESSION_RETENTION_MS}`;
 * ```
 */
export const EXPIRED_SESSION_RETENTION_MS = 86_400_000;

/** The plain {@link Session} fields of a record. */
export function toSession(record: Session): Session {
  const { apiKey, secretKey, userId, expireIn, familyId, issuedAt } = record;
  return { apiKey, secretKey, userId, expireIn, familyId, issuedAt };
}

/**
 * A session as a store keeps it: live, or rotated (a tombstone that remembers its successor).
 *
 * @example
 * ```ts
 * import type { SessionRecord } from 'caa-auth';
 *
 * // In a custom store's rotate: the old record stays as a tombstone, for grace and reuse detection.
 * const tombstone: SessionRecord = { ...record, state: 'rotated', successor: next.apiKey, rotatedAt: now };
 * ```
 */
export interface SessionRecord extends Session {
  /** `live`: usable. `rotated`: replaced by `successor`; kept for grace and reuse detection. */
  state: 'live' | 'rotated';
  /** For a rotated record: the apiKey that replaced it. */
  successor?: string;
  /** For a rotated record: when it was rotated, epoch ms. */
  rotatedAt?: number;
}

/**
 * A one-time marker for replay protection: `key` may be set once until `expiresAt`.
 *
 * @example
 * ```ts
 * import type { ReplayMarker } from 'caa-auth';
 *
 * // In a custom store's lookup over Redis: SET … NX answers null when the header was seen before.
 * async function replayed(marker: ReplayMarker, now: number): Promise<boolean> {
 *   return (await redis.set(`replay:${marker.key}`, '1', 'PX', Math.max(1, marker.expiresAt - now), 'NX')) === null;
 * }
 * ```
 */
export interface ReplayMarker {
  /** Identifies one header (apiKey, timestamp, signature). */
  key: string;
  /** When the marker may be forgotten, epoch ms: the header is outside the window by then. */
  expiresAt: number;
}

/**
 * What {@link SessionStore.lookup} returns.
 *
 * @example
 * ```ts
 * import type { LookupResult } from 'caa-auth';
 *
 * // An admin view of one key: `null` covers unknown, revoked and forgotten alike.
 * const { record }: LookupResult = await store.lookup(apiKey, Date.now());
 * if (record?.state === 'live') console.log(record.userId, new Date(record.expireIn));
 * ```
 */
export interface LookupResult {
  /** The record of that apiKey, live or rotated; `null` when unknown, revoked or gone. */
  record: SessionRecord | null;
  /** True when a replay marker was asked for and had already been set. */
  replayed: boolean;
}

/**
 * One atomic rotation, as {@link SessionStore.rotate} takes it.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS, type RotateRequest } from 'caa-auth';
 *
 * // Testing a custom store as refreshToken drives it: `first` is stored, `second` and `third` are candidates of its family.
 * const request: RotateRequest = { apiKey: first.apiKey, familyId: first.familyId, next: second, now: Date.now(), graceMs: DEFAULT_GRACE_MS };
 * await store.rotate(request); // { outcome: 'rotated', session: second }
 * await store.rotate({ ...request, next: third }); // { outcome: 'grace', session: second }: a retry gets the same successor
 * ```
 */
export interface RotateRequest {
  /** The apiKey the client signed with. */
  apiKey: string;
  /** The family the lookup found for it: the store refuses the rotation if it no longer matches. */
  familyId: string;
  /** The candidate successor (same family, fresh keys, new `expireIn`); used only if this call wins. */
  next: Session;
  /** The use case's clock, epoch ms. */
  now: number;
  /** How long after a rotation the predecessor may still obtain the same successor, ms. */
  graceMs: number;
}

/**
 * What {@link SessionStore.rotate} did:
 * - `rotated`: this call replaced the session with `session` (the candidate);
 * - `grace`: the session had been rotated less than `graceMs` ago; `session` is that existing successor;
 * - `reused`: a rotated key came back after grace, or an older ancestor did: the family is revoked;
 * - `not-found`: no live family for that apiKey.
 *
 * @example
 * ```ts
 * import { CaaError, type RotateResult } from 'caa-auth';
 *
 * // How refreshToken answers each outcome; a flow of one's own over store.rotate can do the same.
 * function successorOf(result: RotateResult) {
 *   switch (result.outcome) {
 *     case 'rotated':
 *     case 'grace':
 *       return result.session;
 *     case 'reused':
 *       throw new CaaError('TOKEN_REUSED'); // the store has revoked the family already
 *     case 'not-found':
 *       throw new CaaError('APIKEY_NOT_FOUND');
 *   }
 * }
 * ```
 */
export type RotateResult =
  | { outcome: 'rotated' | 'grace'; session: Session }
  | { outcome: 'reused' | 'not-found' };

/**
 * Storage for sessions. Implementations: {@link MemoryStore} (one process) and {@link RedisStore}.
 * Every method is atomic with respect to the others. A store that cannot be reached rejects with
 * {@link CaaError} 503 `STORE_UNAVAILABLE`; it never answers "not found" for a fault.
 *
 * Rules every store follows (and the contract suite checks):
 * - one family (all sessions descended from one login) has at most one live session;
 * - `rotate` is a compare-and-swap: of any number of concurrent calls for one live apiKey, one
 *   returns `rotated`, the others `grace` with the same successor;
 * - a rotated apiKey presented after `graceMs`, or any apiKey older than the immediate predecessor,
 *   revokes the whole family (`reused`), unless the request's clock (`now`) is earlier than that
 *   rotation: such a request was made before it (a delayed retry) and is answered `not-found`;
 * - records carry `expireIn`; a store keeps them {@link EXPIRED_SESSION_RETENTION_MS} longer (so that an
 *   expired apiKey is answered `SESSION_EXPIRED`) and may forget them after that.
 *
 * @example
 * ```ts
 * import type { LookupResult, ReplayMarker, RotateRequest, RotateResult, Session, SessionStore } from 'caa-auth';
 *
 * // A sketch over PostgreSQL (postgres.js): one transaction per method keeps each method atomic.
 * class PostgresStore implements SessionStore {
 *   constructor(private readonly sql: postgres.Sql) {}
 *
 *   async create(session: Session, now: number): Promise<void> {
 *     await this.sql.begin((sql) => [
 *       sql`INSERT INTO caa_sessions ${sql({ ...session, state: 'live' })}`,
 *       sql`INSERT INTO caa_families ${sql({ familyId: session.familyId, head: session.apiKey })}`,
 *     ]);
 *   }
 *   async lookup(apiKey: string, now: number, replay?: ReplayMarker): Promise<LookupResult> { … }
 *   async rotate(request: RotateRequest): Promise<RotateResult> {
 *     // SELECT … FOR UPDATE on the family row first: concurrent refreshes then take turns, and one wins.
 *     …
 *   }
 *   async revoke(apiKey: string, now: number): Promise<void> { … }
 * }
 * // In the caa-auth repository, a new store proves itself with the shared suite: describeSessionStoreContract (test/contract/).
 * ```
 */
export interface SessionStore {
  /** Saves a new live session, the first of a new family (login). */
  create(session: Session, now: number): Promise<void>;
  /**
   * Reads the record of `apiKey`. With `replay`, also sets the replay marker in the same atomic
   * step and reports whether it was already set.
   */
  lookup(apiKey: string, now: number, replay?: ReplayMarker): Promise<LookupResult>;
  /** Rotates a session atomically; see {@link RotateResult}. */
  rotate(request: RotateRequest): Promise<RotateResult>;
  /** Revokes the session of `apiKey` and its whole family (logout, or an orphaned session). */
  revoke(apiKey: string, now: number): Promise<void>;
}
