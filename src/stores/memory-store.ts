/**
 * The embedded default store: plain maps in one process. Each method runs to completion without
 * awaiting, so calls are atomic with respect to each other; expired entries are swept in amortised
 * constant time, so memory stays bounded by the sessions within their lifetime plus the retention
 * (`expiredRetentionMs`); a rotated key is kept only while its family can still be alive.
 *
 * @module stores/memory-store
 */

import type { Session } from '../models.js';
import {
  EXPIRED_SESSION_RETENTION_MS,
  toSession,
  type CreateOptions,
  type CreateResult,
  type LookupResult,
  type ReplayMarker,
  type RotateRequest,
  type RevokeUserSessionsFilter,
  type RotateResult,
  type SessionMetadata,
  type SessionRecord,
  type SessionStore,
  type StoredSessionInfo,
  type UseRequest,
  type UseResult,
  type VerifiedUse,
} from './session-store.js';

interface Stored {
  record: SessionRecord;
  /** When the entry may be dropped, epoch ms. */
  forgetAt: number;
}

interface Family {
  head: string;
  forgetAt: number;
  userId: string;
  createdAt: number;
  metadata: SessionMetadata;
  /** Set once a request of the family verified under caa-v2 (no legacy header after that). */
  v2?: true;
}

interface Marker {
  id: string;
  until: number;
}

/**
 * Options of {@link MemoryStore}.
 *
 * @example
 * ```ts
 * import { MemoryStore, type MemoryStoreOptions } from 'caa-auth';
 *
 * // A small process keeps expired sessions an hour, not a day; after that their keys read APIKEY_NOT_FOUND.
 * const options: MemoryStoreOptions = { expiredRetentionMs: 3_600_000 };
 * const store = new MemoryStore(options);
 * ```
 *
 * @category Stores
 */
export interface MemoryStoreOptions {
  /**
   * A full sweep of expired entries runs after this many writes, or after as many writes as the
   * previous sweep left entries, whichever is larger (amortised O(1) per write). Default 1024.
   */
  sweepEvery?: number;
  /**
   * How long a live session is kept after its `expireIn`, so that its apiKey is answered
   * `SESSION_EXPIRED` rather than `APIKEY_NOT_FOUND`, ms. Default
   * {@link EXPIRED_SESSION_RETENTION_MS} (1 day); 0 forgets it at once.
   */
  expiredRetentionMs?: number;
}

/**
 * Sessions in memory, for one process: the default store, and the one for tests.
 *
 * @example
 * ```ts
 * import { MemoryStore, issueSession } from 'caa-auth';
 *
 * const store = new MemoryStore();
 * const credentials = await issueSession(store, user);
 * ```
 *
 * @category Stores
 */
export class MemoryStore implements SessionStore {
  readonly #sessions = new Map<string, Stored>();
  readonly #families = new Map<string, Family>();
  readonly #replays = new Map<string, Marker>();
  /** Each user's families (ids), for listing and revoking them; a family leaves it when it ends. */
  readonly #users = new Map<string, Set<string>>();
  readonly #sweepEvery: number;
  readonly #retentionMs: number;
  #writesSinceSweep = 0;
  /** Entries left by the last sweep: the next one waits for at least as many writes. */
  #sizeAfterSweep = 0;

  /**
   * An empty store.
   *
   * @param options - `expiredRetentionMs` (default one day) and `sweepEvery`.
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.#sweepEvery = options.sweepEvery ?? 1024;
    this.#retentionMs = options.expiredRetentionMs ?? EXPIRED_SESSION_RETENTION_MS;
  }

  /** Number of entries held (sessions, tombstones, families, replay markers, user indexes): for monitoring and tests. */
  get size(): number {
    return this.#sessions.size + this.#families.size + this.#replays.size + this.#users.size;
  }

  /**
   * The live sessions held now (an admin view; also what tests count).
   *
   * @param now - The clock, epoch ms; default `Date.now()`.
   */
  liveSessions(now: number = Date.now()): Session[] {
    const sessions: Session[] = [];
    for (const { record, forgetAt } of this.#sessions.values()) {
      if (record.state === 'live' && record.expireIn > now && forgetAt > now) sessions.push(toSession(record));
    }
    return sessions;
  }

  async create(session: Session, now: number, options: CreateOptions = {}): Promise<CreateResult> {
    this.#wrote(now);
    const forgetAt = session.expireIn + this.#retentionMs;
    this.#sessions.set(session.apiKey, { record: { ...session, state: 'live' }, forgetAt });
    const { userId, familyId, createdAt } = session;
    this.#families.set(familyId, { head: session.apiKey, forgetAt, userId, createdAt, metadata: { ...options.metadata } });
    const index = this.#users.get(userId) ?? new Set<string>();
    this.#users.set(userId, index);
    index.add(familyId);
    const evicted: string[] = [];
    const maxSessions = options.maxSessions ?? Infinity;
    if (index.size > maxSessions) {
      const live = this.#liveFamilies(userId, now).filter((info) => info.sessionId !== familyId);
      for (const { sessionId } of live.slice(0, Math.max(0, live.length + 1 - maxSessions))) {
        this.#revokeFamily(sessionId);
        evicted.push(sessionId);
      }
    }
    return { evicted };
  }

