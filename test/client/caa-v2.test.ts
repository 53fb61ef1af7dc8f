/**
 * createCaaClient on the `caa-v2` profile (issue 13, spec `caa-http-signatures.md` §4), against the
 * fake server of caa-server.ts whose `caa-v2` verifier is the test's own (node:crypto, the spec):
 * when the client moves over (`scheme: 'auto'`, `'caa'`, `'caa-v2'`), what a signed request carries
 * (no `Authorization`, a `Content-Digest` of the exact bytes, a new nonce every time), and that the
 * clock correction, refresh, stale-pair retry and logged-out handling work the same under it.
 */

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CaaClientError, createCaaClient, signCaaV2Async, type CaaClientCredentials, type CaaClientOptions, type FetchLike } from '../../src/client/index.js';
import { CAA_ACTIONS } from '../../src/index.js';
import { ACCEPT_SIGNATURE } from './caa-v2-verifier.js';
import { TEST_USER, pair, startCaaServer, type LoggedRequest, type TestServer, type TestServerOptions } from './caa-server.js';

const LOGIN = '/api/my/login';
const REFRESH = '/api/my/refresh-token';
const PROFILE = '/api/my';
const LOGOUT = '/api/my/logout';
const TEN_MINUTES = 600_000;
const MOBILE = TEST_USER.mobile ?? '';
const PASSWORD = TEST_USER.password ?? '';

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

async function rejection(promise: Promise<unknown>): Promise<CaaClientError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CaaClientError);
    return err as CaaClientError;
  }
  throw new Error('expected a rejection');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The exact shape of a caa-v2 `Signature-Input` of this client for `apiKey`. */
function v2Input(apiKey: string, withDigest = false): RegExp {
  const covered = withDigest ? '"@method" "@authority" "@path" "@query" "content-digest"' : '"@method" "@authority" "@path" "@query"';
  return new RegExp(
    `^caa=${escape(`(${covered})`)};created=[0-9]{10};nonce="[A-Za-z0-9_-]{24}";keyid="${escape(apiKey)}";alg="hmac-sha256";tag="caa-v2"$`,
  );
}

/** What a request's credentials were: which scheme, and nothing of the other. */
function schemeOf(entry: LoggedRequest | undefined): 'caa' | 'caa-v2' | 'none' | 'both' {
  if (entry === undefined) throw new Error('no such request');
  const legacy = entry.authorization !== undefined;
  const v2 = entry.signatureInput !== undefined || entry.signature !== undefined;
  if (legacy && v2) return 'both';
  if (legacy) return 'caa';
  return v2 ? 'caa-v2' : 'none';
}

async function loggedIn(s: TestServer, options: Omit<CaaClientOptions, 'baseUrl'> = {}) {
  const client = createCaaClient({ baseUrl: s.url, ...options });
  await client.login(MOBILE, PASSWORD);
  return client;
}

describe('the fake server’s caa-v2 verifier is no pushover', () => {
  it('refuses a signature made for another path (SIGNATURE_MISMATCH), a changed body (DIGEST_MISMATCH), both schemes at once (AMBIGUOUS_CREDENTIALS), and a replayed nonce (REPLAYED)', async () => {
    const s = await server({ caaV2: 'accept' });
    const { apiKey, secretKey } = await s.issue();
    const other = await signCaaV2Async({ method: 'GET', url: `${s.url}/api/my/sessions`, apiKey, secretKey });
    const res1 = await fetch(`${s.url}${PROFILE}`, { headers: other });
    expect([res1.status, await res1.json()]).toEqual([400, { message: 'invalid signature' }]);

    const body = '{"name":"Ann"}';
    const put = await signCaaV2Async({ method: 'PUT', url: `${s.url}${PROFILE}`, body, apiKey, secretKey });
    const res2 = await fetch(`${s.url}${PROFILE}`, { method: 'PUT', body: '{"name":"Bob"}', headers: { ...put, 'content-type': 'application/json' } });
    expect([res2.status, await res2.json()]).toEqual([400, { message: 'invalid signature' }]);

    const get = await signCaaV2Async({ method: 'GET', url: `${s.url}${PROFILE}`, apiKey, secretKey });
    const res3 = await fetch(`${s.url}${PROFILE}`, { headers: { ...get, authorization: 'Caa eA==' } });
    expect([res3.status, await res3.json()]).toEqual([400, { message: 'invalid authorization' }]);

    const res4 = await fetch(`${s.url}${PROFILE}`, { headers: get });
    const res5 = await fetch(`${s.url}${PROFILE}`, { headers: get });
    expect([res4.status, res5.status, await res5.json()]).toEqual([200, 400, { message: 'invalid signature' }]);

    expect(s.log.map((r) => r.code)).toEqual(['SIGNATURE_MISMATCH', 'DIGEST_MISMATCH', 'AMBIGUOUS_CREDENTIALS', undefined, 'REPLAYED']);
  });
});

