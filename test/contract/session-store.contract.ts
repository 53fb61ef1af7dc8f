/**
 * The SessionStore contract: one suite that every store runs unchanged (MemoryStore, RedisStore
 * through ioredis and through node-redis, with a client keyPrefix, on Redis Cluster). It checks the
 * rules of the port at the store level and, through the use cases, the behaviour a client sees:
 * rotation, grace and reuse; and a user's sessions — the listing, "log out other devices" and
 * "everywhere" (also racing refreshes and logins), one session by id, maxSessionsPerUser and the
 * absolute lifetime.
 *
 * Time is injected everywhere (`now`), and every signed request carries a timestamp of its own
 * (refreshToken refuses an identical header a second time).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_LIFETIME_MS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  DEFAULT_SESSION_TTL_MS,
  FAMILY_TAG_LENGTH,
  MemoryUserRepository,
  authenticate,
  generateKey,
  issueSession,
  listSessions,
  refreshToken,
  revokeSession,
  revokeUserSession,
  revokeUserSessions,
  type CredentialsResponse,
  type Session,
  type SessionInfo,
  type SessionMetadata,
  type SessionStore,
  type StoredSessionInfo,
  type User,
} from '../../src/index.js';
import { assertCaaError, expectCaaError } from '../support/expect-caa-error.js';
import {
  TestClock,
  expectCredentialsResponse,
  expectKeyFormat,
  familyOf,
  makeUser,
  newSession,
  signedRequest,
  successorOf,
  type Pair,
} from '../support/use-case-fixtures.js';

/** What a store's test file hands to the contract. */
export interface SessionStoreFixture {
  readonly store: SessionStore;
  /** The live sessions of `familyId` that the store really holds (read behind the store's back). */
  liveSessions(familyId: string): Promise<Session[]>;
  /** Entries the store holds in all (MemoryStore.size, Redis DBSIZE), where it can tell. */
  size?(): Promise<number>;
  /** Forgets everything the store holds. */
  flush(): Promise<void>;
  /** Releases what `setup` opened. */
  close(): Promise<void>;
}

/** Makes a fresh fixture; called before every test. */
export type SessionStoreSetup = () => Promise<SessionStoreFixture>;

/** Requests per round and rounds of the concurrency test. */
const CONCURRENT_REFRESHES = 100;
const CONCURRENCY_ROUNDS = 20;

/** The race of a user's revocation: sessions of the user, refreshes of them and logins alongside, rounds per scope. */
const RACING_SESSIONS = 5;
const RACING_REFRESHES = 50;
const RACING_LOGINS = 5;
const RACE_ROUNDS = 3;
/** Concurrent logins of one user against maxSessionsPerUser 5. */
const LOGIN_FLOOD = 30;

function apiKeys(sessions: readonly Session[]): string[] {
  return sessions.map((session) => session.apiKey).sort();
}