  async listUserSessions(userId: string, now: number): Promise<StoredSessionInfo[]> {
    return this.#liveFamilies(userId, now);
  }

  async revokeUserSessions(userId: string, now: number, filter: RevokeUserSessionsFilter = {}): Promise<string[]> {
    const revoked: string[] = [];
    for (const { sessionId } of this.#liveFamilies(userId, now)) {
      if (filter.sessionId !== undefined && sessionId !== filter.sessionId) continue;
      if (filter.except !== undefined && sessionId === filter.except) continue;
      this.#revokeFamily(sessionId);
      revoked.push(sessionId);
    }
    return revoked;
  }

  async lookup(apiKey: string, now: number): Promise<LookupResult> {
    return this.lookupSync(apiKey, now);
  }

  /**
   * {@link SessionStore.lookupSync}: the use cases read this store without a promise hop.
   *
   * @param apiKey - The apiKey of the request.
   * @param now - The caller's clock, epoch ms.
   */
  lookupSync(apiKey: string, now: number): LookupResult {
    const stored = this.#live(this.#sessions, apiKey, now);
    // A rotated record outlives its family only as a tombstone: once the family is revoked, it is gone.
    if (stored === undefined || (stored.record.state === 'rotated' && !this.#families.has(stored.record.familyId))) {
      return { record: null };
    }
    const record: SessionRecord = { ...stored.record };
    if (this.#families.get(record.familyId)?.v2 === true) record.v2 = true;
    return { record };
  }

  async rotate(request: RotateRequest): Promise<RotateResult> {
    const { apiKey, next, now } = request;
    const found = this.#find(request);
    if (found === undefined) return { outcome: 'not-found' };
    const { stored, family } = found;
    const record = stored.record;
    if (this.#isReplay(request.replay, now)) {
      return { outcome: 'replayed' };
    }
    if (record.state === 'live') {
      if (family.head !== apiKey || record.expireIn <= now) return { outcome: 'not-found' };
      this.#mark(request.replay, now);
      const forgetAt = next.expireIn + this.#retentionMs;
      this.#sessions.set(next.apiKey, { record: { ...next, state: 'live' }, forgetAt });
      const { used: _used, ...session } = record;
      stored.record = { ...session, state: 'rotated', successor: next.apiKey, rotatedAt: now };
      // A tombstone serves reuse detection, which ends with the family: no retention after that.
      stored.forgetAt = next.expireIn;
      family.head = next.apiKey;
      family.forgetAt = forgetAt;
      if (request.scheme === 'caa-v2') family.v2 = true;
      return { outcome: 'rotated', session: toSession(next) };
    }
    const successor = this.#graceSuccessor(record, family, request);
    if (successor !== undefined) {
      this.#mark(request.replay, now);
      if (request.scheme === 'caa-v2') family.v2 = true;
      return { outcome: 'grace', session: toSession(successor) };
    }
    if (madeBefore(record, request)) return { outcome: 'not-found' };
    this.#revokeFamily(record.familyId);
    return { outcome: 'reused' };
  }

  async use(request: UseRequest): Promise<UseResult> {
    const { apiKey, now } = request;
    const found = this.#find(request);
    if (found === undefined) return { outcome: 'not-found' };
    const { stored, family } = found;
    const record = stored.record;
    if (this.#isReplay(request.replay, now)) return { outcome: 'replayed' };
    if (record.state === 'live') {
      if (family.head !== apiKey || record.expireIn <= now) return { outcome: 'not-found' };
      if (request.revoke) {
        this.#revokeFamily(record.familyId);
        return { outcome: 'revoked' };
      }
      this.#mark(request.replay, now);
      if (record.used !== true) stored.record = { ...record, used: true };
      if (request.scheme === 'caa-v2') family.v2 = true;
      return { outcome: 'live' };
    }
    const successor = this.#graceSuccessor(record, family, request);
    // The old pair used after its rotation, within grace: nobody may claim the successor with it now
    // (a thief probing for the rotation would otherwise follow with a refresh inside grace).
    if (successor !== undefined && !request.revoke) this.#endGrace(family.head, successor);
    const excused = successor !== undefined || madeBefore(record, request);
    if (request.revoke || !excused) this.#revokeFamily(record.familyId);
    if (request.revoke) return { outcome: excused ? 'revoked' : 'reused' };
    return { outcome: excused ? 'not-found' : 'reused' };
  }

  async revoke(apiKey: string, now: number): Promise<void> {
    const stored = this.#live(this.#sessions, apiKey, now);
    if (stored !== undefined) this.#revokeFamily(stored.record.familyId);
  }

  /** The record of the request's key and its family, both present and matching. */
  #find(request: VerifiedUse): { stored: Stored; family: Family } | undefined {
    const stored = this.#live(this.#sessions, request.apiKey, request.now);
    const family = this.#liveFamily(request.familyId, request.now);
    if (stored === undefined || family === undefined || stored.record.familyId !== request.familyId) return undefined;
    return { stored, family };
  }

  /**
   * The live successor a rotated record may still hand out: it is the family's head, has never been
   * used in a verified request, and the rotation is at most `graceMs` old.
   */
  #graceSuccessor(record: SessionRecord, family: Family, request: VerifiedUse): SessionRecord | undefined {
    if (record.successor !== family.head || record.rotatedAt === undefined) return undefined;
    // A clock read before the rotation (a concurrent refresh that lost the race) is age 0, not less.
    const age = Math.max(0, request.now - record.rotatedAt);
    if (age > request.graceMs) return undefined;
    const successor = this.#live(this.#sessions, family.head, request.now)?.record;
    return successor?.state === 'live' && successor.used !== true ? successor : undefined;
  }

  #endGrace(apiKey: string, successor: SessionRecord): void {
    const stored = this.#sessions.get(apiKey);
    if (stored !== undefined) stored.record = { ...successor, used: true };
  }

