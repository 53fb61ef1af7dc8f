/**
 * caa-v2 in the use cases (issue 13): the table of spec §3 row by row — exact status, message and
 * code — through authenticate, refreshToken and revokeSession, then the downgrade protection of
 * §4 (a family that verified a caa-v2 request refuses the legacy header, across rotation),
 * rotation, grace and reuse under caa-v2, the `schemes` option, and the request shapes. On
 * MemoryStore and on RedisStore (a real redis-server through ioredis, the caller's clock).
 */

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  DEFAULT_SESSION_TTL_MS,
  DEFAULT_SKEW_MS,
  MemoryUserRepository,
  authenticate,
  createCaaAuth,
  generateKey,
  issueSession,
  refreshToken,
  revokeSession,
  signCaaV2Request,
  type CaaScheme,
  type RequestLike,
  type SessionStore,
  type User,
} from '../../src/index.js';
import {
  INVALID_AUTHORIZATION,
  SIGNATURE_MISMATCH,
  TIMESTAMP_OUT_OF_WINDOW,
  expectCaaError,
  type ExpectedCaaError,
} from '../support/expect-caa-error.js';
import { T0, TestClock, makeUser } from '../support/use-case-fixtures.js';
import {
  AUTHORITY,
  LOGOUT,
  PROFILE,
  REFRESH,
  legacyRequest,
  pairOf,
  secondsOf,
  v2Request,
  withHeaderTwice,
  withSignatureInput,
  type Endpoint,
  type NodeStyleRequest,
  type Pair,
  type SendAs,
  type SignAs,
} from './caa-v2-requests.js';
import { storeKinds, type StoreKind } from './use-case-harness.js';

// MemoryStore and RedisStore through ioredis (node-redis runs the same scripts: the contract suite covers it).
const kinds = storeKinds().filter((kind) => kind.name !== 'RedisStore via node-redis');

const AMBIGUOUS_CREDENTIALS: ExpectedCaaError = { status: 400, message: 'invalid authorization', code: 'AMBIGUOUS_CREDENTIALS' };
const DIGEST_MISMATCH: ExpectedCaaError = { status: 400, message: 'invalid signature', code: 'DIGEST_MISMATCH' };
const REPLAYED: ExpectedCaaError = { status: 400, message: 'invalid signature', code: 'REPLAYED' };
const SCHEME_DOWNGRADE: ExpectedCaaError = { status: 400, message: 'invalid signature', code: 'SCHEME_DOWNGRADE' };
const APIKEY_NOT_FOUND: ExpectedCaaError = { status: 404, message: 'apiKey not found', code: 'APIKEY_NOT_FOUND' };
const SESSION_EXPIRED: ExpectedCaaError = { status: 404, message: 'apiKey not found', code: 'SESSION_EXPIRED' };
const TOKEN_REUSED: ExpectedCaaError = { status: 404, message: 'apiKey not found', code: 'TOKEN_REUSED' };

/** Expects `promise` to reject with exactly this CaaError. */
function refused(promise: Promise<unknown>, expected: ExpectedCaaError): Promise<unknown> {
  return expectCaaError(promise, expected.status, expected.message, expected.code);
}

/** Options every use case here takes (the scheme options, replay, grace, the window). */
interface Options {
  readonly schemes?: readonly CaaScheme[];
  readonly authority?: string;
  readonly replayProtection?: boolean;
  readonly graceMs?: number;
}

/** One store, one user, one clock: logins, and the three use cases on that clock. */
class Scene {
  readonly clock = new TestClock();
  readonly user = makeUser('user-1');
  readonly users = new MemoryUserRepository<User>([this.user]);

  constructor(readonly store: SessionStore) {}

  async login(): Promise<Pair> {
    return pairOf(await issueSession(this.store, this.user, { now: this.clock.now }));
  }

  authenticate(req: RequestLike, options: Options = {}): Promise<unknown> {
    return authenticate(this.store, req, CAA_ACTIONS.fetchMyProfile, { now: this.clock.now, ...options });
  }

  refresh(req: RequestLike, options: Options = {}): Promise<Pair> {
    return refreshToken(this.store, this.users, req, { now: this.clock.now, ...options }).then(pairOf);
  }

  revoke(req: RequestLike, options: Options = {}): Promise<unknown> {
    return revokeSession(this.store, req, { now: this.clock.now, ...options });
  }

  /** A caa-v2 request for `endpoint` signed with `pair` now. */
  v2(pair: Pair, endpoint: Endpoint, sign: SignAs = {}, send: SendAs = {}): NodeStyleRequest {
    return v2Request(pair, endpoint, this.clock.t, sign, send);
  }