describe("scheme 'auto' (the default)", () => {
  it('moves to caa-v2 after a login answered with Accept-Signature tag="caa-v2": no Authorization header, the exact Signature-Input', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = createCaaClient({ baseUrl: s.url });
    expect(client.scheme).toBe('caa');

    const login = await client.login(MOBILE, PASSWORD);
    await client.profile();

    expect(client.scheme).toBe('caa-v2');
    const [loginEntry, profileEntry, ...rest] = s.log;
    expect(rest).toEqual([]);
    expect(loginEntry).toMatchObject({ path: LOGIN, status: 200, authorization: undefined, signatureInput: undefined, acceptSignature: ACCEPT_SIGNATURE });
    expect(profileEntry).toMatchObject({ path: PROFILE, status: 200, code: undefined, authorization: undefined, apiKey: login.apiKey, contentDigest: undefined });
    expect(profileEntry?.signatureInput).toMatch(v2Input(login.apiKey));
    expect(profileEntry?.signature).toMatch(/^caa=:[A-Za-z0-9+/]{43}=:$/);
  });

  it('stays on the legacy header after a login without the advertisement, though the server would accept caa-v2', async () => {
    const s = await server({ caaV2: 'accept' });
    const client = await loggedIn(s);
    await client.profile();
    await client.refresh();
    await client.profile();

    expect(client.scheme).toBe('caa');
    expect(s.log.map((r) => [r.path, r.status, schemeOf(r), r.acceptSignature])).toEqual([
      [LOGIN, 200, 'none', undefined],
      [PROFILE, 200, 'caa', undefined],
      [REFRESH, 200, 'caa', undefined],
      [PROFILE, 200, 'caa', undefined],
    ]);
  });

  it('restored credentials sign legacy until a refresh advertises caa-v2, then caa-v2', async () => {
    const s = await server({ caaV2: 'advertise' });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued) });

    await client.profile();
    const refreshed = await client.refresh();
    await client.profile();

    expect(s.log.map((r) => [r.path, r.status, schemeOf(r), r.apiKey])).toEqual([
      [PROFILE, 200, 'caa', issued.apiKey],
      [REFRESH, 200, 'caa', issued.apiKey],
      [PROFILE, 200, 'caa-v2', refreshed.apiKey],
    ]);
    expect(client.scheme).toBe('caa-v2');
  });

  it('keeps caa-v2 across a refresh answered without the advertisement; a new login without it goes back to the legacy header', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s);
    s.setCaaV2('accept');

    await client.refresh();
    await client.profile();
    expect(client.scheme).toBe('caa-v2');

    await client.login(MOBILE, PASSWORD);
    expect(client.scheme).toBe('caa');
    await client.profile();

    expect(s.log.map((r) => [r.path, r.status, schemeOf(r)])).toEqual([
      [LOGIN, 200, 'none'],
      [REFRESH, 200, 'caa-v2'],
      [PROFILE, 200, 'caa-v2'],
      [LOGIN, 200, 'none'],
      [PROFILE, 200, 'caa'],
    ]);
  });

  it('ignores an Accept-Signature that asks for another profile', async () => {
    const s = await server({ caaV2: 'accept' });
    const otherProfile = 'sig1=("@method" "@path");keyid;alg="hmac-sha256";tag="other"';
    // A canned login answer: credentials of a session issued directly, with another tag advertised.
    s.answerNext(LOGIN, { status: 200, body: await s.issue(), headers: { 'accept-signature': otherProfile } });
    const client = await loggedIn(s);
    await client.profile();
    expect(client.scheme).toBe('caa');
    expect(s.requests('GET', PROFILE).map(schemeOf)).toEqual(['caa']);
  });
});

