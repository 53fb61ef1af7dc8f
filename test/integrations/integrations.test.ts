/**
 * The framework integrations (caa-auth/express on Express 5 and 4, caa-auth/fastify, caa-auth/hono
 * on Node) over real HTTP, each on a RedisStore of a real redis-server: every spec §5 error as JSON
 * with its exact status and message, an unknown error as 500 with nothing echoed, a frozen Redis as
 * 503, the ready-made routes, and caa-auth/client recognising a session revoked from another device.
 */

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import express5 from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  MemoryUserRepository,
  RedisStore,
  createCaaAuth,
  generateKey,
  signCaaHeader,
  type CaaAuth,
  type UserLike,
} from 'caa-auth';
import { CaaClientError, createCaaClient } from 'caa-auth/client';
import { caaAuth as expressAuth, caaErrorHandler as expressErrors, caaRoutes as expressRoutes } from 'caa-auth/express';
import { caaPlugin } from 'caa-auth/fastify';
import { caaAuth as honoAuth, caaErrorHandler as honoErrors, caaRoutes as honoRoutes, type CaaEnv } from 'caa-auth/hono';
import { RedisServer } from '../support/redis-server.js';

interface AppUser extends UserLike {
  _id: string;
  name: string;
  email: string;
  passwordHash: string;
  mobile: string;
}

const USER: AppUser = { _id: 'u-1', name: 'Ann', email: 'ann@example.test', passwordHash: 'scrypt$secret-hash', mobile: '13000000000' };
const PASSWORD = 'correct horse';
const ORDERS_ACTION = 'shop:orders:list';
const JSON_TYPE = /^application\/json/;

type Framework = 'express5' | 'express4' | 'fastify' | 'hono';
const FRAMEWORKS: readonly Framework[] = ['express5', 'express4', 'fastify', 'hono'];

async function verifyLogin(users: MemoryUserRepository<AppUser>, body: unknown): Promise<AppUser | null> {
  const { mobile, password } = (typeof body === 'object' && body !== null ? body : {}) as { mobile?: unknown; password?: unknown };
  const user = await users.find((candidate) => candidate.mobile === mobile);
  return user !== null && password === PASSWORD ? user : null;
}

interface RunningApp {
  baseUrl: string;
  close(): Promise<void>;
}

async function listening(server: Server): Promise<RunningApp> {
  if (!server.listening) await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** One app per framework, built only from the package's exports. */
async function startApp(framework: Framework, auth: CaaAuth<AppUser>, users: MemoryUserRepository<AppUser>): Promise<RunningApp> {
  const routes = { verifyLogin: (body: unknown) => verifyLogin(users, body) };
  switch (framework) {
    case 'express5':
    case 'express4': {
      const app = framework === 'express5' ? express5() : express4();
      app.use(express5.json());
      expressRoutes(app, auth, routes);
      app.get('/api/orders', expressAuth(auth, ORDERS_ACTION), (req, res) => {
        res.json({ userId: req.caaSession?.userId });
      });
      // Synchronous: Express 4 does not catch a rejected handler of the application's own.
      app.get('/boom', () => {
        throw new Error(`secret detail ${USER.passwordHash}`);
      });
      app.use(expressErrors());
      return listening(app.listen(0, '127.0.0.1'));
    }
    case 'fastify': {
      const app = Fastify();
      await app.register(caaPlugin, { auth, routes });
      app.get('/api/orders', { config: { caa: ORDERS_ACTION } }, async (request) => ({ userId: request.caaSession?.userId }));
      app.post('/api/orders', { onRequest: app.caaAuth(ORDERS_ACTION) }, async (request) => ({ userId: request.caaSession?.userId, body: request.body }));
      app.get('/boom', async () => {
        throw new Error(`secret detail ${USER.passwordHash}`);
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return listening(app.server);
    }
    case 'hono': {
      const app = new Hono<CaaEnv>();
      honoRoutes(app, auth, routes);
      app.get('/api/orders', honoAuth(auth, ORDERS_ACTION), (c) => c.json({ userId: c.get('caaSession').userId }));
      app.get('/boom', () => {
        throw new Error(`secret detail ${USER.passwordHash}`);
      });
      app.onError(honoErrors());
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
      return listening(server);
    }
  }
}

interface Reply {
  status: number;
  type: string | null;
  body: unknown;
  text: string;
}

async function call(baseUrl: string, method: string, path: string, options: { authorization?: string; json?: unknown; raw?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  let body: string | null = null;
  if (options.json !== undefined || options.raw !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.raw ?? JSON.stringify(options.json);
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), body: parsed, text };
}

function sign(action: string, pair: { apiKey: string; secretKey: string }, timestamp = Date.now()): string {
  return signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp });
}

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.stop();
});

