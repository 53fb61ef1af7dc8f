/**
 * createCaaClient against real HTTP servers (node:http over the library's server side): clock-skew
 * correction, single-flight refresh, replay safety, logout and the logged-out path, staying on the
 * base URL's origin, and never signing with a rotated-away pair.
 */

import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CaaClientError,
  MAX_CLOCK_OFFSET_MS,
  createCaaClient,
  signCaaHeaderAsync,
  type CaaClientCredentials,
  type FetchLike,
} from '../../src/client/index.js';
import { CAA_ACTIONS, parseCaaHeader } from '../../src/index.js';
import { TEST_USER, pair, startCaaServer, type TestServer, type TestServerOptions } from './caa-server.js';

const REFRESH = '/api/my/refresh-token';
const PROFILE = '/api/my';
const TEN_MINUTES = 600_000;

const servers: TestServer[] = [];

async function server(options: TestServerOptions = {}): Promise<TestServer> {
  const started = await startCaaServer(options);
  servers.push(started);
  return started;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<CaaClientError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CaaClientError);
    return err as CaaClientError;
  }
  throw new Error('expected a rejection');
}

/** A signed request made by hand, outside the client. */
async function rawRequest(
  s: TestServer,
  method: string,
  path: string,
  authorization: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${s.url}${path}`, { method, headers: { authorization } });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('clock skew', () => {
  it('corrects a server clock 10 minutes ahead on the first call: exactly 2 requests, the second re-signed and accepted', async () => {
    const s = await server({ now: () => Date.now() + TEN_MINUTES });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });

    const me = await client.profile();

    expect(me).toMatchObject({ _id: TEST_USER._id, name: TEST_USER.name });
    expect(me).not.toHaveProperty('password');
    const [first, second, ...rest] = s.requests('GET', PROFILE);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ status: 400, code: 'TIMESTAMP_OUT_OF_WINDOW' });
    expect(second).toMatchObject({ status: 200, apiKey: issued.apiKey });
    expect(second?.authorization).not.toBe(first?.authorization);
    expect(second?.timestamp ?? 0).toBeGreaterThan((first?.timestamp ?? 0) + TEN_MINUTES - 2000);
    expect(Math.abs(client.clockOffsetMs - TEN_MINUTES)).toBeLessThan(1500);

    // Learned: the next call goes through in one request.
    await client.profile();
    expect(s.requests('GET', PROFILE)).toHaveLength(3);
  });

  it('corrects a server clock 10 minutes behind the same way', async () => {
    const s = await server({ now: () => Date.now() - TEN_MINUTES });
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    await client.profile();
    expect(s.requests('GET', PROFILE).map((r) => r.status)).toEqual([400, 200]);
    expect(Math.abs(client.clockOffsetMs + TEN_MINUTES)).toBeLessThan(1500);
  });

  it('retries only once: a signature that stays invalid after the correction is thrown (400 invalid signature)', async () => {
    const s = await server({ now: () => Date.now() + TEN_MINUTES });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: { ...pair(issued), secretKey: 'd3Jvbmc=' } });

    const err = await rejection(client.profile());

    expect(err).toMatchObject({ status: 400, message: 'invalid signature', code: 'HTTP_ERROR', body: { message: 'invalid signature' } });
    expect(s.requests('GET', PROFILE).map((r) => [r.status, r.code])).toEqual([
      [400, 'TIMESTAMP_OUT_OF_WINDOW'],
      [400, 'SIGNATURE_MISMATCH'],
    ]);
  });

  it('does not retry an invalid signature when the clock was right (nothing to correct)', async () => {
    const s = await server();
    const client = createCaaClient({ baseUrl: s.url, credentials: { ...pair(await s.issue()), secretKey: 'd3Jvbmc=' } });
    const err = await rejection(client.profile());
    expect(err).toMatchObject({ status: 400, message: 'invalid signature' });
    expect(s.requests('GET', PROFILE)).toHaveLength(1);
  });

  it('ten concurrent first calls against a skewed server each retry once, re-signed, and all succeed', async () => {
    const s = await server({ now: () => Date.now() + TEN_MINUTES });
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });

    await Promise.all(Array.from({ length: 10 }, () => client.profile()));

    const requests = s.requests('GET', PROFILE);
    expect(requests.filter((r) => r.status === 200)).toHaveLength(10);
    expect(requests.filter((r) => r.status !== 200).every((r) => r.code === 'TIMESTAMP_OUT_OF_WINDOW')).toBe(true);
    expect(requests.length).toBeLessThanOrEqual(20);
    expect(new Set(requests.map((r) => r.authorization)).size).toBe(requests.length);
  });

  it('refreshes ahead by the corrected clock, not the local one', async () => {
    // Sessions last 7 minutes of server time; the local clock is 10 minutes behind, so by the local
    // clock 17 minutes seem left.
    const s = await server({ now: () => Date.now() + TEN_MINUTES, loginTtlMs: 7 * 60_000 });

    const eager = createCaaClient({ baseUrl: s.url, refreshAheadMs: 8 * 60_000 });
    await eager.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');
    await eager.profile();
    expect(s.requests('POST', REFRESH)).toHaveLength(1);
    expect(s.requests('GET', PROFILE).map((r) => r.status)).toEqual([200]);

    const patient = createCaaClient({ baseUrl: s.url, refreshAheadMs: 6 * 60_000 });
    await patient.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');
    await patient.profile();
    expect(s.requests('POST', REFRESH)).toHaveLength(1);
  });
});

describe('refresh', () => {
  it('ten concurrent calls around expiry cause exactly one refresh, and all sign with the new pair', async () => {
    const s = await server({ refreshDelayMs: 50 });
    const issued = await s.issue(30_000); // 30 s left: inside the default 60 s refresh-ahead
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), onCredentials });

    const results = await Promise.all(Array.from({ length: 10 }, () => client.profile()));

    expect(results.every((me) => me._id === TEST_USER._id)).toBe(true);
    const refreshes = s.requests('POST', REFRESH);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]).toMatchObject({ status: 200, apiKey: issued.apiKey });
    const next = client.credentials;
    expect(next).not.toBeNull();
    expect(next?.apiKey).not.toBe(issued.apiKey);
    expect(next?.expireIn ?? 0).toBeGreaterThan(issued.expireIn);
    const profiles = s.requests('GET', PROFILE);
    expect(profiles).toHaveLength(10);
    expect(profiles.every((r) => r.status === 200 && r.apiKey === next?.apiKey)).toBe(true);
    expect(onCredentials).toHaveBeenCalledTimes(1);
    expect(onCredentials).toHaveBeenCalledWith(next);
  });

  it('calls made while refresh() is under way wait for it and sign with the new pair', async () => {
    const s = await server({ refreshDelayMs: 50 });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });

    const [refreshed, second] = await Promise.all([
      client.refresh(),
      client.refresh(),
      ...Array.from({ length: 10 }, () => client.profile()),
    ]);

    expect(second).toEqual(refreshed);
    expect(s.requests('POST', REFRESH)).toHaveLength(1);
    expect(s.requests('GET', PROFILE).every((r) => r.status === 200 && r.apiKey === refreshed.apiKey)).toBe(true);
  });

  it('re-signs, with the new pair, a call that was on the wire with a pair a refresh rotated away', async () => {
    const s = await server();
    const issued = await s.issue();
    let releaseProfile: () => void = () => undefined;
    const profileHeld = new Promise<void>((resolve) => (releaseProfile = resolve));
    let held = false;
    const slowFetch: FetchLike = async (input, init) => {
      if (input.endsWith(PROFILE) && !held) {
        held = true;
        await profileHeld;
      }
      return fetch(input, init);
    };
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), fetch: slowFetch });

    const profile = client.profile(); // signed with the old pair, then held
    await vi.waitFor(() => expect(held).toBe(true));
    const refreshed = await client.refresh();
    releaseProfile();
    await profile;

    expect(s.requests('GET', PROFILE).map((r) => [r.status, r.apiKey])).toEqual([
      [404, issued.apiKey],
      [200, refreshed.apiKey],
    ]);
  });

  it('re-sends a refresh whose response was lost and gets the same successor (grace), re-signed', async () => {
    const s = await server();
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    s.dropNextResponse(REFRESH);

    const refreshed = await client.refresh();

    const refreshes = s.requests('POST', REFRESH);
    expect(refreshes.map((r) => [r.status, r.apiKey])).toEqual([
      [200, issued.apiKey],
      [200, issued.apiKey],
    ]);
    expect(refreshes[1]?.timestamp ?? 0).toBeGreaterThan(refreshes[0]?.timestamp ?? Infinity);
    expect(client.credentials).toEqual(pair(refreshed));
    expect(s.store.liveSessions().map((session) => session.apiKey)).toEqual([refreshed.apiKey]);
    await expect(client.profile()).resolves.toMatchObject({ _id: TEST_USER._id });
  });

  it('refresh after the server revoked the session: 404 apiKey not found, LOGGED_OUT, credentials cleared', async () => {
    const s = await server();
    const issued = await s.issue();
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), onCredentials });
    await s.store.revoke(issued.apiKey, Date.now());

    const err = await rejection(client.refresh());

    expect(err).toMatchObject({
      status: 404,
      message: 'apiKey not found',
      code: 'LOGGED_OUT',
      body: { message: 'apiKey not found' },
    });
    expect(s.requests('POST', REFRESH)).toMatchObject([{ status: 404, code: 'APIKEY_NOT_FOUND' }]);
    expect(client.credentials).toBeNull();
    expect(onCredentials).toHaveBeenCalledWith(null);
    await expect(client.profile()).rejects.toMatchObject({ code: 'NO_CREDENTIALS', status: 0 });
  });

  it('a refresh ahead that finds the session gone rejects the call that needed it with LOGGED_OUT', async () => {
    const s = await server();
    const issued = await s.issue(10_000);
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    await s.store.revoke(issued.apiKey, Date.now());

    const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.profile()));

    expect(results.every((r) => r.status === 'rejected' && (r.reason as CaaClientError).code === 'LOGGED_OUT')).toBe(true);
    expect(s.requests('POST', REFRESH)).toHaveLength(1);
    expect(s.requests('GET', PROFILE)).toHaveLength(0);
    expect(client.credentials).toBeNull();
  });
});

describe('login and logout', () => {
  it('login keeps the issued credentials and reports them', async () => {
    const s = await server();
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = createCaaClient({ baseUrl: s.url, onCredentials });

    const body = await client.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');

    expect(body.user).toMatchObject({ _id: TEST_USER._id });
    expect(body.user).not.toHaveProperty('password');
    expect(client.credentials).toEqual(pair(body));
    expect(onCredentials).toHaveBeenCalledWith(pair(body));
    expect(s.requests('POST', '/api/my/login')[0]?.authorization).toBeUndefined();
  });

  it('a refused login is a CaaClientError with the status, the message and the body', async () => {
    const s = await server();
    const client = createCaaClient({ baseUrl: s.url });
    const err = await rejection(client.login(TEST_USER.mobile ?? '', 'wrong'));
    expect(err).toMatchObject({ status: 401, message: 'invalid mobile or password', code: 'HTTP_ERROR' });
    expect(client.credentials).toBeNull();
  });

  it('logout clears the credentials, and the server no longer knows the pair', async () => {
    const s = await server();
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = createCaaClient({ baseUrl: s.url, onCredentials });
    const { apiKey, secretKey } = await client.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');

    await client.logout();

    expect(client.credentials).toBeNull();
    expect(onCredentials).toHaveBeenLastCalledWith(null);
    expect(s.requests('DELETE', '/api/my/logout')).toMatchObject([{ status: 200, apiKey }]);
    const authorization = await signCaaHeaderAsync({ action: CAA_ACTIONS.fetchMyProfile, apiKey, secretKey });
    expect(await rawRequest(s, 'GET', PROFILE, authorization)).toEqual({ status: 404, body: { message: 'apiKey not found' } });
    await expect(client.profile()).rejects.toMatchObject({ code: 'NO_CREDENTIALS' });
    await expect(client.logout()).resolves.toBeUndefined();
  });

  it('logout of a session the server already dropped still clears the credentials', async () => {
    const s = await server();
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    await s.store.revoke(issued.apiKey, Date.now());
    await client.logout();
    expect(client.credentials).toBeNull();
  });
});

describe('replay protection never bites the client', () => {
  it('control: the server does refuse the same header twice (REPLAYED)', async () => {
    const s = await server();
    const { apiKey, secretKey } = await s.issue();
    const authorization = await signCaaHeaderAsync({ action: CAA_ACTIONS.fetchMyProfile, apiKey, secretKey });
    expect((await rawRequest(s, 'GET', PROFILE, authorization)).status).toBe(200);
    expect(await rawRequest(s, 'GET', PROFILE, authorization)).toEqual({ status: 400, body: { message: 'invalid signature' } });
    expect(s.log.at(-1)?.code).toBe('REPLAYED');
  });

  it('fifty concurrent calls signed within the same millisecond are all accepted, none REPLAYED', async () => {
    const s = await server();
    const frozen = Date.now();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()), now: () => frozen });

    await Promise.all(Array.from({ length: 50 }, () => client.profile()));

    const requests = s.requests('GET', PROFILE);
    expect(requests).toHaveLength(50);
    expect(requests.filter((r) => r.code === 'REPLAYED')).toEqual([]);
    expect(requests.every((r) => r.status === 200)).toBe(true);
    expect(new Set(requests.map((r) => r.timestamp)).size).toBe(50);
    expect(Math.min(...requests.map((r) => r.timestamp ?? 0))).toBe(frozen);
  });

  it('concurrent refreshes, calls and a skew correction at once: no header is ever sent twice', async () => {
    const s = await server({ now: () => Date.now() + TEN_MINUTES, refreshDelayMs: 20 });
    const frozen = Date.now();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue(30_000)), now: () => frozen });

    await Promise.all([
      ...Array.from({ length: 20 }, () => client.profile()),
      ...Array.from({ length: 5 }, () => client.refresh()),
    ]);

    expect(s.log.filter((r) => r.code === 'REPLAYED')).toEqual([]);
    const headers = s.log.map((r) => r.authorization);
    expect(new Set(headers).size).toBe(headers.length);
    expect(s.requests('GET', PROFILE).filter((r) => r.status === 200)).toHaveLength(20);
  });
});

const LOGOUT = '/api/my/logout';
const LOGIN = '/api/my/login';
const DAY = 86_400_000;

/** A fetch that must never be called, and a Response-returning one that records what it was given. */
function recordingFetch(answer: () => Response = () => Response.json({ ok: true })): {
  fetch: FetchLike;
  calls: { input: string; init: RequestInit }[];
} {
  const calls: { input: string; init: RequestInit }[] = [];
  return {
    calls,
    fetch: (input, init) => {
      calls.push({ input, init });
      return Promise.resolve(answer());
    },
  };
}

/** Credentials that need a refresh ahead (10 s left), so that a call would sign and refresh if it got that far. */
const EXPIRING: CaaClientCredentials = {
  apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
  secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
  userId: 'u1',
  expireIn: Date.now() + 10_000,
};

const INVALID_PATH = { code: 'INVALID_PATH', status: 0, message: 'path must start with one "/" and stay on the base URL' };
const INVALID_BASE_URL = {
  code: 'INVALID_BASE_URL',
  status: 0,
  message: 'baseUrl must be an absolute http(s) URL without query, fragment or user info',
};
const REDIRECT_REFUSED = 'redirect refused: the client never follows one';
const LOGOUT_UNCONFIRMED = 'logout not confirmed by the server: call logout() again to retry';

describe('the client stays on the origin of its base URL', () => {
  const steering: [string, string][] = [
    ['http://127.0.0.1', ':47121/collect'],
    ['https://api.example.com', '.evil.example/x'],
    ['https://api.example.com', '@evil.example/x'],
    ['https://api.example.com', '//evil.example/x'],
    ['https://api.example.com', '/\\evil.example/x'],
    ['https://api.example.com', 'https://evil.example/x'],
    ['https://api.example.com', 'api/my'],
    ['https://api.example.com', ''],
    ['https://api.example.com/v1', '/../x'],
    ['https://api.example.com/v1', '/%2e%2e/x'],
    ['https://api.example.com/v1', '/./../v10/x'],
  ];

  for (const [baseUrl, path] of steering) {
    it(`refuses ${JSON.stringify(path)} on ${baseUrl} with INVALID_PATH before signing, refreshing or sending`, async () => {
      const { fetch: fetchSpy, calls } = recordingFetch();
      const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
      const digest = vi.spyOn(globalThis.crypto.subtle, 'digest');
      const client = createCaaClient({ baseUrl, credentials: EXPIRING, fetch: fetchSpy, onCredentials });

      const signed = await rejection(client.request('POST', path, { action: CAA_ACTIONS.updateMyProfile, body: { password: 'p' } }));
      const unsigned = await rejection(client.request('GET', path, { action: CAA_ACTIONS.login, signed: false }));

      for (const err of [signed, unsigned]) expect({ code: err.code, status: err.status, message: err.message }).toEqual(INVALID_PATH);
      expect(calls).toEqual([]);
      expect(digest).not.toHaveBeenCalled();
      expect(onCredentials).not.toHaveBeenCalled();
      expect(client.credentials).toEqual(EXPIRING);
    });
  }

  it('appends paths to a base URL with a path prefix (with or without a trailing slash), query included', async () => {
    for (const baseUrl of ['https://api.example.com/v1', 'https://api.example.com/v1/', 'https://api.example.com/v1//']) {
      const { fetch: fetchSpy, calls } = recordingFetch();
      const client = createCaaClient({ baseUrl, fetch: fetchSpy });
      await client.request('GET', '/api/my?x=1', { action: CAA_ACTIONS.login, signed: false });
      await client.request('GET', '/v1', { action: CAA_ACTIONS.login, signed: false });
      expect(calls.map((call) => call.input)).toEqual(['https://api.example.com/v1/api/my?x=1', 'https://api.example.com/v1/v1']);
    }
  });

  it('refuses a base URL that is not an absolute http(s) URL without query, fragment or user info (INVALID_BASE_URL)', () => {
    for (const baseUrl of ['', 'not a url', '/api', 'ftp://api.example.com', 'https://api.example.com/?a=1', 'https://api.example.com/#x', 'https://u:p@api.example.com']) {
      let thrown: unknown;
      try {
        createCaaClient({ baseUrl });
      } catch (err) {
        thrown = err;
      }
      expect(thrown, baseUrl).toBeInstanceOf(CaaClientError);
      const err = thrown as CaaClientError;
      expect({ code: err.code, status: err.status, message: err.message }, baseUrl).toEqual(INVALID_BASE_URL);
    }
  });

  it('sends every request with redirect: manual', async () => {
    const s = await server();
    const seen: (RequestCredentials | RequestRedirect | undefined)[] = [];
    const client = createCaaClient({
      baseUrl: s.url,
      fetch: (input, init) => {
        seen.push(init.redirect);
        return fetch(input, init);
      },
    });
    await client.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');
    await client.profile();
    await client.refresh();
    await client.logout();
    expect(seen).toEqual(['manual', 'manual', 'manual', 'manual']);
  });

  it('a login answered 307 to another origin: REDIRECT_REFUSED, and the other server received nothing (no password)', async () => {
    const s = await server();
    const other = await server();
    s.answerNext(LOGIN, { status: 307, headers: { location: `${other.url}${LOGIN}` } });
    const client = createCaaClient({ baseUrl: s.url });

    const err = await rejection(client.login(TEST_USER.mobile ?? '', TEST_USER.password ?? ''));

    expect({ code: err.code, status: err.status, message: err.message, body: err.body }).toEqual({
      code: 'REDIRECT_REFUSED',
      status: 307,
      message: REDIRECT_REFUSED,
      body: undefined,
    });
    expect(s.requests('POST', LOGIN)).toMatchObject([{ status: 307 }]);
    expect(other.connections()).toBe(0);
    expect(other.log).toEqual([]);
    expect(client.credentials).toBeNull();
  });

  it('a signed POST with a body answered 308/307/302 to another origin: REDIRECT_REFUSED, nothing re-sent there', async () => {
    const s = await server();
    const other = await server();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    for (const status of [307, 308, 302, 301, 303]) {
      s.answerNext('/api/things', { status, headers: { location: `${other.url}/api/things` } });
      const err = await rejection(client.request('POST', '/api/things', { action: CAA_ACTIONS.updateMyProfile, body: { secret: 'x' } }));
      expect({ code: err.code, status: err.status, message: err.message }).toEqual({ code: 'REDIRECT_REFUSED', status, message: REDIRECT_REFUSED });
    }
    expect(s.requests('POST', '/api/things').map((r) => r.status)).toEqual([307, 308, 302, 301, 303]);
    expect(other.connections()).toBe(0);
  });

  it('a fetch that follows a redirect anyway: an answer from another origin is refused and its Date is not learned', async () => {
    const elsewhere = Response.json(
      { apiKey: 'YQ==', secretKey: 'Yg==', userId: 'u', expireIn: Date.now() + DAY },
      { headers: { date: new Date(Date.now() + TEN_MINUTES).toUTCString() } },
    );
    Object.defineProperty(elsewhere, 'url', { value: 'https://evil.example/api/my/login' });
    const client = createCaaClient({ baseUrl: 'https://api.example.com', fetch: () => Promise.resolve(elsewhere) });

    const err = await rejection(client.login('m', 'p'));

    expect({ code: err.code, status: err.status, message: err.message }).toEqual({ code: 'REDIRECT_REFUSED', status: 200, message: REDIRECT_REFUSED });
    expect(client.credentials).toBeNull();
    expect(client.clockOffsetMs).toBe(0);
  });

  it('the caller\'s Authorization header, in any case, never joins the client\'s own on a signed request', async () => {
    const s = await server();
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    await client.request('GET', PROFILE, { action: CAA_ACTIONS.fetchMyProfile, headers: { Authorization: 'Caa bm90LW1pbmU=' } });
    expect(s.requests('GET', PROFILE)).toMatchObject([{ status: 200, apiKey: issued.apiKey }]);
  });
});

describe('the clock learns only plausible offsets from the base origin', () => {
  it('a Date of 1970, one two days ahead and a garbage one are all ignored: later calls sign near local time', async () => {
    const s = await server();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    s.sendDates(new Date(0).toUTCString(), new Date(Date.now() + 2 * DAY).toUTCString(), 'garbage');

    for (let i = 0; i < 3; i++) {
      await client.profile();
      expect(client.clockOffsetMs).toBe(0);
    }
    const before = Date.now();
    await client.profile();
    const after = Date.now();

    const profiles = s.requests('GET', PROFILE);
    expect(profiles.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const last = profiles.at(-1)?.timestamp ?? 0;
    expect(last).toBeGreaterThanOrEqual(before);
    expect(last).toBeLessThanOrEqual(after + profiles.length); // + the strictly-increasing steps
    for (const r of profiles) expect(Math.abs((r.timestamp ?? 0) - Date.now())).toBeLessThan(5000);
  });

  it('keeps an offset learned before when an implausible Date arrives', async () => {
    const s = await server({ now: () => Date.now() + TEN_MINUTES });
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    await client.profile(); // learns +10 min (one re-signed retry)
    const learned = client.clockOffsetMs;
    s.sendDates(new Date(Date.now() + 3 * DAY).toUTCString());
    await client.profile();
    expect(client.clockOffsetMs).toBe(learned);
    s.sendDates(new Date(Date.now() + TEN_MINUTES + MAX_CLOCK_OFFSET_MS).toUTCString());
    await client.profile();
    expect(client.clockOffsetMs).toBe(learned);
    await client.profile();
    expect(s.requests('GET', PROFILE).map((r) => r.status)).toEqual([400, 200, 200, 200, 200]);
  });
});

/** One thing the client did, as a FetchLike wrapper sees it: handed a request to fetch, or got the refresh's answer. */
type ClientEvent = { readonly kind: 'send'; readonly path: string; readonly apiKey: string | undefined } | { readonly kind: 'refresh-answered' };

function apiKeyOf(init: RequestInit): string | undefined {
  const authorization = (init.headers as Record<string, string> | undefined)?.['authorization'];
  if (authorization === undefined) return undefined;
  return parseCaaHeader(authorization).apiKey;
}

describe('after a refresh answered, nothing signs with the rotated-away pair', () => {
  it('a call that picked the old pair and was still signing when the refresh answered, queued calls and later calls all sign with the new pair', async () => {
    const s = await server({ refreshDelayMs: 30 });
    const issued = await s.issue();
    const events: ClientEvent[] = [];
    const recording: FetchLike = async (input, init) => {
      const path = new URL(input).pathname;
      events.push({ kind: 'send', path, apiKey: apiKeyOf(init) });
      const response = await fetch(input, init);
      if (path === REFRESH) events.push({ kind: 'refresh-answered' });
      return response;
    };
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), fetch: recording });

    // The first signature is held in Web Crypto: that call picked the old pair before the refresh began.
    const realDigest = globalThis.crypto.subtle.digest.bind(globalThis.crypto.subtle);
    let releaseSigning: () => void = () => undefined;
    const signingHeld = new Promise<void>((resolve) => (releaseSigning = resolve));
    const digest = vi.spyOn(globalThis.crypto.subtle, 'digest').mockImplementationOnce(async (algorithm, data) => {
      await signingHeld;
      return realDigest(algorithm, data);
    });
    const beingSigned = client.profile();
    await vi.waitFor(() => expect(digest).toHaveBeenCalledTimes(1));

    const refreshed = client.refresh();
    await vi.waitFor(() => expect(events.filter((e) => e.kind === 'send' && e.path === REFRESH)).toHaveLength(1));
    const queued = [client.request('GET', PROFILE, { action: CAA_ACTIONS.fetchMyProfile }), ...Array.from({ length: 5 }, () => client.profile())];
    const next = await refreshed;
    releaseSigning(); // the held call now has its signature made with the old pair
    await Promise.all([beingSigned, ...queued]);
    await client.profile();

    const answeredAt = events.findIndex((e) => e.kind === 'refresh-answered');
    expect(answeredAt).toBeGreaterThan(0);
    const sentAfter = events.slice(answeredAt + 1).filter((e) => e.kind === 'send');
    expect(sentAfter.length).toBeGreaterThanOrEqual(8);
    expect(sentAfter.filter((e) => e.kind === 'send' && e.apiKey === issued.apiKey)).toEqual([]);
    expect(sentAfter.every((e) => e.kind === 'send' && e.apiKey === next.apiKey)).toBe(true);
    // What the server received with the old pair was all handed over before the refresh answered.
    const oldSentBefore = events.slice(0, answeredAt).filter((e) => e.kind === 'send' && e.apiKey === issued.apiKey).length;
    expect(s.log.filter((r) => r.apiKey === issued.apiKey).length).toBeLessThanOrEqual(oldSentBefore);
    expect(s.requests('GET', PROFILE).filter((r) => r.status === 200)).toHaveLength(8);
  });

  it('a call handed to fetch with the old pair before the refresh answered, and refused 404 after, is retried with the new pair only', async () => {
    const s = await server();
    const issued = await s.issue();
    const events: ClientEvent[] = [];
    let releaseWire: () => void = () => undefined;
    const wire = new Promise<void>((resolve) => (releaseWire = resolve));
    let held = false;
    const recording: FetchLike = async (input, init) => {
      const path = new URL(input).pathname;
      events.push({ kind: 'send', path, apiKey: apiKeyOf(init) });
      if (path === PROFILE && !held) {
        held = true;
        await wire;
      }
      const response = await fetch(input, init);
      if (path === REFRESH) events.push({ kind: 'refresh-answered' });
      return response;
    };
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), fetch: recording });

    const profile = client.profile();
    await vi.waitFor(() => expect(held).toBe(true));
    const next = await client.refresh();
    releaseWire();
    await profile;

    expect(events).toEqual([
      { kind: 'send', path: PROFILE, apiKey: issued.apiKey },
      { kind: 'send', path: REFRESH, apiKey: issued.apiKey },
      { kind: 'refresh-answered' },
      { kind: 'send', path: PROFILE, apiKey: next.apiKey },
    ]);
    expect(s.requests('GET', PROFILE).map((r) => [r.status, r.apiKey])).toEqual([
      [404, issued.apiKey],
      [200, next.apiKey],
    ]);
  });
});

describe('logout means logged out', () => {
  it('a logout while a refresh is in flight waits for it and signs with the new pair', async () => {
    const s = await server({ refreshDelayMs: 50 });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });

    const [next] = await Promise.all([client.refresh(), client.logout()]);

    expect(s.requests('DELETE', LOGOUT)).toMatchObject([{ status: 200, apiKey: next.apiKey }]);
    expect(client.credentials).toBeNull();
    expect(s.store.liveSessions()).toEqual([]);
  });

  it('a 500: rejects LOGOUT_UNCONFIRMED (500), credentials null, onCredentials(null), nothing else signs, and logout() again revokes', async () => {
    const s = await server();
    const issued = await s.issue();
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), onCredentials });
    s.answerNext(LOGOUT, { status: 500, body: { message: 'store unavailable' } });

    const err = await rejection(client.logout());

    expect({ code: err.code, status: err.status, message: err.message, body: err.body }).toEqual({
      code: 'LOGOUT_UNCONFIRMED',
      status: 500,
      message: LOGOUT_UNCONFIRMED,
      body: { message: 'store unavailable' },
    });
    expect(err.cause).toMatchObject({ code: 'HTTP_ERROR', status: 500, message: 'store unavailable' });
    expect(client.credentials).toBeNull();
    expect(onCredentials.mock.calls).toEqual([[null]]);
    const refused = await Promise.all([rejection(client.profile()), rejection(client.refresh()), rejection(client.request('PUT', PROFILE, { action: CAA_ACTIONS.updateMyProfile }))]);
    expect(refused.map((e) => [e.code, e.status])).toEqual([['NO_CREDENTIALS', 0], ['NO_CREDENTIALS', 0], ['NO_CREDENTIALS', 0]]);
    expect(s.store.liveSessions().map((session) => session.apiKey)).toEqual([issued.apiKey]);

    await client.logout();

    expect(s.requests('DELETE', LOGOUT).map((r) => [r.status, r.apiKey])).toEqual([
      [500, issued.apiKey],
      [200, issued.apiKey],
    ]);
    expect(s.log.map((r) => r.path)).toEqual([LOGOUT, LOGOUT]);
    expect(s.store.liveSessions()).toEqual([]);
    expect(onCredentials.mock.calls).toEqual([[null]]);
    await expect(client.logout()).resolves.toBeUndefined();
    expect(s.requests('DELETE', LOGOUT)).toHaveLength(2);
  });

  it('a lost answer (network error): LOGOUT_UNCONFIRMED with status 0; the retry is answered 404 apiKey not found and resolves', async () => {
    const s = await server();
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    s.dropNextResponse(LOGOUT);

    const err = await rejection(client.logout());

    expect({ code: err.code, status: err.status, message: err.message, body: err.body }).toEqual({
      code: 'LOGOUT_UNCONFIRMED',
      status: 0,
      message: LOGOUT_UNCONFIRMED,
      body: undefined,
    });
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(client.credentials).toBeNull();

    await client.logout();
    expect(s.requests('DELETE', LOGOUT).map((r) => [r.status, r.apiKey])).toEqual([
      [200, issued.apiKey],
      [404, issued.apiKey],
    ]);
  });

  const unconfirmed: [string, number, unknown, Record<string, string>?][] = [
    ['400 invalid signature', 400, { message: 'invalid signature' }],
    ['400 invalid authorization', 400, { message: 'invalid authorization' }],
    ['404 of another route', 404, { message: 'not found' }],
    ['401', 401, { message: 'unauthorized' }],
    ['503', 503, { message: 'store unavailable' }],
    ['307 to elsewhere', 307, undefined, { location: 'http://127.0.0.1:9/api/my/logout' }],
  ];
  for (const [name, status, body, headers] of unconfirmed) {
    it(`${name}: LOGOUT_UNCONFIRMED (${status}), credentials cleared`, async () => {
      const s = await server();
      const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
      s.answerNext(LOGOUT, headers === undefined ? { status, body } : { status, body, headers });
      const err = await rejection(client.logout());
      expect({ code: err.code, status: err.status, message: err.message }).toEqual({ code: 'LOGOUT_UNCONFIRMED', status, message: LOGOUT_UNCONFIRMED });
      expect((err.cause as CaaClientError).code).toBe(status === 307 ? 'REDIRECT_REFUSED' : 'HTTP_ERROR');
      expect(client.credentials).toBeNull();
      expect(s.store.liveSessions()).toHaveLength(1);
    });
  }

  for (const message of ['apiKey not found', 'user not found']) {
    it(`404 ${message}: the session is already gone, logout resolves`, async () => {
      const s = await server();
      const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
      const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()), onCredentials });
      s.answerNext(LOGOUT, { status: 404, body: { message } });
      await expect(client.logout()).resolves.toBeUndefined();
      expect(client.credentials).toBeNull();
      expect(onCredentials.mock.calls).toEqual([[null]]);
      await expect(client.logout()).resolves.toBeUndefined();
      expect(s.requests('DELETE', LOGOUT)).toHaveLength(1);
    });
  }

  it('the LOGOUT_UNCONFIRMED error carries no secret (not the secretKey, not the signed header)', async () => {
    const s = await server();
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    s.answerNext(LOGOUT, { status: 500, body: { message: 'boom' } });
    const err = await rejection(client.logout());
    expect([err.code, err.status]).toEqual(['LOGOUT_UNCONFIRMED', 500]);
    const text = `${inspect(err, { depth: 10, showHidden: true })} ${JSON.stringify(err)} ${JSON.stringify(err.body)}`;
    expect(text).not.toContain(issued.secretKey);
    expect(text).not.toContain('Caa ');
    expect(text).not.toContain(s.requests('DELETE', LOGOUT)[0]?.authorization ?? 'unreachable');
  });

  it('a successful login replaces the pair of an unconfirmed logout: the next logout revokes the new session', async () => {
    const s = await server();
    const first = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(first) });
    s.answerNext(LOGOUT, { status: 500, body: { message: 'boom' } });
    expect((await rejection(client.logout())).code).toBe('LOGOUT_UNCONFIRMED');
    expect(client.credentials).toBeNull();

    const second = await client.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');
    expect(client.credentials).toEqual(pair(second));
    await client.logout();

    expect(s.requests('DELETE', LOGOUT).map((r) => [r.status, r.apiKey])).toEqual([
      [500, first.apiKey],
      [200, second.apiKey],
    ]);
    expect(client.credentials).toBeNull();
    await expect(client.logout()).resolves.toBeUndefined();
    expect(s.requests('DELETE', LOGOUT)).toHaveLength(2);
  });

  it('concurrent logouts share one request', async () => {
    const s = await server();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    await Promise.all([client.logout(), client.logout(), client.logout()]);
    expect(s.requests('DELETE', LOGOUT)).toHaveLength(1);
  });

  it('a call made while the logout is on the wire fails NO_CREDENTIALS and sends nothing', async () => {
    const s = await server();
    let releaseLogout: () => void = () => undefined;
    const logoutHeld = new Promise<void>((resolve) => (releaseLogout = resolve));
    let held = false;
    const slowLogout: FetchLike = async (input, init) => {
      if (input.endsWith(LOGOUT)) {
        held = true;
        await logoutHeld;
      }
      return fetch(input, init);
    };
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()), fetch: slowLogout });
    const logout = client.logout();
    await vi.waitFor(() => expect(held).toBe(true));

    expect(client.credentials).toBeNull();
    const err = await rejection(client.profile());
    expect([err.code, err.status]).toEqual(['NO_CREDENTIALS', 0]);
    releaseLogout();
    await logout;
    expect(s.log.map((r) => r.path)).toEqual([LOGOUT]);
  });

  it('an onCredentials that throws on null: the logout is still sent and confirmed, then rejects with the listener\'s error', async () => {
    const s = await server();
    const issued = await s.issue();
    const failure = new Error('storage full');
    const client = createCaaClient({
      baseUrl: s.url,
      credentials: pair(issued),
      onCredentials: (credentials) => {
        if (credentials === null) throw failure;
      },
    });
    await expect(client.logout()).rejects.toBe(failure);
    expect(client.credentials).toBeNull();
    expect(s.requests('DELETE', LOGOUT)).toMatchObject([{ status: 200, apiKey: issued.apiKey }]);
    expect(s.store.liveSessions()).toEqual([]);
  });
});
