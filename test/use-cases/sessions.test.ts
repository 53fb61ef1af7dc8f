/**
 * Sessions of a user (issue 11), through the use cases: the metadata a login records (normalized,
 * or refused with a TypeError), and the absolute lifetime of a family (no pair past its login plus
 * `maxLifetimeMs`; the issue's "alive 348 days later" reproduction). On MemoryStore and on
 * RedisStore through ioredis and node-redis, with injected time.
 */

import { describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_MAX_LIFETIME_MS,
  DEFAULT_SESSION_TTL_MS,
  MAX_METADATA_KEYS,
  MAX_METADATA_VALUE_LENGTH,
  MemoryStore,
  createCaaAuth,
  issueSession,
  isCaaError,
  type SessionMetadata,
} from '../../src/index.js';
import { assertCaaError, expectCaaError } from '../support/expect-caa-error.js';
import { T0, TestClock, makeUser } from '../support/use-case-fixtures.js';
import { Device, delivered, setupAuth, storeKinds, type StoreKind } from './use-case-harness.js';

const kinds = storeKinds();

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(kinds)('metadata on $name', (kind: StoreKind) => {
  it('is kept as normalized: listed and reported alike, with its types (strings, numbers, booleans, null)', async () => {
    const { login, auth, log } = await setupAuth(kind);
    const metadata = {
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)\r\n',
      ip: '2001:db8::1',
      device: 'Ann’s 📱',
      empty: '',
      zero: 0,
      negative: -1.5,
      large: 1e21,
      trusted: false,
      remembered: true,
      location: null,
    };
    await login(metadata);
    const expected = { ...metadata, userAgent: 'Mozilla/5.0 (X11; Linux x86_64)' };
    const [listed] = await auth.listSessions('user-1');
    expect(listed?.metadata).toStrictEqual(expected);
    await delivered();
    expect(log.ofType('session.created').map((event) => event.metadata)).toStrictEqual([expected]);
  });

  it('strips control characters (C0 and DEL) and cuts long strings to MAX_METADATA_VALUE_LENGTH', async () => {
    const { login, auth } = await setupAuth(kind);
    await login({
      controls: 'a\u0000b\u0001c\u001fd\u007fe\tf\ng',
      long: 'x'.repeat(MAX_METADATA_VALUE_LENGTH + 100),
      exact: 'y'.repeat(MAX_METADATA_VALUE_LENGTH),
      // Controls go before the cut: 600 characters of which 100 are NULs keep 500.
      mixed: 'z\u0000'.repeat(100) + 'z'.repeat(400),
    });
    const [listed] = await auth.listSessions('user-1');
    expect(listed?.metadata).toStrictEqual({
      controls: 'abcdefg',
      long: 'x'.repeat(MAX_METADATA_VALUE_LENGTH),
      exact: 'y'.repeat(MAX_METADATA_VALUE_LENGTH),
      mixed: 'z'.repeat(500),
    });
  });

  it('never cuts a surrogate pair in half', async () => {
    const { login, auth } = await setupAuth(kind);
    const emoji = '😀'; // two UTF-16 code units
    await login({
      // The cut at 512 falls between the two halves: the half is dropped.
      split: 'a'.repeat(MAX_METADATA_VALUE_LENGTH - 1) + emoji,
      // The pair ends exactly at 512: kept whole.
      whole: 'b'.repeat(MAX_METADATA_VALUE_LENGTH - 2) + emoji,
    });
    const [listed] = await auth.listSessions('user-1');
    expect(listed?.metadata).toStrictEqual({
      split: 'a'.repeat(MAX_METADATA_VALUE_LENGTH - 1),
      whole: 'b'.repeat(MAX_METADATA_VALUE_LENGTH - 2) + emoji,
    });
  });

  it('leaves no unpaired surrogate, wherever it was: what is listed is what was reported', async () => {
    const { login, auth, log } = await setupAuth(kind);
    await login({ device: 'pho\ud800ne', tail: 'x\udc00' });
    const [listed] = await auth.listSessions('user-1');
    await delivered();
    const [created] = log.ofType('session.created');
    expect(listed?.metadata).toStrictEqual(created?.metadata);
    for (const value of Object.values(listed?.metadata ?? {})) expect(String(value)).not.toMatch(/[\ud800-\udfff]/);
  });

  it('accepts MAX_METADATA_KEYS keys of 1 to 64 characters out of A-Z a-z 0-9 _ . -', async () => {
    const { login, auth } = await setupAuth(kind);
    const metadata: Record<string, string | number> = Object.fromEntries(Array.from({ length: MAX_METADATA_KEYS }, (_, i) => [`k${i}.${'_-'.repeat(i)}`.slice(0, 64), i]));
    metadata['K'.repeat(64)] = 'long key';
    delete metadata['k0.'];
    await login(metadata);
    const [listed] = await auth.listSessions('user-1');
    expect(listed?.metadata).toStrictEqual(metadata);
  });

  it('a refused metadata creates no session and reports nothing', async () => {
    const { auth, user, log } = await setupAuth(kind);
    await expect(auth.issueSession(user, { metadata: { password: 'hunter2' } })).rejects.toThrow(TypeError);
    await delivered();
    expect(log.events).toStrictEqual([]);
    expect(await auth.listSessions('user-1')).toStrictEqual([]);
  });
});

