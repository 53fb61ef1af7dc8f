/**
 * The end-to-end suite every example server runs unchanged (Express 5, the Express app on Express 4,
 * Fastify, Hono on Node): each server is a real child process, driven over real HTTP with `fetch`
 * and with caa-auth/client.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CAA_ACTIONS, DEFAULT_SESSION_TTL_MS, generateKey, signCaaHeader, signCaaV2Request } from 'caa-auth';
import { createCaaClient, isCaaClientError, type CaaClient } from 'caa-auth/client';
import { RedisServer } from '../support/redis-server.js';
import {
  DEMO_MOBILE,
  DEMO_PASSWORD,
  DEMO_PROFILE,
  DISPOSABLE_MOBILE,
  DISPOSABLE_PASSWORD,
  DISPOSABLE_PROFILE,
  SECOND_MOBILE,
  SECOND_PASSWORD,
  SECOND_PROFILE,
} from '../../examples/shared/users.js';
import {
  ExampleServer,
  LOGOUT,
  MY_SESSIONS,
  PROFILE,
  REFRESH,
  SIGNED,
  call,
  revokeSessionEndpoint,
  type CallOptions,
  type Endpoint,
  type Framework,
  type Reply,
} from './example-process.js';

const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;
/** The ready-made routes' answer to a failed login (`LOGIN_FAILED` of caa-auth's integrations). */
const LOGIN_FAILED = { message: 'invalid login' };
const SKEW_MS = 300_000;
/** Starting redis-server and a server compiled by tsx on a busy 2-core machine: generous, but bounded. */
const STARTUP_TIMEOUT_MS = 120_000;

interface Credentials {
  apiKey: string;
  secretKey: string;
  userId: string;
  expireIn: number;
  user: Record<string, unknown>;
}

function isCredentials(body: unknown): body is Credentials {
  if (typeof body !== 'object' || body === null) return false;
  const { apiKey, secretKey, userId, expireIn, user } = body as Record<string, unknown>;
  return (
    typeof apiKey === 'string' &&
    typeof secretKey === 'string' &&
    typeof userId === 'string' &&
    typeof expireIn === 'number' &&
    typeof user === 'object' &&
    user !== null
  );
}


/** A client of one server that remembers every secret it handled, to look for them in the logs. */
class Driver {
  readonly secrets = new Set<string>([DEMO_PASSWORD, DISPOSABLE_PASSWORD, SECOND_PASSWORD]);

  #lastTimestamp = 0;

  constructor(readonly server: ExampleServer) {}

  /**
   * Strictly increasing, as caa-auth/client signs: the signature covers the action, not the path,
   * so two requests for one action in one millisecond (two session ids) would carry the same
   * header, and a replay-protected endpoint refuses the second.
   */
  nextTimestamp(): number {
    this.#lastTimestamp = Math.max(Date.now(), this.#lastTimestamp + 1);
    return this.#lastTimestamp;
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    if (options.authorization !== undefined) this.secrets.add(options.authorization);
    const reply = await call(this.server.baseUrl, method, path, options);
    if (isCredentials(reply.body)) this.secrets.add(reply.body.secretKey);
    return reply;
  }