  /** True when another request set this marker (a resent call with the same id is not a replay). */
  #isReplay(marker: ReplayMarker | undefined, now: number): boolean {
    if (marker === undefined) return false;
    const set = this.#replays.get(marker.key);
    return set !== undefined && set.until > now && set.id !== marker.id;
  }

  #mark(marker: ReplayMarker | undefined, now: number): void {
    if (marker === undefined) return;
    this.#wrote(now);
    this.#replays.set(marker.key, { id: marker.id, until: marker.expiresAt });
  }

  #revokeFamily(familyId: string): void {
    const family = this.#families.get(familyId);
    if (family === undefined) return;
    this.#sessions.delete(family.head);
    this.#families.delete(familyId);
    this.#unindex(family.userId, familyId);
  }

  /** The family unless it is past its `forgetAt` (then it is dropped, from its user's index too). */
  #liveFamily(familyId: string, now: number): Family | undefined {
    const family = this.#families.get(familyId);
    if (family === undefined || family.forgetAt > now) return family;
    this.#families.delete(familyId);
    this.#unindex(family.userId, familyId);
    return undefined;
  }

  #unindex(userId: string, familyId: string): void {
    const index = this.#users.get(userId);
    if (index === undefined) return;
    index.delete(familyId);
    if (index.size === 0) this.#users.delete(userId);
  }

  /** A user's live families, oldest login first; families that ended leave the index here. */
  #liveFamilies(userId: string, now: number): StoredSessionInfo[] {
    const index = this.#users.get(userId);
    if (index === undefined) return [];
    const live: StoredSessionInfo[] = [];
    for (const familyId of index) {
      const family = this.#liveFamily(familyId, now);
      const head = family === undefined ? undefined : this.#live(this.#sessions, family.head, now)?.record;
      if (family === undefined || head === undefined || head.state !== 'live' || head.expireIn <= now) {
        this.#unindex(userId, familyId);
        continue;
      }
      live.push({
        sessionId: familyId,
        userId,
        createdAt: family.createdAt,
        refreshedAt: head.issuedAt,
        expireIn: head.expireIn,
        metadata: { ...family.metadata },
      });
    }
    return live.sort((a, b) => a.createdAt - b.createdAt || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
  }

  /** The entry of `key` unless it is past its `forgetAt` (then it is dropped). */
  #live<T extends { forgetAt: number }>(map: Map<string, T>, key: string, now: number): T | undefined {
    const entry = map.get(key);
    if (entry === undefined) return undefined;
    if (entry.forgetAt <= now) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }

  #wrote(now: number): void {
    // Compared with the size the last sweep left, not the current size: every write adds entries,
    // so the current size would always stay ahead of the write count and no sweep would ever run.
    if (++this.#writesSinceSweep < Math.max(this.#sweepEvery, this.#sizeAfterSweep)) return;
    this.#writesSinceSweep = 0;
    for (const [key, entry] of this.#sessions) if (entry.forgetAt <= now) this.#sessions.delete(key);
    for (const [key, entry] of this.#families) {
      if (entry.forgetAt > now) continue;
      this.#families.delete(key);
      this.#unindex(entry.userId, key);
    }
    for (const [key, marker] of this.#replays) if (marker.until <= now) this.#replays.delete(key);
    this.#sizeAfterSweep = this.size;
  }
}

/** The request was signed no later than the rotation plus the tolerance: made before it, not stolen. */
function madeBefore(record: SessionRecord, request: VerifiedUse): boolean {
  return record.rotatedAt !== undefined && request.signedAt <= record.rotatedAt + request.toleranceMs;
}