describe('metadata normalized before any store sees it', () => {
  it('strips the C1 control characters too (U+0080–U+009F: NEL, CSI), which terminals and log viewers act on', async () => {
    const ctx = await setupAuth({ name: 'MemoryStore', open: async () => new MemoryStore() });
    await ctx.login({ userAgent: 'Agent\u0085/1.0\u009b31m' });
    await delivered();
    expect(ctx.log.ofType('session.created').map((event) => event.metadata)).toStrictEqual([{ userAgent: 'Agent/1.031m' }]);
  });
});

describe('metadata refused with a TypeError', () => {
  const user = makeUser('user-1');

  /** Issues with `metadata` on a fresh store and returns what it threw. */
  async function refusal(metadata: unknown): Promise<unknown> {
    try {
      await issueSession(new MemoryStore(), user, { metadata: metadata as SessionMetadata });
    } catch (err) {
      return err;
    }
    throw new Error(`metadata ${String(metadata)} was accepted`);
  }

  async function expectRefused(metadata: unknown, message: string): Promise<void> {
    const err = await refusal(metadata);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as TypeError).message).toBe(message);
  }

  it('anything but a plain object', async () => {
    const notPlain = 'caa-auth: metadata must be a plain object';
    class Device {
      name = 'phone';
    }
    for (const metadata of [null, 'userAgent', 42, true, [], [['device', 'phone']], new Map([['device', 'phone']]), new Date(0), new Device(), () => ({})]) {
      await expectRefused(metadata, notPlain);
    }
  });

  it(`more than ${MAX_METADATA_KEYS} keys`, async () => {
    const seventeen = Object.fromEntries(Array.from({ length: MAX_METADATA_KEYS + 1 }, (_, i) => [`k${i}`, i]));
    await expectRefused(seventeen, `caa-auth: metadata may have at most ${MAX_METADATA_KEYS} keys`);
  });

  it('a key that is empty, too long, or has a character outside A-Z a-z 0-9 _ . -', async () => {
    for (const key of ['', 'user agent', 'a/b', 'ключ', 'x'.repeat(65), 'device\n', 'a:b']) {
      await expectRefused({ [key]: 'x' }, `caa-auth: metadata key ${JSON.stringify(key.slice(0, 64))} must be 1–64 characters of A-Z a-z 0-9 _ . -`);
    }
  });

  it('a key that names a secret: password, apiKey, token, authorization, cookie and their kin', async () => {
    const keys = [
      'password', 'Password', 'passwd', 'apiKey', 'api_key', 'x-api-key', 'API.KEY', 'token', 'refreshToken', 'access_token',
      'authorization', 'Authorisation', 'cookie', 'set-cookie', 'secret', 'secretKey', 'clientSecret', 'signature', 'credentials',
    ];
    for (const key of keys) {
      await expectRefused({ [key]: 'x' }, `caa-auth: metadata key ${JSON.stringify(key)} names a secret; metadata is shown in device lists and logs`);
    }
  });

  it('a value that is not a string, a finite number, a boolean or null: nested objects, arrays, NaN, Infinity, undefined', async () => {
    const values: unknown[] = [{ os: 'linux' }, ['a'], Number.NaN, Infinity, -Infinity, undefined, 10n, Symbol('s'), () => 'x', new Date(0)];
    for (const value of values) {
      await expectRefused({ device: value }, 'caa-auth: metadata value of "device" must be a string, a finite number, a boolean or null');
    }
  });
});

