/**
 * An old client and a new one on one server (issue 13), against each example app as a real child
 * process: caa-auth/client on `scheme: 'caa'` (the app versions in the field) and on `'auto'`
 * (which moves to caa-v2 because login advertises it). What each sends is read from the requests
 * themselves (a wrapped `fetch`). Then: the family that moved refuses the legacy header while the
 * old client's keeps it, and caa-v2 requests with a body verify through the integration.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAA_ACTIONS, CAA_V2_ACCEPT_SIGNATURE, signCaaHeader, signCaaV2Request } from 'caa-auth';
import { createCaaClient, type CaaClientCredentials, type FetchLike } from 'caa-auth/client';
import { DEMO_MOBILE, DEMO_PASSWORD, DEMO_PROFILE } from '../../examples/shared/users.js';
import { ExampleServer, PROFILE, REFRESH, call, type Endpoint, type Framework, type Reply } from './example-process.js';

const FRAMEWORKS: readonly Framework[] = ['express', 'fastify', 'hono'];
const INVALID_SIGNATURE = { message: 'invalid signature' };

/** One request a client sent, as it went out, and what came back. */
interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly status: number;
  readonly acceptSignature: string | null;
}

/** The scheme a request was signed with, by its headers; `null` for an unsigned one (login). */
function schemeOf(sent: Sent): 'caa' | 'caa-v2' | 'both' | null {
  const legacy = sent.headers.authorization?.startsWith('Caa ') === true;
  const v2 = sent.headers['signature-input'] !== undefined && sent.headers.signature !== undefined;
  if (legacy && v2) return 'both';
  return legacy ? 'caa' : v2 ? 'caa-v2' : null;
}

/** `fetch` that keeps every request's line, headers (lower-case names) and answer in `log`. */
function recordingFetch(log: Sent[]): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    log.push({
      method: init.method ?? 'GET',
      path: new URL(input).pathname,
      headers,
      status: response.status,
      acceptSignature: response.headers.get('accept-signature'),
    });
    return response;
  };
}

const servers = new Map<Framework, ExampleServer>();

beforeAll(async () => {
  // All three at once: each compiles with tsx, which is most of the time this file takes.
  const started = await Promise.allSettled(FRAMEWORKS.map(async (framework) => servers.set(framework, await ExampleServer.start(framework))));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}, 120_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop()));
});

function serverOf(framework: Framework): ExampleServer {
  const server = servers.get(framework);
  if (server === undefined) throw new Error(`the ${framework} example did not start`);
  return server;
}

/** A request to `endpoint` with the legacy header, signed by hand with `pair` (what an old app sends). */
function legacyCall(baseUrl: string, endpoint: Endpoint, pair: CaaClientCredentials): Promise<Reply> {
  const authorization = signCaaHeader({ action: endpoint.action, apiKey: pair.apiKey, secretKey: pair.secretKey });
  return call(baseUrl, endpoint.method, endpoint.path, { authorization });
}

/** `POST /api/my/refresh-token` signed under caa-v2 by hand, with `sent` as its JSON body (the bytes `signed` was signed over). */
async function v2Refresh(baseUrl: string, pair: CaaClientCredentials, body: { signed?: string; sent?: string }): Promise<Reply> {
  const url = `${baseUrl}${REFRESH.path}`;
  const headers = signCaaV2Request({
    method: 'POST',
    url,
    apiKey: pair.apiKey,
    secretKey: pair.secretKey,
    ...(body.signed === undefined ? {} : { body: body.signed }),
  });
  const sent = body.sent ?? body.signed;
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, ...(sent === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(sent === undefined ? {} : { body: sent }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown), ms: 0 };
}

/** A fresh session of the demo user, logged in over plain HTTP: its pair. */
async function loginPair(baseUrl: string): Promise<CaaClientCredentials> {
  const reply = await call(baseUrl, 'POST', '/api/my/login', { json: { mobile: DEMO_MOBILE, password: DEMO_PASSWORD, device: 'script' } });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as CaaClientCredentials;
}

