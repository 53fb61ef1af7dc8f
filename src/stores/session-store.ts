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
 *
 * @category Stores
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
 *
 * @category Stores
 */
export const EXPIRED_SESSION_RETENTION_MS = 86_400_000;

/** The plain {@link Session} fields of a record. */
export function toSession(record: Session): Session {
  const { apiKey, secretKey, userId, expireIn, familyId, issuedAt, createdAt } = record;
  return { apiKey, secretKey, userId, expireIn, familyId, issuedAt, createdAt };
}

/**
 * What an application records about a session at login, for its user's list of devices: a user
 * agent, an IP address, a device name. Flat, small and never a secret: at most
 * {@link MAX_METADATA_KEYS} keys, each of at most 64 characters out of `A-Z a-z 0-9 _ . -`,
 * values strings (cut to {@link MAX_METADATA_VALUE_LENGTH} characters), finite numbers, booleans or
 * `null`. Keys that name a secret (`password`, `secret`, `token`, `authorization`, `cookie`, `apiKey`,
 * `secretKey`, `signature`) are refused.
 *
 * @example
 * ```ts
 * import type { SessionMetadata } from 'caa-auth';
 *
 * const metadata: SessionMetadata = { userAgent: req.headers['user-agent'] ?? null, ip: req.ip ?? null, device: 'Pixel 8' };
 * await auth.issueSession(user, { metadata });
 * ```
 *
 * @category Sessions
 */
export type SessionMetadata = Readonly<Record<string, string | number | boolean | null>>;

/**
 * The most keys a {@link SessionMetadata} may have.
 *
 * @example
 * ```ts
 * import { MAX_METADATA_KEYS } from 'caa-auth';
 *
 * // Keep only what the device list shows, well within the limit.
 * const metadata = Object.fromEntries(Object.entries(all).slice(0, MAX_METADATA_KEYS));
 * ```
 *
 * @category Sessions
 */
export const MAX_METADATA_KEYS = 16;

/**
 * The longest string value a {@link SessionMetadata} keeps; longer ones are cut (a user agent is
 * the client's to choose, so a long one must not fail the login).
 *
 * @example
 * ```ts
 * import { MAX_METADATA_VALUE_LENGTH } from 'caa-auth';
 *
 * const shown = metadata.userAgent.length === MAX_METADATA_VALUE_LENGTH ? `${metadata.userAgent}…` : metadata.userAgent;
 * ```
 *
 * @category Sessions
 */
export const MAX_METADATA_VALUE_LENGTH = 512;

/**
 * What a store keeps for a user's list of sessions: one entry per live family.
 *
 * @example
 * ```ts
 * import type { StoredSessionInfo } from 'caa-auth';
 *
 * const [first]: StoredSessionInfo[] = await store.listUserSessions('u1', Date.now());
 * console.log(first?.sessionId, new Date(first?.createdAt ?? 0), first?.metadata.userAgent);
 * ```
 *
 * @category Stores
 */
export interface StoredSessionInfo {
  /** The family's id: stable across rotations, and not a credential. */
  sessionId: string;
  userId: string;
  /** The login, epoch ms. */
  createdAt: number;
  /** When the live pair was issued (the last refresh, or the login), epoch ms. */
  refreshedAt: number;
  /** When the live pair expires, epoch ms. */
  expireIn: number;
  /** What the application recorded at login. */
  metadata: SessionMetadata;
}

/**
 * What {@link SessionStore.create} takes besides the session.
 *
 * @example
 * ```ts
 * import type { CreateOptions } from 'caa-auth';
 *
 * const options: CreateOptions = { metadata: { device: 'Pixel 8' }, maxSessions: 100, endsAt: session.createdAt + 30 * 86_400_000 };
 * await store.create(session, Date.now(), options);
 * ```
 *
 * @category Stores
 */
