/**
 * Events (issue 11): each type with its exact fields, delivered after the answer; a handler that
 * throws, rejects, never settles or is slow changes and delays no answer; and no event of a long
 * mixed workload holds a secret. On MemoryStore and on RedisStore through ioredis and node-redis.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  MemoryStore,
  MemoryUserRepository,
  createCaaAuth,
  generateKey,
  isCaaError,
  signCaaHeader,
  type CaaAuth,
  type CaaEvent,
  type CaaEventHandler,
  type CaaErrorCode,
  type SessionStore,
  type StoreCondition,
  type User,
} from '../../src/index.js';
import { assertCaaError, expectCaaError } from '../support/expect-caa-error.js';
import { TestClock, makeUser } from '../support/use-case-fixtures.js';
import { Device, EventLog, Secrets, delivered, setupAuth, storeKinds, type StoreKind } from './use-case-harness.js';

const kinds = storeKinds();

const DAY = 86_400_000;
/** Past the default grace (10 s) and rotation tolerance (2 s): an old key now is a reuse. */
const AFTER_GRACE_MS = 10_001;

type Route = 'refresh' | 'authenticate' | 'logout';

const ACTION_OF: Record<Route, string> = {
  refresh: CAA_ACTIONS.refreshToken,
  authenticate: CAA_ACTIONS.fetchMyProfile,
  logout: CAA_ACTIONS.logout,
};

/** Sends a request on `route` through the configured object. */
function send(auth: CaaAuth<User>, route: Route, req: { headers: { authorization: string } }, replayProtection = false): Promise<unknown> {
  switch (route) {
    case 'refresh':
      return auth.refreshToken(req);
    case 'authenticate':
      return auth.authenticate(req, ACTION_OF.authenticate, replayProtection ? { replayProtection } : {});
    case 'logout':
      return auth.revokeSession(req);
  }
}

