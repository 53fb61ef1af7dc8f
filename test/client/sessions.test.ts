/**
 * The client's session management against a real HTTP server (node:http over the library's server
 * side, test/client/caa-server.ts): `sessions()`, `revokeSession(id)`, `logoutOtherDevices()` and a
 * login's `device`, each signed with its action, with the client's usual handling of refresh ahead,
 * clock skew, logged-out sessions and answers it cannot use.
 */

import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  CaaClientError,
  createCaaClient,
  type CaaClient,
  type FetchLike,
  type SessionInfo,
} from '../../src/client/index.js';
import {
  CAA_ACTIONS,
  DEFAULT_SESSION_TTL_MS,
  listSessions,
  parseCaaHeader,
  verifyCaaSignature,
  type SessionInfo as ServerSessionInfo,
} from '../../src/index.js';
import { MY_SESSIONS, OTHER_USER, TEST_USER, pair, startCaaServer, type LoggedRequest, type TestServer, type TestServerOptions } from './caa-server.js';

const REFRESH = '/api/my/refresh-token';
const PROFILE = '/api/my';
const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;
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

function errorOf(err: CaaClientError): { code: string; status: number; message: string; body: unknown } {
  return { code: err.code, status: err.status, message: err.message, body: err.body };
}

/** A client logged in as the test user, on a device of that name (none: no `device` sent). */
async function device(s: TestServer, name?: string): Promise<CaaClient> {
  const client = createCaaClient({ baseUrl: s.url });
  await client.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '', name === undefined ? {} : { device: name });
  return client;
}

/** Asserts that the logged request was signed, for `action`, with the client's current secretKey. */
function expectSignedFor(request: LoggedRequest | undefined, action: string, secretKey: string): void {
  const credentials = parseCaaHeader(request?.authorization);
  expect(() => verifyCaaSignature(credentials, { action, secretKey, now: credentials.timestamp })).not.toThrow();
}