export interface CreateOptions {
  /** Kept with the family, for {@link SessionStore.listUserSessions}. Default `{}`. */
  metadata?: SessionMetadata;
  /**
   * The most live families one user may have: beyond it the store revokes the oldest (by
   * `createdAt`) and names them in {@link CreateResult}. Default: no limit.
   */
  maxSessions?: number;
  /**
   * The latest the family can live to (login plus the absolute lifetime), epoch ms; `Infinity`
   * when unbounded. A store may keep the user's index until then.
   */
  endsAt?: number;
}

/**
 * What {@link SessionStore.create} did besides saving the session.
 *
 * @example
 * ```ts
 * import type { CreateResult } from 'caa-auth';
 *
 * const { evicted }: CreateResult = await store.create(session, Date.now(), { maxSessions: 5 });
 * if (evicted.length > 0) console.info(`signed out ${evicted.length} old device(s)`);
 * ```
 *
 * @category Stores
 */
export interface CreateResult {
  /** Families of the same user revoked to keep within `maxSessions`, oldest first. */
  evicted: string[];
}

/**
 * A condition of a store that an operator must know of, as a store reports it through
 * {@link SessionStore.onCondition}: `version` (a server too old), `eviction` (a policy that can drop
 * session keys), `persistence` (none: a restart logs everyone out), `data-lost` (the store lost
 * what it held).
 *
 * @example
 * ```ts
 * import type { StoreCondition } from 'caa-auth';
 *
 * store.onCondition?.((condition: StoreCondition) => alerts.page(condition.message));
 * ```
 *
 * @category Stores
 */
export interface StoreCondition {
  condition: 'version' | 'eviction' | 'persistence' | 'data-lost';
  message: string;
}

/**
 * Which of a user's sessions {@link SessionStore.revokeUserSessions} revokes.
 *
 * @example
 * ```ts
 * import type { RevokeUserSessionsFilter } from 'caa-auth';
 *
 * const others: RevokeUserSessionsFilter = { except: session.familyId }; // "log out other devices"
 * await store.revokeUserSessions(session.userId, Date.now(), others);
 * ```
 *
 * @category Stores
 */