describe("scheme 'caa' and 'caa-v2'", () => {
  it("'caa' never sends caa-v2, even when the server advertises it on login and refresh", async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s, { scheme: 'caa' });
    await client.profile();
    await client.refresh();
    await client.request('PUT', PROFILE, { action: CAA_ACTIONS.updateMyProfile, body: { name: 'Ann' } });
    await client.logout();

    expect(client.scheme).toBe('caa');
    expect(s.log.map((r) => [r.path, r.status, schemeOf(r), r.acceptSignature])).toEqual([
      [LOGIN, 200, 'none', ACCEPT_SIGNATURE],
      [PROFILE, 200, 'caa', undefined],
      [REFRESH, 200, 'caa', ACCEPT_SIGNATURE],
      [PROFILE, 200, 'caa', undefined],
      [LOGOUT, 200, 'caa', undefined],
    ]);
    expect(s.log.every((r) => r.signatureInput === undefined && r.signature === undefined && r.contentDigest === undefined)).toBe(true);
  });

  it("'caa-v2' always signs caa-v2, from the first request, on a server that never advertised it; login stays unsigned", async () => {
    const s = await server({ caaV2: 'accept' });
    const client = createCaaClient({ baseUrl: s.url, scheme: 'caa-v2' });
    expect(client.scheme).toBe('caa-v2');
    const login = await client.login(MOBILE, PASSWORD);
    await client.profile();
    const refreshed = await client.refresh();
    await client.sessions();
    await client.logout();

    expect(s.log.map((r) => [r.path, r.status, schemeOf(r), r.apiKey])).toEqual([
      [LOGIN, 200, 'none', undefined],
      [PROFILE, 200, 'caa-v2', login.apiKey],
      [REFRESH, 200, 'caa-v2', login.apiKey],
      ['/api/my/sessions', 200, 'caa-v2', refreshed.apiKey],
      [LOGOUT, 200, 'caa-v2', refreshed.apiKey],
    ]);
    expect(s.store.liveSessions()).toEqual([]);
  });

  it("'caa-v2' against a server that knows only the legacy header: 400 invalid authorization, no fallback to Authorization", async () => {
    const s = await server({ caaV2: 'off' });
    const client = createCaaClient({ baseUrl: s.url, scheme: 'caa-v2', credentials: pair(await s.issue()) });
    const err = await rejection(client.profile());
    expect(err).toMatchObject({ status: 400, message: 'invalid authorization', code: 'HTTP_ERROR', body: { message: 'invalid authorization' } });
    expect(s.log.map((r) => [r.status, r.code, schemeOf(r)])).toEqual([[400, 'INVALID_AUTHORIZATION', 'caa-v2']]);
  });
});