/** Runs the whole SessionStore contract against the stores `setup` makes. */
export function describeSessionStoreContract(name: string, setup: SessionStoreSetup): void {
  describe(`SessionStore contract: ${name}`, () => {
    let fixture: SessionStoreFixture;
    let store: SessionStore;
    let clock: TestClock;

    beforeEach(async () => {
      fixture = await setup();
      store = fixture.store;
      clock = new TestClock();
    });

    afterEach(async () => {
      await fixture?.flush();
      await fixture?.close();
    });

    /** A first session, rotated once 1 ms later: what many rules are judged on. */
    async function rotatedOnce(): Promise<{ old: Session; next: Session; rotatedAt: number; base: { apiKey: string; familyId: string; graceMs: number; toleranceMs: number } }> {
      const old = newSession(clock.t);
      await store.create(old, clock.t);
      const rotatedAt = clock.advance(1);
      const next = successorOf(old, rotatedAt);
      const base = { apiKey: old.apiKey, familyId: old.familyId, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS };
      await expect(store.rotate({ ...base, next, now: rotatedAt, signedAt: rotatedAt })).resolves.toMatchObject({ outcome: 'rotated' });
      return { old, next, rotatedAt, base };
    }

    describe('at the store level', () => {
      it('creates a session and looks it up as a live record with every field', async () => {
        const session = newSession(clock.t);
        await store.create(session, clock.t);

        const { record } = await store.lookup(session.apiKey, clock.t);
        expect(record).toStrictEqual({ ...session, state: 'live' });
        expect(apiKeys(await fixture.liveSessions(session.familyId))).toStrictEqual([session.apiKey]);
      });

      it('looks up an unknown apiKey as null, not as an error', async () => {
        await expect(store.lookup(generateKey(), clock.t)).resolves.toStrictEqual({ record: null });
      });

      it('keeps the sessions of two logins of one user apart', async () => {
        const first = newSession(clock.t);
        const second = newSession(clock.t);
        await store.create(first, clock.t);
        await store.create(second, clock.t);
        expect(apiKeys(await fixture.liveSessions(first.familyId))).toStrictEqual([first.apiKey]);
        expect(apiKeys(await fixture.liveSessions(second.familyId))).toStrictEqual([second.apiKey]);
      });

      it('rotates: the old record becomes rotated and names its successor, the successor is live', async () => {
        const old = newSession(clock.t);
        await store.create(old, clock.t);
        const next = successorOf(old, clock.advance(1_000));

        await expect(
          store.rotate({ apiKey: old.apiKey, familyId: old.familyId, next, now: clock.t, signedAt: clock.t, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'rotated', session: next });

        const before = await store.lookup(old.apiKey, clock.t);
        expect(before.record).toStrictEqual({ ...old, state: 'rotated', successor: next.apiKey, rotatedAt: clock.t });
        const after = await store.lookup(next.apiKey, clock.t);
        expect(after.record).toStrictEqual({ ...next, state: 'live' });
        expect(apiKeys(await fixture.liveSessions(old.familyId))).toStrictEqual([next.apiKey]);
      });

      it('within grace returns the same successor and never stores another candidate', async () => {
        const old = newSession(clock.t);
        await store.create(old, clock.t);
        const rotatedAt = clock.advance(1);
        const next = successorOf(old, rotatedAt);
        await store.rotate({ apiKey: old.apiKey, familyId: old.familyId, next, now: rotatedAt, signedAt: rotatedAt, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });

        for (const now of [rotatedAt, rotatedAt + 1, rotatedAt + DEFAULT_GRACE_MS]) {
          const candidate = successorOf(old, now);
          await expect(
            store.rotate({ apiKey: old.apiKey, familyId: old.familyId, next: candidate, now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
          ).resolves.toStrictEqual({ outcome: 'grace', session: next });
          expect((await store.lookup(candidate.apiKey, now)).record).toBeNull();
        }
        expect(apiKeys(await fixture.liveSessions(old.familyId))).toStrictEqual([next.apiKey]);
      });

      it('answers reuse of a rotated key one ms after grace with `reused` and kills the whole family', async () => {
        const old = newSession(clock.t);
        await store.create(old, clock.t);
        const rotatedAt = clock.advance(1);
        const next = successorOf(old, rotatedAt);
        await store.rotate({ apiKey: old.apiKey, familyId: old.familyId, next, now: rotatedAt, signedAt: rotatedAt, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });

        const late = rotatedAt + DEFAULT_GRACE_MS + 1;
        await expect(
          store.rotate({ apiKey: old.apiKey, familyId: old.familyId, next: successorOf(old, late), now: late, signedAt: late, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'reused' });

        expect((await store.lookup(next.apiKey, late)).record).toBeNull();
        expect(await fixture.liveSessions(old.familyId)).toStrictEqual([]);
        await expect(
          store.rotate({ apiKey: next.apiKey, familyId: next.familyId, next: successorOf(next, late), now: late, signedAt: late, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'not-found' });
      });

      it('answers an older ancestor (A→B→C, present A) with `reused` even within grace', async () => {
        const a = newSession(clock.t);
        await store.create(a, clock.t);
        const b = successorOf(a, clock.advance(1));
        await store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: b, now: clock.t, signedAt: clock.t, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });
        const c = successorOf(b, clock.advance(1));
        await store.rotate({ apiKey: b.apiKey, familyId: b.familyId, next: c, now: clock.t, signedAt: clock.t, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });

        // Signed after A's rotation plus the tolerance: not a delayed in-flight request.
        const now = clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);
        await expect(
          store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: successorOf(a, now), now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'reused' });
        expect((await store.lookup(c.apiKey, now)).record).toBeNull();
        expect(await fixture.liveSessions(a.familyId)).toStrictEqual([]);
      });

      it('answers a request signed before the rotation (a delayed in-flight one) with `not-found` and revokes nothing', async () => {
        const a = newSession(clock.t);
        await store.create(a, clock.t);
        const aRotatedAt = clock.advance(1_000);
        const b = successorOf(a, aRotatedAt);
        await store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: b, now: aRotatedAt, signedAt: aRotatedAt, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });
        const bRotatedAt = clock.advance(1_000);
        const c = successorOf(b, bRotatedAt);
        await store.rotate({ apiKey: b.apiKey, familyId: b.familyId, next: c, now: bRotatedAt, signedAt: bRotatedAt, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });

        const now = clock.advance(DEFAULT_GRACE_MS + 1);
        const rotation = { familyId: a.familyId, now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS };
        // An older ancestor signed before its rotation, and up to the tolerance after it: stale, not stolen.
        for (const signedAt of [aRotatedAt - 1, aRotatedAt, aRotatedAt + DEFAULT_ROTATION_TOLERANCE_MS]) {
          await expect(store.rotate({ ...rotation, apiKey: a.apiKey, next: successorOf(a, now), signedAt })).resolves.toStrictEqual({ outcome: 'not-found' });
          await expect(store.use({ ...rotation, apiKey: a.apiKey, signedAt, revoke: false })).resolves.toStrictEqual({ outcome: 'not-found' });
        }
        // The immediate predecessor, after grace, signed before its rotation: stale as well.
        await expect(store.rotate({ ...rotation, apiKey: b.apiKey, next: successorOf(b, now), signedAt: bRotatedAt - 1 })).resolves.toStrictEqual({ outcome: 'not-found' });

        expect((await store.lookup(c.apiKey, now)).record).toStrictEqual({ ...c, state: 'live' });
        expect(apiKeys(await fixture.liveSessions(a.familyId))).toStrictEqual([c.apiKey]);

        // One ms past the tolerance is a request made after the rotation: reuse.
        await expect(
          store.rotate({ ...rotation, apiKey: a.apiKey, next: successorOf(a, now), signedAt: aRotatedAt + DEFAULT_ROTATION_TOLERANCE_MS + 1 }),
        ).resolves.toStrictEqual({ outcome: 'reused' });
        expect(await fixture.liveSessions(a.familyId)).toStrictEqual([]);
      });

      it('ends grace at the successor\'s first verified use: the predecessor is then a reused key', async () => {
        const { old, next, base } = await rotatedOnce();

        const late = clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);
        await expect(store.rotate({ ...base, apiKey: old.apiKey, next: successorOf(old, late), now: late, signedAt: late })).resolves.toStrictEqual({
          outcome: 'grace',
          session: next,
        });
        await expect(store.use({ ...base, apiKey: next.apiKey, now: late, signedAt: late, revoke: false })).resolves.toStrictEqual({ outcome: 'live' });
        expect((await store.lookup(next.apiKey, late)).record).toStrictEqual({ ...next, state: 'live', used: true });
        // Well inside graceMs, but the successor has been used: the old pair is now a stolen one.
        await expect(store.rotate({ ...base, apiKey: old.apiKey, next: successorOf(old, late), now: late, signedAt: late })).resolves.toStrictEqual({
          outcome: 'reused',
        });
        expect(await fixture.liveSessions(old.familyId)).toStrictEqual([]);
      });

      it('judges a rotated key on authenticate as on refresh: refused within grace, reuse after it', async () => {
        const { old, next, base: rotation } = await rotatedOnce();
        const base = { ...rotation, revoke: false };

        const inGrace = clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);
        await expect(store.use({ ...base, now: inGrace, signedAt: inGrace })).resolves.toStrictEqual({ outcome: 'not-found' });
        expect(apiKeys(await fixture.liveSessions(old.familyId))).toStrictEqual([next.apiKey]);
        // That use of the old pair ended its grace: a refresh with it can no longer claim the successor.
        await expect(store.rotate({ ...base, next: successorOf(old, inGrace), now: inGrace, signedAt: inGrace })).resolves.toStrictEqual({
          outcome: 'reused',
        });
        expect(await fixture.liveSessions(old.familyId)).toStrictEqual([]);
      });

      it('a rotated key used within grace and made before the rotation leaves the successor to its holder', async () => {
        const { old, next, rotatedAt, base: rotation } = await rotatedOnce();
        const base = { ...rotation, revoke: false };

        const now = clock.advance(5);
        await expect(store.use({ ...base, now, signedAt: rotatedAt - 1 })).resolves.toStrictEqual({ outcome: 'not-found' });
        // A refresh with the old pair made just now, within the tolerance: grace is over, but it is stale, not stolen.
        await expect(store.rotate({ ...base, next: successorOf(old, now), now, signedAt: now })).resolves.toStrictEqual({ outcome: 'not-found' });
        expect(apiKeys(await fixture.liveSessions(old.familyId))).toStrictEqual([next.apiKey]);
        await expect(store.use({ ...base, apiKey: next.apiKey, now, signedAt: now })).resolves.toStrictEqual({ outcome: 'live' });
        const late = clock.advance(DEFAULT_GRACE_MS);
        await expect(store.use({ ...base, now: late, signedAt: late })).resolves.toStrictEqual({ outcome: 'reused' });
        expect(await fixture.liveSessions(old.familyId)).toStrictEqual([]);
      });

      it('logs a family out from any of its keys: live, rotated within grace, rotated after it', async () => {
        for (const signWith of ['live', 'rotated in grace', 'rotated after grace'] as const) {
          const { old, next, base } = await rotatedOnce();

          const now = clock.advance(signWith === 'rotated after grace' ? DEFAULT_GRACE_MS + 1 : DEFAULT_ROTATION_TOLERANCE_MS + 1);
          const apiKey = signWith === 'live' ? next.apiKey : old.apiKey;
          const expected = signWith === 'rotated after grace' ? 'reused' : 'revoked';
          await expect(store.use({ ...base, apiKey, now, signedAt: now, revoke: true })).resolves.toStrictEqual({ outcome: expected });
          expect(await fixture.liveSessions(old.familyId)).toStrictEqual([]);
          expect((await store.lookup(next.apiKey, now)).record).toBeNull();
          expect((await store.lookup(old.apiKey, now)).record).toBeNull();
        }
      });

      it('refuses to rotate an unknown apiKey, or one whose family does not match', async () => {
        const session = newSession(clock.t);
        await store.create(session, clock.t);
        const now = clock.advance(1);

        await expect(
          store.rotate({ apiKey: session.apiKey, familyId: 'another-family', next: { ...successorOf(session, now), familyId: 'another-family' }, now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'not-found' });
        const unknown = newSession(now);
        await expect(
          store.rotate({ apiKey: unknown.apiKey, familyId: unknown.familyId, next: successorOf(unknown, now), now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'not-found' });
        expect(apiKeys(await fixture.liveSessions(session.familyId))).toStrictEqual([session.apiKey]);
      });

      it('revokes the whole family, from the live key or from a rotated one', async () => {
        for (const revokeWith of ['live', 'rotated'] as const) {
          const a = newSession(clock.t);
          await store.create(a, clock.t);
          const b = successorOf(a, clock.advance(1));
          await store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: b, now: clock.t, signedAt: clock.t, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });

          await store.revoke(revokeWith === 'live' ? b.apiKey : a.apiKey, clock.advance(1));
          expect((await store.lookup(b.apiKey, clock.t)).record).toBeNull();
          expect(await fixture.liveSessions(a.familyId)).toStrictEqual([]);
          // Within grace, and after it: a revoked family yields no successor, and is not "reused".
          for (const now of [clock.t, clock.t + DEFAULT_GRACE_MS + 1]) {
            await expect(
              store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: successorOf(a, now), now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
            ).resolves.toStrictEqual({ outcome: 'not-found' });
          }
        }
      });

      it('revoking an unknown apiKey does nothing', async () => {
        const session = newSession(clock.t);
        await store.create(session, clock.t);
        await expect(store.revoke(generateKey(), clock.t)).resolves.toBeUndefined();
        expect(apiKeys(await fixture.liveSessions(session.familyId))).toStrictEqual([session.apiKey]);
      });

      it('keeps families apart that share a hash tag: revoking or reusing one leaves the other live', async () => {
        const a = newSession(clock.t);
        const other: Session = { ...newSession(clock.t), apiKey: a.apiKey.slice(0, FAMILY_TAG_LENGTH) + generateKey().slice(FAMILY_TAG_LENGTH) };
        await store.create(a, clock.t);
        await store.create(other, clock.t);
        const b = successorOf(a, clock.advance(1));
        await store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: b, now: clock.t, signedAt: clock.t, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });
        const late = clock.advance(DEFAULT_GRACE_MS + 1);
        await expect(
          store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: successorOf(a, late), now: late, signedAt: late, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'reused' });
        expect((await store.lookup(other.apiKey, late)).record).toStrictEqual({ ...other, state: 'live' });

        const third = { ...newSession(late), apiKey: a.apiKey.slice(0, FAMILY_TAG_LENGTH) + generateKey().slice(FAMILY_TAG_LENGTH) };
        await store.create(third, late);
        await store.revoke(third.apiKey, late);
        expect(apiKeys(await fixture.liveSessions(other.familyId))).toStrictEqual([other.apiKey]);
      });

      it('sets a replay marker once, with the rotation or the use it came with; a resent call is not a replay of itself', async () => {
        const session = newSession(clock.t);
        await store.create(session, clock.t);
        const base = { apiKey: session.apiKey, familyId: session.familyId, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS };
        const marker = { key: `${session.apiKey}:${clock.t}:sig-1`, expiresAt: clock.t + 600_000, id: 'call-1' };

        await expect(store.use({ ...base, now: clock.t, signedAt: clock.t, replay: marker, revoke: false })).resolves.toStrictEqual({ outcome: 'live' });
        await expect(store.use({ ...base, now: clock.t, signedAt: clock.t, replay: marker, revoke: false })).resolves.toStrictEqual({ outcome: 'live' });
        for (const now of [clock.t, clock.t + 1, marker.expiresAt - 1]) {
          await expect(store.use({ ...base, now, signedAt: clock.t, replay: { ...marker, id: 'call-2' }, revoke: false })).resolves.toStrictEqual({ outcome: 'replayed' });
          await expect(
            store.rotate({ ...base, now, signedAt: clock.t, next: successorOf(session, now), replay: { ...marker, id: 'call-3' } }),
          ).resolves.toStrictEqual({ outcome: 'replayed' });
        }
        // Another header is another marker; nothing was rotated by the refused calls.
        expect(apiKeys(await fixture.liveSessions(session.familyId))).toStrictEqual([session.apiKey]);
        const next = successorOf(session, clock.t);
        await expect(
          store.rotate({ ...base, now: clock.t, signedAt: clock.t, next, replay: { key: `${marker.key}-other`, expiresAt: marker.expiresAt, id: next.apiKey } }),
        ).resolves.toStrictEqual({ outcome: 'rotated', session: next });
      });

      it('answers a resent rotation (the same call twice, as a reconnecting client resends it) with the same successor, not REPLAYED', async () => {
        const session = newSession(clock.t);
        await store.create(session, clock.t);
        const next = successorOf(session, clock.t);
        const request = {
          apiKey: session.apiKey, familyId: session.familyId, next, now: clock.t, signedAt: clock.t,
          graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS,
          replay: { key: `${session.apiKey}:${clock.t}:sig`, expiresAt: clock.t + 600_000, id: next.apiKey },
        };
        await expect(store.rotate(request)).resolves.toStrictEqual({ outcome: 'rotated', session: next });
        const resent = await store.rotate(request);
        expect(resent.outcome === 'rotated' || resent.outcome === 'grace').toBe(true);
        expect(resent).toMatchObject({ session: next });
        expect(apiKeys(await fixture.liveSessions(session.familyId))).toStrictEqual([next.apiKey]);
      });

      it('writes nothing for a lookup, whether the apiKey is known or not', async () => {
        const session = newSession(clock.t);
        await store.create(session, clock.t);
        const before = await fixture.liveSessions(session.familyId);
        for (let i = 0; i < 20; i++) await store.lookup(i % 2 === 0 ? generateKey() : session.apiKey, clock.t);
        expect(await fixture.liveSessions(session.familyId)).toStrictEqual(before);
        if (fixture.size !== undefined) {
          const size = await fixture.size();
          for (let i = 0; i < 20; i++) await store.lookup(generateKey(), clock.t);
          expect(await fixture.size()).toBe(size);
        }
      });

      it('answers concurrent rotations of one key with one `rotated` and the same successor for all others', async () => {
        const old = newSession(clock.t);
        await store.create(old, clock.t);
        const now = clock.advance(1);
        const candidates = Array.from({ length: 50 }, () => successorOf(old, now));
        const results = await Promise.all(
          candidates.map((next) => store.rotate({ apiKey: old.apiKey, familyId: old.familyId, next, now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS })),
        );
        const rotated = results.filter((result) => result.outcome === 'rotated');
        expect(rotated).toHaveLength(1);
        const winner = rotated[0];
        if (winner === undefined || winner.outcome !== 'rotated') throw new Error('no winner');
        for (const result of results) expect(result).toStrictEqual({ outcome: result.outcome === 'rotated' ? 'rotated' : 'grace', session: winner.session });
        expect(apiKeys(await fixture.liveSessions(old.familyId))).toStrictEqual([winner.session.apiKey]);
      });
    });

    describe('through the use cases', () => {
      let user: User;
      let users: MemoryUserRepository;

      beforeEach(() => {
        user = makeUser('59573c395c2960da1aa83a08');
        users = new MemoryUserRepository([user]);
      });

      const login = (): Promise<CredentialsResponse> => issueSession(store, user, { now: clock.now });
      const refresh = (pair: Pair): Promise<CredentialsResponse> =>
        refreshToken(store, users, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now });
      const fetchProfile = (pair: Pair): Promise<Session> =>
        authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now });

      it('issues credentials of the spec shape, with expireIn = now + 259 200 000 and no private user fields', async () => {
        const body = await login();
        expectCredentialsResponse(body, user, clock.t + DEFAULT_SESSION_TTL_MS);
        expect(DEFAULT_SESSION_TTL_MS).toBe(259_200_000);
        const familyId = await familyOf(store, body.apiKey, clock.t);
        expect(await fixture.liveSessions(familyId)).toStrictEqual([
          { apiKey: body.apiKey, secretKey: body.secretKey, userId: user._id, expireIn: body.expireIn, familyId, issuedAt: clock.t, createdAt: clock.t },
        ]);
      });

      it('honours ttlMs', async () => {
        const body = await issueSession(store, user, { now: clock.now, ttlMs: 60_000 });
        expect(body.expireIn).toBe(clock.t + 60_000);
      });

      it('refreshes: new pair of the spec shape, same family tag, full lifetime from now; the old key is dead', async () => {
        const old = await login();
        clock.advance(2 * 24 * 3_600_000);
        const next = await refresh(old);

        expectCredentialsResponse(next, user, clock.t + DEFAULT_SESSION_TTL_MS);
        expect(next.apiKey.slice(0, FAMILY_TAG_LENGTH)).toBe(old.apiKey.slice(0, FAMILY_TAG_LENGTH));
        expect(next.apiKey).not.toBe(old.apiKey);
        expect(next.secretKey).not.toBe(old.secretKey);

        await expectCaaError(fetchProfile(old), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        clock.t = old.expireIn + 1; // past the old lifetime, inside the new one
        await expect(fetchProfile(next)).resolves.toMatchObject({ apiKey: next.apiKey, userId: user._id });
        const familyId = await familyOf(store, next.apiKey, clock.t);
        expect(apiKeys(await fixture.liveSessions(familyId))).toStrictEqual([next.apiKey]);
      });

      it('keeps the family tag and the key format over many refreshes', async () => {
        let pair: CredentialsResponse = await login();
        const tag = pair.apiKey.slice(0, FAMILY_TAG_LENGTH);
        for (let i = 0; i < 10; i++) {
          clock.advance(60_000);
          pair = await refresh(pair);
          expect(pair.apiKey.slice(0, FAMILY_TAG_LENGTH)).toBe(tag);
          expectKeyFormat(pair.apiKey);
          expectKeyFormat(pair.secretKey);
        }
      });

      it('within grace (up to 10 000 ms) gives a retried refresh the same successor, never another', async () => {
        const old = await login();
        const next = await refresh(old);
        const familyId = await familyOf(store, next.apiKey, clock.t);

        expect(await refresh(old)).toStrictEqual(next);
        clock.advance(DEFAULT_GRACE_MS);
        expect(await refresh(old)).toStrictEqual(next);
        expect(apiKeys(await fixture.liveSessions(familyId))).toStrictEqual([next.apiKey]);
        await expect(fetchProfile(next)).resolves.toMatchObject({ apiKey: next.apiKey });
      });

      it('theft: the old key after grace (+10 001 ms) is TOKEN_REUSED and the successor is dead too', async () => {
        const old = await login();
        const next = await refresh(old);
        const familyId = await familyOf(store, next.apiKey, clock.t);

        clock.advance(DEFAULT_GRACE_MS + 1);
        await expectCaaError(refresh(old), 404, 'apiKey not found', 'TOKEN_REUSED');
        await expectCaaError(fetchProfile(next), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(next), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);
      });

      it('an older ancestor (A→B→C, present A) is TOKEN_REUSED and kills C', async () => {
        const a = await login();
        const b = await refresh(a);
        clock.advance(1);
        const c = await refresh(b);
        const familyId = await familyOf(store, c.apiKey, clock.t);

        clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);
        await expectCaaError(refresh(a), 404, 'apiKey not found', 'TOKEN_REUSED');
        await expectCaaError(fetchProfile(c), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);
      });

      it('a delayed refresh (signed before the rotation) is APIKEY_NOT_FOUND and revokes nothing', async () => {
        const a = await login();
        clock.advance(5_000);
        const aRotatedAt = clock.t;
        const b = await refresh(a);
        clock.advance(5_000);
        const c = await refresh(b);
        await fetchProfile(c);
        const familyId = await familyOf(store, c.apiKey, clock.t);

        clock.advance(DEFAULT_GRACE_MS);
        const delayed = signedRequest(a, CAA_ACTIONS.refreshToken, aRotatedAt - 1);
        await expectCaaError(refreshToken(store, users, delayed, { now: clock.now }), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        const delayedProfile = signedRequest(b, CAA_ACTIONS.fetchMyProfile, aRotatedAt + 5_000);
        await expectCaaError(authenticate(store, delayedProfile, CAA_ACTIONS.fetchMyProfile, { now: clock.now }), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expect(fetchProfile(c)).resolves.toMatchObject({ apiKey: c.apiKey });
        expect(apiKeys(await fixture.liveSessions(familyId))).toStrictEqual([c.apiKey]);
      });

      it('grace ends when the successor is first used: a retry with the old pair after that is TOKEN_REUSED', async () => {
        const old = await login();
        const next = await refresh(old);
        const familyId = await familyOf(store, next.apiKey, clock.t);
        clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);
        expect(await refresh(old)).toStrictEqual(next); // a lost response: the client never got `next`
        await fetchProfile(next);
        await expectCaaError(refresh(old), 404, 'apiKey not found', 'TOKEN_REUSED');
        await expectCaaError(fetchProfile(next), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);
      });

      it('a rotated key on authenticate: 404 within grace (nothing revoked), TOKEN_REUSED after it', async () => {
        const old = await login();
        const next = await refresh(old);
        const familyId = await familyOf(store, next.apiKey, clock.t);
        clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);
        await expectCaaError(fetchProfile(old), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(apiKeys(await fixture.liveSessions(familyId))).toStrictEqual([next.apiKey]);
        clock.advance(DEFAULT_GRACE_MS);
        await expectCaaError(fetchProfile(old), 404, 'apiKey not found', 'TOKEN_REUSED');
        await expectCaaError(fetchProfile(next), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);
      });

      it('logout signed with a rotated key revokes the family: the thief who refreshed first is logged out', async () => {
        const owner = await login();
        const thief = await refresh(owner); // the thief refreshes first, with the stolen pair
        await fetchProfile(thief);
        const familyId = await familyOf(store, thief.apiKey, clock.t);
        clock.advance(DEFAULT_ROTATION_TOLERANCE_MS + 1);

        const logout = signedRequest(owner, CAA_ACTIONS.logout, clock.stamp());
        await expectCaaError(revokeSession(store, logout, { now: clock.now }), 404, 'apiKey not found', 'TOKEN_REUSED');
        await expectCaaError(fetchProfile(thief), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(thief), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);

        // Within grace (a second tab logging out before it saw the refresh): revoked, answered as a logout.
        const a = await login();
        const b = await refresh(a);
        const revoked = await revokeSession(store, signedRequest(a, CAA_ACTIONS.logout, clock.stamp()), { now: clock.now });
        expect(revoked).toMatchObject({ apiKey: a.apiKey, userId: user._id });
        await expectCaaError(fetchProfile(b), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      });

      it('logout revokes the family: the live key and every rotated one are then APIKEY_NOT_FOUND', async () => {
        const a = await login();
        const b = await refresh(a);
        const familyId = await familyOf(store, b.apiKey, clock.t);

        const revoked = await revokeSession(store, signedRequest(b, CAA_ACTIONS.logout, clock.stamp()), { now: clock.now });
        expect(revoked).toMatchObject({ apiKey: b.apiKey, secretKey: b.secretKey, userId: user._id, familyId });

        await expectCaaError(fetchProfile(b), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(b), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(a), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);
      });

      it('an expired session is SESSION_EXPIRED via authenticate and refreshToken, and is not rotated', async () => {
        const body = await login();
        const familyId = await familyOf(store, body.apiKey, clock.t);

        clock.t = body.expireIn - 1;
        await expect(fetchProfile(body)).resolves.toMatchObject({ apiKey: body.apiKey });
        clock.t = body.expireIn;
        await expectCaaError(fetchProfile(body), 404, 'apiKey not found', 'SESSION_EXPIRED');
        await expectCaaError(refresh(body), 404, 'apiKey not found', 'SESSION_EXPIRED');
        clock.advance(3_600_000);
        await expectCaaError(fetchProfile(body), 404, 'apiKey not found', 'SESSION_EXPIRED');
        await expectCaaError(refresh(body), 404, 'apiKey not found', 'SESSION_EXPIRED');
        expect(apiKeys(await fixture.liveSessions(familyId))).toStrictEqual([body.apiKey]);
      });

      it('a deleted user is USER_NOT_FOUND and the orphaned session is revoked', async () => {
        const body = await login();
        const familyId = await familyOf(store, body.apiKey, clock.t);
        users.delete(user._id);

        await expectCaaError(refresh(body), 404, 'user not found', 'USER_NOT_FOUND');
        await expectCaaError(fetchProfile(body), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(body), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        expect(await fixture.liveSessions(familyId)).toStrictEqual([]);
      });

      it('refuses an identical refresh header a second time (REPLAYED), and authenticate when asked to', async () => {
        const body = await login();
        const header = signedRequest(body, CAA_ACTIONS.refreshToken, clock.stamp());
        const next = await refreshToken(store, users, header, { now: clock.now });
        await expectCaaError(refreshToken(store, users, header, { now: clock.now }), 400, 'invalid signature', 'REPLAYED');

        const profile = signedRequest(next, CAA_ACTIONS.fetchMyProfile, clock.stamp());
        const options = { now: clock.now, replayProtection: true };
        await authenticate(store, profile, CAA_ACTIONS.fetchMyProfile, options);
        await expectCaaError(authenticate(store, profile, CAA_ACTIONS.fetchMyProfile, options), 400, 'invalid signature', 'REPLAYED');
      });

      it(`${CONCURRENT_REFRESHES} concurrent refreshes of one session all get the one successor, ${CONCURRENCY_ROUNDS} times over`, async () => {
        for (let round = 0; round < CONCURRENCY_ROUNDS; round++) {
          const old = await login();
          const familyId = await familyOf(store, old.apiKey, clock.t);
          const requests = Array.from({ length: CONCURRENT_REFRESHES }, () =>
            signedRequest(old, CAA_ACTIONS.refreshToken, clock.stamp()),
          );
          // The server clock moves on every read, so some callers see `now` before the winner's rotation.
          const settled = await Promise.allSettled(requests.map((req) => refreshToken(store, users, req, { now: clock.tick })));

          const bodies = settled.map((result) =>
            result.status === 'fulfilled' ? result.value : { rejected: String(result.reason) },
          );
          const first = bodies[0];
          if (first === undefined || 'rejected' in first) throw new Error(`round ${round}: ${JSON.stringify(first)}`);
          expect(first.apiKey).not.toBe(old.apiKey);
          for (const body of bodies) {
            expect(body).toStrictEqual({
              apiKey: first.apiKey,
              secretKey: first.secretKey,
              userId: user._id,
              expireIn: first.expireIn,
              user: first.user,
            });
          }
          const live = await fixture.liveSessions(familyId);
          expect(live).toHaveLength(1);
          expect(live[0]).toMatchObject({ apiKey: first.apiKey, secretKey: first.secretKey, familyId });
          await expect(fetchProfile(first)).resolves.toMatchObject({ apiKey: first.apiKey });
        }
      });
    });

    describe("a user's sessions, at the store level", () => {
      const META = [
        { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', ip: '203.0.113.7', device: 'laptop' },
        { userAgent: 'okhttp/4.12.0', ip: '198.51.100.23', device: 'Pixel 8', build: 42, trusted: true },
        { device: 'iPad', note: null },
      ] as const;

      /** What the store lists for `session` (its family's live pair) with the metadata of its login. */
      const infoOf = (session: Session, metadata: SessionMetadata = {}): StoredSessionInfo => ({
        sessionId: session.familyId,
        userId: session.userId,
        createdAt: session.createdAt,
        refreshedAt: session.issuedAt,
        expireIn: session.expireIn,
        metadata,
      });

      /** Three logins of user-1, 1 ms apart, each with its metadata; one of user-2 in between. */
      async function threeLogins(): Promise<Session[]> {
        const sessions: Session[] = [];
        for (const [i, metadata] of META.entries()) {
          const session = newSession(clock.t, 'user-1');
          await expect(store.create(session, clock.t, { metadata })).resolves.toStrictEqual({ evicted: [] });
          sessions.push(session);
          if (i === 0) await store.create(newSession(clock.t, 'user-2'), clock.t, { metadata: { device: 'not user-1' } });
          clock.advance(1);
        }
        return sessions;
      }

      it("lists a user's live families oldest first, one entry each, with the metadata of the login; another user's never", async () => {
        const [a, b, c] = await threeLogins();
        if (a === undefined || b === undefined || c === undefined) throw new Error('three logins');
        expect(await store.listUserSessions('user-1', clock.t)).toStrictEqual([infoOf(a, META[0]), infoOf(b, META[1]), infoOf(c, META[2])]);
        expect(await store.listUserSessions('user-3', clock.t)).toStrictEqual([]);
        const [other] = await store.listUserSessions('user-2', clock.t);
        expect(other).toMatchObject({ userId: 'user-2', metadata: { device: 'not user-1' } });

        // A rotation moves refreshedAt and expireIn on; createdAt, the id and the metadata stay.
        const now = clock.advance(60_000);
        const next = successorOf(b, now);
        await store.rotate({ apiKey: b.apiKey, familyId: b.familyId, next, now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });
        expect(await store.listUserSessions('user-1', now)).toStrictEqual([infoOf(a, META[0]), infoOf(next, META[1]), infoOf(c, META[2])]);
        expect(infoOf(next, META[1])).toMatchObject({ createdAt: b.createdAt, refreshedAt: now, expireIn: next.expireIn });
      });

      it('revokes all of a user\'s families, all but one, or one, and returns the ids of those that were live, oldest first', async () => {
        const [a, b, c] = await threeLogins();
        if (a === undefined || b === undefined || c === undefined) throw new Error('three logins');
        const [other] = await store.listUserSessions('user-2', clock.t);

        await expect(store.revokeUserSessions('user-1', clock.t, { sessionId: b.familyId })).resolves.toStrictEqual([b.familyId]);
        await expect(store.revokeUserSessions('user-1', clock.t, { sessionId: b.familyId })).resolves.toStrictEqual([]);
        // Another user's id names nothing of user-1's: nothing revoked.
        await expect(store.revokeUserSessions('user-1', clock.t, { sessionId: other?.sessionId ?? 'none' })).resolves.toStrictEqual([]);
        expect(await store.listUserSessions('user-1', clock.t)).toStrictEqual([infoOf(a, META[0]), infoOf(c, META[2])]);

        const d = newSession(clock.t, 'user-1');
        await store.create(d, clock.t);
        await expect(store.revokeUserSessions('user-1', clock.t, { except: c.familyId })).resolves.toStrictEqual([a.familyId, d.familyId]);
        expect(await store.listUserSessions('user-1', clock.t)).toStrictEqual([infoOf(c, META[2])]);
        await expect(store.revokeUserSessions('user-1', clock.t)).resolves.toStrictEqual([c.familyId]);
        await expect(store.revokeUserSessions('user-1', clock.t)).resolves.toStrictEqual([]);

        expect(await store.listUserSessions('user-1', clock.t)).toStrictEqual([]);
        for (const session of [a, b, c, d]) {
          expect((await store.lookup(session.apiKey, clock.t)).record).toBeNull();
          expect(await fixture.liveSessions(session.familyId)).toStrictEqual([]);
          const now = clock.t;
          await expect(
            store.rotate({ apiKey: session.apiKey, familyId: session.familyId, next: successorOf(session, now), now, signedAt: now, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
          ).resolves.toStrictEqual({ outcome: 'not-found' });
        }
        expect(await store.listUserSessions('user-2', clock.t)).toStrictEqual([other]);
      });

      it('revokes a rotated family whole: its live pair, its tombstones and their grace', async () => {
        const a = newSession(clock.t, 'user-1');
        await store.create(a, clock.t);
        const rotatedAt = clock.advance(1);
        const b = successorOf(a, rotatedAt);
        await store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: b, now: rotatedAt, signedAt: rotatedAt, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });
        await expect(store.revokeUserSessions('user-1', rotatedAt)).resolves.toStrictEqual([a.familyId]);
        for (const apiKey of [a.apiKey, b.apiKey]) expect((await store.lookup(apiKey, rotatedAt)).record).toBeNull();
        // Within grace: the old pair no longer gets the successor.
        await expect(
          store.rotate({ apiKey: a.apiKey, familyId: a.familyId, next: successorOf(a, rotatedAt), now: rotatedAt, signedAt: rotatedAt, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS }),
        ).resolves.toStrictEqual({ outcome: 'not-found' });
      });

      it('keeps a user within maxSessions: a login beyond it revokes the oldest and names it', async () => {
        const sessions: Session[] = [];
        const results: unknown[] = [];
        for (let i = 0; i < 4; i++) {
          const session = newSession(clock.t, 'user-1');
          results.push(await store.create(session, clock.t, { maxSessions: 2 }));
          sessions.push(session);
          clock.advance(1);
        }
        const [a, b, c, d] = sessions;
        if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error('four logins');
        expect(results).toStrictEqual([{ evicted: [] }, { evicted: [] }, { evicted: [a.familyId] }, { evicted: [b.familyId] }]);
        expect(await store.listUserSessions('user-1', clock.t)).toStrictEqual([infoOf(c), infoOf(d)]);
        expect((await store.lookup(a.apiKey, clock.t)).record).toBeNull();
        expect((await store.lookup(b.apiKey, clock.t)).record).toBeNull();
        expect(await fixture.liveSessions(a.familyId)).toStrictEqual([]);
        expect(await fixture.liveSessions(b.familyId)).toStrictEqual([]);
      });

      it('does not list families that ended: logged out, reused, revoked by apiKey, expired', async () => {
        const base = { graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS };
        // Logins 1 ms apart: the listing's order is the order of the logins.
        const loggedOut = newSession(clock.advance(1), 'user-1');
        const reused = newSession(clock.advance(1), 'user-1');
        const orphan = newSession(clock.advance(1), 'user-1');
        const expiring = newSession(clock.advance(1), 'user-1', 60_000);
        const kept = newSession(clock.advance(1), 'user-1');
        for (const session of [loggedOut, reused, orphan, expiring, kept]) await store.create(session, session.createdAt);
        expect(await store.listUserSessions('user-1', clock.t)).toHaveLength(5);

        const now = clock.advance(1);
        await expect(store.use({ ...base, apiKey: loggedOut.apiKey, familyId: loggedOut.familyId, now, signedAt: now, revoke: true })).resolves.toStrictEqual({
          outcome: 'revoked',
        });
        await store.rotate({ ...base, apiKey: reused.apiKey, familyId: reused.familyId, next: successorOf(reused, now), now, signedAt: now });
        const late = now + DEFAULT_GRACE_MS + 1;
        await expect(
          store.rotate({ ...base, apiKey: reused.apiKey, familyId: reused.familyId, next: successorOf(reused, late), now: late, signedAt: late }),
        ).resolves.toStrictEqual({ outcome: 'reused' });
        await store.revoke(orphan.apiKey, late);
        expect(await store.listUserSessions('user-1', late)).toStrictEqual([infoOf(expiring), infoOf(kept)]);
        expect(await store.listUserSessions('user-1', expiring.expireIn - 1)).toStrictEqual([infoOf(expiring), infoOf(kept)]);
        expect(await store.listUserSessions('user-1', expiring.expireIn)).toStrictEqual([infoOf(kept)]);
        // Not revoked by expiry: the expired key still reads as expired (SESSION_EXPIRED), not unknown.
        expect((await store.lookup(expiring.apiKey, expiring.expireIn)).record).toStrictEqual({ ...expiring, state: 'live' });
      });
    });

    describe("a user's sessions, through the use cases", () => {
      let alice: User;
      let bob: User;
      let users: MemoryUserRepository;

      beforeEach(() => {
        alice = makeUser('59573c395c2960da1aa83a10', 'Alice');
        bob = makeUser('59573c395c2960da1aa83a11', 'Bob');
        users = new MemoryUserRepository([alice, bob]);
      });

      const DEVICES = [
        { userAgent: 'Mozilla/5.0 (Macintosh) Safari/605.1.15', ip: '203.0.113.7', device: 'MacBook' },
        { userAgent: 'okhttp/4.12.0', ip: '198.51.100.23', device: 'Pixel 8', trusted: true, build: 42 },
        { userAgent: 'CaaDemo/1.0 (iPad; iOS 18.1)', ip: null, device: 'iPad' },
      ] as const;

      const login = (who: User, metadata?: SessionMetadata, options: { maxSessionsPerUser?: number; maxLifetimeMs?: number } = {}): Promise<CredentialsResponse> =>
        issueSession(store, who, { now: clock.now, metadata, ...options });
      const refresh = (pair: Pair, options: { maxLifetimeMs?: number } = {}): Promise<CredentialsResponse> =>
        refreshToken(store, users, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now, ...options });
      const fetchProfile = (pair: Pair, options: { maxLifetimeMs?: number } = {}): Promise<Session> =>
        authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now, ...options });
      const list = (who: User, current?: Session): Promise<SessionInfo[]> => listSessions(store, who._id, { now: clock.now, current });

      /** The pair authenticates and refreshes no more: 404 apiKey not found, APIKEY_NOT_FOUND (its family is gone). */
      async function expectGone(pair: Pair): Promise<void> {
        await expectCaaError(fetchProfile(pair), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(pair), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      }

      /** Three logins of Alice (one per device, 1 s apart) and one of Bob; the sessions authenticate returns. */
      async function aliceOnThreeDevices(): Promise<{ pairs: CredentialsResponse[]; sessions: Session[]; bobs: CredentialsResponse }> {
        const pairs: CredentialsResponse[] = [];
        for (const metadata of DEVICES) {
          pairs.push(await login(alice, metadata));
          clock.advance(1_000);
        }
        const bobs = await login(bob, { device: 'Bob’s phone' });
        const sessions = await Promise.all(pairs.map((pair) => fetchProfile(pair)));
        return { pairs, sessions, bobs };
      }

      it('lists three logins of one user with exact fields, oldest first; sessionId is the family id, never a key; refreshedAt moves, createdAt stays', async () => {
        const loginAt = clock.t;
        const { pairs, sessions, bobs } = await aliceOnThreeDevices();
        const [, second] = sessions;
        if (second === undefined) throw new Error('three sessions');
        const infos = (refreshedAt: readonly number[], expireIn: readonly number[], current?: number): SessionInfo[] =>
          sessions.map((session, i) => ({
            sessionId: session.familyId,
            userId: alice._id,
            createdAt: loginAt + i * 1_000,
            refreshedAt: refreshedAt[i] ?? -1,
            expireIn: expireIn[i] ?? -1,
            metadata: DEVICES[i] ?? {},
            current: i === current,
          }));
        const logins = sessions.map((_, i) => loginAt + i * 1_000);
        const expiries = logins.map((t) => t + DEFAULT_SESSION_TTL_MS);

        expect(await list(alice, second)).toStrictEqual(infos(logins, expiries, 1));
        expect(await list(alice)).toStrictEqual(infos(logins, expiries));
        expect(await listSessions(store, alice._id, { now: clock.now, current: second.familyId })).toStrictEqual(infos(logins, expiries, 1));
        const keys = new Set([...pairs, bobs].flatMap((pair) => [pair.apiKey, pair.secretKey]));
        for (const info of await list(alice)) expect(keys.has(info.sessionId)).toBe(false);

        // Bob's session is his alone: listed for him, never for Alice, and Bob's `current` marks nothing of hers.
        const bobSession = await fetchProfile(bobs);
        expect(await list(bob, bobSession)).toStrictEqual([
          {
            sessionId: bobSession.familyId,
            userId: bob._id,
            createdAt: loginAt + 3_000,
            refreshedAt: loginAt + 3_000,
            expireIn: loginAt + 3_000 + DEFAULT_SESSION_TTL_MS,
            metadata: { device: 'Bob’s phone' },
            current: true,
          },
        ]);
        expect(await list(alice, bobSession)).toStrictEqual(infos(logins, expiries));

        // A refresh of the second device: refreshedAt and expireIn move on, createdAt and the id stay.
        const refreshedAt = clock.advance(3_600_000);
        const next = await refresh(pairs[1] ?? pairs[0] ?? bobs);
        const nextSession = await fetchProfile(next);
        expect(nextSession).toMatchObject({ familyId: second.familyId, createdAt: loginAt + 1_000, issuedAt: refreshedAt });
        const moved = [logins[0] ?? 0, refreshedAt, logins[2] ?? 0];
        const movedExpiries = [expiries[0] ?? 0, refreshedAt + DEFAULT_SESSION_TTL_MS, expiries[2] ?? 0];
        expect(await list(alice, nextSession)).toStrictEqual(infos(moved, movedExpiries, 1));
        expect((await store.lookup(next.apiKey, clock.t)).record).toMatchObject({ createdAt: loginAt + 1_000, issuedAt: refreshedAt });
        expect(await list({ ...alice, _id: 'nobody' })).toStrictEqual([]);
      });

      it('"log out other devices" returns the count and leaves exactly the caller working; "log out everywhere" leaves none', async () => {
        const { pairs, sessions, bobs } = await aliceOnThreeDevices();
        const [first, second, third] = pairs;
        const caller = sessions[1];
        if (first === undefined || second === undefined || third === undefined || caller === undefined) throw new Error('three logins');

        await expect(revokeUserSessions(store, alice._id, { except: caller, now: clock.now })).resolves.toBe(2);
        await expect(fetchProfile(second)).resolves.toMatchObject({ apiKey: second.apiKey, familyId: caller.familyId });
        await expectGone(first);
        await expectGone(third);
        expect(await list(alice, caller)).toMatchObject([{ sessionId: caller.familyId, current: true, metadata: DEVICES[1] }]);
        expect(await list(alice)).toHaveLength(1);
        await expect(revokeUserSessions(store, alice._id, { except: caller.familyId, now: clock.now })).resolves.toBe(0);

        // The caller keeps refreshing as before.
        const next = await refresh(second);
        await expect(fetchProfile(next)).resolves.toMatchObject({ apiKey: next.apiKey, familyId: caller.familyId });

        await expect(revokeUserSessions(store, alice._id, { now: clock.now })).resolves.toBe(1);
        await expectGone(next);
        expect(await list(alice)).toStrictEqual([]);
        await expect(revokeUserSessions(store, alice._id, { now: clock.now })).resolves.toBe(0);
        for (const session of sessions) expect(await fixture.liveSessions(session.familyId)).toStrictEqual([]);

        // Bob was never touched.
        await expect(fetchProfile(bobs)).resolves.toMatchObject({ apiKey: bobs.apiKey, userId: bob._id });
        expect(await list(bob)).toHaveLength(1);
      });

      it('revokes one session by its id: true, then false; another user\'s id is false and revokes nothing', async () => {
        const { pairs, sessions, bobs } = await aliceOnThreeDevices();
        const [first, second, third] = pairs;
        const target = sessions[0];
        if (first === undefined || second === undefined || third === undefined || target === undefined) throw new Error('three logins');
        const bobSession = await fetchProfile(bobs);

        await expect(revokeUserSession(store, alice._id, target.familyId, { now: clock.now })).resolves.toBe(true);
        await expectGone(first);
        await expect(revokeUserSession(store, alice._id, target.familyId, { now: clock.now })).resolves.toBe(false);
        expect((await list(alice)).map((info) => info.sessionId)).toStrictEqual([sessions[1]?.familyId, sessions[2]?.familyId]);

        // Alice names Bob's session, and Bob names Alice's: neither is revoked.
        await expect(revokeUserSession(store, alice._id, bobSession.familyId, { now: clock.now })).resolves.toBe(false);
        await expect(revokeUserSession(store, bob._id, sessions[1]?.familyId ?? '', { now: clock.now })).resolves.toBe(false);
        for (const id of ['', 'no-such-session', first.apiKey, 'x'.repeat(300)]) {
          await expect(revokeUserSession(store, alice._id, id, { now: clock.now })).resolves.toBe(false);
        }
        await expect(fetchProfile(bobs)).resolves.toMatchObject({ apiKey: bobs.apiKey });
        await expect(fetchProfile(second)).resolves.toMatchObject({ apiKey: second.apiKey });
        await expect(fetchProfile(third)).resolves.toMatchObject({ apiKey: third.apiKey });
        expect(await list(alice)).toHaveLength(2);
        expect(await list(bob)).toHaveLength(1);
      });

      it(`"log out other devices" and "everywhere" under ${RACING_REFRESHES} concurrent refreshes and ${RACING_LOGINS} logins: nothing revoked comes back, nothing is lost from the index`, async () => {
        for (const scope of ['others', 'everywhere'] as const) {
          for (let round = 0; round < RACE_ROUNDS; round++) {
            const racer = makeUser(`racer-${scope}-${round}`, 'Racer');
            users.save(racer);
            const pairs: CredentialsResponse[] = [];
            for (let i = 0; i < RACING_SESSIONS; i++) {
              pairs.push(await login(racer, { device: `device ${i}` }));
              clock.advance(1);
            }
            const kept = await fetchProfile(pairs[0] ?? expect.unreachable());
            const familyIds = await Promise.all(pairs.map((pair) => familyOf(store, pair.apiKey, clock.t)));
            const requests = Array.from({ length: RACING_REFRESHES }, (_, i) => ({
              session: i % RACING_SESSIONS,
              request: signedRequest(pairs[i % RACING_SESSIONS] ?? expect.unreachable(), CAA_ACTIONS.refreshToken, clock.stamp()),
            }));

            // The revocation starts at a different point of the burst each round.
            const startAt = Math.floor((round * RACING_REFRESHES) / Math.max(1, RACE_ROUNDS - 1));
            const refreshes: Promise<CredentialsResponse>[] = [];
            const lateLogins: Promise<CredentialsResponse>[] = [];
            let revocation: Promise<number> | undefined;
            for (const [i, { request }] of requests.entries()) {
              if (i === startAt) revocation = revokeUserSessions(store, racer._id, scope === 'others' ? { except: kept, now: clock.now } : { now: clock.now });
              refreshes.push(refreshToken(store, users, request, { now: clock.now }));
              if (i % Math.ceil(RACING_REFRESHES / RACING_LOGINS) === 0) lateLogins.push(login(racer, { device: `late ${i}` }));
            }
            revocation ??= revokeUserSessions(store, racer._id, scope === 'others' ? { except: kept, now: clock.now } : { now: clock.now });
            const [settled, count, late] = await Promise.all([Promise.allSettled(refreshes), revocation, Promise.all(lateLogins)]);

            // Every refresh of a revoked session either got a pair before the revocation or 404 APIKEY_NOT_FOUND.
            const keptPairs: CredentialsResponse[] = [];
            const revokedPairs: Pair[] = scope === 'others' ? pairs.slice(1) : [...pairs];
            for (const [i, result] of settled.entries()) {
              const keptSession = scope === 'others' && requests[i]?.session === 0;
              if (result.status === 'rejected') {
                expect(keptSession, `round ${round}: a refresh of the kept session failed: ${String(result.reason)}`).toBe(false);
                assertCaaError(result.reason, { status: 404, message: 'apiKey not found', code: 'APIKEY_NOT_FOUND' });
              } else if (keptSession) keptPairs.push(result.value);
              else revokedPairs.push(result.value);
            }
            for (const pair of revokedPairs) await expectGone(pair);

            // Logins that ran alongside: each is either revoked with the others or listed and working.
            const listedLate: string[] = [];
            let lateGone = 0;
            for (const pair of late) {
              const { record } = await store.lookup(pair.apiKey, clock.t);
              if (record === null) {
                lateGone++;
                await expectGone(pair);
              } else {
                await expect(fetchProfile(pair)).resolves.toMatchObject({ apiKey: pair.apiKey });
                listedLate.push(record.familyId);
              }
            }
            const originals = scope === 'others' ? RACING_SESSIONS - 1 : RACING_SESSIONS;
            expect(count, `round ${round}: the count names every original session revoked, and at most the late ones revoked`).toBeGreaterThanOrEqual(originals);
            expect(count).toBeLessThanOrEqual(originals + lateGone);

            const listed = await list(racer);
            if (scope === 'others') {
              // The kept session: every refresh of it got the one successor, which works and is listed.
              const [latest] = keptPairs;
              if (latest === undefined) throw new Error(`round ${round}: no refresh of the kept session`);
              for (const pair of keptPairs) expect(pair).toStrictEqual(latest);
              await expect(fetchProfile(latest)).resolves.toMatchObject({ apiKey: latest.apiKey, familyId: kept.familyId });
              expect(listed[0]).toStrictEqual({
                sessionId: kept.familyId,
                userId: racer._id,
                createdAt: kept.createdAt,
                refreshedAt: clock.t,
                expireIn: latest.expireIn,
                metadata: { device: 'device 0' },
                current: false,
              });
            }
            const expectedIds = [...(scope === 'others' ? [kept.familyId] : []), ...listedLate];
            expect(listed.map((info) => info.sessionId).sort(), `round ${round}: listed = the live families`).toStrictEqual([...expectedIds].sort());
            // Behind the store's back: exactly the listed families hold a live session.
            for (const familyId of [...familyIds, ...listedLate]) {
              const live = await fixture.liveSessions(familyId);
              expect(live, `round ${round}: live sessions of ${familyId}`).toHaveLength(expectedIds.includes(familyId) ? 1 : 0);
            }
            await revokeUserSessions(store, racer._id, { now: clock.now });
            clock.advance(1_000);
          }
        }
      });

      it('keeps a user within maxSessionsPerUser: one login after another, the newest survive and the oldest are revoked', async () => {
        const pairs: CredentialsResponse[] = [];
        for (let i = 0; i < 7; i++) {
          pairs.push(await login(alice, { n: i }, { maxSessionsPerUser: 5 }));
          clock.advance(1);
        }
        for (const pair of pairs.slice(0, 2)) await expectGone(pair);
        for (const pair of pairs.slice(2)) await expect(fetchProfile(pair)).resolves.toMatchObject({ apiKey: pair.apiKey });
        expect((await list(alice)).map((info) => info.metadata)).toStrictEqual([{ n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }, { n: 6 }]);
      });

      it(`keeps a user within maxSessionsPerUser under a flood of ${LOGIN_FLOOD} concurrent logins: at most 5 live and listed, the newest among them`, async () => {
        const max = 5;
        // clock.tick: every login reads its own instant, so "newest" is well defined.
        const pairs = await Promise.all(
          Array.from({ length: LOGIN_FLOOD }, (_, i) => issueSession(store, alice, { now: clock.tick, metadata: { n: i }, maxSessionsPerUser: max })),
        );
        const live: { n: number; familyId: string }[] = [];
        for (const [n, pair] of pairs.entries()) {
          const { record } = await store.lookup(pair.apiKey, clock.t);
          if (record === null) await expectGone(pair);
          else {
            await expect(fetchProfile(pair)).resolves.toMatchObject({ apiKey: pair.apiKey });
            live.push({ n, familyId: record.familyId });
          }
        }
        expect(live.length).toBeLessThanOrEqual(max);
        // A login never revokes itself, so a store whose login is two steps may keep one older login in
        // place of the fifth newest; the four newest survive on every store.
        expect(live.map(({ n }) => n).slice(-(max - 1))).toStrictEqual(Array.from({ length: max - 1 }, (_, i) => LOGIN_FLOOD - max + 1 + i));
        const listed = await list(alice);
        expect(listed.map((info) => info.sessionId)).toStrictEqual(live.map(({ familyId }) => familyId));
        expect(listed.map((info) => info.metadata)).toStrictEqual(live.map(({ n }) => ({ n })));
      });

      it('caps every refresh at the login plus the absolute lifetime (30 days by default); at the deadline refresh is SESSION_EXPIRED', async () => {
        expect(DEFAULT_MAX_LIFETIME_MS).toBe(2_592_000_000);
        const loginAt = clock.t;
        const deadline = loginAt + DEFAULT_MAX_LIFETIME_MS;
        // Two devices of one login time, kept alive alike.
        let pairs = [await login(alice, { device: 'a' }), await login(alice, { device: 'b' })];
        const expiries: number[] = [];
        // Every two days, for a month: never past the deadline, and the last ones at it exactly.
        while (clock.t + 2 * 86_400_000 < deadline) {
          clock.advance(2 * 86_400_000);
          pairs = await Promise.all(pairs.map((pair) => refresh(pair)));
          for (const pair of pairs) expect(pair.expireIn).toBe(Math.min(clock.t + DEFAULT_SESSION_TTL_MS, deadline));
          expiries.push(...pairs.map((pair) => pair.expireIn));
        }
        expect(expiries.filter((expireIn) => expireIn === deadline).length).toBeGreaterThan(0);
        expect(Math.max(...expiries)).toBe(deadline);
        const [a, b] = pairs;
        if (a === undefined || b === undefined) throw new Error('two devices');
        const lastRefresh = clock.t;

        // The last ms of the lifetime: both work, both are listed; a refresh still works, capped at the deadline.
        clock.t = deadline - 1;
        await expect(fetchProfile(a)).resolves.toMatchObject({ apiKey: a.apiKey, createdAt: loginAt, expireIn: deadline });
        // Two logins of the same ms: the port leaves their order open, so compare them by device.
        const listed = (await list(alice))
          .map(({ createdAt, refreshedAt, expireIn, metadata }) => ({ createdAt, refreshedAt, expireIn, metadata }))
          .sort((x, y) => String(x.metadata.device).localeCompare(String(y.metadata.device)));
        expect(listed).toStrictEqual([
          { createdAt: loginAt, refreshedAt: lastRefresh, expireIn: deadline, metadata: { device: 'a' } },
          { createdAt: loginAt, refreshedAt: lastRefresh, expireIn: deadline, metadata: { device: 'b' } },
        ]);
        const last = await refresh(b);
        expect(last).toMatchObject({ userId: alice._id, expireIn: deadline });

        clock.t = deadline;
        await expectCaaError(refresh(a), 404, 'apiKey not found', 'SESSION_EXPIRED');
        await expectCaaError(fetchProfile(a), 404, 'apiKey not found', 'SESSION_EXPIRED');
        expect(await list(alice)).toStrictEqual([]);
      });

      it('a pair refreshed 1 ms before the deadline works for that ms, and once the deadline is reached, used or not, it is SESSION_EXPIRED (not forgotten)', async () => {
        const lifetime = { maxLifetimeMs: 60_000 };
        const loginAt = clock.t;
        const used = await login(alice, undefined, lifetime);
        const unused = await login(alice, undefined, lifetime);
        clock.t = loginAt + 60_000 - 1;
        const [usedNext, unusedNext] = [await refresh(used, lifetime), await refresh(unused, lifetime)];
        expect([usedNext.expireIn, unusedNext.expireIn]).toStrictEqual([loginAt + 60_000, loginAt + 60_000]);
        // A few ms of real time pass; the clock the store judges by (`now`) does not move.
        await sleep(5);
        await expect(fetchProfile(usedNext, lifetime)).resolves.toMatchObject({ apiKey: usedNext.apiKey, expireIn: loginAt + 60_000 });
        clock.t = loginAt + 60_000;
        for (const pair of [usedNext, unusedNext]) {
          await expectCaaError(refresh(pair, lifetime), 404, 'apiKey not found', 'SESSION_EXPIRED');
          await expectCaaError(fetchProfile(pair, lifetime), 404, 'apiKey not found', 'SESSION_EXPIRED');
        }
      });

      it('refuses a live pair past a shortened lifetime with SESSION_EXPIRED (deadline − 1 ms works), and Infinity turns the lifetime off', async () => {
        const loginAt = clock.t;
        const hour = 3_600_000;
        const pair = await login(alice);
        // Issued with the default lifetime (expireIn 3 days on): judged by an hour from its login later.
        const other = await login(alice);
        clock.t = loginAt + hour - 60_000;
        const next = await refresh(pair, { maxLifetimeMs: hour });
        expect(next.expireIn).toBe(loginAt + hour);
        clock.t = loginAt + hour - 1;
        await expect(fetchProfile(next, { maxLifetimeMs: hour })).resolves.toMatchObject({ apiKey: next.apiKey });
        await expect(fetchProfile(other, { maxLifetimeMs: hour })).resolves.toMatchObject({ apiKey: other.apiKey, expireIn: other.expireIn });
        const listedWithin = await listSessions(store, alice._id, { now: clock.now, maxLifetimeMs: hour });
        expect(listedWithin.map((info) => info.expireIn).sort()).toStrictEqual([loginAt + hour, other.expireIn].sort());
        clock.t = loginAt + hour;
        expect(other.expireIn).toBeGreaterThan(clock.t);
        // Past the shortened lifetime nothing of that login is listed, though `other`'s pair has not expired.
        expect(await listSessions(store, alice._id, { now: clock.now, maxLifetimeMs: hour })).toStrictEqual([]);
        expect(await list(alice)).toMatchObject([{ expireIn: other.expireIn }]);
        await expectCaaError(refresh(other, { maxLifetimeMs: hour }), 404, 'apiKey not found', 'SESSION_EXPIRED');
        await expectCaaError(fetchProfile(other, { maxLifetimeMs: hour }), 404, 'apiKey not found', 'SESSION_EXPIRED');
        await expectCaaError(refresh(next, { maxLifetimeMs: hour }), 404, 'apiKey not found', 'SESSION_EXPIRED');

        // Without a lifetime, a family refreshed every two days lives on past the 30-day mark, never capped.
        const foreverAt = clock.t;
        let forever = await login(bob, undefined, { maxLifetimeMs: Infinity });
        while (clock.t <= foreverAt + DEFAULT_MAX_LIFETIME_MS) {
          clock.advance(2 * 86_400_000);
          forever = await refresh(forever, { maxLifetimeMs: Infinity });
          expect(forever.expireIn).toBe(clock.t + DEFAULT_SESSION_TTL_MS);
        }
        await expect(fetchProfile(forever, { maxLifetimeMs: Infinity })).resolves.toMatchObject({ apiKey: forever.apiKey, createdAt: foreverAt });
      });

      it('does not list sessions that ended: logged out, reused, expired, their user gone', async () => {
        const loggedOut = await login(alice, { device: 'logged out' });
        clock.advance(1);
        const reused = await login(alice, { device: 'reused' });
        clock.advance(1);
        const expiring = await issueSession(store, alice, { now: clock.now, ttlMs: 60_000, metadata: { device: 'expiring' } });
        clock.advance(1);
        const kept = await login(alice, { device: 'kept' });
        const bobs = await login(bob, { device: 'bob' });
        expect(await list(alice)).toHaveLength(4);

        await revokeSession(store, signedRequest(loggedOut, CAA_ACTIONS.logout, clock.stamp()), { now: clock.now });
        await refresh(reused);
        clock.advance(DEFAULT_GRACE_MS + 1);
        await expectCaaError(refresh(reused), 404, 'apiKey not found', 'TOKEN_REUSED');
        expect((await list(alice)).map((info) => info.metadata)).toStrictEqual([{ device: 'expiring' }, { device: 'kept' }]);
        clock.t = expiring.expireIn;
        await expectCaaError(fetchProfile(expiring), 404, 'apiKey not found', 'SESSION_EXPIRED');
        expect((await list(alice)).map((info) => info.metadata)).toStrictEqual([{ device: 'kept' }]);
        await expect(fetchProfile(kept)).resolves.toMatchObject({ apiKey: kept.apiKey });

        users.delete(bob._id);
        await expectCaaError(refresh(bobs), 404, 'user not found', 'USER_NOT_FOUND');
        expect(await list(bob)).toStrictEqual([]);
      });
    });
  });
}