export interface RevokeUserSessionsFilter {
  /** Only this session (family id). */
  sessionId?: string;
  /** Every session but this one (family id). */
  except?: string;
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
 *
 * @category Stores
 */
export interface SessionRecord extends Session {
  /** `live`: usable. `rotated`: replaced by `successor`; kept for grace and reuse detection. */
  state: 'live' | 'rotated';
  /** For a rotated record: the apiKey that replaced it. */
  successor?: string;
  /** For a rotated record: when it was rotated, epoch ms of the store's clock. */
  rotatedAt?: number;
  /**
   * For a live record: `true` once its predecessor's grace is over early — a request signed with
   * it verified (a client that used the successor has it, so a refresh with the old pair is a
   * reuse), or a non-refresh request signed with the predecessor verified after the rotation (the
   * old pair in use elsewhere: a thief probing for the rotation must not then claim the successor).
   */
  used?: true;
  /**
   * `true` once a request of the family verified under the `caa-v2` profile: the family no longer
   * accepts the legacy header (`SCHEME_DOWNGRADE`). Kept by the family, so it survives rotation.
   */
  v2?: true;
}

/**
 * A one-time marker for replay protection, written only for a request whose signature verified:
 * `key` may be set once until `expiresAt`.
 *
 * @example
 * ```ts
 * import type { ReplayMarker } from 'caa-auth';
 *
 * // In a custom store over Redis: SET … NX answers null when another request set it first; the
 * // value `id` lets a resent command (a reconnecting client) see its own marker and not a replay.
 * async function replayed(marker: ReplayMarker, now: number): Promise<boolean> {
 *   const px = Math.max(1, marker.expiresAt - now);
 *   if ((await redis.set(`replay:${marker.key}`, marker.id, 'PX', px, 'NX')) !== null) return false;
 *   return (await redis.get(`replay:${marker.key}`)) !== marker.id;
 * }
 * ```
 *
 * @category Stores
 */
export interface ReplayMarker {
  /** Identifies one header (apiKey, timestamp, signature). */
  key: string;
  /**
   * When the marker may be forgotten, epoch ms: the header's timestamp plus twice the window, so
   * that it outlives the header on every server whose clock is within the window of the store's.
   */
  expiresAt: number;
  /** Unique to the call that sets it: the same call sent twice is not a replay of itself. */
  id: string;
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
 *
 * @category Stores
 */
export interface LookupResult {
  /** The record of that apiKey, live or rotated; `null` when unknown, revoked or gone. */
  record: SessionRecord | null;
  /**
   * The store's own clock at the lookup, epoch ms, when it keeps one (RedisStore reads Redis
   * `TIME`): expiry is judged by it, so app servers whose clocks differ agree. Absent: the caller's.
   */
  now?: number;
}

/**
 * What a verified request signed with a given pair asks of the store, besides rotation: the facts
 * {@link SessionStore.rotate} and {@link SessionStore.use} judge a rotated key by.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS, DEFAULT_ROTATION_TOLERANCE_MS, type VerifiedUse } from 'caa-auth';
 *
 * // The part of a request both rotate and use take, as the use cases fill it in.
 * const use: VerifiedUse = {
 *   apiKey, familyId: record.familyId, now: Date.now(), signedAt: credentials.timestamp,
 *   graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS,
 * };
 * ```
 *
 * @category Stores
 */
export interface VerifiedUse {
  /** The apiKey the client signed with (the signature verified). */
  apiKey: string;
  /** The family the lookup found for it: the store refuses the call if it no longer matches. */
  familyId: string;
  /** The use case's clock, epoch ms; a store with a clock of its own (Redis `TIME`) uses that instead. */
  now: number;
  /** The request's signed timestamp, epoch ms of the client's (corrected) clock. */
  signedAt: number;
  /**
   * How long after a rotation the predecessor may still obtain the same successor, ms; grace ends
   * earlier, at the successor's first verified use or a verified non-refresh use of the predecessor.
   */
  graceMs: number;
  /**
   * A request signed no later than `rotatedAt + toleranceMs` counts as made before the rotation (a
   * delayed in-flight request): refused, but it revokes nothing. Covers HTTP `Date` resolution and
   * client clock correction.
   */
  toleranceMs: number;
  /** The replay marker to set, in the same atomic step, when the request is accepted. */
  replay?: ReplayMarker | undefined;
  /**
   * `'caa-v2'` when the request was signed under that profile: an accepted request marks its
   * family (see {@link SessionRecord.v2}) in the same atomic step. Absent for the legacy scheme.
   */
  scheme?: 'caa-v2';
}

/**
 * One atomic rotation, as {@link SessionStore.rotate} takes it.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS, DEFAULT_ROTATION_TOLERANCE_MS, type RotateRequest } from 'caa-auth';
 *
 * // Testing a custom store as refreshToken drives it: `first` is stored, `second` and `third` are candidates of its family.
 * const now = Date.now();
 * const request: RotateRequest = {
 *   apiKey: first.apiKey, familyId: first.familyId, next: second, now, signedAt: now,
 *   graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS,
 * };
 * await store.rotate(request); // { outcome: 'rotated', session: second }
 * await store.rotate({ ...request, next: third }); // { outcome: 'grace', session: second }: a retry gets the same successor
 * ```
 *
 * @category Stores
 */
export interface RotateRequest extends VerifiedUse {
  /**
   * The candidate successor (same family, fresh keys); used only if this call wins. Its `issuedAt`
   * and `expireIn` are on the caller's clock: a store with its own clock shifts both to it.
   */
  next: Session;
}

/**
 * What {@link SessionStore.rotate} did:
 * - `rotated`: this call replaced the session with `session` (the candidate);
 * - `grace`: the immediate predecessor within grace (successor never used, at most `graceMs` old);
 *   `session` is that existing successor;
 * - `reused`: a rotated key came back after its grace, made after the rotation: the family is revoked;
 * - `replayed`: the replay marker was set by another request: nothing changed;
 * - `not-found`: no live family for that apiKey, or a rotated key whose request was made before
 *   the rotation (nothing revoked).
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
 *     case 'replayed':
 *       throw new CaaError('REPLAYED');
 *     case 'not-found':
 *       throw new CaaError('APIKEY_NOT_FOUND');
 *   }
 * }
 * ```
 *
 * @category Stores
 */
export type RotateResult =
  | { outcome: 'rotated' | 'grace'; session: Session }
  | { outcome: 'reused' | 'replayed' | 'not-found' };

/**
 * A verified request on any endpoint but refresh, as {@link SessionStore.use} takes it.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS, DEFAULT_ROTATION_TOLERANCE_MS, type UseRequest } from 'caa-auth';
 *
 * // A logout signed with the key the lookup found: the family goes, whichever key of it signed.
 * const now = Date.now();
 * const request: UseRequest = {
 *   apiKey, familyId: record.familyId, now, signedAt: credentials.timestamp,
 *   graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS, revoke: true,
 * };
 * await store.use(request); // { outcome: 'revoked' }
 * ```
 *
 * @category Stores
 */
export interface UseRequest extends VerifiedUse {
  /** Logout: revoke the family, whether the key is live or rotated. */
  revoke: boolean;
}

/**
 * What {@link SessionStore.use} did:
 * - `live`: the key is its family's live one; it is now marked used (and the marker set);
 * - `revoked`: logout: the family is gone (signed with the live key, or a rotated one within its
 *   grace or made before its rotation);
 * - `reused`: a rotated key after its grace, made after the rotation: the family is revoked;
 * - `replayed`: the replay marker was set by another request: nothing changed;
 * - `not-found`: no live family, or a rotated key within grace or made before the rotation
 *   (nothing revoked; within grace, the grace ends: the successor can no longer be claimed).
 *
 * @example
 * ```ts
 * import type { UseResult } from 'caa-auth';
 *
 * const { outcome }: UseResult = await store.use(request);
 * if (outcome === 'reused') console.warn('a rotated key came back: the family was revoked');
 * ```
 *
 * @category Stores
 */
export interface UseResult {
  outcome: 'live' | 'revoked' | 'reused' | 'replayed' | 'not-found';
}

/**
 * Storage for sessions. Implementations: {@link MemoryStore} (one process) and {@link RedisStore}.
 * Every method is atomic with respect to the others. A store that cannot be reached rejects with
 * {@link CaaError} 503 `STORE_UNAVAILABLE`; it never answers "not found" for a fault. Nothing is
 * written for a request whose signature did not verify: `lookup` only reads, and the use cases
 * call `rotate` and `use` only after the signature verified.
 *
 * Rules every store follows (and the contract suite checks):
 * - one family (all sessions descended from one login) has at most one live session;
 * - `rotate` is a compare-and-swap: of any number of concurrent calls for one live apiKey, one
 *   returns `rotated`, the others `grace` with the same successor;
 * - the immediate predecessor gets that same successor only while the successor has never been
 *   used in a verified request (`use` marks it), the predecessor has not been used on another
 *   endpoint since the rotation, and at most `graceMs` after the rotation;
 * - a rotated apiKey presented outside its grace — on any endpoint — revokes the whole family
 *   (`reused`), unless the request was signed no later than `rotatedAt + toleranceMs`: such a
 *   request was made before the rotation (a delayed in-flight request) and is answered `not-found`;
 * - a logout (`use` with `revoke`) signed with any key of a live family revokes the family;
 * - records carry `expireIn`; a store keeps them {@link EXPIRED_SESSION_RETENTION_MS} longer (so that an
 *   expired apiKey is answered `SESSION_EXPIRED`) and may forget them after that.
 *
 * @example
 * ```ts
 * import type { LookupResult, RotateRequest, RotateResult, Session, SessionStore, UseRequest, UseResult } from 'caa-auth';
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
 *   async lookup(apiKey: string, now: number): Promise<LookupResult> { … }
 *   async rotate(request: RotateRequest): Promise<RotateResult> {
 *     // SELECT … FOR UPDATE on the family row first: concurrent refreshes then take turns, and one wins.
 *     …
 *   }
 *   async use(request: UseRequest): Promise<UseResult> { … }
 *   async revoke(apiKey: string, now: number): Promise<void> { … }
 * }
 * // In the caa-auth repository, a new store proves itself with the shared suite: describeSessionStoreContract (test/contract/).
 * ```
 *
 * @category Stores
 */
export interface SessionStore {
  /**
   * Saves a new live session, the first of a new family (login), and adds the family to its
   * user's index. A family that {@link SessionStore.revokeUserSessions} revoked while this call
   * ran is not made live (the revocation wins), so that no session escapes a "log out everywhere".
   *
   * @param session - The new session (its first pair and its family).
   * @param now - The caller's clock, epoch ms.
   * @param options - `metadata` (kept for the device list) and `maxSessions` (beyond it, the user's oldest are revoked).
   */
  create(session: Session, now: number, options?: CreateOptions): Promise<CreateResult>;
  /**
   * Reads the record of `apiKey`; writes nothing.
   *
   * @param apiKey - The apiKey of the request.
   * @param now - The caller's clock, epoch ms.
   */
  lookup(apiKey: string, now: number): Promise<LookupResult>;
  /**
   * Optional: the same as {@link SessionStore.lookup}, synchronously, for stores that hold their
   * data in the process ({@link MemoryStore}). The use cases call it when present, which saves the
   * promise hops of an async call on every request.
   *
   * @param apiKey - The apiKey of the request.
   * @param now - The caller's clock, epoch ms.
   */
  lookupSync?(apiKey: string, now: number): LookupResult;
  /**
   * Rotates a session atomically; see {@link RotateResult}.
   *
   * @param request - The verified refresh: the key, its replay marker, the successor pair and how to judge a rotated key.
   */
  rotate(request: RotateRequest): Promise<RotateResult>;
  /**
   * Records a verified request on any endpoint but refresh: marks a live key used (ending its
   * predecessor's grace), sets the replay marker, judges a rotated key, and for a logout revokes the
   * family; see {@link UseResult}.
   *
   * @param request - The verified use of a key: its replay marker, how to judge a rotated key, and whether to revoke the family (logout).
   */
  use(request: UseRequest): Promise<UseResult>;
  /**
   * Revokes the session of `apiKey` and its whole family (an orphaned session).
   *
   * @param apiKey - Any apiKey of the family to revoke.
   * @param now - The caller's clock, epoch ms.
   */
  revoke(apiKey: string, now: number): Promise<void>;
  /**
   * The live families of a user (one entry each), oldest login first. Entries of families that
   * ended (revoked, expired, evicted) are not listed, and the store may drop them from its index.
   *
   * @param userId - The user's id, as a string.
   * @param now - The caller's clock, epoch ms.
   */
  listUserSessions(userId: string, now: number): Promise<StoredSessionInfo[]>;
  /**
   * Revokes a user's live families — all, all but `except`, or only `sessionId` — and returns the
   * ids of those that were live. When it returns, no key of them authenticates or refreshes; a
   * family created while it runs is either revoked or listed afterwards.
   *
   * @param userId - The user's id, as a string.
   * @param now - The caller's clock, epoch ms.
   * @param filter - Which sessions: all (`{}`), all but one (`except`), or one (`sessionId`); family ids.
   */
  revokeUserSessions(userId: string, now: number, filter?: RevokeUserSessionsFilter): Promise<string[]>;
  /**
   * Optional: subscribes to the store's own conditions ({@link StoreCondition}); conditions
   * reported before the call are delivered to it too. {@link RedisStore} has it; the configured auth
   * object turns them into `store.condition` events.
   *
   * @param listener - Called once per condition the store notices.
   */
  onCondition?(listener: (condition: StoreCondition) => void): void;
}
