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
  type LookupResult,
  type ReplayMarker,
  type RotateRequest,
  type RotateResult,
  type SessionRecord,
  type SessionStore,
} from './session-store.js';

interface Stored {
  record: SessionRecord;
  /** When the entry may be dropped, epoch ms. */
  forgetAt: number;
}

interface Family {
  head: string;
  forgetAt: number;
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
 */
export class MemoryStore implements SessionStore {
  readonly #sessions = new Map<string, Stored>();
  readonly #families = new Map<string, Family>();
  readonly #replays = new Map<string, number>();
  readonly #sweepEvery: number;
  readonly #retentionMs: number;
  #writesSinceSweep = 0;
  /** Entries left by the last sweep: the next one waits for at least as many writes. */
  #sizeAfterSweep = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#sweepEvery = options.sweepEvery ?? 1024;
    this.#retentionMs = options.expiredRetentionMs ?? EXPIRED_SESSION_RETENTION_MS;
  }

  /** Number of entries held (sessions, tombstones, families, replay markers): for monitoring and tests. */
  get size(): number {
    return this.#sessions.size + this.#families.size + this.#replays.size;
  }

  /** The live sessions held now (an admin view; also what tests count). */
  liveSessions(now: number = Date.now()): Session[] {
    const sessions: Session[] = [];
    for (const { record, forgetAt } of this.#sessions.values()) {
      if (record.state === 'live' && record.expireIn > now && forgetAt > now) sessions.push(toSession(record));
    }
    return sessions;
  }

  async create(session: Session, now: number): Promise<void> {
    this.#wrote(now);
    const forgetAt = session.expireIn + this.#retentionMs;
    this.#sessions.set(session.apiKey, { record: { ...session, state: 'live' }, forgetAt });
    this.#families.set(session.familyId, { head: session.apiKey, forgetAt });
  }

  async lookup(apiKey: string, now: number, replay?: ReplayMarker): Promise<LookupResult> {
    let replayed = false;
    if (replay !== undefined) {
      const until = this.#replays.get(replay.key);
      replayed = until !== undefined && until > now;
      if (!replayed) {
        this.#wrote(now);
        this.#replays.set(replay.key, replay.expiresAt);
      }
    }
    const stored = this.#live(this.#sessions, apiKey, now);
    // A rotated record outlives its family only as a tombstone: once the family is revoked, it is gone.
    if (stored === undefined || (stored.record.state === 'rotated' && !this.#families.has(stored.record.familyId))) {
      return { record: null, replayed };
    }
    return { record: { ...stored.record }, replayed };
  }

  async rotate(request: RotateRequest): Promise<RotateResult> {
    const { apiKey, familyId, next, now, graceMs } = request;
    const stored = this.#live(this.#sessions, apiKey, now);
    const family = this.#live(this.#families, familyId, now);
    if (stored === undefined || family === undefined || stored.record.familyId !== familyId) {
      return { outcome: 'not-found' };
    }
    const record = stored.record;
    if (record.state === 'live') {
      if (family.head !== apiKey || record.expireIn <= now) return { outcome: 'not-found' };
      this.#wrote(now);
      const forgetAt = next.expireIn + this.#retentionMs;
      this.#sessions.set(next.apiKey, { record: { ...next, state: 'live' }, forgetAt });
      stored.record = { ...record, state: 'rotated', successor: next.apiKey, rotatedAt: now };
      // A tombstone serves reuse detection, which ends with the family: no retention after that.
      stored.forgetAt = next.expireIn;
      family.head = next.apiKey;
      family.forgetAt = forgetAt;
      return { outcome: 'rotated', session: toSession(next) };
    }
    const successor = this.#live(this.#sessions, family.head, now);
    if (
      record.successor === family.head &&
      record.rotatedAt !== undefined &&
      now - record.rotatedAt <= graceMs &&
      successor?.record.state === 'live'
    ) {
      return { outcome: 'grace', session: toSession(successor.record) };
    }
    // Clock earlier than the rotation: a delayed request made before it, stale rather than stolen.
    if (record.rotatedAt !== undefined && now < record.rotatedAt) return { outcome: 'not-found' };
    this.#revokeFamily(familyId);
    return { outcome: 'reused' };
  }

  async revoke(apiKey: string, now: number): Promise<void> {
    const stored = this.#live(this.#sessions, apiKey, now);
    if (stored !== undefined) this.#revokeFamily(stored.record.familyId);
  }

  #revokeFamily(familyId: string): void {
    const family = this.#families.get(familyId);
    if (family === undefined) return;
    this.#sessions.delete(family.head);
    this.#families.delete(familyId);
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
    for (const [key, entry] of this.#families) if (entry.forgetAt <= now) this.#families.delete(key);
    for (const [key, until] of this.#replays) if (until <= now) this.#replays.delete(key);
    this.#sizeAfterSweep = this.size;
  }
}
