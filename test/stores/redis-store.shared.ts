/**
 * What is particular to RedisStore, run once per client library (ioredis, node-redis): the key
 * layout, hash tags and expiries as Redis really holds them, the constructor's checks, and store
 * faults answered 503 within `timeoutMs`.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_LIFETIME_MS,
  DEFAULT_SESSION_TTL_MS,
  FAMILY_TAG_LENGTH,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  computeSignature,
  issueSession,
  refreshToken,
  revokeSession,
  type AnyRedisClient,
  type CredentialsResponse,
  type User,
  type UserRepository,
} from '../../src/index.js';
import { EXPIRED_SESSION_RETENTION_MS } from '../../src/stores/session-store.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { liveSessionsInRedis, type RawRedis } from '../support/redis-inspect.js';
import { RedisServer, freePort } from '../support/redis-server.js';
import { TestClock, familyOf, makeUser, signedRequest, type Pair } from '../support/use-case-fixtures.js';

/** A client and how to end it. */
export interface DriverClient {
  readonly client: AnyRedisClient;
  close(): Promise<void>;
}

/** How one client library connects, in the ways the tests need. */
export interface RedisDriver {
  /** A connected client with default options (it reconnects and queues while the server is away). */
  connect(port: number): Promise<DriverClient & { readonly raw: RawRedis }>;
  /** A client for `port` that fails every command at once: no offline queue, no reconnecting. */
  failFast(port: number): Promise<DriverClient>;
  /** A client for `port` that queues every command while it keeps trying to connect. */
  queueing(port: number): Promise<DriverClient>;
}

/** The store's per-call deadline in the fault tests, ms. */
const TIMEOUT_MS = 300;
/** What the event loop of a busy test machine may add to a timer, ms. */
const TIMER_SLACK_MS = 700;

/** Runs `call`, asserts the 503 STORE_UNAVAILABLE rejection, and returns how long it took. */
async function expectStoreUnavailable(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await expectCaaError(call(), 503, 'service unavailable', 'STORE_UNAVAILABLE');
  return performance.now() - started;
}