/** A manual clock for the server, so that createdAt and expireIn are exact. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = Date.now();
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('the client SessionInfo is the server’s', () => {
  it('has the same shape as caa-auth’s SessionInfo, field for field', () => {
    expectTypeOf<SessionInfo>().toEqualTypeOf<ServerSessionInfo>();
  });
});

describe('sessions()', () => {
  it('lists the user’s sessions, oldest login first, with their fields and this client’s marked current', async () => {
    const clock = manualClock();
    const s = await server({ now: clock.now });
    const loginAt = clock.now();
    const laptop = await device(s, 'laptop');
    clock.advance(1_000);
    const phone = await device(s, 'phone');

    const fromLaptop = await laptop.sessions();
    const fromPhone = await phone.sessions();

    const laptopEntry = {
      sessionId: expect.stringMatching(SESSION_ID),
      userId: TEST_USER._id,
      createdAt: loginAt,
      refreshedAt: loginAt,
      expireIn: loginAt + DEFAULT_SESSION_TTL_MS,
      metadata: { device: 'laptop' },
    };
    const phoneEntry = {
      sessionId: expect.stringMatching(SESSION_ID),
      userId: TEST_USER._id,
      createdAt: loginAt + 1_000,
      refreshedAt: loginAt + 1_000,
      expireIn: loginAt + 1_000 + DEFAULT_SESSION_TTL_MS,
      metadata: { device: 'phone' },
    };
    expect(fromLaptop).toEqual([
      { ...laptopEntry, current: true },
      { ...phoneEntry, current: false },
    ]);
    expect(fromPhone).toEqual([
      { ...laptopEntry, current: false },
      { ...phoneEntry, current: true },
    ]);
    expect(fromPhone.map((entry) => entry.sessionId)).toEqual(fromLaptop.map((entry) => entry.sessionId));
    expect(fromLaptop[0]?.sessionId).not.toBe(fromLaptop[1]?.sessionId);

    const requests = s.requests('GET', MY_SESSIONS);
    expect(requests.map((r) => [r.status, r.apiKey])).toEqual([
      [200, laptop.credentials?.apiKey],
      [200, phone.credentials?.apiKey],
    ]);
    expectSignedFor(requests[0], CAA_ACTIONS.listMySessions, laptop.credentials?.secretKey ?? '');
    expectSignedFor(requests[1], CAA_ACTIONS.listMySessions, phone.credentials?.secretKey ?? '');
  });

  it('keeps a session’s id across a refresh: refreshedAt and expireIn move, createdAt stays', async () => {
    const clock = manualClock();
    const s = await server({ now: clock.now });
    const loginAt = clock.now();
    const laptop = await device(s, 'laptop');
    const [before] = await laptop.sessions();

    clock.advance(1_000);
    await laptop.refresh();
    const after = await laptop.sessions();

    expect(after).toEqual([
      {
        sessionId: before?.sessionId,
        userId: TEST_USER._id,
        createdAt: loginAt,
        refreshedAt: loginAt + 1_000,
        expireIn: loginAt + 1_000 + DEFAULT_SESSION_TTL_MS,
        metadata: { device: 'laptop' },
        current: true,
      },
    ]);
  });

  it('a login sends `device` only when it is given', async () => {
    const s = await server();
    const bodies: unknown[] = [];
    const recording: FetchLike = (input, init) => {
      if (input.endsWith('/api/my/login')) bodies.push(JSON.parse(String(init.body)));
      return fetch(input, init);
    };
    const plain = createCaaClient({ baseUrl: s.url, fetch: recording });
    await plain.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '');
    const named = createCaaClient({ baseUrl: s.url, fetch: recording });
    await named.login(TEST_USER.mobile ?? '', TEST_USER.password ?? '', { device: 'tablet' });

    expect(bodies).toEqual([
      { mobile: TEST_USER.mobile, password: TEST_USER.password },
      { mobile: TEST_USER.mobile, password: TEST_USER.password, device: 'tablet' },
    ]);
    expect((await plain.sessions()).map((entry) => [entry.metadata, entry.current])).toEqual([
      [{}, true],
      [{ device: 'tablet' }, false],
    ]);
  });

  it('refreshes ahead first when the session is about to expire, then lists with the new pair (same session)', async () => {
    const s = await server();
    const issued = await s.issue(10_000); // inside the default 60 s refresh-ahead
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });

    const [entry, ...rest] = await client.sessions();

    expect(rest).toEqual([]);
    expect(entry?.current).toBe(true);
    expect(s.log.map((r) => [r.method, r.path, r.status, r.apiKey])).toEqual([
      ['POST', REFRESH, 200, issued.apiKey],
      ['GET', MY_SESSIONS, 200, client.credentials?.apiKey],
    ]);
    expect(client.credentials?.apiKey).not.toBe(issued.apiKey);
  });

  it('a refresh ahead that finds the session gone: LOGGED_OUT, credentials cleared, nothing listed', async () => {
    const s = await server();
    const issued = await s.issue(10_000);
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });
    await s.store.revoke(issued.apiKey, Date.now());

    const err = await rejection(client.sessions());

    expect(errorOf(err)).toEqual({ code: 'LOGGED_OUT', status: 404, message: 'apiKey not found', body: { message: 'apiKey not found' } });
    expect(client.credentials).toBeNull();
    expect(s.requests('GET', MY_SESSIONS)).toEqual([]);
  });

  it('a 2xx answer without a sessions array: INVALID_RESPONSE', async () => {
    const s = await server();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    for (const body of [{}, { sessions: {} }, ['not', 'an', 'object']]) {
      s.answerNext(MY_SESSIONS, { status: 200, body });
      const err = await rejection(client.sessions());
      expect(errorOf(err)).toEqual({ code: 'INVALID_RESPONSE', status: 200, message: 'sessions response carries no sessions', body });
    }
  });
});

describe('revokeSession(sessionId)', () => {
  it('signs out that device: resolves true, its pair is refused, the list shows the rest', async () => {
    const s = await server();
    const laptop = await device(s, 'laptop');
    const phone = await device(s, 'phone');
    const [, phoneEntry] = await laptop.sessions();
    const phoneId = phoneEntry?.sessionId ?? '';

    await expect(laptop.revokeSession(phoneId)).resolves.toBe(true);

    const [revoke] = s.requests('DELETE', `${MY_SESSIONS}/${phoneId}`);
    expect(revoke).toMatchObject({ status: 200, apiKey: laptop.credentials?.apiKey });
    expectSignedFor(revoke, CAA_ACTIONS.revokeMySession, laptop.credentials?.secretKey ?? '');
    // The phone's own next request finds its session gone: logged out, its pair forgotten.
    expect(errorOf(await rejection(phone.profile()))).toEqual({
      code: 'LOGGED_OUT',
      status: 404,
      message: 'apiKey not found',
      body: { message: 'apiKey not found' },
    });
    expect(phone.credentials).toBeNull();
    expect(errorOf(await rejection(phone.refresh()))).toMatchObject({ code: 'NO_CREDENTIALS' });
    expect((await laptop.sessions()).map((entry) => [entry.metadata.device, entry.current])).toEqual([['laptop', true]]);
    await expect(laptop.profile()).resolves.toMatchObject({ _id: TEST_USER._id });
  });

  it('resolves false for a session that is not this user’s (another user’s, unknown, already revoked) and revokes nothing', async () => {
    const s = await server();
    const laptop = await device(s, 'laptop');
    await device(s, 'phone');
    await s.issueFor(OTHER_USER, { device: 'ann’s phone' });
    const [otherSession] = await listSessions(s.store, OTHER_USER._id);
    const otherId = otherSession?.sessionId ?? '';
    const [, phoneEntry] = await laptop.sessions();
    const phoneId = phoneEntry?.sessionId ?? '';

    await expect(laptop.revokeSession(otherId)).resolves.toBe(false);
    await expect(laptop.revokeSession('no-such-session')).resolves.toBe(false);
    await expect(laptop.revokeSession(phoneId)).resolves.toBe(true);
    await expect(laptop.revokeSession(phoneId)).resolves.toBe(false);

    expect(s.log.filter((r) => r.method === 'DELETE').map((r) => [r.path, r.status, r.code])).toEqual([
      [`${MY_SESSIONS}/${otherId}`, 404, undefined],
      [`${MY_SESSIONS}/no-such-session`, 404, undefined],
      [`${MY_SESSIONS}/${phoneId}`, 200, undefined],
      [`${MY_SESSIONS}/${phoneId}`, 404, undefined],
    ]);
    expect((await listSessions(s.store, OTHER_USER._id)).map((entry) => [entry.sessionId, entry.metadata])).toEqual([
      [otherId, { device: 'ann’s phone' }],
    ]);
    expect((await laptop.sessions()).map((entry) => entry.current)).toEqual([true]);
  });

  it('puts the id into one path segment, encoded', async () => {
    const s = await server();
    const laptop = await device(s, 'laptop');
    await expect(laptop.revokeSession('a/b?c#d %')).resolves.toBe(false);
    expect(s.requests('DELETE', `${MY_SESSIONS}/a%2Fb%3Fc%23d%20%25`)).toMatchObject([{ status: 404 }]);
    expect(s.log.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });

  it('refuses an empty id, "." and ".." with INVALID_PATH before signing or sending', async () => {
    const calls: string[] = [];
    const client = createCaaClient({
      baseUrl: 'https://api.example.com',
      credentials: { apiKey: 'YQ==', secretKey: 'Yg==', userId: 'u1', expireIn: Date.now() + 86_400_000 },
      fetch: (input) => {
        calls.push(input);
        return Promise.resolve(Response.json({ message: 'ok' }));
      },
    });
    for (const id of ['', '.', '..']) {
      const err = await rejection(client.revokeSession(id));
      expect(errorOf(err), JSON.stringify(id)).toEqual({
        code: 'INVALID_PATH',
        status: 0,
        message: 'sessionId must be a non-empty string other than "." and ".."',
        body: undefined,
      });
    }
    expect(calls).toEqual([]);
  });

  it('a 404 other than `session not found` is thrown, not false: apiKey not found (this device signed out), not found (no such route)', async () => {
    const s = await server();
    const laptop = await device(s, 'laptop');
    const phone = await device(s, 'phone');
    const [laptopEntry] = await phone.sessions();
    await phone.logoutOtherDevices();

    const gone = await rejection(laptop.revokeSession(laptopEntry?.sessionId ?? ''));
    expect(errorOf(gone)).toEqual({ code: 'LOGGED_OUT', status: 404, message: 'apiKey not found', body: { message: 'apiKey not found' } });
    expect(laptop.credentials).toBeNull();

    s.answerNext(`${MY_SESSIONS}/x`, { status: 404, body: { message: 'not found' } });
    const noRoute = await rejection(phone.revokeSession('x'));
    expect(errorOf(noRoute)).toEqual({ code: 'HTTP_ERROR', status: 404, message: 'not found', body: { message: 'not found' } });

    s.answerNext(`${MY_SESSIONS}/x`, { status: 503, body: { message: 'service unavailable' } });
    const down = await rejection(phone.revokeSession('x'));
    expect(errorOf(down)).toEqual({ code: 'HTTP_ERROR', status: 503, message: 'service unavailable', body: { message: 'service unavailable' } });
  });
});

describe('logoutOtherDevices()', () => {
  it('revokes every other session of the user and keeps this one: resolves with the count', async () => {
    const s = await server();
    const laptop = await device(s, 'laptop');
    const phone = await device(s, 'phone');
    const tablet = await device(s, 'tablet');
    await s.issueFor(OTHER_USER);

    await expect(laptop.logoutOtherDevices()).resolves.toBe(2);

    const [request] = s.requests('DELETE', MY_SESSIONS);
    expect(request).toMatchObject({ status: 200, apiKey: laptop.credentials?.apiKey });
    expectSignedFor(request, CAA_ACTIONS.revokeMyOtherSessions, laptop.credentials?.secretKey ?? '');
    for (const other of [phone, tablet]) {
      expect(errorOf(await rejection(other.refresh()))).toMatchObject({ code: 'LOGGED_OUT', status: 404, message: 'apiKey not found' });
      expect(other.credentials).toBeNull();
    }
    await expect(laptop.profile()).resolves.toMatchObject({ _id: TEST_USER._id });
    expect((await laptop.sessions()).map((entry) => [entry.metadata.device, entry.current])).toEqual([['laptop', true]]);
    expect(await listSessions(s.store, OTHER_USER._id)).toHaveLength(1);
    await expect(laptop.logoutOtherDevices()).resolves.toBe(0);
  });

  it('corrects a skewed clock and retries once, re-signed (the endpoint is replay-protected)', async () => {
    const s = await server({ now: () => Date.now() + TEN_MINUTES });
    const laptop = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    await s.issue();

    await expect(laptop.logoutOtherDevices()).resolves.toBe(1);

    const requests = s.requests('DELETE', MY_SESSIONS);
    expect(requests.map((r) => [r.status, r.code])).toEqual([
      [400, 'TIMESTAMP_OUT_OF_WINDOW'],
      [200, undefined],
    ]);
    expect(requests[1]?.authorization).not.toBe(requests[0]?.authorization);
  });

  it('a 2xx answer without a revoked count: INVALID_RESPONSE', async () => {
    const s = await server();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(await s.issue()) });
    for (const body of [{ message: 'ok' }, { message: 'ok', revoked: '1' }, { message: 'ok', revoked: -1 }, { message: 'ok', revoked: 1.5 }]) {
      s.answerNext(MY_SESSIONS, { status: 200, body });
      const err = await rejection(client.logoutOtherDevices());
      expect(errorOf(err)).toEqual({ code: 'INVALID_RESPONSE', status: 200, message: 'response carries no revoked count', body });
    }
  });
});

describe('the three calls and the client’s state', () => {
  it('after a logout each fails NO_CREDENTIALS and sends nothing', async () => {
    const s = await server();
    const client = await device(s, 'laptop');
    await client.logout();
    const sent = s.log.length;

    for (const call of [() => client.sessions(), () => client.revokeSession('x'), () => client.logoutOtherDevices()]) {
      expect(errorOf(await rejection(call()))).toEqual({ code: 'NO_CREDENTIALS', status: 0, message: 'no credentials: log in first', body: undefined });
    }
    expect(s.log).toHaveLength(sent);
  });

  it('on a session signed out elsewhere each call is LOGGED_OUT 404 apiKey not found, and the pair is forgotten at the first', async () => {
    for (const call of [(c: CaaClient) => c.sessions(), (c: CaaClient) => c.revokeSession('x'), (c: CaaClient) => c.logoutOtherDevices()]) {
      const s = await server();
      const laptop = await device(s, 'laptop');
      const phone = await device(s, 'phone');
      await laptop.logoutOtherDevices();
      expect(errorOf(await rejection(call(phone)))).toEqual({ code: 'LOGGED_OUT', status: 404, message: 'apiKey not found', body: { message: 'apiKey not found' } });
      expect(phone.credentials).toBeNull();
      expect(errorOf(await rejection(call(phone)))).toMatchObject({ code: 'NO_CREDENTIALS' });
      expect(s.requests('GET', PROFILE)).toEqual([]);
    }
  });
});