describe('what a caa-v2 request carries', () => {
  it('a body: Content-Digest of exactly the bytes sent (JSON serialized once, UTF-8), covered by the signature', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s);
    const payload = { name: 'Ann 🔑', note: 'ü "quoted" \\ \u2028', n: 1.5 };

    const answer = await client.request('PUT', `${PROFILE}?lang=zh-CN`, { action: CAA_ACTIONS.updateMyProfile, body: payload });

    expect(answer).toEqual({ received: payload });
    const [put] = s.requests('PUT', PROFILE);
    const sent = Buffer.from(JSON.stringify(payload), 'utf8');
    expect(put?.body.equals(sent)).toBe(true);
    expect(put).toMatchObject({ status: 200, code: undefined, authorization: undefined, contentType: 'application/json' });
    expect(put?.contentDigest).toBe(`sha-256=:${createHash('sha256').update(sent).digest('base64')}:`);
    expect(put?.signatureInput).toMatch(v2Input(client.credentials?.apiKey ?? '', true));
  });

  it('a request without a body carries no Content-Digest and does not cover it', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s);
    await client.refresh(); // a POST without a body
    const [refresh] = s.requests('POST', REFRESH);
    expect(refresh).toMatchObject({ status: 200, contentDigest: undefined, authorization: undefined });
    expect(refresh?.body.length).toBe(0);
    expect(refresh?.signatureInput).not.toContain('content-digest');
  });

  it('a new nonce for every request: 30 calls, 30 nonces, none REPLAYED (replay protection on every route)', async () => {
    const s = await server({ caaV2: 'advertise', replayProtection: true });
    const client = await loggedIn(s);
    await Promise.all(Array.from({ length: 30 }, () => client.profile()));
    const profiles = s.requests('GET', PROFILE);
    expect(profiles.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
    expect(new Set(profiles.map((r) => r.nonce)).size).toBe(30);
    expect(profiles.every((r) => /^[A-Za-z0-9_-]{24}$/.test(r.nonce ?? ''))).toBe(true);
  });

  it('drops a caller’s Authorization, Signature-Input, Signature and Content-Digest headers, in any case; keeps the others', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s);
    const sent: Headers[] = [];
    const spy: FetchLike = (input, init) => {
      sent.push(new Headers(init.headers));
      return fetch(input, init);
    };
    const spied = createCaaClient({ baseUrl: s.url, credentials: client.credentials, scheme: 'caa-v2', fetch: spy });
    await spied.request('GET', PROFILE, {
      action: CAA_ACTIONS.fetchMyProfile,
      headers: { Authorization: 'Bearer x', 'SIGNATURE-INPUT': 'x=()', signature: 'x=:AA==:', 'Content-Digest': 'sha-256=:AA==:', 'x-trace': '1' },
    });
    const [headers] = sent;
    expect(headers?.get('authorization')).toBeNull();
    expect(headers?.get('content-digest')).toBeNull();
    expect(headers?.get('signature-input')).toMatch(v2Input(client.credentials?.apiKey ?? ''));
    expect(headers?.get('signature')).toMatch(/^caa=:[A-Za-z0-9+/]{43}=:$/);
    expect(headers?.get('x-trace')).toBe('1');
    expect(s.requests('GET', PROFILE).map((r) => r.status)).toEqual([200]);
  });
});