  /** A legacy request for `endpoint` signed with `pair` now (a unique timestamp). */
  legacy(pair: Pair, endpoint: Endpoint): NodeStyleRequest {
    return legacyRequest(pair, endpoint, this.clock.stamp());
  }

  /** Expects the legacy header of `pair` to work (the family was neither revoked nor marked). */
  async expectLegacyWorks(pair: Pair): Promise<void> {
    await expect(this.authenticate(this.legacy(pair, PROFILE))).resolves.toMatchObject({ apiKey: pair.apiKey, userId: 'user-1' });
  }
}

/** A use case and the endpoint its requests go to. */
interface UseCase {
  readonly name: string;
  readonly endpoint: Endpoint;
  run(scene: Scene, req: RequestLike, options?: Options): Promise<unknown>;
}

const USE_CASES: readonly UseCase[] = [
  { name: 'authenticate', endpoint: PROFILE, run: (scene, req, options) => scene.authenticate(req, options) },
  { name: 'refreshToken', endpoint: REFRESH, run: (scene, req, options) => scene.refresh(req, options) },
  { name: 'revokeSession', endpoint: LOGOUT, run: (scene, req, options) => scene.revoke(req, options) },
];

/** What a row of the table builds its request from. */
interface RowScene {
  readonly scene: Scene;
  readonly clock: TestClock;
  readonly pair: Pair;
  /** Another live session of the same user. */
  readonly other: Pair;
  readonly endpoint: Endpoint;
  /** A caa-v2 request to the use case's endpoint, signed with the session's pair now. */
  sign(sign?: SignAs, send?: SendAs): NodeStyleRequest;
}

interface Row {
  readonly name: string;
  readonly expected: ExpectedCaaError;
  readonly request: (s: RowScene) => NodeStyleRequest | Promise<NodeStyleRequest>;
  /** False for a row whose setup ends the session (expired, logged out). */
  readonly intact?: boolean;
}

const START_S = secondsOf(T0);
const SKEW = DEFAULT_SKEW_MS;
const OTHER_NONCE = 'b3RoZXItbm9uY2UtZm9yLXRlc3Rz';

const replaceInput = (pattern: RegExp | string, by: string) => (s: RowScene) =>
  withSignatureInput(s.sign(), (value) => {
    const edited = value.replace(pattern, by);
    if (edited === value) throw new Error(`the test's edit of ${value} changed nothing`);
    return edited;
  });

