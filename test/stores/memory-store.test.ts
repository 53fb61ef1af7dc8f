/** MemoryStore: the shared contract, and what is particular to keeping sessions in one process. */

import { describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_SESSION_TTL_MS,
  MemoryStore,
  MemoryUserRepository,
  authenticate,
  issueSession,
  refreshToken,
} from '../../src/index.js';
import { EXPIRED_SESSION_RETENTION_MS } from '../../src/stores/session-store.js';
import { describeSessionStoreContract } from '../contract/session-store.contract.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { TestClock, makeUser, newSession, signedRequest } from '../support/use-case-fixtures.js';

describeSessionStoreContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return {
    store,
    // Every record still held in the live state, whatever the clock: what the store really keeps.
    liveSessions: async (familyId) => store.liveSessions(0).filter((session) => session.familyId === familyId),
    size: async () => store.size,
    flush: async () => {},
    close: async () => {},
  };
});

describe('MemoryStore', () => {
  it('stays bounded under a steady stream of logins: expired entries are swept', async () => {
    const store = new MemoryStore({ sweepEvery: 64 });
    const clock = new TestClock();
    const user = makeUser('u1');
    const ttlMs = 60_000;
    // Each session is held for ttlMs + the retention; 50 logins fit into that span.
    const stepMs = Math.ceil((ttlMs + EXPIRED_SESSION_RETENTION_MS) / 50);
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      await issueSession(store, user, { now: clock.now, ttlMs });
      clock.advance(stepMs);
      peak = Math.max(peak, store.size);
    }
    // At most ~51 unexpired sessions (2 entries each) plus what a sweep period lets pile up.
    expect(peak).toBeLessThan(500);
  });

  it('stays bounded under a chain of refreshes: tombstones and replay markers are swept', async () => {
    const store = new MemoryStore({ sweepEvery: 64 });
    const clock = new TestClock();
    const user = makeUser('u1');
    const users = new MemoryUserRepository([user]);
    const hour = 3_600_000;
    // 5 000 hours of refreshes: far past the default absolute lifetime, which this test is not about.
    const options = { now: clock.now, ttlMs: 2 * hour, maxLifetimeMs: Infinity };
    let pair = await issueSession(store, user, options);
    let peak = 0;
    for (let i = 0; i < 5_000; i++) {
      clock.advance(hour);
      const request = signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp());
      pair = await refreshToken(store, users, request, options);
      peak = Math.max(peak, store.size);
    }
    // Tombstones are held for ttlMs + the retention (~26 of them), replay markers for the window.
    expect(peak).toBeLessThan(500);
  });

  it('forgets a replay marker once its expiresAt has passed', async () => {
    const store = new MemoryStore();
    const session = newSession(1_000);
    await store.create(session, 1_000);
    const marker = { key: `${session.apiKey}:1700000000000:sig`, expiresAt: 2_000, id: 'first' };
    const use = (now: number, id: string) =>
      store.use({ apiKey: session.apiKey, familyId: session.familyId, now, signedAt: now, graceMs: 10_000, toleranceMs: 2_000, revoke: false, replay: { ...marker, id } });
    await expect(use(1_000, 'first')).resolves.toStrictEqual({ outcome: 'live' });
    await expect(use(1_999, 'second')).resolves.toStrictEqual({ outcome: 'replayed' });
    await expect(use(2_000, 'third')).resolves.toStrictEqual({ outcome: 'live' });
  });

  it('100 000 unauthenticated refreshes (unknown keys, and a real key with bad signatures) leave its size where it was', async () => {
    const store = new MemoryStore();
    const clock = new TestClock();
    const users = new MemoryUserRepository([makeUser('u1')]);
    const body = await issueSession(store, makeUser('u1'), { now: clock.now });
    const sizeBefore = store.size;
    const junkSecret = { secretKey: Buffer.alloc(32, 7).toString('base64') };
    for (let i = 0; i < 100_000; i++) {
      const apiKey = i % 2 === 0 ? body.apiKey : Buffer.alloc(32, i % 251).toString('base64');
      const req = signedRequest({ apiKey, ...junkSecret }, CAA_ACTIONS.refreshToken, clock.stamp());
      await refreshToken(store, users, req, { now: clock.now }).then(
        () => expect.unreachable('a junk refresh was served'),
        (err: unknown) => expect(err).toMatchObject({ status: i % 2 === 0 ? 400 : 404 }),
      );
      if (i % 10_000 === 0) clock.advance(1);
    }
    expect(store.size).toBe(sizeBefore);
  });

  it('keeps an expired session long enough to tell SESSION_EXPIRED from an unknown key, then forgets it', async () => {
    const store = new MemoryStore();
    const clock = new TestClock();
    const body = await issueSession(store, makeUser('u1'), { now: clock.now });
    const fetch = () =>
      authenticate(store, signedRequest(body, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now });

    clock.t = body.expireIn + EXPIRED_SESSION_RETENTION_MS - 1;
    await expectCaaError(fetch(), 404, 'apiKey not found', 'SESSION_EXPIRED');
    clock.t = body.expireIn + EXPIRED_SESSION_RETENTION_MS;
    await expectCaaError(fetch(), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    expect(store.liveSessions(0)).toStrictEqual([]);
  });

  it('liveSessions(now) lists only unexpired live sessions', async () => {
    const store = new MemoryStore();
    const session = newSession(1_000, 'u1', DEFAULT_SESSION_TTL_MS);
    await store.create(session, 1_000);
    expect(store.liveSessions(1_000)).toStrictEqual([session]);
    expect(store.liveSessions(session.expireIn)).toStrictEqual([]);
  });
});