/** Refreshes `device` at the clock's time; returns its new expireIn, or the refusal's code. */
async function refreshAt(auth: Awaited<ReturnType<typeof setupAuth>>['auth'], device: Device): Promise<number | string> {
  try {
    return device.take(await auth.refreshToken(device.refreshRequest())).expireIn;
  } catch (err) {
    if (!isCaaError(err)) throw err;
    return `${err.status} ${err.message} ${err.code}`;
  }
}

describe.each(kinds)('the absolute lifetime on $name', (kind: StoreKind) => {
  it('no refresh extends a family past its login plus maxLifetimeMs (default 30 days); at the deadline refresh is SESSION_EXPIRED', async () => {
    const { login, auth, clock, log } = await setupAuth(kind);
    const device = await login();
    const createdAt = clock.t;
    const deadline = createdAt + DEFAULT_MAX_LIFETIME_MS;
    for (let day = 2; day < 30; day += 2) {
      clock.t = createdAt + day * DAY;
      const expireIn = await refreshAt(auth, device);
      expect(expireIn, `refresh on day ${day}`).toBe(Math.min(clock.t + DEFAULT_SESSION_TTL_MS, deadline));
      const [listed] = await auth.listSessions('user-1');
      expect(listed).toMatchObject({ createdAt, refreshedAt: clock.t, expireIn });
    }
    clock.t = deadline - 1;
    expect(await refreshAt(auth, device)).toBe(deadline);
    await auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile);

    clock.t = deadline;
    const refused = await log.afterRejection(() => auth.refreshToken(device.refreshRequest()));
    assertCaaError(refused.error, { status: 404, message: 'apiKey not found', code: 'SESSION_EXPIRED' });
    expect(refused.events).toStrictEqual([{ type: 'auth.failed', at: deadline, action: CAA_ACTIONS.refreshToken, status: 404, code: 'SESSION_EXPIRED' }]);
    await expectCaaError(auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
    expect(await auth.listSessions('user-1')).toStrictEqual([]);
  });

  it('a family whose live pair expires later than the deadline is still refused at the deadline (a lifetime shorter than ttlMs)', async () => {
    const { login, auth, clock } = await setupAuth(kind, { maxLifetimeMs: 2 * HOUR, ttlMs: DAY });
    const device = await login();
    expect(device.pair).toBeDefined();
    const [listed] = await auth.listSessions('user-1');
    expect(listed?.expireIn).toBe(T0 + 2 * HOUR);
    clock.advance(HOUR);
    expect(await refreshAt(auth, device)).toBe(T0 + 2 * HOUR);
    clock.advance(HOUR);
    expect(await refreshAt(auth, device)).toBe('404 apiKey not found SESSION_EXPIRED');
  });

  it('the issue\'s reproduction: 120 refreshes 70 hours apart are dead after 30 days by default', async () => {
    const { login, auth, clock } = await setupAuth(kind);
    const device = await login();
    const outcomes: (number | string)[] = [];
    for (let i = 1; i <= 120; i++) {
      clock.t = T0 + i * 70 * HOUR;
      outcomes.push(await refreshAt(auth, device));
      if (typeof outcomes[outcomes.length - 1] === 'string') break;
    }
    // 10 × 70 h = 700 h < 720 h (30 days); the 11th, at 770 h, finds its pair expired at 720 h:
    // SESSION_EXPIRED, or APIKEY_NOT_FOUND where the store already forgot it (MemoryStore keeps an
    // expired pair EXPIRED_SESSION_RETENTION_MS, 24 h; RedisStore's key TTLs run on real time).
    expect(outcomes.slice(0, 10)).toStrictEqual(Array.from({ length: 10 }, (_, i) => Math.min(T0 + (i + 1) * 70 * HOUR + 72 * HOUR, T0 + 720 * HOUR)));
    expect(outcomes.slice(10)).toHaveLength(1);
    expect(['404 apiKey not found SESSION_EXPIRED', '404 apiKey not found APIKEY_NOT_FOUND']).toContain(outcomes[10]);
    clock.t = T0 + 348 * DAY;
    const late = await auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile).catch((err: unknown) => err);
    expect(isCaaError(late) && [late.status, late.message]).toStrictEqual([404, 'apiKey not found']);
    expect(await auth.listSessions('user-1')).toStrictEqual([]);
  });

  it('with maxLifetimeMs: Infinity the same family lives on: 120 refreshes 70 hours apart, alive 350 days later', async () => {
    const { login, auth, clock } = await setupAuth(kind, { maxLifetimeMs: Infinity });
    const device = await login();
    for (let i = 1; i <= 120; i++) {
      clock.t = T0 + i * 70 * HOUR;
      expect(await refreshAt(auth, device), `refresh ${i}`).toBe(clock.t + DEFAULT_SESSION_TTL_MS);
    }
    clock.advance(HOUR);
    const session = await auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile);
    expect(session).toMatchObject({ userId: 'user-1', createdAt: T0, issuedAt: T0 + 8_400 * HOUR, expireIn: T0 + 8_400 * HOUR + DEFAULT_SESSION_TTL_MS });
    const listed = await auth.listSessions('user-1');
    expect(listed.map(({ createdAt, refreshedAt, expireIn }) => ({ createdAt, refreshedAt, expireIn }))).toStrictEqual([
      { createdAt: T0, refreshedAt: T0 + 8_400 * HOUR, expireIn: T0 + 8_400 * HOUR + DEFAULT_SESSION_TTL_MS },
    ]);
  });

  it('shortening maxLifetimeMs makes authenticate, refresh and logout refuse an existing session past the new deadline', async () => {
    const before = await setupAuth(kind);
    const device = await before.login();
    before.clock.advance(2 * DAY);
    const { clock } = before;
    const shorter = createCaaAuth({ store: before.store, users: before.users, now: clock.now, maxLifetimeMs: DAY, onEvent: before.log.onEvent });
    await expectCaaError(shorter.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
    const refused = await before.log.afterRejection(() => shorter.refreshToken(device.refreshRequest()));
    assertCaaError(refused.error, { status: 404, message: 'apiKey not found', code: 'SESSION_EXPIRED' });
    expect(refused.events).toStrictEqual([{ type: 'auth.failed', at: clock.t, action: CAA_ACTIONS.refreshToken, status: 404, code: 'SESSION_EXPIRED' }]);
    await expectCaaError(shorter.revokeSession(device.logoutRequest()), 404, 'apiKey not found', 'SESSION_EXPIRED');
    // The session itself is untouched: under the old configuration it still works.
    const session = await before.auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile);
    expect(session.createdAt).toBe(T0);
  });

  it('shortening it within the new deadline caps the next refresh at the new deadline', async () => {
    const before = await setupAuth(kind);
    const device = await before.login();
    before.clock.advance(2 * DAY);
    const shorter = createCaaAuth({ store: before.store, users: before.users, now: before.clock.now, maxLifetimeMs: 3 * DAY });
    expect(device.take(await shorter.refreshToken(device.refreshRequest())).expireIn).toBe(T0 + 3 * DAY);
    before.clock.t = T0 + 3 * DAY;
    await expectCaaError(before.auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'SESSION_EXPIRED');
  });
});

describe('the absolute lifetime through the free functions', () => {
  it('issueSession takes maxLifetimeMs: a login expires at min(ttlMs, maxLifetimeMs)', async () => {
    const clock = new TestClock();
    const body = await issueSession(new MemoryStore(), makeUser('user-1'), { now: clock.now, ttlMs: 10 * DAY, maxLifetimeMs: DAY });
    expect(body.expireIn).toBe(T0 + DAY);
    const unbounded = await issueSession(new MemoryStore(), makeUser('user-1'), { now: clock.now, ttlMs: 10 * DAY, maxLifetimeMs: Infinity });
    expect(unbounded.expireIn).toBe(T0 + 10 * DAY);
  });
});