/** Spec §3, one row per way to fail each check, in its order; then requests failing two checks at once. */
const TABLE: readonly (readonly [check: string, rows: readonly Row[]])[] = [
  [
    'Signature-Input/Signature parse, label caa in both, parameters as in §1',
    [
      { name: 'Signature-Input that is not a dictionary', expected: INVALID_AUTHORIZATION, request: replaceInput(/^caa=\(/, 'caa=((') },
      { name: 'Signature that is not a dictionary', expected: INVALID_AUTHORIZATION, request: (s) => s.sign({}, { headers: { signature: 'caa=:not base64!:' } }) },
      { name: 'no Signature-Input', expected: INVALID_AUTHORIZATION, request: (s) => s.sign({}, { headers: { 'signature-input': undefined } }) },
      { name: 'no Signature', expected: INVALID_AUTHORIZATION, request: (s) => s.sign({}, { headers: { signature: undefined } }) },
      { name: 'Signature-Input without the caa label', expected: INVALID_AUTHORIZATION, request: replaceInput(/^caa=/, 'sig1=') },
      {
        name: 'Signature without the caa label',
        expected: INVALID_AUTHORIZATION,
        request: (s) => {
          const req = s.sign();
          return { ...req, headers: { ...req.headers, signature: (req.headers.signature ?? '').replace(/^caa=/, 'sig1=') } };
        },
      },
      {
        name: 'the caa label twice in Signature-Input',
        expected: INVALID_AUTHORIZATION,
        request: (s) => withSignatureInput(s.sign(), (value) => `${value}, ${value}`),
      },
      { name: '@query not covered', expected: INVALID_AUTHORIZATION, request: replaceInput(' "@query"', '') },
      { name: '@authority not covered', expected: INVALID_AUTHORIZATION, request: replaceInput(' "@authority"', '') },
      { name: 'alg other than hmac-sha256', expected: INVALID_AUTHORIZATION, request: replaceInput('alg="hmac-sha256"', 'alg="hmac-sha512"') },
      { name: 'tag other than caa-v2', expected: INVALID_AUTHORIZATION, request: replaceInput('tag="caa-v2"', 'tag="caa-v1"') },
      { name: 'no created', expected: INVALID_AUTHORIZATION, request: replaceInput(/;created=\d+/, '') },
      { name: 'created as a string', expected: INVALID_AUTHORIZATION, request: replaceInput(/created=(\d+)/, 'created="$1"') },
      { name: 'no nonce', expected: INVALID_AUTHORIZATION, request: replaceInput(/;nonce="[^"]*"/, '') },
      { name: 'a nonce of 15 characters', expected: INVALID_AUTHORIZATION, request: replaceInput(/nonce="[^"]*"/, `nonce="${'A'.repeat(15)}"`) },
      { name: 'no keyid', expected: INVALID_AUTHORIZATION, request: replaceInput(/;keyid="[^"]*"/, '') },
      { name: 'an unknown parameter', expected: INVALID_AUTHORIZATION, request: replaceInput(/$/, ';context="x"') },
      {
        name: 'a signature of 31 bytes',
        expected: INVALID_AUTHORIZATION,
        request: (s) => s.sign({}, { headers: { signature: `caa=:${Buffer.alloc(31, 1).toString('base64')}:` } }),
      },
    ],
  ],
  [
    'not both schemes at once',
    [
      {
        name: 'a valid caa signature and a valid Authorization: Caa header',
        expected: AMBIGUOUS_CREDENTIALS,
        request: (s) => s.sign({}, { headers: { authorization: legacyRequest(s.pair, s.endpoint, s.clock.stamp()).headers.authorization } }),
      },
      {
        name: 'a valid caa signature and the Authorization: Caa header on two lines',
        expected: AMBIGUOUS_CREDENTIALS,
        request: (s) => withHeaderTwice(s.sign(), 'authorization', legacyRequest(s.pair, s.endpoint, s.clock.stamp()).headers.authorization ?? ''),
      },
    ],
  ],
  [
    '|now − created·1000| ≤ skewMs, now ≤ expires·1000',
    [
      {
        name: 'created skew + 1 ms in the past',
        expected: TIMESTAMP_OUT_OF_WINDOW,
        request: (s) => {
          s.clock.t = START_S * 1000 + SKEW + 1;
          return s.sign({ created: START_S });
        },
      },
      {
        name: 'created skew + 1 ms in the future',
        expected: TIMESTAMP_OUT_OF_WINDOW,
        request: (s) => {
          s.clock.t = T0 + 999; // created (START_S + 301) s is 300 001 ms ahead
          return s.sign({ created: START_S + 301 });
        },
      },
      {
        name: '1 ms past expires',
        expected: TIMESTAMP_OUT_OF_WINDOW,
        request: (s) => {
          s.clock.t = (START_S + 10) * 1000 + 1;
          return s.sign({ created: START_S, expires: START_S + 10 });
        },
      },
      {
        name: 'expires before created',
        expected: TIMESTAMP_OUT_OF_WINDOW,
        request: (s) => s.sign({ created: START_S, expires: START_S - 1 }),
      },
    ],
  ],
  [
    'a session for keyid',
    [
      {
        name: 'an unknown keyid',
        expected: APIKEY_NOT_FOUND,
        request: (s) => s.sign({ keyid: generateKey(), secretKey: generateKey() }),
      },
      {
        name: 'an expired session',
        expected: SESSION_EXPIRED,
        intact: false,
        request: (s) => {
          s.clock.advance(DEFAULT_SESSION_TTL_MS);
          return s.sign();
        },
      },
      {
        name: 'a logged-out session',
        expected: APIKEY_NOT_FOUND,
        intact: false,
        request: async (s) => {
          await s.scene.revoke(s.scene.legacy(s.pair, LOGOUT));
          return s.sign();
        },
      },
    ],
  ],
  [
    'a body has content-digest covered, and it matches',
    [
      { name: 'a body without content-digest covered', expected: DIGEST_MISMATCH, request: (s) => s.sign({}, { body: '{}' }) },
      {
        name: 'a chunked body without content-digest covered',
        expected: DIGEST_MISMATCH,
        request: (s) => s.sign({}, { body: '{}', headers: { 'content-length': undefined, 'transfer-encoding': 'chunked' } }),
      },
      { name: 'the digest of another body', expected: DIGEST_MISMATCH, request: (s) => s.sign({ body: '{"name":"Ann"}' }, { body: '{"name":"Bob"}' }) },
      {
        name: 'content-digest covered but not sent',
        expected: DIGEST_MISMATCH,
        request: (s) => s.sign({ body: '{}' }, { headers: { 'content-digest': undefined } }),
      },
      {
        name: 'a content-digest with no sha-256 member',
        expected: DIGEST_MISMATCH,
        request: (s) => s.sign({ body: '{}' }, { headers: { 'content-digest': `sha-512=:${Buffer.alloc(64).toString('base64')}:` } }),
      },
    ],
  ],
  [
    'the HMAC matches',
    [
      { name: 'signed with another session’s key', expected: SIGNATURE_MISMATCH, request: (s) => s.sign({ secretKey: s.other.secretKey }) },
      { name: 'sent to another path', expected: SIGNATURE_MISMATCH, request: (s) => s.sign({}, { target: `${s.endpoint.path}/x` }) },
      { name: 'sent with another query', expected: SIGNATURE_MISMATCH, request: (s) => s.sign({ target: `${s.endpoint.path}?lang=zh-CN` }, { target: `${s.endpoint.path}?lang=en` }) },
      { name: 'sent with a query added', expected: SIGNATURE_MISMATCH, request: (s) => s.sign({}, { target: `${s.endpoint.path}?admin=1` }) },
      { name: 'sent with another method', expected: SIGNATURE_MISMATCH, request: (s) => s.sign({}, { method: 'PATCH' }) },
      { name: 'sent to another authority', expected: SIGNATURE_MISMATCH, request: (s) => s.sign({}, { host: 'evil.example' }) },
      { name: 'its nonce changed after signing', expected: SIGNATURE_MISMATCH, request: replaceInput(/nonce="[^"]*"/, `nonce="${OTHER_NONCE}"`) },
      { name: 'its created changed after signing', expected: SIGNATURE_MISMATCH, request: replaceInput(`created=${START_S}`, `created=${START_S - 1}`) },
      {
        name: 'the signature of another request',
        expected: SIGNATURE_MISMATCH,
        request: (s) => {
          const other = s.sign({ target: '/api/my/sessions' });
          return s.sign({}, { headers: { signature: other.headers.signature } });
        },
      },
    ],
  ],
  [
    'the order of the checks (a request failing two)',
    [
      {
        name: 'an unparsable Signature-Input beside an Authorization header',
        expected: INVALID_AUTHORIZATION,
        request: (s) =>
          s.sign({}, { headers: { 'signature-input': 'caa=((', authorization: legacyRequest(s.pair, s.endpoint, s.clock.stamp()).headers.authorization } }),
      },
      {
        name: 'both schemes, out of the window',
        expected: AMBIGUOUS_CREDENTIALS,
        request: (s) => s.sign({ created: START_S - 3600 }, { headers: { authorization: legacyRequest(s.pair, s.endpoint, s.clock.stamp()).headers.authorization } }),
      },
      {
        name: 'out of the window, an unknown keyid',
        expected: TIMESTAMP_OUT_OF_WINDOW,
        request: (s) => s.sign({ created: START_S - 3600, keyid: generateKey(), secretKey: generateKey() }),
      },
      {
        name: 'out of the window, a wrong digest',
        expected: TIMESTAMP_OUT_OF_WINDOW,
        request: (s) => s.sign({ created: START_S - 3600, body: '{"a":1}' }, { body: '{"a":2}' }),
      },
      {
        name: 'an unknown keyid, a wrong digest',
        expected: APIKEY_NOT_FOUND,
        request: (s) => s.sign({ keyid: generateKey(), secretKey: generateKey(), body: '{"a":1}' }, { body: '{"a":2}' }),
      },
      {
        name: 'an expired session, another session’s key',
        expected: SESSION_EXPIRED,
        intact: false,
        request: (s) => {
          s.clock.advance(DEFAULT_SESSION_TTL_MS);
          return s.sign({ secretKey: s.other.secretKey });
        },
      },
      {
        name: 'a wrong digest, another session’s key',
        expected: DIGEST_MISMATCH,
        request: (s) => s.sign({ secretKey: s.other.secretKey, body: '{"a":1}' }, { body: '{"a":2}' }),
      },
    ],
  ],
];

describe.each(kinds)('caa-v2 on $name', (kind: StoreKind) => {
  const scene = async (): Promise<Scene> => new Scene(await kind.open());

  describe.each(USE_CASES)('spec §3, row by row, through $name', (useCase) => {
    describe.each(TABLE)('%s', (_check, rows) => {
      for (const row of rows) {
        const { status, message, code } = row.expected;
        const title = `refuses ${row.name}: ${status} ${message} ${code}${row.intact === false ? '' : ', and writes nothing'}`;
        it(title, async () => {
          const s = await scene();
          const pair = await s.login();
          const other = await s.login();
          const req = await row.request({
            scene: s,
            clock: s.clock,
            pair,
            other,
            endpoint: useCase.endpoint,
            sign: (sign, send) => s.v2(pair, useCase.endpoint, sign, send),
          });
          await refused(useCase.run(s, req), row.expected);
          // Nothing was written: not revoked, not rotated, and not marked caa-v2 (the legacy header still works).
          if (row.intact !== false) await s.expectLegacyWorks(pair);
        });
      }
    });

    it('accepts a request signed as the profile says (and ignores other labels)', async () => {
      const s = await scene();
      const pair = await s.login();
      const req = s.v2(pair, useCase.endpoint);
      const extra = {
        ...req,
        headers: {
          ...req.headers,
          'signature-input': `sig1=("@method");created=1;keyid="x", ${req.headers['signature-input']}`,
          signature: `sig1=:${Buffer.alloc(64).toString('base64')}:, ${req.headers.signature}`,
        },
      };
      await expect(useCase.run(s, extra)).resolves.toBeDefined();
    });

    it('accepts created exactly skewMs in the past and in the future (edges included)', async () => {
      const s = await scene();
      let pair = await s.login();
      const at = async (now: number, created: number): Promise<void> => {
        s.clock.t = now;
        const result = await useCase.run(s, s.v2(pair, useCase.endpoint, { created }));
        if (useCase.name === 'refreshToken') pair = result as Pair;
        if (useCase.name === 'revokeSession') pair = await s.login();
      };
      await at(T0 + 1000, START_S + 1 + SKEW / 1000);
      await at(START_S * 1000 + SKEW, START_S);
    });

    it('accepts a request at exactly its expires', async () => {
      const s = await scene();
      const pair = await s.login();
      s.clock.t = (START_S + 10) * 1000;
      await expect(useCase.run(s, s.v2(pair, useCase.endpoint, { created: START_S, expires: START_S + 10 }))).resolves.toBeDefined();
    });

    it('accepts a JSON body with its Content-Digest, and an empty body without one', async () => {
      const s = await scene();
      const pair = await s.login();
      const withBody = await useCase.run(s, s.v2(pair, useCase.endpoint, { body: '{"name":"PeckZeg892"}' }));
      const next = useCase.name === 'refreshToken' ? (withBody as Pair) : useCase.name === 'revokeSession' ? await s.login() : pair;
      // Content-Length: 0, as the original clients post a refresh: no digest needed.
      await expect(useCase.run(s, s.v2(next, useCase.endpoint, {}, { body: '' }))).resolves.toBeDefined();
    });

    it('refuses a caa-v2 request when schemes is [\'caa\'] (INVALID_AUTHORIZATION), and takes the legacy header', async () => {
      const s = await scene();
      const pair = await s.login();
      await refused(useCase.run(s, s.v2(pair, useCase.endpoint), { schemes: ['caa'] }), INVALID_AUTHORIZATION);
      await expect(useCase.run(s, s.legacy(pair, useCase.endpoint), { schemes: ['caa'] })).resolves.toBeDefined();
    });

    it('refuses the legacy header when schemes is [\'caa-v2\'] (INVALID_AUTHORIZATION), and takes caa-v2', async () => {
      const s = await scene();
      const pair = await s.login();
      await refused(useCase.run(s, s.legacy(pair, useCase.endpoint), { schemes: ['caa-v2'] }), INVALID_AUTHORIZATION);
      await expect(useCase.run(s, s.v2(pair, useCase.endpoint), { schemes: ['caa-v2'] })).resolves.toBeDefined();
    });
  });

  describe('replay: (keyid, nonce) seen within the window', () => {
    it('refuses the same refresh request twice: REPLAYED', async () => {
      const s = await scene();
      const pair = await s.login();
      const req = s.v2(pair, REFRESH);
      const next = await s.refresh(req);
      await refused(s.refresh(req), REPLAYED);
      // The replay handed out nothing: the successor is still the family's, unused.
      await expect(s.authenticate(s.v2(next, PROFILE))).resolves.toMatchObject({ apiKey: next.apiKey });
    });

    it('keys the marker on keyid and nonce, not on the signature: the same nonce signed again is REPLAYED', async () => {
      const s = await scene();
      const pair = await s.login();
      await s.refresh(s.v2(pair, REFRESH, { nonce: OTHER_NONCE }));
      s.clock.advance(1_000);
      const again = s.v2(pair, REFRESH, { nonce: OTHER_NONCE }); // another created: another signature
      await refused(s.refresh(again), REPLAYED);
    });

    it('takes the same nonce from another session', async () => {
      const s = await scene();
      const a = await s.login();
      const b = await s.login();
      await s.refresh(s.v2(a, REFRESH, { nonce: OTHER_NONCE }));
      await expect(s.refresh(s.v2(b, REFRESH, { nonce: OTHER_NONCE }))).resolves.toBeDefined();
    });

    it('lets authenticate take the same request twice by default, and refuses it with replayProtection', async () => {
      const s = await scene();
      const pair = await s.login();
      const req = s.v2(pair, PROFILE);
      await s.authenticate(req);
      await expect(s.authenticate(req)).resolves.toMatchObject({ apiKey: pair.apiKey });
      const write = s.v2(pair, PROFILE);
      await s.authenticate(write, { replayProtection: true });
      await refused(s.authenticate(write, { replayProtection: true }), REPLAYED);
    });

    it('checks the signature before the nonce: a forgery with a seen nonce is SIGNATURE_MISMATCH', async () => {
      const s = await scene();
      const pair = await s.login();
      const other = await s.login();
      await s.authenticate(s.v2(pair, PROFILE, { nonce: OTHER_NONCE }), { replayProtection: true });
      const forged = s.v2(pair, PROFILE, { nonce: OTHER_NONCE, secretKey: other.secretKey });
      await refused(s.authenticate(forged, { replayProtection: true }), SIGNATURE_MISMATCH);
    });
  });

  describe('spec §4: a family that verified a caa-v2 request refuses the legacy header', () => {
    const legacyRefused = async (s: Scene, pair: Pair): Promise<void> => {
      await refused(s.authenticate(s.legacy(pair, PROFILE)), SCHEME_DOWNGRADE);
      await refused(s.refresh(s.legacy(pair, REFRESH)), SCHEME_DOWNGRADE);
      await refused(s.revoke(s.legacy(pair, LOGOUT)), SCHEME_DOWNGRADE);
    };

    it('after a caa-v2 authenticate: SCHEME_DOWNGRADE on authenticate, refresh and logout; caa-v2 still works', async () => {
      const s = await scene();
      const pair = await s.login();
      await s.expectLegacyWorks(pair);
      await s.authenticate(s.v2(pair, PROFILE));
      await legacyRefused(s, pair);
      // The refused logout revoked nothing, the refused refresh rotated nothing.
      await expect(s.authenticate(s.v2(pair, PROFILE))).resolves.toMatchObject({ apiKey: pair.apiKey });
    });

    it('after a caa-v2 refresh alone: the successor refuses the legacy header, and so does the old pair within grace', async () => {
      const s = await scene();
      const pair = await s.login();
      const next = await s.refresh(s.v2(pair, REFRESH));
      await refused(s.refresh(s.legacy(pair, REFRESH)), SCHEME_DOWNGRADE);
      await legacyRefused(s, next);
    });

    it('across rotation: every successor refuses the legacy header', async () => {
      const s = await scene();
      let pair = await s.login();
      await s.authenticate(s.v2(pair, PROFILE));
      for (let i = 0; i < 3; i++) {
        s.clock.advance(60_000);
        pair = await s.refresh(s.v2(pair, REFRESH));
        await legacyRefused(s, pair);
      }
      await expect(s.revoke(s.v2(pair, LOGOUT))).resolves.toMatchObject({ apiKey: pair.apiKey });
    });

    it('after a caa-v2 retry within grace: the successor handed out again refuses the legacy header', async () => {
      const s = await scene();
      const pair = await s.login();
      const next = await s.refresh(s.legacy(pair, REFRESH));
      s.clock.advance(1_000);
      await expect(s.refresh(s.v2(pair, REFRESH))).resolves.toStrictEqual(next);
      await legacyRefused(s, next);
    });

    it('answers a forged legacy header on a marked family SIGNATURE_MISMATCH, not SCHEME_DOWNGRADE', async () => {
      const s = await scene();
      const pair = await s.login();
      const other = await s.login();
      await s.authenticate(s.v2(pair, PROFILE));
      const forged = s.legacy({ apiKey: pair.apiKey, secretKey: other.secretKey }, PROFILE);
      await refused(s.authenticate(forged), SIGNATURE_MISMATCH);
    });

    it('leaves a family that never used caa-v2 on the legacy header, beside one of the same user that moved', async () => {
      const s = await scene();
      let phone = await s.login();
      let laptop = await s.login();
      await s.authenticate(s.v2(laptop, PROFILE));
      for (let i = 0; i < 3; i++) {
        s.clock.advance(60_000);
        await s.expectLegacyWorks(phone);
        phone = await s.refresh(s.legacy(phone, REFRESH));
        laptop = await s.refresh(s.v2(laptop, REFRESH));
      }
      await s.expectLegacyWorks(phone);
      await refused(s.authenticate(s.legacy(laptop, PROFILE)), SCHEME_DOWNGRADE);
      await expect(s.revoke(s.legacy(phone, LOGOUT))).resolves.toMatchObject({ apiKey: phone.apiKey });
      await expect(s.revoke(s.v2(laptop, LOGOUT))).resolves.toMatchObject({ apiKey: laptop.apiKey });
    });

    it('is not set by a refused caa-v2 request (a forgery cannot lock a legacy client out)', async () => {
      const s = await scene();
      const pair = await s.login();
      const other = await s.login();
      for (const { endpoint, run } of USE_CASES) {
        await refused(run(s, s.v2(pair, endpoint, { secretKey: other.secretKey })), SIGNATURE_MISMATCH);
        await refused(run(s, s.v2(pair, endpoint, { body: '{"a":1}' }, { body: '{"a":2}' })), DIGEST_MISMATCH);
      }
      await s.expectLegacyWorks(pair);
    });
  });

  describe('rotation, grace and reuse under caa-v2', () => {
    it('answers a refresh retried with the old pair within grace with the same successor', async () => {
      const s = await scene();
      const pair = await s.login();
      const next = await s.refresh(s.v2(pair, REFRESH));
      s.clock.advance(DEFAULT_GRACE_MS);
      await expect(s.refresh(s.v2(pair, REFRESH))).resolves.toStrictEqual(next);
      await expect(s.authenticate(s.v2(next, PROFILE))).resolves.toMatchObject({ apiKey: next.apiKey });
    });

    it('refuses the old pair after grace with TOKEN_REUSED and revokes the family', async () => {
      const s = await scene();
      const pair = await s.login();
      const next = await s.refresh(s.v2(pair, REFRESH));
      s.clock.advance(DEFAULT_GRACE_MS + 1_000);
      await refused(s.refresh(s.v2(pair, REFRESH)), TOKEN_REUSED);
      await refused(s.authenticate(s.v2(next, PROFILE)), APIKEY_NOT_FOUND);
    });

    it('refuses the old pair once the successor was used (TOKEN_REUSED), within grace too', async () => {
      const s = await scene();
      const pair = await s.login();
      const next = await s.refresh(s.v2(pair, REFRESH));
      s.clock.advance(3_000); // past the rotation tolerance, within grace
      await s.authenticate(s.v2(next, PROFILE));
      await refused(s.refresh(s.v2(pair, REFRESH)), TOKEN_REUSED);
      await refused(s.authenticate(s.v2(next, PROFILE)), APIKEY_NOT_FOUND);
    });

    it('refuses a request signed before the rotation and delivered after grace with APIKEY_NOT_FOUND, revoking nothing', async () => {
      const s = await scene();
      const pair = await s.login();
      const inFlight = s.v2(pair, PROFILE); // created = the login's second
      s.clock.advance(5_000);
      const next = await s.refresh(s.v2(pair, REFRESH));
      s.clock.advance(DEFAULT_GRACE_MS + 1_000);
      await refused(s.authenticate(inFlight), APIKEY_NOT_FOUND);
      await expect(s.authenticate(s.v2(next, PROFILE))).resolves.toMatchObject({ apiKey: next.apiKey });
    });
  });

  describe('createCaaAuth: schemes', () => {
    const configured = async (schemes?: readonly CaaScheme[]) => {
      const s = await scene();
      const auth = createCaaAuth<User>({ store: s.store, users: s.users, now: s.clock.now, ...(schemes === undefined ? {} : { schemes }) });
      return { s, auth, pair: await s.login() };
    };

    it('accepts both by default', async () => {
      const { s, auth, pair } = await configured();
      expect(auth.schemes).toStrictEqual(['caa', 'caa-v2']);
      const other = await s.login();
      await expect(auth.authenticate(s.legacy(other, PROFILE), CAA_ACTIONS.fetchMyProfile)).resolves.toMatchObject({ apiKey: other.apiKey });
      await expect(auth.authenticate(s.v2(pair, PROFILE), CAA_ACTIONS.fetchMyProfile)).resolves.toMatchObject({ apiKey: pair.apiKey });
    });

    it("with ['caa']: caa-v2 is INVALID_AUTHORIZATION on authenticate, refresh and logout, and marks nothing", async () => {
      const { s, auth, pair } = await configured(['caa']);
      await refused(auth.authenticate(s.v2(pair, PROFILE), CAA_ACTIONS.fetchMyProfile), INVALID_AUTHORIZATION);
      await refused(auth.refreshToken(s.v2(pair, REFRESH)), INVALID_AUTHORIZATION);
      await refused(auth.revokeSession(s.v2(pair, LOGOUT)), INVALID_AUTHORIZATION);
      await expect(auth.authenticate(s.legacy(pair, PROFILE), CAA_ACTIONS.fetchMyProfile)).resolves.toMatchObject({ apiKey: pair.apiKey });
    });

    it("with ['caa-v2']: the legacy header is INVALID_AUTHORIZATION on authenticate, refresh and logout", async () => {
      const { s, auth, pair } = await configured(['caa-v2']);
      await refused(auth.authenticate(s.legacy(pair, PROFILE), CAA_ACTIONS.fetchMyProfile), INVALID_AUTHORIZATION);
      await refused(auth.refreshToken(s.legacy(pair, REFRESH)), INVALID_AUTHORIZATION);
      await refused(auth.revokeSession(s.legacy(pair, LOGOUT)), INVALID_AUTHORIZATION);
      const next = pairOf(await auth.refreshToken(s.v2(pair, REFRESH)));
      await expect(auth.revokeSession(s.v2(next, LOGOUT))).resolves.toMatchObject({ apiKey: next.apiKey });
    });

    it("after a rollback to ['caa'], a family that moved can sign nothing until a new login (as the README warns)", async () => {
      const { s, auth, pair } = await configured();
      await auth.authenticate(s.v2(pair, PROFILE), CAA_ACTIONS.fetchMyProfile);
      const rolledBack = createCaaAuth<User>({ store: s.store, users: s.users, now: s.clock.now, schemes: ['caa'] });
      await refused(rolledBack.authenticate(s.legacy(pair, PROFILE), CAA_ACTIONS.fetchMyProfile), SCHEME_DOWNGRADE);
      await refused(rolledBack.authenticate(s.v2(pair, PROFILE), CAA_ACTIONS.fetchMyProfile), INVALID_AUTHORIZATION);
      const again = await s.login();
      await expect(rolledBack.authenticate(s.legacy(again, PROFILE), CAA_ACTIONS.fetchMyProfile)).resolves.toMatchObject({ apiKey: again.apiKey });
    });
  });

  describe('request shapes', () => {
    it('verifies a Fetch Request with a body, and leaves its body readable', async () => {
      const s = await scene();
      const pair = await s.login();
      const url = `https://${AUTHORITY}/api/my/refresh-token?lang=zh-CN`;
      const body = '{}';
      const signed = signCaaV2Request({ method: 'POST', url, body, apiKey: pair.apiKey, secretKey: pair.secretKey, created: secondsOf(s.clock.t) });
      const req = new Request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...signed } });
      await expect(s.refresh(req)).resolves.toHaveProperty('apiKey');
      await expect(req.text()).resolves.toBe(body);
    });

    it('refuses a Fetch Request whose body is not the one signed: DIGEST_MISMATCH', async () => {
      const s = await scene();
      const pair = await s.login();
      const url = `https://${AUTHORITY}/api/my/refresh-token`;
      const signed = signCaaV2Request({ method: 'POST', url, body: '{"a":1}', apiKey: pair.apiKey, secretKey: pair.secretKey, created: secondsOf(s.clock.t) });
      const req = new Request(url, { method: 'POST', body: '{"a":2}', headers: { 'content-type': 'application/json', ...signed } });
      await refused(s.refresh(req), DIGEST_MISMATCH);
    });

    it('reads the target from originalUrl before url (an Express router rewrites url)', async () => {
      const s = await scene();
      const pair = await s.login();
      const req = s.v2(pair, PROFILE);
      await expect(s.authenticate({ ...req, originalUrl: req.url, url: '/' })).resolves.toMatchObject({ apiKey: pair.apiKey });
    });

    it('behind a proxy that rewrites Host: SIGNATURE_MISMATCH, verified with the authority option', async () => {
      const s = await scene();
      const pair = await s.login();
      const proxied = (): NodeStyleRequest => s.v2(pair, PROFILE, {}, { host: '10.0.0.7:3003' });
      await refused(s.authenticate(proxied()), SIGNATURE_MISMATCH);
      await expect(s.authenticate(proxied(), { authority: AUTHORITY })).resolves.toMatchObject({ apiKey: pair.apiKey });
    });

    it('treats a body without its raw bytes as a setup error (a TypeError naming rawBody), not as the client’s fault', async () => {
      const s = await scene();
      const pair = await s.login();
      const { rawBody: _dropped, ...req } = s.v2(pair, REFRESH, { body: '{}' });
      await expect(s.refresh(req)).rejects.toThrow(TypeError);
      await expect(s.refresh(s.v2(pair, REFRESH, { body: '{}' }, { headers: {} }))).resolves.toHaveProperty('apiKey');
    });
  });
});
