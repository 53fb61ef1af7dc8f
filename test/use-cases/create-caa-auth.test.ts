/**
 * createCaaAuth (issue 11): every option checked (a TypeError naming it), each one honoured by the
 * bound use cases, routes that cannot disagree, and a user's sessions — listed with the caller
 * marked, revoked all, all but the caller's, or one by id. On MemoryStore and on RedisStore
 * through ioredis and node-redis.
 */

import { describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_SESSION_TTL_MS,
  MemoryStore,
  MemoryUserRepository,
  authenticate,
  createCaaAuth,
  toPublicUser,
  type CaaAuthConfig,
  type SessionStore,
  type User,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { T0, TestClock, makeUser } from '../support/use-case-fixtures.js';
import { Device, setupAuth, storeKinds, type StoreKind } from './use-case-harness.js';

const kinds = storeKinds();

const DAY = 86_400_000;

describe('createCaaAuth checks its configuration: a TypeError that names the option', () => {
  const store = new MemoryStore();
  const users = new MemoryUserRepository();

  /** What createCaaAuth throws for `config` (fails the test when it returns). */
  function refusal(config: unknown): Error {
    try {
      createCaaAuth(config as CaaAuthConfig);
    } catch (err) {
      if (err instanceof Error) return err;
      throw new Error(`createCaaAuth threw a non-Error: ${String(err)}`, { cause: err });
    }
    throw new Error(`createCaaAuth accepted ${JSON.stringify(config)}`);
  }

  function expectRefused(config: unknown, option: string): void {
    const err = refusal(config);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(new RegExp(`^createCaaAuth: ${option.replace('.', '\\.')} must be `));
  }

  it('its argument must be an object', () => {
    for (const config of [undefined, null, 'config', 42]) {
      const err = refusal(config);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/^createCaaAuth: its argument must be an object \{ store, users, …options \} \(got /);
    }
  });

  it('store: an object with every method of the port', () => {
    expect(refusal({ users }).message).toBe('createCaaAuth: store must be a SessionStore (MemoryStore, RedisStore, …) (got undefined)');
    expectRefused({ store: null, users }, 'store');
    expectRefused({ store: 'redis://localhost', users }, 'store');
    for (const method of ['create', 'lookup', 'rotate', 'use', 'revoke', 'listUserSessions', 'revokeUserSessions']) {
      const partial: Record<string, unknown> = {
        create: store.create.bind(store),
        lookup: store.lookup.bind(store),
        rotate: store.rotate.bind(store),
        use: store.use.bind(store),
        revoke: store.revoke.bind(store),
        listUserSessions: store.listUserSessions.bind(store),
        revokeUserSessions: store.revokeUserSessions.bind(store),
      };
      delete partial[method];
      const err = refusal({ store: partial, users });
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toBe(`createCaaAuth: store must be a SessionStore (MemoryStore, RedisStore, …): it has no ${method}()`);
    }
  });

  it('users: an object with findById', () => {
    expect(refusal({ store }).message).toBe('createCaaAuth: users must be a UserRepository (an object with findById(id)) (got undefined)');
    expectRefused({ store, users: null }, 'users');
    expectRefused({ store, users: { find: () => null } }, 'users');
    expectRefused({ store, users: { findById: 'users' } }, 'users');
  });

  const wrongValues: [string, unknown[]][] = [
    ['ttlMs', [0, -1, Number.NaN, Infinity, '259200000', null]],
    ['skewMs', [0, -1, Number.NaN, Infinity, '300000']],
    ['graceMs', [-1, Number.NaN, Infinity, '10000', null]],
    ['rotationToleranceMs', [-1, Number.NaN, Infinity, '2000']],
    ['maxLifetimeMs', [0, -1, Number.NaN, '30d', null]],
    ['maxSessionsPerUser', [0, -1, 1.5, Number.NaN, '100', null]],
    ['now', ['Date.now', 1, {}]],
    ['onEvent', ['console.log', true, {}]],
    ['publicUser', [['_id', 'name'], 'name']],
    ['generateKey', ['key', 32]],
    ['actions', ['client:my:refresh-token', null, 1]],
    ['actions.refreshToken', ['', 1, null]],
    ['actions.logout', ['', {}]],
    ['refreshReplayProtection', ['false', 0, 1, null, {}]],
  ];

  for (const [option, values] of wrongValues) {
    it(`${option}: refuses ${values.map((value) => (typeof value === 'string' ? JSON.stringify(value) : String(value))).join(', ')}`, () => {
      for (const value of values) {
        const [head, tail] = option.split('.');
        const config = tail === undefined ? { store, users, [option]: value } : { store, users, [head ?? '']: { [tail]: value } };
        expectRefused(config, option);
      }
    });
  }

  it('the message says what the option must be and what it got', () => {
    expect(refusal({ store, users, ttlMs: '1000' }).message).toBe('createCaaAuth: ttlMs must be a positive number of ms (got string)');
    expect(refusal({ store, users, maxSessionsPerUser: 0 }).message).toBe('createCaaAuth: maxSessionsPerUser must be a positive integer, or Infinity (got number)');
    expect(refusal({ store, users, actions: { logout: '' } }).message).toBe('createCaaAuth: actions.logout must be a non-empty string (got string)');
  });

  it('accepts the edges of each range, and options left undefined', () => {
    const edges: Partial<CaaAuthConfig>[] = [
      { maxLifetimeMs: Infinity, maxSessionsPerUser: Infinity, graceMs: 0, rotationToleranceMs: 0 },
      { ttlMs: 1, skewMs: 1, maxSessionsPerUser: 1, maxLifetimeMs: 1 },
      { refreshReplayProtection: false, actions: {} },
      { actions: { refreshToken: 'a', logout: 'b' } },
    ];
    for (const edge of edges) expect(() => createCaaAuth({ store, users, ...edge })).not.toThrow();
    // From JavaScript, an option set to undefined takes its default.
    const unset = { store, users, ttlMs: undefined, graceMs: undefined, maxLifetimeMs: undefined, onEvent: undefined, publicUser: undefined };
    expect(() => createCaaAuth(unset as unknown as CaaAuthConfig)).not.toThrow();
  });
});

describe.each(kinds)('the bound use cases honour the configuration on $name', (kind: StoreKind) => {
  it('ttlMs: a login and a refresh expire ttlMs later', async () => {
    const { login, auth, clock } = await setupAuth(kind, { ttlMs: 3_600_000 });
    const device = await login();
    expect((await auth.listSessions('user-1'))[0]?.expireIn).toBe(T0 + 3_600_000);
    clock.advance(60_000);
    expect(device.take(await auth.refreshToken(device.refreshRequest())).expireIn).toBe(T0 + 60_000 + 3_600_000);
  });

  it('now: the configured clock, not Date.now, dates the pairs', async () => {
    const { user, auth } = await setupAuth(kind);
    expect((await auth.issueSession(user)).expireIn).toBe(T0 + DEFAULT_SESSION_TTL_MS);
  });

  it('graceMs: a retry 2.5 s after the rotation is grace by default, a reuse with graceMs 1000', async () => {
    for (const [graceMs, expected] of [
      [undefined, 'grace'],
      [1_000, 'TOKEN_REUSED'],
    ] as const) {
      const { login, auth, clock } = await setupAuth(kind, graceMs === undefined ? {} : { graceMs });
      const device = await login();
      const old = new Device(device.pair, clock);
      const successor = device.take(await auth.refreshToken(device.refreshRequest()));
      clock.advance(2_500);
      const retry = auth.refreshToken(old.refreshRequest());
      if (expected === 'grace') expect((await retry).apiKey).toBe(successor.apiKey);
      else await expectCaaError(retry, 404, 'apiKey not found', 'TOKEN_REUSED');
    }
  });

  it('rotationToleranceMs: an old key signed 3 s after the rotation is a reuse by default, a late in-flight request with 5 s', async () => {
    for (const [rotationToleranceMs, code] of [
      [undefined, 'TOKEN_REUSED'],
      [5_000, 'APIKEY_NOT_FOUND'],
    ] as const) {
      const { login, auth, clock } = await setupAuth(kind, { graceMs: 0, ...(rotationToleranceMs === undefined ? {} : { rotationToleranceMs }) });
      const device = await login();
      const old = new Device(device.pair, clock);
      device.take(await auth.refreshToken(device.refreshRequest()));
      clock.advance(3_000);
      await expectCaaError(auth.authenticate(old.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', code);
      // Only a reuse revoked the family.
      const successor = auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile);
      if (code === 'TOKEN_REUSED') await expectCaaError(successor, 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      else expect((await successor).userId).toBe('user-1');
    }
  });

  it('skewMs: a request 2 s old is outside a 1 s window', async () => {
    const { login, auth, clock, secrets } = await setupAuth(kind, { skewMs: 1_000 });
    const device = await login();
    await expectCaaError(
      auth.authenticate(secrets.sign(device.pair, CAA_ACTIONS.fetchMyProfile, clock.t - 2_000), CAA_ACTIONS.fetchMyProfile),
      400,
      'invalid signature',
      'TIMESTAMP_OUT_OF_WINDOW',
    );
    await expectCaaError(auth.refreshToken(secrets.sign(device.pair, CAA_ACTIONS.refreshToken, clock.t + 2_000)), 400, 'invalid signature', 'TIMESTAMP_OUT_OF_WINDOW');
    expect((await auth.authenticate(secrets.sign(device.pair, CAA_ACTIONS.fetchMyProfile, clock.t - 900), CAA_ACTIONS.fetchMyProfile)).userId).toBe('user-1');
  });

  it('maxLifetimeMs: a login lasts at most that long, whatever ttlMs', async () => {
    const { login, auth, clock } = await setupAuth(kind, { maxLifetimeMs: DAY });
    const device = await login();
    expect((await auth.listSessions('user-1'))[0]?.expireIn).toBe(T0 + DAY);
    clock.advance(DAY / 2);
    expect(device.take(await auth.refreshToken(device.refreshRequest())).expireIn).toBe(T0 + DAY);
  });

  it('actions: refresh and logout must be signed with the configured ones', async () => {
    const { login, auth } = await setupAuth(kind, { actions: { refreshToken: 'shop:session:refresh', logout: 'shop:session:logout' } });
    const device = await login();
    await expectCaaError(auth.refreshToken(device.request(CAA_ACTIONS.refreshToken)), 400, 'invalid signature', 'SIGNATURE_MISMATCH');
    device.take(await auth.refreshToken(device.request('shop:session:refresh')));
    await expectCaaError(auth.revokeSession(device.request(CAA_ACTIONS.logout)), 400, 'invalid signature', 'SIGNATURE_MISMATCH');
    await auth.revokeSession(device.request('shop:session:logout'));
    await expectCaaError(auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
  });

  it('refreshReplayProtection: the same refresh header twice is REPLAYED by default, the same successor when off', async () => {
    for (const [refreshReplayProtection, replayed] of [
      [undefined, true],
      [false, false],
    ] as const) {
      const { login, auth } = await setupAuth(kind, refreshReplayProtection === undefined ? {} : { refreshReplayProtection });
      const device = await login();
      const req = device.refreshRequest();
      const first = await auth.refreshToken(req);
      if (replayed) await expectCaaError(auth.refreshToken(req), 400, 'invalid signature', 'REPLAYED');
      else expect((await auth.refreshToken(req)).apiKey).toBe(first.apiKey);
    }
  });

  it('maxSessionsPerUser: a login beyond it revokes the oldest session', async () => {
    const { login, auth, clock, sessionIdOf } = await setupAuth(kind, { maxSessionsPerUser: 2 });
    const first = await login({ device: 'first' });
    clock.advance(1);
    const second = await login({ device: 'second' });
    clock.advance(1);
    const third = await login({ device: 'third' });
    await expectCaaError(auth.authenticate(first.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    await expectCaaError(auth.refreshToken(first.refreshRequest()), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    const listed = await auth.listSessions('user-1');
    expect(listed.map((info) => info.sessionId)).toStrictEqual([await sessionIdOf(second), await sessionIdOf(third)]);
    expect(listed.map((info) => info.metadata)).toStrictEqual([{ device: 'second' }, { device: 'third' }]);
  });

  /** 60 concurrent logins of one user with maxSessionsPerUser 5: how many are listed, how many work. */
  async function flood() {
    const { auth, user } = await setupAuth(kind, { maxSessionsPerUser: 5 });
    const bodies = await Promise.all(Array.from({ length: 60 }, (_, i) => auth.issueSession(user, { metadata: { n: i } })));
    const listed = await auth.listSessions('user-1');
    let working = 0;
    for (const body of bodies) {
      const ok = await auth.authenticate(new Device(body, new TestClock()).request(), CAA_ACTIONS.fetchMyProfile).then(() => true, () => false);
      if (ok) working++;
    }
    return { listed: listed.length, working };
  }

  it('maxSessionsPerUser holds under a flood of 60 concurrent logins: at most 5 listed, at most 5 working, the same ones', async () => {
    const { listed, working } = await flood();
    expect(listed).toBeLessThanOrEqual(5);
    expect(listed).toBeGreaterThan(0);
    expect(working).toBe(listed);
  });

  it('a flood of 60 concurrent logins revokes no more than it must: exactly 5 remain, as after 60 logins in turn', async () => {
    expect(await flood()).toStrictEqual({ listed: 5, working: 5 });
  });

  it('generateKey and publicUser: the configured ones make the keys and the user of each response', async () => {
    let n = 0;
    const keyOf = (i: number) => Buffer.alloc(32, i).toString('base64');
    const { user, auth, clock } = await setupAuth(kind, {
      generateKey: () => keyOf(++n),
      publicUser: (u: User) => ({ ...toPublicUser(u), badge: 'gold' }),
    });
    const body = await auth.issueSession(user);
    expect([body.apiKey, body.secretKey]).toStrictEqual([keyOf(1), keyOf(2)]);
    expect(body.user).toStrictEqual({ ...toPublicUser(user), badge: 'gold' });
    clock.advance(1_000);
    const refreshed = await auth.refreshToken(new Device(body, clock).refreshRequest());
    // The successor keeps the family's first characters (its hash tag), the rest from the generator.
    expect(refreshed.apiKey).toBe(keyOf(1).slice(0, 2) + keyOf(3).slice(2));
    expect(refreshed.secretKey).toBe(keyOf(4));
    expect(refreshed.user).toStrictEqual({ ...toPublicUser(user), badge: 'gold' });
  });
});

describe.each(kinds)('routes of one configuration judge sessions alike on $name', (kind: StoreKind) => {
  it('an old key 1.5 s after the rotation with graceMs 0 and rotationToleranceMs 1000: a reuse on refresh and on authenticate alike', async () => {
    const config = { graceMs: 0, rotationToleranceMs: 1_000 };
    const verdicts: string[] = [];
    for (const route of ['refresh', 'authenticate', 'logout'] as const) {
      const { login, auth, clock } = await setupAuth(kind, config);
      const device = await login();
      const old = new Device(device.pair, clock);
      device.take(await auth.refreshToken(device.refreshRequest()));
      clock.advance(1_500);
      const call =
        route === 'refresh' ? auth.refreshToken(old.refreshRequest())
        : route === 'authenticate' ? auth.authenticate(old.request(), CAA_ACTIONS.fetchMyProfile)
        : auth.revokeSession(old.logoutRequest());
      const err = await call.then(() => 'accepted', (e: unknown) => (e instanceof Error && 'code' in e ? String(e.code) : String(e)));
      verdicts.push(`${route}: ${err}`);
    }
    expect(verdicts).toStrictEqual(['refresh: TOKEN_REUSED', 'authenticate: TOKEN_REUSED', 'logout: TOKEN_REUSED']);
  });

  it('the free authenticate without those options would have judged the same key otherwise (within the default grace)', async () => {
    const { login, auth, clock, store } = await setupAuth(kind, { graceMs: 0, rotationToleranceMs: 1_000 });
    const device = await login();
    const old = new Device(device.pair, clock);
    device.take(await auth.refreshToken(device.refreshRequest()));
    clock.advance(1_500);
    await expectCaaError(authenticate(store, old.request(), CAA_ACTIONS.fetchMyProfile, { now: clock.now }), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
  });

  it('a shortened maxLifetimeMs is enforced by authenticate, refresh and logout alike', async () => {
    const { login, auth, clock } = await setupAuth(kind, { maxLifetimeMs: DAY, ttlMs: 2 * DAY });
    const devices = [await login(), await login(), await login()];
    clock.advance(DAY);
    const [a, b, c] = devices;
    if (a === undefined || b === undefined || c === undefined) throw new Error('three logins');
    await expectCaaError(auth.authenticate(a.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
    await expectCaaError(auth.refreshToken(b.refreshRequest()), 404, 'apiKey not found', 'SESSION_EXPIRED');
    await expectCaaError(auth.revokeSession(c.logoutRequest()), 404, 'apiKey not found', 'SESSION_EXPIRED');
  });
});

describe.each(kinds)('a user\'s sessions through the configured object on $name', (kind: StoreKind) => {
  async function threeDevices() {
    const ctx = await setupAuth(kind);
    const phone = await ctx.login({ device: 'phone', userAgent: 'App/2.1 (Android 14)' });
    ctx.clock.advance(1_000);
    const laptop = await ctx.login({ device: 'laptop', ip: '198.51.100.4' });
    ctx.clock.advance(1_000);
    const tablet = await ctx.login({ device: 'tablet' });
    const other = makeUser('user-2');
    ctx.users.save(other);
    const stranger = await ctx.login({ device: 'other user' }, other);
    const ids = { phone: await ctx.sessionIdOf(phone), laptop: await ctx.sessionIdOf(laptop), tablet: await ctx.sessionIdOf(tablet), stranger: await ctx.sessionIdOf(stranger) };
    return { ...ctx, phone, laptop, tablet, stranger, ids };
  }

  it('lists three logins, oldest first, with every field; current marks the caller (a Session or its id)', async () => {
    const { auth, clock, laptop, ids } = await threeDevices();
    clock.advance(5_000);
    laptop.take(await auth.refreshToken(laptop.refreshRequest()));
    const session = await auth.authenticate(laptop.request(), CAA_ACTIONS.fetchMyProfile);
    const listed = await auth.listSessions('user-1', { current: session });
    expect(listed).toStrictEqual([
      { sessionId: ids.phone, userId: 'user-1', createdAt: T0, refreshedAt: T0, expireIn: T0 + DEFAULT_SESSION_TTL_MS, metadata: { device: 'phone', userAgent: 'App/2.1 (Android 14)' }, current: false },
      { sessionId: ids.laptop, userId: 'user-1', createdAt: T0 + 1_000, refreshedAt: T0 + 7_000, expireIn: T0 + 7_000 + DEFAULT_SESSION_TTL_MS, metadata: { device: 'laptop', ip: '198.51.100.4' }, current: true },
      { sessionId: ids.tablet, userId: 'user-1', createdAt: T0 + 2_000, refreshedAt: T0 + 2_000, expireIn: T0 + 2_000 + DEFAULT_SESSION_TTL_MS, metadata: { device: 'tablet' }, current: false },
    ]);
    expect((await auth.listSessions('user-1', { current: ids.tablet })).map((info) => info.current)).toStrictEqual([false, false, true]);
    expect((await auth.listSessions('user-1')).map((info) => info.current)).toStrictEqual([false, false, false]);
    // No entry names a credential.
    expect(JSON.stringify(listed)).not.toContain(laptop.pair.apiKey);
    expect(JSON.stringify(listed)).not.toContain(laptop.pair.secretKey);
  });

  it('"log out other devices": revokeUserSessions(userId, { except: session }) leaves exactly the caller working', async () => {
    const { auth, phone, laptop, tablet, stranger, ids } = await threeDevices();
    const session = await auth.authenticate(laptop.request(), CAA_ACTIONS.fetchMyProfile);
    expect(await auth.revokeUserSessions('user-1', { except: session })).toBe(2);
    for (const device of [phone, tablet]) {
      await expectCaaError(auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      await expectCaaError(auth.refreshToken(device.refreshRequest()), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    }
    laptop.take(await auth.refreshToken(laptop.refreshRequest()));
    expect((await auth.authenticate(laptop.request(), CAA_ACTIONS.fetchMyProfile)).familyId).toBe(ids.laptop);
    expect((await auth.listSessions('user-1', { current: session })).map((info) => [info.sessionId, info.current])).toStrictEqual([[ids.laptop, true]]);
    // Another user's session is untouched.
    expect((await auth.authenticate(stranger.request(), CAA_ACTIONS.fetchMyProfile)).userId).toBe('user-2');
    // except by id works alike.
    expect(await auth.revokeUserSessions('user-1', { except: ids.laptop })).toBe(0);
  });

  it('"log out everywhere": revokeUserSessions(userId) leaves none, and says how many there were', async () => {
    const { auth, phone, laptop, tablet, stranger } = await threeDevices();
    expect(await auth.revokeUserSessions('user-1')).toBe(3);
    for (const device of [phone, laptop, tablet]) {
      await expectCaaError(auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      await expectCaaError(auth.revokeSession(device.logoutRequest()), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    }
    expect(await auth.listSessions('user-1')).toStrictEqual([]);
    expect(await auth.revokeUserSessions('user-1')).toBe(0);
    expect((await auth.listSessions('user-2')).map((info) => info.metadata)).toStrictEqual([{ device: 'other user' }]);
    expect((await auth.authenticate(stranger.request(), CAA_ACTIONS.fetchMyProfile)).userId).toBe('user-2');
  });

  it('revokeUserSession: one session by id; false for an unknown id, for another user\'s, and for a malformed one', async () => {
    const { auth, phone, tablet, stranger, ids } = await threeDevices();
    expect(await auth.revokeUserSession('user-1', ids.stranger)).toBe(false);
    expect((await auth.authenticate(stranger.request(), CAA_ACTIONS.fetchMyProfile)).userId).toBe('user-2');
    expect(await auth.revokeUserSession('user-1', ids.phone)).toBe(true);
    expect(await auth.revokeUserSession('user-1', ids.phone)).toBe(false);
    expect(await auth.revokeUserSession('user-1', 'no-such-session')).toBe(false);
    expect(await auth.revokeUserSession('user-1', '')).toBe(false);
    expect(await auth.revokeUserSession('user-1', 'x'.repeat(300))).toBe(false);
    await expectCaaError(auth.authenticate(phone.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    expect((await auth.authenticate(tablet.request(), CAA_ACTIONS.fetchMyProfile)).familyId).toBe(ids.tablet);
    expect((await auth.listSessions('user-1')).map((info) => info.sessionId)).toStrictEqual([ids.laptop, ids.tablet]);
  });

  it('a logged-out, expired or reused session is no longer listed', async () => {
    const { auth, clock, phone, laptop, tablet, ids } = await threeDevices();
    await auth.revokeSession(phone.logoutRequest());
    const old = new Device(laptop.pair, clock);
    laptop.take(await auth.refreshToken(laptop.refreshRequest()));
    clock.advance(10_001);
    await expectCaaError(auth.refreshToken(old.refreshRequest()), 404, 'apiKey not found', 'TOKEN_REUSED');
    expect((await auth.listSessions('user-1')).map((info) => info.sessionId)).toStrictEqual([ids.tablet]);
    clock.advance(DEFAULT_SESSION_TTL_MS);
    await expectCaaError(auth.authenticate(tablet.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
    expect(await auth.listSessions('user-1')).toStrictEqual([]);
  });

  it('listing an expired session does not forget it: within the retention its key still answers SESSION_EXPIRED', async () => {
    const { auth, clock, phone, laptop } = await threeDevices();
    clock.advance(DEFAULT_SESSION_TTL_MS);
    await expectCaaError(auth.authenticate(phone.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
    expect(await auth.listSessions('user-1')).toStrictEqual([]);
    await expectCaaError(auth.authenticate(phone.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
    await expectCaaError(auth.refreshToken(laptop.refreshRequest()), 404, 'apiKey not found', 'SESSION_EXPIRED');
  });

  it('50 concurrent refreshes of the three sessions while "log out other devices" runs: nothing revoked comes back, nothing is lost', async () => {
    const { auth, phone, laptop, tablet, ids } = await threeDevices();
    const session = await auth.authenticate(tablet.request(), CAA_ACTIONS.fetchMyProfile);
    const devices = [phone, laptop, tablet];
    const refreshes = Array.from({ length: 50 }, (_, i) => {
      const device = devices[i % 3] ?? tablet;
      return auth.refreshToken(device.refreshRequest()).then(
        (body) => ({ device, body }),
        () => undefined,
      );
    });
    const revoked = auth.revokeUserSessions('user-1', { except: session });
    const answers = await Promise.all(refreshes);
    expect(await revoked).toBe(2);
    // Whatever pair a refresh of phone or laptop handed out, it is dead now.
    for (const answer of answers) {
      if (answer === undefined || answer.device === tablet) continue;
      await expectCaaError(auth.authenticate(new Device(answer.body, phone.clock).request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    }
    expect((await auth.listSessions('user-1')).map((info) => info.sessionId)).toStrictEqual([ids.tablet]);
    const tabletAnswer = answers.find((answer) => answer?.device === tablet);
    if (tabletAnswer === undefined) throw new Error('no refresh of the tablet succeeded');
    expect((await auth.authenticate(new Device(tabletAnswer.body, tablet.clock).request(), CAA_ACTIONS.fetchMyProfile)).familyId).toBe(ids.tablet);
  });
});

describe('the configured object exposes what it was built with', () => {
  it('store and users are the ones given', () => {
    const store: SessionStore = new MemoryStore();
    const users = new MemoryUserRepository([makeUser('u')]);
    const auth = createCaaAuth({ store, users });
    expect(auth.store).toBe(store);
    expect(auth.users).toBe(users);
  });
});