export function describeRedisStoreSpecifics(name: string, driver: RedisDriver, server: () => RedisServer): void {
  describe(`RedisStore (${name})`, () => {
    let connection: DriverClient & { readonly raw: RawRedis };
    let raw: RawRedis;
    let clock: TestClock;
    let user: User;
    let users: MemoryUserRepository;
    let prefixes = 0;

    beforeEach(async () => {
      connection = await driver.connect(server().port);
      raw = connection.raw;
      clock = new TestClock();
      user = makeUser('u-redis');
      users = new MemoryUserRepository([user]);
    });

    afterEach(async () => {
      await connection?.close();
    });

    /** A store under a prefix of its own, so that each test sees only its keys. */
    function newStore(): { store: RedisStore; prefix: string } {
      const prefix = `caa:spec${++prefixes}:${name}:`;
      return { store: new RedisStore({ client: connection.client, prefix, clock: 'caller' }), prefix };
    }

    const refresh = (store: RedisStore, pair: Pair): Promise<CredentialsResponse> =>
      refreshToken(store, users, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now });

    it('keeps the documented key layout: s:<apiKey> and f:<familyId> hashes, r:<apiKey>:<timestamp>:<signature> markers', async () => {
      const { store, prefix } = newStore();
      const old = await issueSession(store, user, { now: clock.now });
      const familyId = await familyOf(store, old.apiKey, clock.t);
      const timestamp = clock.stamp();
      const signature = computeSignature({ action: CAA_ACTIONS.refreshToken, apiKey: old.apiKey, secretKey: old.secretKey, timestamp });
      const next = await refreshToken(store, users, signedRequest(old, CAA_ACTIONS.refreshToken, timestamp), { now: clock.now });

      const tag = `${prefix}{${old.apiKey.slice(0, FAMILY_TAG_LENGTH)}}:`;
      const expected = {
        oldSession: `${tag}s:${old.apiKey}`,
        newSession: `${tag}s:${next.apiKey}`,
        family: `${tag}f:${familyId}`,
        marker: `${tag}r:${old.apiKey}:${timestamp}:${signature}`,
        epoch: `${tag}e`,
        // The user's index lives on a hash tag of its own, apart from the families' tags.
        index: `${prefix}{u:${user._id}}:i`,
      };
      expect(await raw.scan(`${prefix}*`)).toStrictEqual(Object.values(expected).sort());
      // The epoch of the tag has no expiry, so no eviction policy that spares keys without one drops it.
      expect(await raw.get(expected.epoch)).toBe('1');
      expect(await raw.pttl(expected.epoch)).toBe(-1);

      expect(await raw.type(expected.oldSession)).toBe('hash');
      expect(await raw.hgetall(expected.oldSession)).toStrictEqual({
        st: 'rotated',
        sk: old.secretKey,
        uid: user._id,
        fam: familyId,
        iat: String(clock.t),
        exp: String(old.expireIn),
        cat: String(clock.t),
        nx: next.apiKey,
        rat: String(clock.t),
        nexp: String(next.expireIn),
        rk: expected.marker,
      });
      expect(await raw.hgetall(expected.newSession)).toStrictEqual({
        st: 'live',
        sk: next.secretKey,
        uid: user._id,
        fam: familyId,
        iat: String(clock.t),
        exp: String(next.expireIn),
        cat: String(clock.t),
        pv: old.apiKey,
      });
      expect(await raw.type(expected.family)).toBe('hash');
      expect(await raw.hgetall(expected.family)).toStrictEqual({ head: next.apiKey, uid: user._id, cat: String(clock.t), md: '{}' });
      // One field per family: its id → `<createdAt>:<tag>`, from which the family's key is rebuilt.
      expect(await raw.type(expected.index)).toBe('hash');
      expect(await raw.hgetall(expected.index)).toStrictEqual({ [familyId]: `${clock.t}:${old.apiKey.slice(0, FAMILY_TAG_LENGTH)}` });
      expect(await raw.type(expected.marker)).toBe('string');
      // The marker holds the id of the call that set it: the candidate apiKey of that rotation.
      expect(await raw.get(expected.marker)).toBe(next.apiKey);

      // Expiries: the live records for the session lifetime plus the retention, the rotated one for
      // its family's lifetime only, the marker for the window.
      const recordTtl = DEFAULT_SESSION_TTL_MS + EXPIRED_SESSION_RETENTION_MS;
      for (const [key, keyTtl] of [
        [expected.newSession, recordTtl],
        [expected.family, recordTtl],
        [expected.oldSession, DEFAULT_SESSION_TTL_MS],
        // The index: until the family's absolute lifetime ends, plus the retention.
        [expected.index, DEFAULT_MAX_LIFETIME_MS + EXPIRED_SESSION_RETENTION_MS],
      ] as const) {
        const pttl = await raw.pttl(key);
        expect(pttl, key).toBeLessThanOrEqual(keyTtl);
        expect(pttl, key).toBeGreaterThan(keyTtl - 60_000);
      }
      // Twice the window past the signed timestamp: it outlives the header on every server within the window.
      const markerTtl = timestamp + 600_000 - clock.t;
      const markerPttl = await raw.pttl(expected.marker);
      expect(markerPttl).toBeLessThanOrEqual(markerTtl);
      expect(markerPttl).toBeGreaterThan(markerTtl - 60_000);
    });

    it('puts every key of a family under one hash tag, each with an expiry, through a whole lifetime', async () => {
      const { store, prefix } = newStore();
      const first = await issueSession(store, user, { now: clock.now });
      const tag = `{${first.apiKey.slice(0, FAMILY_TAG_LENGTH)}}`;
      let pair: CredentialsResponse = first;
      const pairs = [first];
      for (let i = 0; i < 5; i++) {
        clock.advance(60_000);
        pair = await refresh(store, pair);
        pairs.push(pair);
        await authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, {
          now: clock.now,
          replayProtection: true,
        });
      }
      const index = `${prefix}{u:${user._id}}:i`;
      const assertAllTaggedAndExpiring = async (): Promise<number> => {
        const keys = await raw.scan(`${prefix}*`);
        for (const key of keys) {
          // The user's index is the one key on a tag of its own (the user's), and it expires too.
          expect(key === index || key.startsWith(`${prefix}${tag}:`), key).toBe(true);
          expect(key.indexOf('{'), key).toBe(prefix.length);
          // Every key expires but the tag's epoch, a few bytes that must outlive eviction.
          if (key !== `${prefix}${tag}:e`) expect(await raw.pttl(key), key).toBeGreaterThan(0);
        }
        return keys.length;
      };
      // 6 session records, 1 family, 5 refresh markers, 5 authenticate markers, the epoch, the user's index.
      expect(await assertAllTaggedAndExpiring()).toBe(19);

      // Reuse after grace revokes the family; what remains still expires.
      const familyId = await familyOf(store, first.apiKey, clock.t);
      clock.advance(DEFAULT_GRACE_MS + 1);
      const ancestor = pairs[2];
      if (ancestor === undefined) throw new Error('no ancestor');
      await expectCaaError(refresh(store, ancestor), 404, 'apiKey not found', 'TOKEN_REUSED');
      expect(await assertAllTaggedAndExpiring()).toBeGreaterThan(0);
      expect(await liveSessionsInRedis(raw, prefix, familyId)).toStrictEqual([]);
      // The family's tombstones read as gone once it is revoked.
      expect((await store.lookup(first.apiKey, clock.t)).record).toBeNull();
    });

    it('100 000 unauthenticated refreshes (unknown keys, and a real key with bad signatures) leave DBSIZE where it was', async () => {
      const { store } = newStore();
      const body = await issueSession(store, user, { now: clock.now });
      const before = await raw.dbsize();
      const junkSecret = Buffer.alloc(32, 7).toString('base64');
      const answers = new Map<number, number>();
      const BATCH = 1_000;
      for (let done = 0; done < 100_000; done += BATCH) {
        const batch = Array.from({ length: BATCH }, (_, j) => {
          const i = done + j;
          const apiKey = i % 2 === 0 ? body.apiKey : Buffer.alloc(32, i % 251).toString('base64');
          const req = signedRequest({ apiKey, secretKey: junkSecret }, CAA_ACTIONS.refreshToken, clock.stamp());
          return refreshToken(store, users, req, { now: clock.now }).then(
            () => 200,
            (err: unknown) => (err as { status: number }).status,
          );
        });
        for (const status of await Promise.all(batch)) answers.set(status, (answers.get(status) ?? 0) + 1);
        clock.advance(1_000);
      }
      expect(Object.fromEntries(answers)).toStrictEqual({ 400: 50_000, 404: 50_000 });
      expect(await raw.dbsize()).toBe(before);
    }, 120_000);

    it('honours the prefix option, and uses caa: by default', async () => {
      const { store, prefix } = newStore();
      const body = await issueSession(store, user, { now: clock.now });
      const keys = await raw.scan(`*${body.apiKey}*`);
      expect(keys).toStrictEqual([`${prefix}{${body.apiKey.slice(0, FAMILY_TAG_LENGTH)}}:s:${body.apiKey}`]);

      const defaultStore = new RedisStore({ client: connection.client });
      expect(defaultStore.keyPrefix(body.apiKey)).toBe(`caa:{${body.apiKey.slice(0, FAMILY_TAG_LENGTH)}}:`);
      const other = await issueSession(defaultStore, user, { now: clock.now });
      expect(await raw.scan(`*${other.apiKey}*`)).toStrictEqual([`caa:{${other.apiKey.slice(0, FAMILY_TAG_LENGTH)}}:s:${other.apiKey}`]);
      await defaultStore.revoke(other.apiKey);
    });

    it('refuses a prefix with a brace, which would break the hash tag', () => {
      for (const prefix of ['app{x}:', 'app{', 'app}']) {
        expect(() => new RedisStore({ client: connection.client, prefix })).toThrow(
          new TypeError('RedisStore: prefix must be a string without { or }'),
        );
      }
    });

    it('refuses a client that is neither ioredis nor node-redis with a TypeError', () => {
      const wrong = [{}, { get: () => null }, { evalsha: 'not a function' }, { evalSha: 42 }];
      for (const client of wrong) {
        expect(() => new RedisStore({ client: client as unknown as AnyRedisClient })).toThrow(
          new TypeError('RedisStore: client must be an ioredis or node-redis client, or a RedisScriptClient'),
        );
      }
    });

    it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT), without a fault', async () => {
      const { store } = newStore();
      const old = await issueSession(store, user, { now: clock.now });
      await raw.scriptFlush();
      const next = await refresh(store, old);
      await raw.scriptFlush();
      await expect(
        authenticate(store, signedRequest(next, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
      ).resolves.toMatchObject({ apiKey: next.apiKey });
    });

    it('answers a failing UserRepository with 503 and leaves the session usable', async () => {
      const { store, prefix } = newStore();
      const body = await issueSession(store, user, { now: clock.now });
      const familyId = await familyOf(store, body.apiKey, clock.t);
      const broken: UserRepository = {
        findById: () => Promise.reject(new Error('connection to the user database lost')),
      };
      await expectStoreUnavailable(() =>
        refreshToken(store, broken, signedRequest(body, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now }),
      );
      expect((await liveSessionsInRedis(raw, prefix, familyId)).map((s) => s.apiKey)).toStrictEqual([body.apiKey]);
      await expect(refresh(store, body)).resolves.toMatchObject({ userId: user._id });
    });

    describe('store faults are 503 STORE_UNAVAILABLE within timeoutMs, never 404', () => {
      const signedCalls = (store: RedisStore, pair: Pair, now: () => number, stamp: () => number) => ({
        issueSession: () => issueSession(store, user, { now }),
        authenticate: () =>
          authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, stamp()), CAA_ACTIONS.fetchMyProfile, { now }),
        refreshToken: () => refreshToken(store, users, signedRequest(pair, CAA_ACTIONS.refreshToken, stamp()), { now }),
        revokeSession: () => revokeSession(store, signedRequest(pair, CAA_ACTIONS.logout, stamp()), { now }),
      });

      it('a client that cannot reach its server fails at once', async () => {
        const dead = await driver.failFast(await freePort());
        try {
          const store = new RedisStore({ client: dead.client, timeoutMs: TIMEOUT_MS });
          const pair = { apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=', secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=' };
          for (const [call, run] of Object.entries(signedCalls(store, pair, clock.now, () => clock.stamp()))) {
            const elapsed = await expectStoreUnavailable(run);
            expect(elapsed, call).toBeLessThan(TIMEOUT_MS);
          }
        } finally {
          await dead.close();
        }
      });

      it('a client that queues commands while it reconnects is cut off by timeoutMs', async () => {
        const waiting = await driver.queueing(await freePort());
        try {
          const store = new RedisStore({ client: waiting.client, timeoutMs: TIMEOUT_MS });
          const pair = { apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=', secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=' };
          const calls = signedCalls(store, pair, clock.now, () => clock.stamp());
          const elapsed = await Promise.all(Object.values(calls).map((run) => expectStoreUnavailable(run)));
          for (const ms of elapsed) {
            expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
            expect(ms).toBeLessThan(TIMEOUT_MS + TIMER_SLACK_MS);
          }
        } finally {
          await waiting.close();
        }
      });

      it('a server that dies under a connected client: 503 for every use case, not 404', async () => {
        const doomed = await RedisServer.start();
        const live = await driver.connect(doomed.port);
        try {
          const store = new RedisStore({ client: live.client, timeoutMs: TIMEOUT_MS });
          const body = await issueSession(store, user, { now: clock.now });
          await doomed.kill();
          for (const [call, run] of Object.entries(signedCalls(store, body, clock.now, () => clock.stamp()))) {
            const elapsed = await expectStoreUnavailable(run);
            expect(elapsed, call).toBeLessThan(TIMEOUT_MS + TIMER_SLACK_MS);
          }
        } finally {
          await live.close();
          await doomed.stop();
        }
      });
    });
  });
}