describe('clock correction, refresh and logged-out handling under caa-v2', () => {
  it('a server clock 10 minutes ahead: refused TIMESTAMP_OUT_OF_WINDOW once, re-signed with the corrected created and a new nonce, accepted', async () => {
    const s = await server({ caaV2: 'accept', now: () => Date.now() + TEN_MINUTES });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), scheme: 'caa-v2' });

    await expect(client.profile()).resolves.toMatchObject({ _id: TEST_USER._id });

    const [first, second, ...rest] = s.requests('GET', PROFILE);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ status: 400, code: 'TIMESTAMP_OUT_OF_WINDOW', authorization: undefined });
    expect(second).toMatchObject({ status: 200, code: undefined, authorization: undefined, apiKey: issued.apiKey });
    expect(second?.nonce).not.toBe(first?.nonce);
    expect(second?.created ?? 0).toBeGreaterThanOrEqual((first?.created ?? 0) + 600 - 3);
    expect(Math.abs((second?.created ?? 0) * 1000 - s.now())).toBeLessThan(3000);
    expect(Math.abs(client.clockOffsetMs - TEN_MINUTES)).toBeLessThan(1500);

    await client.profile();
    expect(s.requests('GET', PROFILE).map((r) => r.status)).toEqual([400, 200, 200]);
  });

  it('retries only once: a signature that stays invalid after the correction is thrown (400 invalid signature)', async () => {
    const s = await server({ caaV2: 'accept', now: () => Date.now() + TEN_MINUTES });
    const issued = await s.issue();
    const client = createCaaClient({ baseUrl: s.url, credentials: { ...pair(issued), secretKey: 'd3Jvbmc=' }, scheme: 'caa-v2' });
    const err = await rejection(client.profile());
    expect(err).toMatchObject({ status: 400, message: 'invalid signature', code: 'HTTP_ERROR', body: { message: 'invalid signature' } });
    expect(s.requests('GET', PROFILE).map((r) => [r.status, r.code])).toEqual([
      [400, 'TIMESTAMP_OUT_OF_WINDOW'],
      [400, 'SIGNATURE_MISMATCH'],
    ]);
  });

  it('ten concurrent calls around expiry: exactly one refresh, signed caa-v2, and all calls sign with the new pair', async () => {
    const s = await server({ caaV2: 'advertise', refreshDelayMs: 50, loginTtlMs: 30_000 });
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = await loggedIn(s, { onCredentials });
    const first = client.credentials;

    await Promise.all(Array.from({ length: 10 }, () => client.profile()));

    const next = client.credentials;
    expect(next?.apiKey).not.toBe(first?.apiKey);
    expect(s.requests('POST', REFRESH).map((r) => [r.status, schemeOf(r), r.apiKey])).toEqual([[200, 'caa-v2', first?.apiKey]]);
    const profiles = s.requests('GET', PROFILE);
    expect(profiles.map((r) => [r.status, schemeOf(r), r.apiKey])).toEqual(Array.from({ length: 10 }, () => [200, 'caa-v2', next?.apiKey]));
    expect(onCredentials.mock.calls.map(([c]) => c?.apiKey)).toEqual([first?.apiKey, next?.apiKey]);
  });

  it('re-sends a refresh whose response was lost, re-signed with a new nonce, and gets the same successor (grace)', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s);
    const first = client.credentials;
    s.dropNextResponse(REFRESH);

    const refreshed = await client.refresh();

    const refreshes = s.requests('POST', REFRESH);
    expect(refreshes.map((r) => [r.status, schemeOf(r), r.apiKey])).toEqual([
      [200, 'caa-v2', first?.apiKey],
      [200, 'caa-v2', first?.apiKey],
    ]);
    expect(refreshes[1]?.nonce).not.toBe(refreshes[0]?.nonce);
    expect(s.store.liveSessions().map((session) => session.apiKey)).toEqual([refreshed.apiKey]);
    await expect(client.profile()).resolves.toMatchObject({ _id: TEST_USER._id });
  });

  it('re-signs, with the new pair and a new nonce, a call that was on the wire with a pair a refresh rotated away', async () => {
    const s = await server({ caaV2: 'accept' });
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
    const client = createCaaClient({ baseUrl: s.url, credentials: pair(issued), fetch: slowFetch, scheme: 'caa-v2' });

    const profile = client.profile();
    await vi.waitFor(() => expect(held).toBe(true));
    const refreshed = await client.refresh();
    releaseProfile();
    await profile;

    expect(s.requests('GET', PROFILE).map((r) => [r.status, r.code, schemeOf(r), r.apiKey])).toEqual([
      [404, 'APIKEY_NOT_FOUND', 'caa-v2', issued.apiKey],
      [200, undefined, 'caa-v2', refreshed.apiKey],
    ]);
  });

  it('a session signed out elsewhere: 404 apiKey not found is LOGGED_OUT, the credentials cleared', async () => {
    const s = await server({ caaV2: 'advertise' });
    const onCredentials = vi.fn<(credentials: CaaClientCredentials | null) => void>();
    const client = await loggedIn(s, { onCredentials });
    await s.store.revoke(client.credentials?.apiKey ?? '', Date.now());

    const err = await rejection(client.profile());

    expect(err).toMatchObject({ status: 404, message: 'apiKey not found', code: 'LOGGED_OUT', body: { message: 'apiKey not found' } });
    expect(s.requests('GET', PROFILE).map((r) => [r.status, r.code, schemeOf(r)])).toEqual([[404, 'APIKEY_NOT_FOUND', 'caa-v2']]);
    expect(client.credentials).toBeNull();
    expect(onCredentials).toHaveBeenLastCalledWith(null);
  });

  it('a refresh of a revoked session under caa-v2: LOGGED_OUT, credentials cleared', async () => {
    const s = await server({ caaV2: 'advertise' });
    const client = await loggedIn(s);
    await s.store.revoke(client.credentials?.apiKey ?? '', Date.now());
    const err = await rejection(client.refresh());
    expect(err).toMatchObject({ status: 404, message: 'apiKey not found', code: 'LOGGED_OUT' });
    expect(s.requests('POST', REFRESH).map((r) => [r.status, r.code, schemeOf(r)])).toEqual([[404, 'APIKEY_NOT_FOUND', 'caa-v2']]);
    expect(client.credentials).toBeNull();
  });
});