describe.each(FRAMEWORKS)('caa-auth integration on %s', (framework) => {
  let client: Redis;
  let app: RunningApp;
  let users: MemoryUserRepository<AppUser>;

  beforeAll(async () => {
    client = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    users = new MemoryUserRepository<AppUser>([USER, { ...USER, _id: 'u-2', mobile: '13000000002' }]);
    const store = new RedisStore({ client, prefix: `caa:${framework}:`, timeoutMs: 500 });
    app = await startApp(framework, createCaaAuth({ store, users }), users);
  });

  afterAll(async () => {
    await app?.close();
    client?.disconnect();
  });

  async function login(mobile = USER.mobile): Promise<{ apiKey: string; secretKey: string; userId: string; user: unknown }> {
    const reply = await call(app.baseUrl, 'POST', '/api/my/login', { json: { mobile, password: PASSWORD, device: `${framework} test` } });
    expect(reply.status).toBe(200);
    return reply.body as { apiKey: string; secretKey: string; userId: string; user: unknown };
  }

  it('logs in through verifyLogin and answers only the public fields of the user', async () => {
    const body = await login();
    expect(body.user).toStrictEqual({ _id: 'u-1', name: 'Ann' });
    expect(JSON.stringify(body)).not.toContain(USER.passwordHash);
    expect(JSON.stringify(body)).not.toContain(USER.email);
    const failed = await call(app.baseUrl, 'POST', '/api/my/login', { json: { mobile: USER.mobile, password: 'wrong' } });
    expect({ status: failed.status, body: failed.body }).toStrictEqual({ status: 401, body: { message: 'invalid login' } });
  });

  it('answers every spec §5 refusal of a signed route as JSON with its exact status and message', async () => {
    const pair = await login();
    const cases: [string, string | undefined, number, string][] = [
      ['no header', undefined, 400, 'invalid authorization'],
      ['another scheme', 'Bearer abc', 400, 'invalid authorization'],
      ['a wrong signature', sign(ORDERS_ACTION, { ...pair, secretKey: generateKey() }), 400, 'invalid signature'],
      ['another action', sign(CAA_ACTIONS.fetchMyProfile, pair), 400, 'invalid signature'],
      ['a timestamp outside the window', sign(ORDERS_ACTION, pair, Date.now() - 600_000), 400, 'invalid signature'],
      ['an unknown apiKey', sign(ORDERS_ACTION, { apiKey: generateKey(), secretKey: pair.secretKey }), 404, 'apiKey not found'],
    ];
    for (const [, authorization, status, message] of cases) {
      const reply = await call(app.baseUrl, 'GET', '/api/orders', authorization === undefined ? {} : { authorization });
      expect({ status: reply.status, body: reply.body }).toStrictEqual({ status, body: { message } });
      expect(reply.type).toMatch(JSON_TYPE);
    }
    const ok = await call(app.baseUrl, 'GET', '/api/orders', { authorization: sign(ORDERS_ACTION, pair) });
    expect({ status: ok.status, body: ok.body }).toStrictEqual({ status: 200, body: { userId: 'u-1' } });
  });

  it('answers user not found as JSON when the user of a session is gone, and revokes the session', async () => {
    const pair = await login('13000000002');
    users.delete('u-2');
    try {
      const refresh = await call(app.baseUrl, 'POST', '/api/my/refresh-token', { authorization: sign(CAA_ACTIONS.refreshToken, pair) });
      expect({ status: refresh.status, body: refresh.body }).toStrictEqual({ status: 404, body: { message: 'user not found' } });
      const again = await call(app.baseUrl, 'GET', '/api/my', { authorization: sign(CAA_ACTIONS.fetchMyProfile, pair, Date.now() + 1) });
      expect({ status: again.status, body: again.body }).toStrictEqual({ status: 404, body: { message: 'apiKey not found' } });
    } finally {
      users.save({ ...USER, _id: 'u-2', mobile: '13000000002' });
    }
  });

  it('answers an unknown error as 500 internal error, echoing nothing', async () => {
    const reply = await call(app.baseUrl, 'GET', '/boom');
    expect({ status: reply.status, body: reply.body }).toStrictEqual({ status: 500, body: { message: 'internal error' } });
    expect(reply.text).not.toContain('secret');
  });

  it('answers 503 service unavailable as JSON while Redis is frozen, and recovers after', async () => {
    const pair = await login();
    redis.freeze();
    try {
      for (const [method, path, action] of [
        ['GET', '/api/orders', ORDERS_ACTION],
        ['POST', '/api/my/refresh-token', CAA_ACTIONS.refreshToken],
        ['GET', '/api/my/sessions', CAA_ACTIONS.listMySessions],
      ] as const) {
        const reply = await call(app.baseUrl, method, path, { authorization: sign(action, pair) });
        expect({ status: reply.status, body: reply.body }).toStrictEqual({ status: 503, body: { message: 'service unavailable' } });
      }
    } finally {
      redis.thaw();
    }
    const after = await call(app.baseUrl, 'GET', '/api/orders', { authorization: sign(ORDERS_ACTION, pair, Date.now() + 2) });
    expect(after.status).toBe(200);
  });

  it('lists two devices, and "log out other devices" leaves the caller working; caa-auth/client sees the other logged out', async () => {
    const first = await login();
    let stored: unknown = 'unset';
    const other = createCaaClient({ baseUrl: app.baseUrl, onCredentials: (credentials) => void (stored = credentials) });
    await other.login(USER.mobile, PASSWORD);
    const list = await call(app.baseUrl, 'GET', '/api/my/sessions', { authorization: sign(CAA_ACTIONS.listMySessions, first) });
    expect(list.status).toBe(200);
    const sessions = (list.body as { sessions: { current: boolean; metadata: Record<string, unknown> }[] }).sessions;
    expect(sessions.filter((session) => session.current)).toHaveLength(1);
    expect(sessions.length).toBeGreaterThanOrEqual(2);

    const revoked = await call(app.baseUrl, 'DELETE', '/api/my/sessions', { authorization: sign(CAA_ACTIONS.revokeMyOtherSessions, first) });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ message: 'ok' });
    const mine = await call(app.baseUrl, 'GET', '/api/my', { authorization: sign(CAA_ACTIONS.fetchMyProfile, first, Date.now() + 3) });
    expect({ status: mine.status, body: mine.body }).toStrictEqual({ status: 200, body: { user: { _id: 'u-1', name: 'Ann' } } });

    const err = await other.profile().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(err).toBeInstanceOf(CaaClientError);
    expect((err as CaaClientError).code).toBe('LOGGED_OUT');
    expect(other.credentials).toBeNull();
    expect(stored).toBeNull();
  });

  it('answers DELETE of a session id the user does not have with 404 session not found, revoking nothing', async () => {
    const pair = await login();
    const reply = await call(app.baseUrl, 'DELETE', `/api/my/sessions/${encodeURIComponent('no-such-session')}`, {
      authorization: sign(CAA_ACTIONS.revokeMySession, pair),
    });
    expect({ status: reply.status, body: reply.body }).toStrictEqual({ status: 404, body: { message: 'session not found' } });
    const still = await call(app.baseUrl, 'GET', '/api/orders', { authorization: sign(ORDERS_ACTION, pair, Date.now() + 4) });
    expect(still.status).toBe(200);
  });

  it('a client restored from saved credentials under auto moves to caa-v2 when its session refuses the legacy header', async () => {
    const first = createCaaClient({ baseUrl: app.baseUrl, scheme: 'caa-v2' });
    await first.login(USER.mobile, PASSWORD);
    await first.profile(); // the family has verified a caa-v2 request: no legacy header for it any more
    const credentials = first.credentials;
    if (credentials === null) throw new Error('no credentials');

    const legacy = await call(app.baseUrl, 'GET', '/api/my', { authorization: sign(CAA_ACTIONS.fetchMyProfile, credentials) });
    expect({ status: legacy.status, body: legacy.body }).toStrictEqual({ status: 400, body: { message: 'invalid signature' } });

    const sent: string[] = [];
    const restored = createCaaClient({
      baseUrl: app.baseUrl,
      credentials,
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        sent.push(headers.has('signature-input') ? 'caa-v2' : headers.has('authorization') ? 'caa' : 'none');
        return fetch(input, init);
      },
    });
    expect(restored.scheme).toBe('caa');
    await expect(restored.profile()).resolves.toStrictEqual({ _id: 'u-1', name: 'Ann' });
    expect(sent).toStrictEqual(['caa', 'caa-v2']);
    expect(restored.scheme).toBe('caa-v2');
  });

  if (framework === 'fastify') {
    it('authenticates before the body is parsed: an unsigned request with broken JSON is 400 invalid authorization', async () => {
      const reply = await call(app.baseUrl, 'POST', '/api/orders', { raw: '{"not json' });
      expect({ status: reply.status, body: reply.body }).toStrictEqual({ status: 400, body: { message: 'invalid authorization' } });
    });
  }
});
