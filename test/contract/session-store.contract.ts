/**
 * The SessionStore contract: one suite that every store runs unchanged (MemoryStore, RedisStore
 * through ioredis and through node-redis). It checks the rules of the port at the store level and,
 * through the use cases, the behaviour a client sees.
 *
 * Time is injected everywhere (`now`), and every signed request carries a timestamp of its own
 * (refreshToken refuses an identical header a second time).
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  DEFAULT_SESSION_TTL_MS,
  FAMILY_TAG_LENGTH,
  MemoryUserRepository,
  authenticate,
  generateKey,
  issueSession,
  refreshToken,
  revokeSession,
  type CredentialsResponse,
  type Session,
  type SessionStore,
  type User,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';
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
          { apiKey: body.apiKey, secretKey: body.secretKey, userId: user._id, expireIn: body.expireIn, familyId, issuedAt: clock.t },
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
  });
}