describe.each(FRAMEWORKS)('the %s example: an old client and a new one on one server', (framework) => {
  it('both log in, read the profile, refresh and list sessions; the old signs with the legacy header, the new with caa-v2', async () => {
    const { baseUrl } = serverOf(framework);
    const oldLog: Sent[] = [];
    const newLog: Sent[] = [];
    const oldApp = createCaaClient({ baseUrl, scheme: 'caa', fetch: recordingFetch(oldLog) });
    const newApp = createCaaClient({ baseUrl, fetch: recordingFetch(newLog) });
    expect(newApp.scheme).toBe('caa');

    await oldApp.login(DEMO_MOBILE, DEMO_PASSWORD, { device: 'old app' });
    await newApp.login(DEMO_MOBILE, DEMO_PASSWORD, { device: 'new app' });
    // The server offers caa-v2 where a client gets its pair; only 'auto' takes it.
    expect(newLog[0]?.acceptSignature).toBe(CAA_V2_ACCEPT_SIGNATURE);
    expect(oldLog[0]?.acceptSignature).toBe(CAA_V2_ACCEPT_SIGNATURE);
    expect(oldApp.scheme).toBe('caa');
    expect(newApp.scheme).toBe('caa-v2');

    for (const app of [oldApp, newApp]) {
      expect((await app.profile()).name).toBe(DEMO_PROFILE.name);
      const before = app.credentials?.apiKey;
      await app.refresh();
      expect(app.credentials?.apiKey).not.toBe(before);
      expect((await app.profile())._id).toBe(DEMO_PROFILE._id);
      const sessions = await app.sessions();
      expect(sessions.filter((session) => session.current).map((session) => session.metadata.device)).toStrictEqual([
        app === oldApp ? 'old app' : 'new app',
      ]);
      expect(sessions.map((session) => session.metadata.device)).toEqual(expect.arrayContaining(['old app', 'new app']));
    }
    // The refresh kept advertising caa-v2, and the new client stayed on it.
    expect(newLog.find((sent) => sent.path === REFRESH.path)?.acceptSignature).toBe(CAA_V2_ACCEPT_SIGNATURE);
    expect(newApp.scheme).toBe('caa-v2');

    const signed = (log: Sent[]) => log.filter((sent) => sent.path !== '/api/my/login');
    expect(signed(oldLog).map((sent) => [sent.method, sent.path, schemeOf(sent), sent.status])).toStrictEqual([
      ['GET', '/api/my', 'caa', 200],
      ['POST', '/api/my/refresh-token', 'caa', 200],
      ['GET', '/api/my', 'caa', 200],
      ['GET', '/api/my/sessions', 'caa', 200],
    ]);
    expect(signed(newLog).map((sent) => [sent.method, sent.path, schemeOf(sent), sent.status])).toStrictEqual([
      ['GET', '/api/my', 'caa-v2', 200],
      ['POST', '/api/my/refresh-token', 'caa-v2', 200],
      ['GET', '/api/my', 'caa-v2', 200],
      ['GET', '/api/my/sessions', 'caa-v2', 200],
    ]);
    for (const sent of signed(newLog)) {
      expect(sent.headers.authorization).toBeUndefined();
      expect(sent.headers['signature-input']).toMatch(/^caa=\("@method" "@authority" "@path" "@query"\);created=\d+;nonce="[A-Za-z0-9_-]{24}";keyid="[^"]+";alg="hmac-sha256";tag="caa-v2"$/);
    }

    // The family that moved refuses the legacy header, even validly signed; the old client's keeps it.
    const moved = newApp.credentials;
    const kept = oldApp.credentials;
    if (moved === null || kept === null) throw new Error('both clients hold credentials');
    const refused = await legacyCall(baseUrl, PROFILE, moved);
    expect({ status: refused.status, body: refused.body }).toStrictEqual({ status: 400, body: INVALID_SIGNATURE });
    const refusedRefresh = await legacyCall(baseUrl, REFRESH, moved);
    expect({ status: refusedRefresh.status, body: refusedRefresh.body }).toStrictEqual({ status: 400, body: INVALID_SIGNATURE });
    expect((await legacyCall(baseUrl, PROFILE, kept)).status).toBe(200);
    expect((await oldApp.profile()).name).toBe(DEMO_PROFILE.name);
    expect((await newApp.profile()).name).toBe(DEMO_PROFILE.name);

    await oldApp.logout();
    await newApp.logout();
    expect(signed(oldLog).at(-1)).toMatchObject({ method: 'DELETE', path: '/api/my/logout', status: 200 });
    expect(schemeOf(signed(oldLog).at(-1) as Sent)).toBe('caa');
    expect(signed(newLog).at(-1)).toMatchObject({ method: 'DELETE', path: '/api/my/logout', status: 200 });
    expect(schemeOf(signed(newLog).at(-1) as Sent)).toBe('caa-v2');
  });

  it('verifies a caa-v2 refresh with a JSON body by its Content-Digest, and refuses one whose body is not the one signed', async () => {
    const { baseUrl } = serverOf(framework);
    const pair = await loginPair(baseUrl);

    const tampered = await v2Refresh(baseUrl, pair, { signed: '{}', sent: '{ }' });
    expect({ status: tampered.status, body: tampered.body }).toStrictEqual({ status: 400, body: INVALID_SIGNATURE });
    const uncovered = await v2Refresh(baseUrl, pair, { sent: '{}' });
    expect({ status: uncovered.status, body: uncovered.body }).toStrictEqual({ status: 400, body: INVALID_SIGNATURE });

    const withBody = await v2Refresh(baseUrl, pair, { signed: '{}' });
    expect(withBody.status, JSON.stringify(withBody.body)).toBe(200);
    const next = withBody.body as CaaClientCredentials;
    expect(next.apiKey).not.toBe(pair.apiKey);

    // And without a body, as caa-auth/client and the original apps post a refresh.
    const empty = await v2Refresh(baseUrl, next, {});
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
    const last = empty.body as CaaClientCredentials;
    const logout = await fetch(`${baseUrl}/api/my/logout`, {
      method: 'DELETE',
      headers: { ...signCaaV2Request({ method: 'DELETE', url: `${baseUrl}/api/my/logout`, apiKey: last.apiKey, secretKey: last.secretKey }) },
    });
    expect(logout.status).toBe(200);
  });

  it('keeps a family that never used caa-v2 on the legacy header across refreshes', async () => {
    const { baseUrl } = serverOf(framework);
    let pair = await loginPair(baseUrl);
    for (let i = 0; i < 2; i++) {
      expect((await legacyCall(baseUrl, PROFILE, pair)).status).toBe(200);
      const refreshed = await call(baseUrl, REFRESH.method, REFRESH.path, {
        authorization: signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey: pair.apiKey, secretKey: pair.secretKey }),
        form: '',
      });
      expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
      pair = refreshed.body as CaaClientCredentials;
    }
    const logout = await call(baseUrl, 'DELETE', '/api/my/logout', {
      authorization: signCaaHeader({ action: CAA_ACTIONS.logout, apiKey: pair.apiKey, secretKey: pair.secretKey }),
    });
    expect(logout.status).toBe(200);
  });
});