  async login(mobile = DEMO_MOBILE, password = DEMO_PASSWORD, from: { userAgent?: string; device?: string } = {}): Promise<Credentials> {
    const json = from.device === undefined ? { mobile, password } : { mobile, password, device: from.device };
    const headers = from.userAgent === undefined ? {} : { 'user-agent': from.userAgent };
    const reply = await this.call('POST', '/api/my/login', { json, headers });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    if (!isCredentials(reply.body)) throw new Error(`not a credentials body: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  /** A request to `endpoint` signed with `pair` (for the endpoint's own action unless told otherwise). */
  signed(endpoint: Endpoint, pair: { apiKey: string; secretKey: string }, sign: { action?: string; timestamp?: number } = {}): Promise<Reply> {
    const authorization = signCaaHeader({
      action: sign.action ?? endpoint.action,
      apiKey: pair.apiKey,
      secretKey: pair.secretKey,
      timestamp: sign.timestamp ?? this.nextTimestamp(),
    });
    return this.sendSigned(endpoint, authorization);
  }

  /** A request to `endpoint` signed under caa-v2 with `pair` (for families that moved over: no legacy header). */
  signedV2(endpoint: Endpoint, pair: { apiKey: string; secretKey: string }): Promise<Reply> {
    const headers = signCaaV2Request({ method: endpoint.method, url: `${this.server.baseUrl}${endpoint.path}`, apiKey: pair.apiKey, secretKey: pair.secretKey });
    return this.call(endpoint.method, endpoint.path, { headers: { ...headers } });
  }

  /** Sends `endpoint` with a header signed beforehand (to send the same one twice). */
  sendSigned(endpoint: Endpoint, authorization: string): Promise<Reply> {
    // Refresh as the original clients send it: an empty form body.
    return this.call(endpoint.method, endpoint.path, endpoint.method === 'POST' ? { authorization, form: '' } : { authorization });
  }

  /** Asserts that the server's output has request lines but none of the secrets seen. */
  expectNoSecretsInLogs(): void {
    const output = this.server.output;
    expect(output).toMatch(/\/api\/my\/login/); // the logs are not empty: the check below means something
    for (const secret of this.secrets) {
      expect(output.includes(secret), `a secret appears in the ${this.server.framework} server output`).toBe(false);
    }
    expect(output.toLowerCase()).not.toContain('caa ');
  }
}

function expectError(reply: Reply, status: number, message: string): void {
  expect({ status: reply.status, body: reply.body }).toEqual({ status, body: { message } });
}

/** A request with `text` as its body, sent as `application/json` whatever it is; the answer's content type too. */
async function rawCall(baseUrl: string, method: string, path: string, text: string): Promise<Reply & { type: string | null }> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: text,
    signal: AbortSignal.timeout(15_000),
  });
  const answer = await res.text();
  let body: unknown = answer;
  try {
    body = JSON.parse(answer);
  } catch {
    // not JSON: kept as text, and the assertion shows it
  }
  return { status: res.status, body, ms: performance.now() - started, type: res.headers.get('content-type') };
}

function authorizationOf(inner: string): string {
  return `Caa ${Buffer.from(inner, 'latin1').toString('base64')}`;
}

/** A session as `GET /api/my/sessions` lists it. */
interface ListedSession {
  sessionId: string;
  userId: string;
  createdAt: number;
  refreshedAt: number;
  expireIn: number;
  metadata: Record<string, unknown>;
  current: boolean;
}

/** The sessions of a 200 `GET /api/my/sessions` answer (and fails the test on anything else). */
function sessionsOf(reply: Reply): ListedSession[] {
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  const { sessions } = reply.body as { sessions?: unknown };
  if (!Array.isArray(sessions)) throw new Error(`not a sessions body: ${JSON.stringify(reply.body)}`);
  return sessions as ListedSession[];
}

/** The sessionId of the caller's own session. */
function currentId(sessions: readonly ListedSession[]): string {
  const current = sessions.filter((session) => session.current);
  expect(current).toHaveLength(1);
  return current[0]?.sessionId ?? '';
}

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;
const LAPTOP = { userAgent: 'caa-e2e laptop (X11; Linux x86_64)', device: 'laptop' };
const PHONE = { userAgent: 'caa-e2e phone (Android 15)' };
const LOCALHOST = '127.0.0.1';

/**
 * The session-management endpoints, end to end. The devices are the second demo user's, which no
 * other test logs in; the demo user is "another user". Each test signs out what it logged in.
 */
function defineSessionTests(driverOf: () => Driver): void {
  describe('sessions of a user: GET /api/my/sessions, DELETE /api/my/sessions/:id, DELETE /api/my/sessions', () => {
    const opened: Credentials[] = [];

    async function login(mobile: string, password: string, from: { userAgent?: string; device?: string } = {}): Promise<Credentials> {
      const pair = await driverOf().login(mobile, password, from);
      opened.push(pair);
      return pair;
    }

    const laptopLogin = (): Promise<Credentials> => login(SECOND_MOBILE, SECOND_PASSWORD, LAPTOP);
    const phoneLogin = (): Promise<Credentials> => login(SECOND_MOBILE, SECOND_PASSWORD, PHONE);

    afterEach(async () => {
      // Whatever a test left live is signed out (a 404 for what it already revoked).
      for (const pair of opened.splice(0)) {
        // A family a caa-auth/client moved to caa-v2 refuses the legacy header: sign out under caa-v2 then.
        if ((await driverOf().signed(LOGOUT, pair)).status === 400) await driverOf().signedV2(LOGOUT, pair);
      }
    });

    it('lists two devices of one user with their metadata, each caller’s own session marked current', async () => {
      const driver = driverOf();
      const before = Date.now();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const after = Date.now();

      const fromLaptop = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      const [laptopEntry, phoneEntry] = fromLaptop;
      expect(fromLaptop).toEqual([
        {
          sessionId: expect.stringMatching(SESSION_ID),
          userId: SECOND_PROFILE._id,
          createdAt: laptopEntry?.createdAt,
          refreshedAt: laptopEntry?.createdAt,
          expireIn: laptop.expireIn,
          metadata: { userAgent: LAPTOP.userAgent, ip: LOCALHOST, device: LAPTOP.device },
          current: true,
        },
        {
          sessionId: expect.stringMatching(SESSION_ID),
          userId: SECOND_PROFILE._id,
          createdAt: phoneEntry?.createdAt,
          refreshedAt: phoneEntry?.createdAt,
          expireIn: phone.expireIn,
          metadata: { userAgent: PHONE.userAgent, ip: LOCALHOST },
          current: false,
        },
      ]);
      for (const entry of fromLaptop) {
        expect(entry.createdAt).toBeGreaterThanOrEqual(before - 1_000);
        expect(entry.createdAt).toBeLessThanOrEqual(after + 1_000);
        expect(entry.expireIn).toBe(entry.createdAt + DEFAULT_SESSION_TTL_MS);
      }
      expect(laptopEntry?.sessionId).not.toBe(phoneEntry?.sessionId);

      const fromPhone = sessionsOf(await driver.signed(MY_SESSIONS.list, phone));
      expect(fromPhone).toEqual(fromLaptop.map((entry) => ({ ...entry, current: !entry.current })));
    });

    it('keeps a session’s id across a refresh, with refreshedAt and expireIn of the new pair', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const [before] = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const refreshed = await driver.signed(REFRESH, laptop);
      if (!isCredentials(refreshed.body)) throw new Error(`refresh did not return credentials: ${JSON.stringify(refreshed.body)}`);
      const next = refreshed.body;
      opened.push(next);

      const [after, ...rest] = sessionsOf(await driver.signed(MY_SESSIONS.list, next));
      expect(rest).toEqual([]);
      expect(after).toEqual({ ...before, refreshedAt: after?.refreshedAt, expireIn: next.expireIn });
      expect(after?.refreshedAt ?? 0).toBeGreaterThan(before?.refreshedAt ?? Infinity);
      expect(after?.expireIn).toBe((after?.refreshedAt ?? 0) + DEFAULT_SESSION_TTL_MS);
    });

    it('DELETE /api/my/sessions from device A: { message: ok, revoked: 1 }; A works on, B is answered 404 apiKey not found everywhere', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const [laptopEntry] = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));

      const reply = await driver.signed(MY_SESSIONS.revokeOthers, laptop);
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { message: 'ok', revoked: 1 } });

      expect(await driver.signed(PROFILE, laptop)).toMatchObject({ status: 200, body: { user: SECOND_PROFILE } });
      for (const endpoint of [PROFILE, REFRESH, MY_SESSIONS.list, MY_SESSIONS.revokeOthers, revokeSessionEndpoint(laptopEntry?.sessionId ?? ''), LOGOUT]) {
        expectError(await driver.signed(endpoint, phone), 404, 'apiKey not found');
      }
      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, laptop))).toEqual([laptopEntry]);
      const again = await driver.signed(MY_SESSIONS.revokeOthers, laptop);
      expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { message: 'ok', revoked: 0 } });
      const refreshed = await driver.signed(REFRESH, laptop);
      expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
      if (isCredentials(refreshed.body)) opened.push(refreshed.body);
    });

    it('DELETE /api/my/sessions/:id signs out that device only; the same id again is 404 session not found', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const [laptopEntry, phoneEntry] = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      const revokePhone = revokeSessionEndpoint(phoneEntry?.sessionId ?? '');

      const reply = await driver.signed(revokePhone, laptop);
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { message: 'ok' } });

      expectError(await driver.signed(PROFILE, phone), 404, 'apiKey not found');
      expectError(await driver.signed(REFRESH, phone), 404, 'apiKey not found');
      expectError(await driver.signed(revokePhone, laptop), 404, 'session not found');
      expect(await driver.signed(PROFILE, laptop)).toMatchObject({ status: 200, body: { user: SECOND_PROFILE } });
      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, laptop))).toEqual([laptopEntry]);
    });

    it('DELETE /api/my/sessions/:id of the caller’s own session signs the caller out', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const mine = currentId(sessionsOf(await driver.signed(MY_SESSIONS.list, laptop)));

      const reply = await driver.signed(revokeSessionEndpoint(mine), laptop);
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { message: 'ok' } });
      expectError(await driver.signed(PROFILE, laptop), 404, 'apiKey not found');
      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, phone)).map((entry) => [entry.metadata.userAgent, entry.current])).toEqual([
        [PHONE.userAgent, true],
      ]);
    });

    it('DELETE /api/my/sessions/:id of another user’s session is 404 session not found, and nothing is revoked', async () => {
      const driver = driverOf();
      const other = await login(DEMO_MOBILE, DEMO_PASSWORD, { userAgent: 'caa-e2e other user' });
      const othersId = currentId(sessionsOf(await driver.signed(MY_SESSIONS.list, other)));
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const mine = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      expect(mine.map((entry) => entry.sessionId)).not.toContain(othersId);

      expectError(await driver.signed(revokeSessionEndpoint(othersId), laptop), 404, 'session not found');

      expect(await driver.signed(PROFILE, other)).toMatchObject({ status: 200, body: { user: DEMO_PROFILE } });
      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, other)).filter((entry) => entry.sessionId === othersId)).toEqual([
        expect.objectContaining({ sessionId: othersId, userId: DEMO_PROFILE._id, current: true }),
      ]);
      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, laptop))).toEqual(mine);
      expect((await driver.signed(PROFILE, phone)).status).toBe(200);
    });

    it('DELETE /api/my/sessions/:id of an id that names no session is 404 session not found, and nothing is revoked', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const mine = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));

      for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'x', 'a'.repeat(90), 'not a session id', '../logout']) {
        expectError(await driver.signed(revokeSessionEndpoint(id), laptop), 404, 'session not found');
      }

      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, laptop))).toEqual(mine);
      expect((await driver.signed(PROFILE, phone)).status).toBe(200);
    });

    it('caa-auth/client: a device signed out from another is LOGGED_OUT on its next request and forgets its credentials', async () => {
      const driver = driverOf();
      const { baseUrl } = driver.server;
      /** A client of one device, whose pair is remembered (for the log check) and signed out after the test. */
      async function device(name: string, onCredentials?: (credentials: unknown) => void): Promise<CaaClient> {
        const client = createCaaClient({ baseUrl, ...(onCredentials === undefined ? {} : { onCredentials }) });
        const body = await client.login(SECOND_MOBILE, SECOND_PASSWORD, { device: name });
        driver.secrets.add(body.secretKey);
        opened.push({ ...body, user: { ...body.user } });
        return client;
      }
      /** What a rejected client call threw, as code, status and message. */
      const failure = (call: Promise<unknown>): Promise<unknown> =>
        call.then(
          () => 'resolved',
          (err: unknown) => (isCaaClientError(err) ? { code: err.code, status: err.status, message: err.message } : err),
        );
      const LOGGED_OUT = { code: 'LOGGED_OUT', status: 404, message: 'apiKey not found' };

      const laptop = await device('laptop');
      let stored: unknown = 'unset';
      const phone = await device('phone', (credentials) => void (stored = credentials));
      const tablet = await device('tablet');
      expect((await laptop.sessions()).map((session) => [session.metadata.device, session.current])).toEqual([
        ['laptop', true],
        ['phone', false],
        ['tablet', false],
      ]);

      // Signed out by id: the tablet's next signed request (a refresh) reports LOGGED_OUT.
      const tabletId = (await tablet.sessions()).find((session) => session.current)?.sessionId ?? '';
      expect(await laptop.revokeSession(tabletId)).toBe(true);
      expect(await failure(tablet.refresh())).toEqual(LOGGED_OUT);
      expect(tablet.credentials).toBeNull();

      // "Log out other devices": the phone's next request (a profile) reports LOGGED_OUT.
      expect(await laptop.logoutOtherDevices()).toBe(1);
      expect(await failure(phone.profile())).toEqual(LOGGED_OUT);
      expect(phone.credentials).toBeNull();
      expect(stored).toBeNull();
      expect(await failure(phone.profile())).toMatchObject({ code: 'NO_CREDENTIALS' });

      expect(await laptop.profile()).toEqual(SECOND_PROFILE);
      expect((await laptop.sessions()).map((session) => session.metadata.device)).toEqual(['laptop']);
    });

    it('the revoking endpoints are replay-protected: the same header twice is 400 invalid signature, and revokes nothing more', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const othersHeader = signCaaHeader({ action: CAA_ACTIONS.revokeMyOtherSessions, ...laptop, timestamp: driver.nextTimestamp() });
      driver.secrets.add(othersHeader);

      const first = await driver.sendSigned(MY_SESSIONS.revokeOthers, othersHeader);
      expect({ status: first.status, body: first.body }).toEqual({ status: 200, body: { message: 'ok', revoked: 1 } });
      expectError(await driver.signed(PROFILE, phone), 404, 'apiKey not found');
      const newPhone = await phoneLogin();
      expectError(await driver.sendSigned(MY_SESSIONS.revokeOthers, othersHeader), 400, 'invalid signature');
      expect((await driver.signed(PROFILE, newPhone)).status).toBe(200);

      const [, newPhoneEntry] = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      const revokeNewPhone = revokeSessionEndpoint(newPhoneEntry?.sessionId ?? '');
      const oneHeader = signCaaHeader({ action: CAA_ACTIONS.revokeMySession, ...laptop, timestamp: driver.nextTimestamp() });
      driver.secrets.add(oneHeader);
      expect((await driver.sendSigned(revokeNewPhone, oneHeader)).status).toBe(200);
      expectError(await driver.sendSigned(revokeNewPhone, oneHeader), 400, 'invalid signature');

      // The signature covers the action, not the path: only replay protection keeps a captured
      // header for one id from signing out another device.
      const thirdPhone = await phoneLogin();
      const [, thirdEntry] = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      expectError(await driver.sendSigned(revokeSessionEndpoint(thirdEntry?.sessionId ?? ''), oneHeader), 400, 'invalid signature');
      expect((await driver.signed(PROFILE, thirdPhone)).status).toBe(200);
    });

    it('a request signed with another session endpoint’s action is 400 invalid signature, and revokes nothing', async () => {
      const driver = driverOf();
      const laptop = await laptopLogin();
      const phone = await phoneLogin();
      const mine = sessionsOf(await driver.signed(MY_SESSIONS.list, laptop));
      const revokePhone = revokeSessionEndpoint(mine[1]?.sessionId ?? '');

      const crossed: [Endpoint, string][] = [
        [MY_SESSIONS.revokeOthers, CAA_ACTIONS.revokeMySession],
        [MY_SESSIONS.revokeOthers, CAA_ACTIONS.listMySessions],
        [MY_SESSIONS.revokeOthers, CAA_ACTIONS.logout],
        [revokePhone, CAA_ACTIONS.revokeMyOtherSessions],
        [revokePhone, CAA_ACTIONS.listMySessions],
        [revokePhone, CAA_ACTIONS.logout],
        [MY_SESSIONS.list, CAA_ACTIONS.fetchMyProfile],
      ];
      for (const [endpoint, action] of crossed) {
        expectError(await driver.signed(endpoint, laptop, { action }), 400, 'invalid signature');
      }

      expect(sessionsOf(await driver.signed(MY_SESSIONS.list, laptop))).toEqual(mine);
      expect((await driver.signed(PROFILE, phone)).status).toBe(200);
    });
  });
}

export function defineExampleSuites(framework: Framework): void {
  describe(`${framework} example over HTTP (memory store)`, () => {
    let server: ExampleServer | undefined;
    let driver: Driver;

    beforeAll(async () => {
      server = await ExampleServer.start(framework, { CAA_EXAMPLE_TEST_ROUTES: '1', LOG_LEVEL: 'debug' });
      driver = new Driver(server);
    }, STARTUP_TIMEOUT_MS);

    afterAll(async () => {
      await server?.stop();
    });

    if (framework === 'express' || framework === 'express4') {
      it(`runs on Express ${framework === 'express4' ? 4 : 5}`, () => {
        expect(driver.server.output).toMatch(framework === 'express4' ? /running on Express 4\.\d+\.\d+\n/ : /running on Express 5\.\d+\.\d+\n/);
      });
    }

    it('runs the whole flow: login → profile → refresh → old key refused → new key → logout with the old key', async () => {
      const before = Date.now();
      const first = await driver.login();
      expect(first.apiKey).toMatch(BASE64_KEY);
      expect(first.secretKey).toMatch(BASE64_KEY);
      expect(first.userId).toBe(DEMO_PROFILE._id);
      expect(first.expireIn).toBeGreaterThanOrEqual(before + DEFAULT_SESSION_TTL_MS);
      expect(first.expireIn).toBeLessThanOrEqual(Date.now() + DEFAULT_SESSION_TTL_MS);
      expect(first.user).toEqual(DEMO_PROFILE);
      expect(first.user).not.toHaveProperty('password');
      expect(first.user).not.toHaveProperty('mobile');

      const profile = await driver.signed(PROFILE, first);
      expect(profile.status).toBe(200);
      expect(profile.body).toEqual({ user: DEMO_PROFILE });

      const refreshed = await driver.signed(REFRESH, first);
      expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
      if (!isCredentials(refreshed.body)) throw new Error('refresh did not return credentials');
      const second = refreshed.body;
      expect(second.apiKey).toMatch(BASE64_KEY);
      expect(second.secretKey).toMatch(BASE64_KEY);
      expect(second.apiKey).not.toBe(first.apiKey);
      expect(second.secretKey).not.toBe(first.secretKey);
      expect(second.userId).toBe(DEMO_PROFILE._id);
      expect(second.expireIn).toBeGreaterThanOrEqual(first.expireIn);
      expect(second.user).toEqual(DEMO_PROFILE);

      expectError(await driver.signed(PROFILE, first), 404, 'apiKey not found');

      const again = await driver.signed(PROFILE, second);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ user: DEMO_PROFILE });

      // Logout with the rotated-away pair still logs the whole family out (a thief may hold `second`).
      const logout = await driver.signed(LOGOUT, first);
      expect({ status: logout.status, body: logout.body }).toEqual({ status: 200, body: { message: 'ok' } });
      expectError(await driver.signed(PROFILE, second), 404, 'apiKey not found');
      expectError(await driver.signed(REFRESH, second), 404, 'apiKey not found');
      expectError(await driver.signed(PROFILE, first), 404, 'apiKey not found');
    });

    it('accepts a refresh with an empty JSON body or no body at all', async () => {
      const pair = await driver.login();
      const authorization = signCaaHeader({ action: CAA_ACTIONS.refreshToken, ...pair });
      const noBody = await driver.call('POST', REFRESH.path, { authorization });
      expect(noBody.status, JSON.stringify(noBody.body)).toBe(200);
      if (!isCredentials(noBody.body)) throw new Error('refresh did not return credentials');
      const next = signCaaHeader({ action: CAA_ACTIONS.refreshToken, ...noBody.body });
      const res = await fetch(`${driver.server.baseUrl}${REFRESH.path}`, {
        method: 'POST',
        headers: { authorization: next, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(15_000),
      });
      driver.secrets.add(next);
      const body: unknown = await res.json();
      expect(res.status, JSON.stringify(body)).toBe(200);
      if (isCredentials(body)) driver.secrets.add(body.secretKey);
    });

    it('refuses a wrong password, an unknown mobile, a malformed or a missing login body with 401 invalid login', async () => {
      for (const json of [
        { mobile: DEMO_MOBILE, password: 'not-the-password' },
        { mobile: '13000000000', password: DEMO_PASSWORD },
        { mobile: DEMO_MOBILE },
        { mobile: 13055818112, password: DEMO_PASSWORD },
        [DEMO_MOBILE, DEMO_PASSWORD],
      ]) {
        const reply = await driver.call('POST', '/api/my/login', { json });
        expect({ status: reply.status, body: reply.body }, JSON.stringify(json)).toEqual({ status: 401, body: LOGIN_FAILED });
      }
      expectError(await driver.call('POST', '/api/my/login'), 401, LOGIN_FAILED.message);
      expectError(await driver.call('POST', '/api/my/login', { form: `mobile=${DEMO_MOBILE}&password=${DEMO_PASSWORD}` }), 401, LOGIN_FAILED.message);
    });

    it('answers a login body that is not JSON 400 invalid request', async () => {
      const reply = await rawCall(driver.server.baseUrl, 'POST', '/api/my/login', '{"mobile":');
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 400, body: { message: 'invalid request' } });
      expect(reply.type).toMatch(/^application\/json/);
    });

    it('answers a body over 16 KiB 413 invalid request, before reading a password from it', async () => {
      const json = JSON.stringify({ mobile: DEMO_MOBILE, password: DEMO_PASSWORD, padding: 'x'.repeat(16 * 1024) });
      const reply = await rawCall(driver.server.baseUrl, 'POST', '/api/my/login', json);
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 413, body: { message: 'invalid request' } });
      expect(reply.type).toMatch(/^application\/json/);
      const under = await rawCall(driver.server.baseUrl, 'POST', '/api/my/login', JSON.stringify({ mobile: DEMO_MOBILE, password: DEMO_PASSWORD, padding: 'x'.repeat(15 * 1024) }));
      expect(under.status).toBe(200);
      if (isCredentials(under.body)) driver.secrets.add(under.body.secretKey);
    });

    describe('every error of spec §5, on every signed endpoint', () => {
      let pair: Credentials;
      /** Another session of the same user, which a wrongly accepted DELETE /api/my/sessions would revoke. */
      let other: Credentials;
      beforeAll(async () => {
        pair = await driver.login();
        other = await driver.login();
      });

      describe.each(SIGNED)('$method $path', (endpoint) => {
        it('400 invalid authorization: header missing', async () => {
          expectError(await driver.call(endpoint.method, endpoint.path), 400, 'invalid authorization');
        });

        it('400 invalid authorization: Bearer scheme', async () => {
          expectError(await driver.call(endpoint.method, endpoint.path, { authorization: 'Bearer abc.def.ghi' }), 400, 'invalid authorization');
        });

        it('400 invalid authorization: not base64, or a malformed inner string', async () => {
          expectError(await driver.call(endpoint.method, endpoint.path, { authorization: 'Caa %%%not-base64%%%' }), 400, 'invalid authorization');
          expectError(
            await driver.call(endpoint.method, endpoint.path, { authorization: authorizationOf(`${pair.apiKey}:no-signature-here`) }),
            400,
            'invalid authorization',
          );
          expectError(
            await driver.call(endpoint.method, endpoint.path, {
              authorization: authorizationOf(`${pair.apiKey}:${'A'.repeat(27)}= 12345`),
            }),
            400,
            'invalid authorization',
          );
        });

        it('400 invalid signature: timestamp just outside the ±5 min window, either way', async () => {
          expectError(await driver.signed(endpoint, pair, { timestamp: Date.now() - SKEW_MS - 5_000 }), 400, 'invalid signature');
          expectError(await driver.signed(endpoint, pair, { timestamp: Date.now() + SKEW_MS + 5_000 }), 400, 'invalid signature');
        });

        it('400 invalid signature: wrong secretKey', async () => {
          expectError(await driver.signed(endpoint, { apiKey: pair.apiKey, secretKey: generateKey() }), 400, 'invalid signature');
        });

        it('400 invalid signature: signed for another endpoint’s action', async () => {
          expectError(await driver.signed(endpoint, pair, { action: CAA_ACTIONS.updateMyProfile }), 400, 'invalid signature');
        });

        it('404 apiKey not found: an apiKey never issued', async () => {
          expectError(await driver.signed(endpoint, { apiKey: generateKey(), secretKey: generateKey() }), 404, 'apiKey not found');
        });
      });

      it('the session, and the user’s other session, survived all of the refused requests', async () => {
        expect((await driver.signed(PROFILE, pair)).status).toBe(200);
        expect((await driver.signed(PROFILE, other)).status).toBe(200);
      });
    });

    defineSessionTests(() => driver);

    it('404 user not found: the user of a live session was deleted', async () => {
      const pair = await driver.login(DISPOSABLE_MOBILE, DISPOSABLE_PASSWORD);
      expect(pair.user).toEqual(DISPOSABLE_PROFILE);
      expect((await driver.signed(PROFILE, pair)).status).toBe(200);

      const removed = await driver.call('DELETE', `/api/admin/users/${DISPOSABLE_PROFILE._id}`);
      expect({ status: removed.status, body: removed.body }).toEqual({ status: 200, body: { message: 'ok' } });

      expectError(await driver.signed(PROFILE, pair), 404, 'user not found');
      expectError(await driver.signed(REFRESH, pair), 404, 'user not found');
      // The refresh revoked the orphaned session.
      expectError(await driver.signed(PROFILE, pair), 404, 'apiKey not found');
      expectError(await driver.call('DELETE', `/api/admin/users/${DISPOSABLE_PROFILE._id}`), 404, 'user not found');
    });

    it('answers an unknown route 404 { message }', async () => {
      expectError(await driver.call('GET', '/api/nothing-here'), 404, 'not found');
    });

    it('never writes an Authorization header, a secretKey or a password to its output', () => {
      driver.expectNoSecretsInLogs();
    });

    it('logs each caa-auth event at LOG_LEVEL=debug as one line: type and kind, no user id, no metadata', () => {
      const output = driver.server.output;
      const lines = output.split('\n').filter((line) => /event (session|auth|store)\./.test(line));
      for (const event of [
        'session.created',
        'session.rotated',
        'session.revoked (others, 1)',
        'session.revoked (session, 1)',
        'session.revoked (logout, 1)',
        'auth.failed (REPLAYED, client:my:revoke-other-sessions)',
        'auth.failed (SIGNATURE_MISMATCH, client:my:revoke-session)',
      ]) {
        expect(lines.some((line) => line.includes(`event ${event}`)), event).toBe(true);
      }
      for (const line of lines) {
        for (const never of [SECOND_PROFILE._id, DEMO_PROFILE._id, LAPTOP.userAgent, LAPTOP.device, LOCALHOST]) expect(line).not.toContain(never);
      }
    });

    it('stops with exit code 0 on SIGTERM', async () => {
      expect(await server?.stop()).toBe(0);
    });
  });

  describe(`${framework} example over HTTP (Redis store, REDIS_URL)`, () => {
    let redis: RedisServer | undefined;
    let server: ExampleServer | undefined;
    let driver: Driver;
    let pair: Credentials;

    beforeAll(async () => {
      redis = await RedisServer.start({ durable: true });
      server = await ExampleServer.start(framework, { REDIS_URL: redis.url });
      driver = new Driver(server);
    }, STARTUP_TIMEOUT_MS);

    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
    });

    it('uses the Redis store: login, profile and refresh work', async () => {
      expect(driver.server.output).toContain(`(store: redis 127.0.0.1:${redis?.port ?? '?'})`);
      const first = await driver.login();
      const refreshed = await driver.signed(REFRESH, first);
      expect(refreshed.status).toBe(200);
      if (!isCredentials(refreshed.body)) throw new Error('refresh did not return credentials');
      pair = refreshed.body;
      expectError(await driver.signed(PROFILE, first), 404, 'apiKey not found');
      expect((await driver.signed(PROFILE, pair)).body).toEqual({ user: DEMO_PROFILE });
    });

    it('has no test routes unless CAA_EXAMPLE_TEST_ROUTES=1', async () => {
      expectError(await driver.call('DELETE', `/api/admin/users/${DEMO_PROFILE._id}`), 404, 'not found');
    });

    defineSessionTests(() => driver);

    it('answers 503 { message } within seconds while Redis hangs (SIGSTOP), and 200 once it answers again', async () => {
      redis?.freeze();
      try {
        const reply = await driver.signed(PROFILE, pair);
        expectError(reply, 503, 'service unavailable');
        expect(reply.ms).toBeLessThan(5_000);
      } finally {
        redis?.thaw();
      }
      const after = await driver.signed(PROFILE, pair);
      expect({ status: after.status, body: after.body }).toEqual({ status: 200, body: { user: DEMO_PROFILE } });
    });

    it('answers 503 { message } within seconds once Redis is down, never a 4xx', async () => {
      await redis?.kill();
      for (const endpoint of SIGNED) {
        const reply = await driver.signed(endpoint, pair);
        expectError(reply, 503, 'service unavailable');
        expect(reply.ms).toBeLessThan(5_000);
      }
      const login = await driver.call('POST', '/api/my/login', { json: { mobile: DEMO_MOBILE, password: DEMO_PASSWORD } });
      expectError(login, 503, 'service unavailable');
      expect(login.ms).toBeLessThan(5_000);
    });

    it('recovers when Redis is back: the same session works again', async () => {
      await redis?.restart();
      const deadline = Date.now() + 20_000;
      let reply = await driver.signed(PROFILE, pair);
      while (reply.status === 503 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        reply = await driver.signed(PROFILE, pair);
      }
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { user: DEMO_PROFILE } });
    }, 60_000);

    it('logs the outage in one line, without an Authorization header, a secretKey or a password', () => {
      expect(driver.server.output).toContain('STORE_UNAVAILABLE');
      driver.expectNoSecretsInLogs();
    });
  });
}