describe.each(kinds)('events on $name', (kind: StoreKind) => {
  it('session.created names the user and the family, with the normalized metadata, after the answer', async () => {
    const { auth, user, log, clock, store } = await setupAuth(kind);
    const metadata = { userAgent: 'Mozilla/5.0\u0000\n(X11)', ip: '203.0.113.7', mobile: true, build: 42, note: null };
    const { value: body, events } = await log.after(() => auth.issueSession(user, { metadata }));
    const { record } = await store.lookup(body.apiKey, clock.t);
    expect(record?.familyId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(events).toStrictEqual([
      {
        type: 'session.created',
        at: clock.t,
        userId: 'user-1',
        sessionId: record?.familyId,
        metadata: { userAgent: 'Mozilla/5.0(X11)', ip: '203.0.113.7', mobile: true, build: 42, note: null },
      },
    ]);
    expect(log.order).toStrictEqual(['answer:value', 'event:session.created']);
  });

  it('session.created without metadata carries {}', async () => {
    const { auth, user, log, clock } = await setupAuth(kind);
    const { events } = await log.after(() => auth.issueSession(user));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'session.created', at: clock.t, userId: 'user-1', metadata: {} });
  });

  it('session.rotated on a refresh; session.grace on its retry within grace, answered with the same successor', async () => {
    const { login, log, auth, clock, sessionIdOf } = await setupAuth(kind);
    const device = await login();
    const sessionId = await sessionIdOf(device);
    const old = device.pair;
    clock.advance(1_000);
    const { value: rotated, events } = await log.after(() => auth.refreshToken(device.refreshRequest()));
    expect(events).toStrictEqual([{ type: 'session.rotated', at: clock.t, userId: 'user-1', sessionId }]);
    clock.advance(2_000);
    const retry = new Device(old, clock);
    const { value: again, events: graceEvents } = await log.after(() => auth.refreshToken(retry.refreshRequest()));
    expect(again.apiKey).toBe(rotated.apiKey);
    expect(again.secretKey).toBe(rotated.secretKey);
    expect(graceEvents).toStrictEqual([{ type: 'session.grace', at: clock.t, userId: 'user-1', sessionId }]);
    expect(log.order).toStrictEqual(['answer:value', 'event:session.grace']);
  });

  describe('a reuse emits exactly one session.reused, with the userId and sessionId of the family', () => {
    async function stolen() {
      const ctx = await setupAuth(kind);
      const owner = await ctx.login({ device: 'phone' });
      const sessionId = await ctx.sessionIdOf(owner);
      const thief = new Device(owner.pair, ctx.clock, ctx.secrets);
      ctx.clock.advance(1_000);
      owner.take(await ctx.auth.refreshToken(owner.refreshRequest()));
      await ctx.auth.authenticate(owner.request(), CAA_ACTIONS.fetchMyProfile); // the successor in use: grace over
      ctx.clock.advance(AFTER_GRACE_MS);
      await delivered();
      return { ...ctx, owner, thief, sessionId };
    }

    for (const route of ['refresh', 'authenticate', 'logout'] as const) {
      it(`on ${route}: session.reused then auth.failed TOKEN_REUSED; the family is revoked, and a second try reports no second reuse`, async () => {
        const { auth, log, thief, owner, clock, sessionId } = await stolen();
        const { error, events } = await log.afterRejection(() => send(auth, route, thief.request(ACTION_OF[route])));
        assertCaaError(error, { status: 404, message: 'apiKey not found', code: 'TOKEN_REUSED' });
        expect(events).toStrictEqual([
          { type: 'session.reused', at: clock.t, userId: 'user-1', sessionId, action: ACTION_OF[route] },
          { type: 'auth.failed', at: clock.t, action: ACTION_OF[route], status: 404, code: 'TOKEN_REUSED' },
        ]);
        expect(log.ofType('session.reused')).toHaveLength(1);
        // The owner's successor died with the family; neither that nor the thief's retry is a new reuse.
        const ownerTry = await log.afterRejection(() => auth.authenticate(owner.request(), CAA_ACTIONS.fetchMyProfile));
        assertCaaError(ownerTry.error, { status: 404, message: 'apiKey not found', code: 'APIKEY_NOT_FOUND' });
        expect(ownerTry.events.map((event) => event.type)).toStrictEqual(['auth.failed']);
        const again = await log.afterRejection(() => send(auth, route, thief.request(ACTION_OF[route])));
        assertCaaError(again.error, { status: 404, message: 'apiKey not found', code: 'APIKEY_NOT_FOUND' });
        expect(again.events).toStrictEqual([
          { type: 'auth.failed', at: clock.t, action: ACTION_OF[route], status: 404, code: 'APIKEY_NOT_FOUND' },
        ]);
      });
    }

    it('50 concurrent refreshes with the stolen key report one reuse between them', async () => {
      const { auth, log, thief, sessionId } = await stolen();
      log.clear();
      const answers = await Promise.allSettled(Array.from({ length: 50 }, () => auth.refreshToken(thief.refreshRequest())));
      await delivered();
      const codes = answers.map((answer) => (answer.status === 'rejected' && isCaaError(answer.reason) ? answer.reason.code : 'resolved'));
      expect(codes.filter((code) => code === 'TOKEN_REUSED')).toHaveLength(1);
      expect(codes.filter((code) => code !== 'TOKEN_REUSED' && code !== 'APIKEY_NOT_FOUND')).toStrictEqual([]);
      expect(log.ofType('session.reused')).toStrictEqual([
        { type: 'session.reused', at: expect.any(Number), userId: 'user-1', sessionId, action: CAA_ACTIONS.refreshToken },
      ]);
    });
  });

  describe('session.revoked, for each reason', () => {
    it('logout: the family of the key that signed', async () => {
      const { login, log, auth, clock, sessionIdOf } = await setupAuth(kind);
      const device = await login();
      const sessionId = await sessionIdOf(device);
      const { value: session, events } = await log.after(() => auth.revokeSession(device.logoutRequest()));
      expect(session.familyId).toBe(sessionId);
      expect(events).toStrictEqual([{ type: 'session.revoked', at: clock.t, userId: 'user-1', sessionIds: [sessionId], reason: 'logout' }]);
    });

    it('session: one session of a user, by id; none when it was not live', async () => {
      const { login, log, auth, clock, sessionIdOf } = await setupAuth(kind);
      const device = await login();
      await login();
      const sessionId = await sessionIdOf(device);
      const { value, events } = await log.after(() => auth.revokeUserSession('user-1', sessionId));
      expect(value).toBe(true);
      expect(events).toStrictEqual([{ type: 'session.revoked', at: clock.t, userId: 'user-1', sessionIds: [sessionId], reason: 'session' }]);
      const second = await log.after(() => auth.revokeUserSession('user-1', sessionId));
      expect(second.value).toBe(false);
      expect(second.events).toStrictEqual([]);
    });

    it('user: every session of the user; others: all but the one kept', async () => {
      const { login, log, auth, clock, sessionIdOf } = await setupAuth(kind);
      const devices = [await login(), await login(), await login()];
      const ids = await Promise.all(devices.map(sessionIdOf));
      const [kept, ...others] = ids;
      const { value: count, events } = await log.after(() => auth.revokeUserSessions('user-1', { except: kept ?? '' }));
      expect(count).toBe(2);
      expect(events).toHaveLength(1);
      expect(events[0]).toStrictEqual({ type: 'session.revoked', at: clock.t, userId: 'user-1', sessionIds: expect.any(Array), reason: 'others' });
      expect(events[0]?.type === 'session.revoked' ? [...events[0].sessionIds].sort() : []).toStrictEqual([...others].sort());
      const everywhere = await log.after(() => auth.revokeUserSessions('user-1'));
      expect(everywhere.value).toBe(1);
      expect(everywhere.events).toStrictEqual([{ type: 'session.revoked', at: clock.t, userId: 'user-1', sessionIds: [kept], reason: 'user' }]);
      const none = await log.after(() => auth.revokeUserSessions('user-1'));
      expect(none.value).toBe(0);
      expect(none.events).toStrictEqual([]);
    });

    it('limit: a login beyond maxSessionsPerUser revokes the oldest, reported after session.created', async () => {
      const { login, log, auth, user, clock, sessionIdOf } = await setupAuth(kind, { maxSessionsPerUser: 2 });
      const oldest = await login();
      const oldestId = await sessionIdOf(oldest);
      clock.advance(1);
      await login();
      clock.advance(1);
      const { value: body, events } = await log.after(() => auth.issueSession(user));
      const newest = await sessionIdOf(new Device(body, clock));
      expect(events).toStrictEqual([
        { type: 'session.created', at: clock.t, userId: 'user-1', sessionId: newest, metadata: {} },
        { type: 'session.revoked', at: clock.t, userId: 'user-1', sessionIds: [oldestId], reason: 'limit' },
      ]);
      await expectCaaError(auth.authenticate(oldest.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    });

    it('user-not-found: a refresh for a deleted user revokes its session, then auth.failed USER_NOT_FOUND', async () => {
      const { login, log, auth, users, clock, sessionIdOf } = await setupAuth(kind);
      const device = await login();
      const sessionId = await sessionIdOf(device);
      users.delete('user-1');
      const { error, events } = await log.afterRejection(() => auth.refreshToken(device.refreshRequest()));
      assertCaaError(error, { status: 404, message: 'user not found', code: 'USER_NOT_FOUND' });
      expect(events).toStrictEqual([
        { type: 'session.revoked', at: clock.t, userId: 'user-1', sessionIds: [sessionId], reason: 'user-not-found' },
        { type: 'auth.failed', at: clock.t, action: CAA_ACTIONS.refreshToken, status: 404, code: 'USER_NOT_FOUND' },
      ]);
    });
  });

  describe('auth.failed with the code, status and action of each refusal', () => {
    interface Refusal {
      code: CaaErrorCode;
      status: number;
      message: 'invalid authorization' | 'invalid signature' | 'apiKey not found';
      routes: readonly Route[];
      /** Arranges the refusal; returns the request to send (and whether to ask for replay protection). */
      arrange(ctx: Awaited<ReturnType<typeof setupAuth>>, route: Route): Promise<{ req: { headers: { authorization: string } }; replay?: boolean }>;
    }

    const ALL: readonly Route[] = ['refresh', 'authenticate', 'logout'];
    const refusals: Refusal[] = [
      {
        code: 'INVALID_AUTHORIZATION',
        status: 400,
        message: 'invalid authorization',
        routes: ALL,
        arrange: async () => ({ req: { headers: { authorization: 'Bearer abc.def' } } }),
      },
      {
        code: 'TIMESTAMP_OUT_OF_WINDOW',
        status: 400,
        message: 'invalid signature',
        routes: ALL,
        async arrange(ctx, route) {
          const device = await ctx.login();
          return { req: ctx.secrets.sign(device.pair, ACTION_OF[route], ctx.clock.t - 300_001) };
        },
      },
      {
        code: 'APIKEY_NOT_FOUND',
        status: 404,
        message: 'apiKey not found',
        routes: ALL,
        arrange: async (ctx, route) => ({ req: ctx.secrets.sign({ apiKey: generateKey(), secretKey: generateKey() }, ACTION_OF[route], ctx.clock.stamp()) }),
      },
      {
        code: 'SIGNATURE_MISMATCH',
        status: 400,
        message: 'invalid signature',
        routes: ALL,
        async arrange(ctx, route) {
          const device = await ctx.login();
          return { req: ctx.secrets.sign({ apiKey: device.pair.apiKey, secretKey: generateKey() }, ACTION_OF[route], ctx.clock.stamp()) };
        },
      },
      {
        code: 'SESSION_EXPIRED',
        status: 404,
        message: 'apiKey not found',
        routes: ALL,
        async arrange(ctx, route) {
          const device = await ctx.login();
          ctx.clock.advance(3 * DAY);
          return { req: device.request(ACTION_OF[route]) };
        },
      },
      {
        code: 'REPLAYED',
        status: 400,
        message: 'invalid signature',
        routes: ['refresh', 'authenticate'],
        async arrange(ctx, route) {
          const device = await ctx.login();
          const req = device.request(ACTION_OF[route]);
          await send(ctx.auth, route, req, true);
          return { req, replay: true };
        },
      },
      {
        code: 'TOKEN_REUSED',
        status: 404,
        message: 'apiKey not found',
        routes: ALL,
        async arrange(ctx, route) {
          const device = await ctx.login();
          const old = new Device(device.pair, ctx.clock, ctx.secrets);
          device.take(await ctx.auth.refreshToken(device.refreshRequest()));
          ctx.clock.advance(AFTER_GRACE_MS);
          return { req: old.request(ACTION_OF[route]) };
        },
      },
    ];

    for (const refusal of refusals) {
      for (const route of refusal.routes) {
        it(`${refusal.code} on ${route}: ${refusal.status} ${refusal.message}`, async () => {
          const ctx = await setupAuth(kind);
          const { req, replay } = await refusal.arrange(ctx, route);
          const { error, events } = await ctx.log.afterRejection(() => send(ctx.auth, route, req, replay));
          assertCaaError(error, { status: refusal.status, message: refusal.message, code: refusal.code });
          const failed = { type: 'auth.failed', at: ctx.clock.t, action: ACTION_OF[route], status: refusal.status, code: refusal.code };
          expect(events).toStrictEqual(refusal.code === 'TOKEN_REUSED' ? [expect.objectContaining({ type: 'session.reused' }), failed] : [failed]);
        });
      }
    }

    it('a route of its own naming reports its own action', async () => {
      const ctx = await setupAuth(kind, { actions: { refreshToken: 'shop:session:refresh', logout: 'shop:session:logout' } });
      const device = await ctx.login();
      const refresh = await ctx.log.afterRejection(() => ctx.auth.refreshToken(device.request(CAA_ACTIONS.refreshToken)));
      assertCaaError(refresh.error, { status: 400, message: 'invalid signature', code: 'SIGNATURE_MISMATCH' });
      expect(refresh.events).toStrictEqual([{ type: 'auth.failed', at: ctx.clock.t, action: 'shop:session:refresh', status: 400, code: 'SIGNATURE_MISMATCH' }]);
      const logout = await ctx.log.afterRejection(() => ctx.auth.revokeSession(device.request(CAA_ACTIONS.logout)));
      expect(logout.events).toStrictEqual([{ type: 'auth.failed', at: ctx.clock.t, action: 'shop:session:logout', status: 400, code: 'SIGNATURE_MISMATCH' }]);
    });
  });
});

describe.each(kinds.filter((kind) => kind.unreachable !== undefined))('store.unavailable on $name with no Redis to reach', (kind: StoreKind) => {
  it('answers 503 and reports the operation, with no key of the request in the event', async () => {
    if (kind.unreachable === undefined) throw new Error('filtered above');
    const store = await kind.unreachable();
    const log = new EventLog();
    const clock = new TestClock();
    const secrets = new Secrets();
    const auth = createCaaAuth({
      store,
      users: new MemoryUserRepository([makeUser('user-1')]),
      now: clock.now,
      onEvent: log.onEvent,
      generateKey: () => secrets.keep({ apiKey: generateKey(), secretKey: generateKey() }).apiKey,
    });
    const issue = await log.afterRejection(() => auth.issueSession(makeUser('user-1')));
    assertCaaError(issue.error, { status: 503, message: 'service unavailable', code: 'STORE_UNAVAILABLE' });
    expect(issue.events).toStrictEqual([
      { type: 'store.unavailable', at: clock.t, operation: 'issue', error: { name: expect.any(String), message: expect.any(String), ...codeOf(issue.events[0]) } },
    ]);
    const pair = secrets.keep({ apiKey: generateKey(), secretKey: generateKey() });
    const refresh = await log.afterRejection(() => auth.refreshToken(secrets.sign(pair, CAA_ACTIONS.refreshToken, clock.stamp())));
    assertCaaError(refresh.error, { status: 503, message: 'service unavailable', code: 'STORE_UNAVAILABLE' });
    expect(refresh.events.map((event) => (event.type === 'store.unavailable' ? event.operation : event.type))).toStrictEqual(['refresh']);
    expect(secrets.foundIn(JSON.stringify([...issue.events, ...refresh.events]))).toStrictEqual([]);
  });
});

/** The `code` of a store.unavailable event's error, when it has one (spread into an expectation). */
function codeOf(event: CaaEvent | undefined): { code?: string } {
  return event?.type === 'store.unavailable' && event.error.code !== undefined ? { code: event.error.code } : {};
}

/** An error as a Redis client throws it: a name of its own, a code, and command arguments in its message. */
class ReplyError extends Error {
  override name = 'ReplyError';
  readonly code = 'ECONNRESET';
}

/** A store whose every method rejects with `fault()`. */
function faultyStore(fault: () => unknown): SessionStore {
  const reject = (): Promise<never> => Promise.reject(fault());
  return {
    create: reject,
    lookup: reject,
    rotate: reject,
    use: reject,
    revoke: reject,
    listUserSessions: reject,
    revokeUserSessions: reject,
  };
}

describe('store.unavailable: the fault, redacted, with the operation', () => {
  const leakedKey = generateKey();
  const leakedSecret = generateKey();
  const faultMessage = `connection to 10.0.0.7:6379 lost running EVALSHA caa:{${leakedKey.slice(0, 2)}}:s:${leakedKey} ${leakedSecret}\n    at Socket.<anonymous> (/app/node_modules/ioredis/built/Redis.js:1:1)`;
  const redacted = `connection to 10.0.0.7:6379 lost running EVALSHA caa:{${leakedKey.slice(0, 2)}}:s:[redacted] [redacted]`;

  function setup(fault: () => unknown = () => new ReplyError(faultMessage)) {
    const clock = new TestClock();
    const log = new EventLog();
    const auth = createCaaAuth({ store: faultyStore(fault), users: new MemoryUserRepository([makeUser('user-1')]), now: clock.now, onEvent: log.onEvent });
    const pair = { apiKey: generateKey(), secretKey: generateKey() };
    const sign = (action: string) => ({ headers: { authorization: signCaaHeader({ action, ...pair, timestamp: clock.stamp() }) } });
    return { clock, log, auth, sign };
  }

  const operations: [string, (ctx: ReturnType<typeof setup>) => Promise<unknown>][] = [
    ['issue', ({ auth }) => auth.issueSession(makeUser('user-1'))],
    ['authenticate', ({ auth, sign }) => auth.authenticate(sign(CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile)],
    ['refresh', ({ auth, sign }) => auth.refreshToken(sign(CAA_ACTIONS.refreshToken))],
    ['revoke', ({ auth, sign }) => auth.revokeSession(sign(CAA_ACTIONS.logout))],
    ['list-sessions', ({ auth }) => auth.listSessions('user-1')],
    ['revoke-sessions', ({ auth }) => auth.revokeUserSessions('user-1')],
    ['revoke-sessions', ({ auth }) => auth.revokeUserSessions('user-1', { except: 'some-session' })],
    ['revoke-sessions', ({ auth }) => auth.revokeUserSession('user-1', 'some-session')],
  ];

  for (const [operation, call] of operations) {
    it(`${operation}: 503, one store.unavailable event (name and code kept, first line only, base64 runs redacted), no auth.failed`, async () => {
      const ctx = setup();
      const { error, events } = await ctx.log.afterRejection(() => call(ctx));
      assertCaaError(error, { status: 503, message: 'service unavailable', code: 'STORE_UNAVAILABLE' });
      expect(events).toStrictEqual([
        { type: 'store.unavailable', at: ctx.clock.t, operation, error: { name: 'ReplyError', code: 'ECONNRESET', message: redacted } },
      ]);
      expect(JSON.stringify(events)).not.toContain(leakedKey);
      expect(JSON.stringify(events)).not.toContain(leakedSecret);
    });
  }

  it('a fault without a code has none; a message is cut to 200 characters; a thrown string is an Error', async () => {
    const long = setup(() => new Error('word '.repeat(60)));
    const first = await long.log.afterRejection(() => long.auth.listSessions('user-1'));
    expect(first.events).toStrictEqual([
      { type: 'store.unavailable', at: long.clock.t, operation: 'list-sessions', error: { name: 'Error', message: 'word '.repeat(40) } },
    ]);
    const thrown = setup(() => `lost ${leakedSecret}`);
    const second = await thrown.log.afterRejection(() => thrown.auth.listSessions('user-1'));
    expect(second.events).toStrictEqual([
      { type: 'store.unavailable', at: thrown.clock.t, operation: 'list-sessions', error: { name: 'Error', message: 'lost [redacted]' } },
    ]);
  });

  it('a user repository fault on refresh is store.unavailable too (operation refresh)', async () => {
    const clock = new TestClock();
    const log = new EventLog();
    const auth = createCaaAuth({
      store: new MemoryStore(),
      users: { findById: () => Promise.reject(Object.assign(new Error(`mongo: cursor ${leakedKey} killed`), { code: 'ECURSOR' })) },
      now: clock.now,
      onEvent: log.onEvent,
    });
    const device = new Device(await auth.issueSession(makeUser('user-1')), clock);
    const { error, events } = await log.afterRejection(() => auth.refreshToken(device.refreshRequest()));
    assertCaaError(error, { status: 503, message: 'service unavailable', code: 'STORE_UNAVAILABLE' });
    expect(events).toStrictEqual([
      { type: 'store.unavailable', at: clock.t, operation: 'refresh', error: { name: 'Error', code: 'ECURSOR', message: 'mongo: cursor [redacted] killed' } },
    ]);
  });
});

/** A MemoryStore with the optional onCondition capability (RedisStore has not got it yet). */
class ConditionStore extends MemoryStore {
  readonly #listeners: ((condition: StoreCondition) => void)[] = [];
  readonly #reported: StoreCondition[] = [];

  onCondition(listener: (condition: StoreCondition) => void): void {
    this.#listeners.push(listener);
    for (const condition of this.#reported) listener(condition);
  }

  raise(condition: StoreCondition): void {
    this.#reported.push(condition);
    for (const listener of this.#listeners) listener(condition);
  }

  get listeners(): number {
    return this.#listeners.length;
  }
}

describe('store.condition: a store\'s own conditions arrive as events through createCaaAuth', () => {
  it('delivers conditions reported before and after createCaaAuth, each on a later turn', async () => {
    const store = new ConditionStore();
    store.raise({ condition: 'persistence', message: 'AOF persistence is off' });
    const clock = new TestClock();
    const log = new EventLog();
    createCaaAuth({ store, users: new MemoryUserRepository(), now: clock.now, onEvent: log.onEvent });
    expect(log.events).toStrictEqual([]);
    await delivered();
    expect(log.events).toStrictEqual([{ type: 'store.condition', at: clock.t, condition: 'persistence', message: 'AOF persistence is off' }]);
    clock.advance(5_000);
    store.raise({ condition: 'eviction', message: 'maxmemory-policy is allkeys-lru' });
    expect(log.events).toHaveLength(1);
    await delivered();
    expect(log.events[1]).toStrictEqual({ type: 'store.condition', at: clock.t, condition: 'eviction', message: 'maxmemory-policy is allkeys-lru' });
  });

  it('a handler that throws on a condition does not throw into the store', () => {
    const store = new ConditionStore();
    createCaaAuth({ store, users: new MemoryUserRepository(), onEvent: () => { throw new Error('handler bug'); } });
    expect(() => store.raise({ condition: 'data-lost', message: 'Redis lost its data' })).not.toThrow();
  });

  it('without onEvent nothing subscribes', () => {
    const store = new ConditionStore();
    createCaaAuth({ store, users: new MemoryUserRepository() });
    expect(store.listeners).toBe(0);
  });
});

/** An answer as the tests compare it across handlers: errors by status/message/code, bodies by shape. */
function outcome(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(outcome);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if ('apiKey' in record && 'secretKey' in record) {
    // A pair is random: its shape and everything else are compared.
    const { apiKey, secretKey, familyId, ...rest } = record;
    return { apiKey: typeof apiKey, secretKey: typeof secretKey, ...(familyId === undefined ? {} : { familyId: typeof familyId }), ...rest };
  }
  if ('sessionId' in record) return { ...record, sessionId: typeof record.sessionId };
  return record;
}

async function answerOf(call: Promise<unknown>): Promise<unknown> {
  try {
    return { resolved: outcome(await call) };
  } catch (err) {
    if (!isCaaError(err)) return { threw: String(err) };
    return { rejected: { status: err.status, message: err.message, code: err.code } };
  }
}

/** login, authenticate, refresh, grace retry, reuse, bad signatures, sessions of the user, logout, a deleted user. */
async function script(kind: StoreKind, onEvent: CaaEventHandler | undefined): Promise<unknown[]> {
  const store = await kind.open();
  const clock = new TestClock();
  const user = makeUser('user-1');
  const users = new MemoryUserRepository([user, makeUser('user-2')]);
  const auth = createCaaAuth({ store, users, now: clock.now, ...(onEvent === undefined ? {} : { onEvent }), maxSessionsPerUser: 2 });
  const answers: unknown[] = [];
  const step = async (call: Promise<unknown>) => answers.push(await answerOf(call));
  const a = new Device(await auth.issueSession(user, { metadata: { device: 'phone' } }), clock);
  await step(auth.authenticate(a.request(), CAA_ACTIONS.fetchMyProfile));
  const a1 = a.pair;
  clock.advance(1_000);
  const a2 = await auth.refreshToken(a.refreshRequest());
  answers.push(outcome(a2));
  a.take(a2);
  const retry = await auth.refreshToken(new Device(a1, clock).refreshRequest());
  answers.push({ graceSameSuccessor: retry.apiKey === a2.apiKey });
  await step(auth.authenticate(a.request(), CAA_ACTIONS.fetchMyProfile));
  clock.advance(AFTER_GRACE_MS);
  await step(auth.refreshToken(new Device(a1, clock).refreshRequest()));
  await step(auth.authenticate(a.request(), CAA_ACTIONS.fetchMyProfile));
  const b = new Device(await auth.issueSession(user, { metadata: { device: 'laptop' } }), clock);
  await step(auth.authenticate({ headers: { authorization: signCaaHeader({ action: CAA_ACTIONS.fetchMyProfile, apiKey: b.pair.apiKey, secretKey: generateKey(), timestamp: clock.stamp() }) } }, CAA_ACTIONS.fetchMyProfile));
  await step(auth.refreshToken({ headers: { authorization: 'Caa not-base64!' } }));
  await step(auth.revokeSession({ headers: { authorization: signCaaHeader({ action: CAA_ACTIONS.logout, ...b.pair, timestamp: clock.t - 400_000 }) } }));
  const replayed = b.refreshRequest();
  await step(auth.refreshToken(replayed));
  await step(auth.refreshToken(replayed));
  clock.advance(1_000);
  const c = new Device(await auth.issueSession(user, { metadata: { device: 'tablet' } }), clock);
  clock.advance(1_000);
  await step(auth.issueSession(user)); // the fourth: the oldest live (b) goes
  const session = await auth.authenticate(c.request(), CAA_ACTIONS.fetchMyProfile);
  await step(auth.listSessions('user-1', { current: session }));
  await step(auth.revokeUserSessions('user-1', { except: session }));
  await step(auth.revokeSession(c.logoutRequest()));
  await step(auth.authenticate(c.request(), CAA_ACTIONS.fetchMyProfile));
  await step(auth.revokeUserSessions('user-1'));
  const d = new Device(await auth.issueSession(makeUser('user-2')), clock);
  users.delete('user-2');
  await step(auth.refreshToken(d.refreshRequest()));
  clock.advance(4 * DAY);
  const e = new Device(await auth.issueSession(user), clock);
  clock.advance(4 * DAY);
  await step(auth.refreshToken(e.refreshRequest()));
  return answers;
}

describe.each(kinds)('a handler that throws, rejects, never settles or is slow changes no answer on $name', (kind: StoreKind) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });

  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  /** Lets any rejection left unhandled be reported (Node reports them after the microtask queue drains). */
  async function settle(): Promise<void> {
    await delivered();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  it('the same script answers identically with no handler, a throwing one, a rejecting one and one that never resolves', async () => {
    const baseline = await script(kind, undefined);
    const recorder = new EventLog();
    expect(await script(kind, recorder.onEvent)).toStrictEqual(baseline);
    await settle();
    const types = new Set(recorder.events.map((event) => event.type));
    expect([...types].sort()).toStrictEqual(['auth.failed', 'session.created', 'session.grace', 'session.reused', 'session.revoked', 'session.rotated']);

    const handlers: [string, CaaEventHandler][] = [
      ['throws synchronously', () => { throw new Error('handler bug'); }],
      ['returns a rejecting promise', () => Promise.reject(new Error('async handler bug'))],
      ['is an async function that throws', async () => { throw new TypeError('async handler bug'); }],
      ['never resolves', () => new Promise<void>(() => {})],
    ];
    for (const [name, handler] of handlers) {
      let calls = 0;
      const counted: CaaEventHandler = (event) => {
        calls++;
        return handler(event);
      };
      expect(await script(kind, counted), `a handler that ${name}`).toStrictEqual(baseline);
      await settle();
      expect(calls, `a handler that ${name} received every event`).toBe(recorder.events.length);
    }
    expect(unhandled).toStrictEqual([]);
  });

  it('a slow synchronous handler (busy 100 ms) runs after the answer it reports, and does not delay it', async () => {
    const store = await kind.open();
    const clock = new TestClock();
    const user = makeUser('user-1');
    let handlerStartedAt = Number.NaN;
    const auth = createCaaAuth({
      store,
      users: new MemoryUserRepository([user]),
      now: clock.now,
      onEvent: () => {
        handlerStartedAt = performance.now();
        while (performance.now() - handlerStartedAt < 100) {
          // busy
        }
      },
    });
    const calls: [string, () => Promise<unknown>][] = [];
    let device: Device | undefined;
    calls.push(['login', async () => (device = new Device(await auth.issueSession(user), clock))]);
    calls.push(['refresh', async () => device?.take(await auth.refreshToken(device.refreshRequest()))]);
    calls.push(['refused', () => auth.authenticate({ headers: { authorization: 'Caa x' } }, CAA_ACTIONS.fetchMyProfile).catch(() => 'refused')]);
    for (const [name, call] of calls) {
      handlerStartedAt = Number.NaN;
      const sent = performance.now();
      await call();
      const answered = performance.now();
      expect(Number.isNaN(handlerStartedAt), `${name}: the handler ran before the answer`).toBe(true);
      expect(answered - sent, `${name}: the answer took`).toBeLessThan(100);
      await settle();
      expect(handlerStartedAt, `${name}: the handler ran after the answer`).toBeGreaterThanOrEqual(answered);
    }
    expect(unhandled).toStrictEqual([]);
  });
});

describe.each(kinds)('captured events hold no secret: a long mixed workload on $name', (kind: StoreKind) => {
  it('no apiKey, secretKey, Authorization header, signature or password appears in any event', async () => {
    const ctx = await setupAuth(kind, { maxSessionsPerUser: 3 });
    const { auth, clock, secrets, log, users } = ctx;
    const people: User[] = ['user-1', 'user-2', 'user-3'].map((id) => ({ ...makeUser(id), password: `scrypt$${generateKey()}` }));
    for (const person of people) {
      users.save(person);
      if (person.password !== undefined) secrets.passwords.add(person.password);
    }
    secrets.passwords.add('correct horse battery staple'); // what a login form would have checked
    const all: CaaEvent[] = [];
    const keep = () => all.push(...log.events.splice(0));
    const refusedOrNot = (call: Promise<unknown>) => call.catch(() => undefined);

    const devices: Device[] = [];
    for (const person of people) {
      for (let i = 0; i < 4; i++) {
        devices.push(await ctx.login({ device: `device-${i}`, userAgent: `Agent/${i}` }, person));
        clock.advance(10);
      }
    }
    const live = devices.filter((_, i) => i % 4 !== 0); // the first login of each was evicted by the fourth
    for (let round = 0; round < 8; round++) {
      for (const device of live) {
        await refusedOrNot(auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile));
        const old = device.pair;
        await refusedOrNot(auth.refreshToken(device.refreshRequest()).then((body) => device.take(body)));
        if (round % 3 === 0) await refusedOrNot(auth.refreshToken(new Device(old, clock, secrets).refreshRequest()));
        await refusedOrNot(auth.authenticate(secrets.sign({ apiKey: device.pair.apiKey, secretKey: generateKey() }, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile));
        const replayed = device.request();
        await refusedOrNot(auth.authenticate(replayed, CAA_ACTIONS.fetchMyProfile, { replayProtection: true }));
        await refusedOrNot(auth.authenticate(replayed, CAA_ACTIONS.fetchMyProfile, { replayProtection: true }));
        await refusedOrNot(auth.authenticate(secrets.sign(device.pair, CAA_ACTIONS.fetchMyProfile, clock.t - 600_000), CAA_ACTIONS.fetchMyProfile));
        clock.advance(50);
      }
      keep();
      clock.advance(AFTER_GRACE_MS);
    }
    // A theft on one device, a logout on another, a user's other sessions then all of them, one by
    // id, a deleted user, expiry.
    const device = (i: number): Device => {
      const found = live[i];
      if (found === undefined) throw new Error(`no device ${i}`);
      return found;
    };
    const stolen = new Device(device(0).pair, clock, secrets);
    device(0).take(await auth.refreshToken(device(0).refreshRequest()));
    clock.advance(AFTER_GRACE_MS);
    await refusedOrNot(auth.refreshToken(stolen.refreshRequest()));
    await auth.revokeSession(device(1).logoutRequest());
    await auth.revokeUserSessions('user-2', { except: await auth.authenticate(device(3).request(), CAA_ACTIONS.fetchMyProfile) });
    await auth.revokeUserSessions('user-2');
    await auth.revokeUserSession('user-3', await ctx.sessionIdOf(device(6)));
    await auth.listSessions('user-3');
    users.delete('user-3');
    for (const i of [7, 8]) await refusedOrNot(auth.refreshToken(device(i).refreshRequest()));
    clock.advance(3 * DAY + DAY / 2);
    for (const each of live) await refusedOrNot(auth.refreshToken(each.refreshRequest()));
    await refusedOrNot(auth.revokeSession({ headers: { authorization: 'Caa !!!' } }));
    await delivered();
    keep();
    // A failing store whose fault names a key and a secret.
    const faulty = createCaaAuth({
      store: faultyStore(() => new ReplyError(`EVALSHA failed for ${[...secrets.apiKeys][0] ?? ''} ${[...secrets.secretKeys][0] ?? ''}`)),
      users,
      now: clock.now,
      onEvent: log.onEvent,
    });
    await refusedOrNot(faulty.refreshToken(secrets.sign({ apiKey: [...secrets.apiKeys][0] ?? '', secretKey: [...secrets.secretKeys][0] ?? '' }, CAA_ACTIONS.refreshToken, clock.stamp())));
    await refusedOrNot(faulty.issueSession(makeUser('user-1')));
    await delivered();
    keep();

    const types = new Set(all.map((event) => event.type));
    expect([...types].sort()).toStrictEqual([
      'auth.failed', 'session.created', 'session.grace', 'session.reused', 'session.revoked', 'session.rotated', 'store.unavailable',
    ]);
    const reasons = new Set(all.flatMap((event) => (event.type === 'session.revoked' ? [event.reason] : [])));
    expect([...reasons].sort()).toStrictEqual(['limit', 'logout', 'others', 'session', 'user', 'user-not-found']);
    const codes = new Set(all.flatMap((event) => (event.type === 'auth.failed' ? [event.code] : [])));
    expect([...codes].sort()).toStrictEqual([
      'APIKEY_NOT_FOUND', 'INVALID_AUTHORIZATION', 'REPLAYED', 'SESSION_EXPIRED', 'SIGNATURE_MISMATCH', 'TIMESTAMP_OUT_OF_WINDOW', 'TOKEN_REUSED', 'USER_NOT_FOUND',
    ]);
    expect(all.length).toBeGreaterThan(300);
    expect(secrets.apiKeys.size).toBeGreaterThan(60);
    expect(secrets.signatures.size).toBeGreaterThan(300);
    expect(secrets.foundIn(JSON.stringify(all))).toStrictEqual([]);
  });
});

