/**
 * createCaaClient against real HTTP servers (node:http over the library's server side): clock-skew
 * correction, single-flight refresh, replay safety, logout and the logged-out path.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CaaClientError,
  createCaaClient,
  signCaaHeaderAsync,
  type CaaClientCredentials,
  type FetchLike,
} from '../../src/client/index.js';
import { CAA_ACTIONS } from '../../src/index.js';
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
