/**
 * Every error path of spec §5 through refreshToken, authenticate and revokeSession (MemoryStore),
 * each with its exact status, wire message and code; what the error body may carry; the request
 * shapes the use cases read the header from; and store faults as 503.
 */

import { Buffer } from 'node:buffer';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  CaaError,
  DEFAULT_GRACE_MS,
  MemoryStore,
  MemoryUserRepository,
  authenticate,
  computeSignature,
  formatCaaHeader,
  generateKey,
  issueSession,
  listSessions,
  refreshToken,
  revokeSession,
  revokeUserSession,
  revokeUserSessions,
  signCaaHeader,
  type CaaErrorCode,
  type CaaMessage,
  type CredentialsResponse,
  type RequestLike,
  type SessionStore,
  type User,
  type UserRepository,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { TestClock, makeUser, signedRequest, type Pair } from '../support/use-case-fixtures.js';

let store: MemoryStore;
let users: MemoryUserRepository;
let user: User;
let clock: TestClock;

beforeEach(() => {
  store = new MemoryStore();
  user = makeUser('59573c395c2960da1aa83a08');
  users = new MemoryUserRepository([user]);
  clock = new TestClock();
});

const login = (): Promise<CredentialsResponse> => issueSession(store, user, { now: clock.now });

/** Credentials of a header value built by hand. */
function header(inner: string): string {
  return `Caa ${Buffer.from(inner, 'latin1').toString('base64')}`;
}

function request(authorization: string): { headers: { authorization: string } } {
  return { headers: { authorization } };
}

interface Endpoint {
  readonly name: 'refreshToken' | 'authenticate' | 'revokeSession';
  /** The action the endpoint signs with. */
  readonly action: string;
  call(req: RequestLike, options?: { replayProtection?: boolean }): Promise<unknown>;
}

const ENDPOINTS: readonly Endpoint[] = [
  {
    name: 'refreshToken',
    action: CAA_ACTIONS.refreshToken,
    call: (req, options = {}) => refreshToken(store, users, req, { now: clock.now, ...options }),
  },
  {
    name: 'authenticate',
    action: CAA_ACTIONS.fetchMyProfile,
    call: (req, options = {}) => authenticate(store, req, CAA_ACTIONS.fetchMyProfile, { now: clock.now, ...options }),
  },
  {
    name: 'revokeSession',
    action: CAA_ACTIONS.logout,
    call: (req, options = {}) => revokeSession(store, req, { now: clock.now, ...options }),
  },
];

const INVALID_AUTHORIZATION = [400, 'invalid authorization', 'INVALID_AUTHORIZATION'] as const;
const SIGNATURE_MISMATCH = [400, 'invalid signature', 'SIGNATURE_MISMATCH'] as const;
const TIMESTAMP_OUT_OF_WINDOW = [400, 'invalid signature', 'TIMESTAMP_OUT_OF_WINDOW'] as const;
const REPLAYED = [400, 'invalid signature', 'REPLAYED'] as const;
const APIKEY_NOT_FOUND = [404, 'apiKey not found', 'APIKEY_NOT_FOUND'] as const;
const SESSION_EXPIRED = [404, 'apiKey not found', 'SESSION_EXPIRED'] as const;
const TOKEN_REUSED = [404, 'apiKey not found', 'TOKEN_REUSED'] as const;
const USER_NOT_FOUND = [404, 'user not found', 'USER_NOT_FOUND'] as const;
const STORE_UNAVAILABLE = [503, 'service unavailable', 'STORE_UNAVAILABLE'] as const;
// The caa-v2 profile's codes (issue 13): not reachable through the v1 endpoints tested here.
const AMBIGUOUS_CREDENTIALS = [400, 'invalid authorization', 'AMBIGUOUS_CREDENTIALS'] as const;
const DIGEST_MISMATCH = [400, 'invalid signature', 'DIGEST_MISMATCH'] as const;
const SCHEME_DOWNGRADE = [400, 'invalid signature', 'SCHEME_DOWNGRADE'] as const;

type Expected = readonly [number, CaaMessage, CaaErrorCode];

/** Asserts the rejection and that nothing of the credentials shows in the error. */
async function expectRejection(promise: Promise<unknown>, expected: Expected, secrets: readonly string[] = []): Promise<CaaError> {
  const err = await expectCaaError(promise, ...expected);
  const exposed = [err.message, JSON.stringify(err), String(err), JSON.stringify(Object.entries(err))];
  for (const secret of secrets) for (const text of exposed) expect(text).not.toContain(secret);
  return err;
}

for (const endpoint of ENDPOINTS) {
  describe(`${endpoint.name}: errors of spec §5`, () => {
    const signed = (pair: Pair, timestamp = clock.stamp(), action = endpoint.action) =>
      signedRequest(pair, action, timestamp);

    describe('400 invalid authorization', () => {
      it('rejects a request without an Authorization header', async () => {
        await expectRejection(endpoint.call({ headers: {} }), INVALID_AUTHORIZATION);
        await expectRejection(endpoint.call({ headers: { authorization: undefined } }), INVALID_AUTHORIZATION);
        await expectRejection(endpoint.call(new Headers()), INVALID_AUTHORIZATION);
        await expectRejection(endpoint.call(request('')), INVALID_AUTHORIZATION);
      });

      it('rejects another scheme, or the scheme without a token', async () => {
        const pair = await login();
        const valid = signCaaHeader({ action: endpoint.action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp: clock.stamp() });
        const token = valid.slice('Caa '.length);
        for (const value of [`Bearer ${token}`, `Basic ${token}`, `Caa${token}`, `CaaX ${token}`, 'Caa', 'Caa ', token]) {
          await expectRejection(endpoint.call(request(value)), INVALID_AUTHORIZATION, [pair.secretKey]);
        }
      });

      it('rejects a malformed token: not base64, no colon, a bad signature or timestamp, too long', async () => {
        const pair = await login();
        const timestamp = clock.stamp();
        const signature = computeSignature({ action: endpoint.action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp });
        const malformed = [
          'Caa !!!not-base64!!!',
          'Caa QUJD', // "ABC": no colon
          header(`${pair.apiKey}${signature} ${timestamp}`), // no colon
          header(`:${signature} ${timestamp}`), // empty apiKey
          header(`${pair.apiKey}:${signature.slice(0, 24)} ${timestamp}`), // short signature
          header(`${pair.apiKey}:${signature}${timestamp}`), // no space before the timestamp
          header(`${pair.apiKey}:${signature} ${String(timestamp).slice(1)}`), // 12 digits
          header(`${pair.apiKey}:${signature} ${timestamp}0`), // 14 digits
          header(`${pair.apiKey}:${signature} 17000000000x0`), // not digits
          header(`not base64!:${signature} ${timestamp}`), // apiKey not base64
          `Caa ${'A'.repeat(2_000)}`, // longer than MAX_HEADER_LENGTH
        ];
        for (const value of malformed) {
          await expectRejection(endpoint.call(request(value)), INVALID_AUTHORIZATION, [pair.secretKey]);
        }
      });
    });

    describe('400 invalid signature', () => {
      it('accepts a timestamp exactly 300 000 ms before or after the server clock', async () => {
        for (const offset of [-300_000, 300_000]) {
          const pair = await login();
          await expect(endpoint.call(signed(pair, clock.t + offset))).resolves.toBeDefined();
        }
      });

      it('rejects a timestamp 300 001 ms before or after the server clock (TIMESTAMP_OUT_OF_WINDOW)', async () => {
        const pair = await login();
        for (const offset of [-300_001, 300_001, -86_400_000, 86_400_000]) {
          await expectRejection(endpoint.call(signed(pair, clock.t + offset)), TIMESTAMP_OUT_OF_WINDOW, [pair.secretKey]);
        }
        // Nothing was consumed: the same session still works.
        await expect(endpoint.call(signed(pair))).resolves.toBeDefined();
      });

      it('checks the window before the store: an unknown apiKey out of the window is TIMESTAMP_OUT_OF_WINDOW', async () => {
        const stranger = { apiKey: generateKey(), secretKey: generateKey() };
        await expectRejection(endpoint.call(signed(stranger, clock.t - 300_001)), TIMESTAMP_OUT_OF_WINDOW);
      });

      it('rejects a signature made with another secretKey (SIGNATURE_MISMATCH)', async () => {
        const pair = await login();
        const forged = { apiKey: pair.apiKey, secretKey: generateKey() };
        await expectRejection(endpoint.call(signed(forged)), SIGNATURE_MISMATCH, [pair.secretKey, forged.secretKey]);
        await expect(endpoint.call(signed(pair))).resolves.toBeDefined();
      });

      it('rejects a signature whose bytes were altered, or a header whose timestamp was changed after signing', async () => {
        const pair = await login();
        const timestamp = clock.stamp();
        const signature = computeSignature({ action: endpoint.action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp });
        const flipped = (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1);
        await expectRejection(endpoint.call(request(formatCaaHeader({ apiKey: pair.apiKey, signature: flipped, timestamp }))), SIGNATURE_MISMATCH);
        await expectRejection(
          endpoint.call(request(formatCaaHeader({ apiKey: pair.apiKey, signature, timestamp: clock.stamp() }))),
          SIGNATURE_MISMATCH,
        );
      });

      it('rejects a signature made for another action (SIGNATURE_MISMATCH)', async () => {
        const pair = await login();
        const others = Object.values(CAA_ACTIONS).filter((action) => action !== endpoint.action);
        expect(others).toHaveLength(7); // the 5 actions of the original API and the 3 of session management, less this one
        for (const action of others) {
          await expectRejection(endpoint.call(signed(pair, clock.stamp(), action)), SIGNATURE_MISMATCH, [pair.secretKey]);
        }
      });
    });

    describe('404 apiKey not found', () => {
      it('rejects an apiKey that was never issued (APIKEY_NOT_FOUND)', async () => {
        const stranger = { apiKey: generateKey(), secretKey: generateKey() };
        await expectRejection(endpoint.call(signed(stranger)), APIKEY_NOT_FOUND, [stranger.secretKey]);
        await expectRejection(endpoint.call(signed({ apiKey: 'abcd', secretKey: 'x' })), APIKEY_NOT_FOUND);
      });

      it('looks the apiKey up before the signature: an unknown apiKey with any signature is APIKEY_NOT_FOUND', async () => {
        const timestamp = clock.stamp();
        const value = formatCaaHeader({ apiKey: generateKey(), signature: 'A'.repeat(27) + '=', timestamp });
        await expectRejection(endpoint.call(request(value)), APIKEY_NOT_FOUND);
      });

      it('rejects an expired session (SESSION_EXPIRED), from the first ms of expireIn on', async () => {
        const pair = await login();
        clock.t = pair.expireIn;
        await expectRejection(endpoint.call(signed(pair)), SESSION_EXPIRED, [pair.secretKey]);
        clock.advance(3_600_000);
        await expectRejection(endpoint.call(signed(pair)), SESSION_EXPIRED, [pair.secretKey]);
      });

      it('rejects a logged-out session (APIKEY_NOT_FOUND)', async () => {
        const pair = await login();
        await revokeSession(store, signedRequest(pair, CAA_ACTIONS.logout, clock.stamp()), { now: clock.now });
        await expectRejection(endpoint.call(signed(pair)), APIKEY_NOT_FOUND, [pair.secretKey]);
      });

      if (endpoint.name === 'refreshToken') {
        it('answers a rotated key within grace with the same successor, and after grace with TOKEN_REUSED', async () => {
          const old = await login();
          const next = await refreshToken(store, users, signed(old), { now: clock.now });
          await expect(endpoint.call(signed(old))).resolves.toStrictEqual(next);
          clock.advance(DEFAULT_GRACE_MS + 1);
          await expectRejection(endpoint.call(signed(old)), TOKEN_REUSED, [old.secretKey, next.secretKey, next.apiKey]);
          await expectRejection(endpoint.call(signed(next)), APIKEY_NOT_FOUND);
        });
      } else if (endpoint.name === 'authenticate') {
        it('rejects a rotated key within grace (APIKEY_NOT_FOUND), and after grace revokes the family (TOKEN_REUSED)', async () => {
          const old = await login();
          const next = await refreshToken(store, users, signedRequest(old, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now });
          await expectRejection(endpoint.call(signed(old)), APIKEY_NOT_FOUND, [old.secretKey, next.secretKey, next.apiKey]);
          await expect(endpoint.call(signed(next))).resolves.toMatchObject({ apiKey: next.apiKey });
          clock.advance(DEFAULT_GRACE_MS + 1);
          await expectRejection(endpoint.call(signed(old)), TOKEN_REUSED, [old.secretKey, next.secretKey, next.apiKey]);
          await expectRejection(endpoint.call(signed(next)), APIKEY_NOT_FOUND);
        });
      } else {
        it('logs out with a rotated key within grace, and after grace revokes the family all the same (TOKEN_REUSED)', async () => {
          const old = await login();
          const next = await refreshToken(store, users, signedRequest(old, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now });
          await expect(endpoint.call(signed(old))).resolves.toMatchObject({ apiKey: old.apiKey });
          await expectRejection(
            authenticate(store, signedRequest(next, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
            APIKEY_NOT_FOUND,
          );

          const a = await login();
          const b = await refreshToken(store, users, signedRequest(a, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now });
          clock.advance(DEFAULT_GRACE_MS + 1);
          await expectRejection(endpoint.call(signed(a)), TOKEN_REUSED, [a.secretKey, b.secretKey, b.apiKey]);
          await expectRejection(endpoint.call(signed(b)), APIKEY_NOT_FOUND);
        });
      }
    });

    if (endpoint.name === 'refreshToken') {
      it('404 user not found: the session of a deleted user is USER_NOT_FOUND, then revoked', async () => {
        const pair = await login();
        users.delete(user._id);
        await expectRejection(endpoint.call(signed(pair)), USER_NOT_FOUND, [pair.secretKey, user._id]);
        users.save(user); // even if the user comes back, the orphaned session stays revoked
        await expectRejection(endpoint.call(signed(pair)), APIKEY_NOT_FOUND);
        await expectRejection(
          authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
          APIKEY_NOT_FOUND,
        );
      });

      it('refuses an identical header the second time by default (REPLAYED), and not when turned off', async () => {
        const pair = await login();
        const req = signed(pair);
        const next = await endpoint.call(req);
        await expectRejection(endpoint.call(req), REPLAYED, [pair.secretKey]);

        const other = await login();
        const again = signed(other);
        const first = await endpoint.call(again, { replayProtection: false });
        await expect(endpoint.call(again, { replayProtection: false })).resolves.toStrictEqual(first);
        expect(first).not.toStrictEqual(next);
      });
    } else if (endpoint.name === 'authenticate') {
      it('accepts an identical header twice by default, and refuses it (REPLAYED) with replayProtection: true', async () => {
        const pair = await login();
        const req = signed(pair);
        await expect(endpoint.call(req)).resolves.toMatchObject({ apiKey: pair.apiKey });
        await expect(endpoint.call(req)).resolves.toMatchObject({ apiKey: pair.apiKey });

        const guarded = signed(pair);
        await expect(endpoint.call(guarded, { replayProtection: true })).resolves.toMatchObject({ apiKey: pair.apiKey });
        await expectRejection(endpoint.call(guarded, { replayProtection: true }), REPLAYED, [pair.secretKey]);
        // A replayed header with a wrong signature is still a mismatch: the signature is checked first.
        const forged = signedRequest({ apiKey: pair.apiKey, secretKey: generateKey() }, endpoint.action, clock.stamp());
        await expectRejection(endpoint.call(forged, { replayProtection: true }), SIGNATURE_MISMATCH);
        await expectRejection(endpoint.call(forged, { replayProtection: true }), SIGNATURE_MISMATCH);
      });
    } else {
      it('revokes once: the identical header again finds no session (APIKEY_NOT_FOUND), with or without replayProtection', async () => {
        for (const replayProtection of [false, true]) {
          const pair = await login();
          const req = signed(pair);
          await expect(endpoint.call(req, { replayProtection })).resolves.toMatchObject({ apiKey: pair.apiKey });
          await expectRejection(endpoint.call(req, { replayProtection }), APIKEY_NOT_FOUND, [pair.secretKey]);
        }
      });
    }

    it('a store fault is 503 STORE_UNAVAILABLE, never 404, and the body hides the cause', async () => {
      const pair = await login();
      const fault = new Error(`redis at 10.0.0.7:6379 refused; last key ${pair.apiKey}`);
      const broken: SessionStore = {
        create: () => Promise.reject(fault),
        lookup: () => Promise.reject(fault),
        rotate: () => Promise.reject(fault),
        use: () => Promise.reject(fault),
        revoke: () => Promise.reject(fault),
        listUserSessions: () => Promise.reject(fault),
        revokeUserSessions: () => Promise.reject(fault),
      };
      const call = {
        refreshToken: () => refreshToken(broken, users, signed(pair), { now: clock.now }),
        authenticate: () => authenticate(broken, signed(pair), endpoint.action, { now: clock.now }),
        revokeSession: () => revokeSession(broken, signed(pair), { now: clock.now }),
      }[endpoint.name];
      const err = await expectRejection(call(), STORE_UNAVAILABLE, [pair.apiKey, pair.secretKey, '10.0.0.7']);
      expect(err.cause).toBe(fault);
    });
  });
}

describe('the error body', () => {
  it('is exactly { message } for every code, with status and code kept off the wire', () => {
    const codes: Record<CaaErrorCode, Expected> = {
      INVALID_AUTHORIZATION,
      SIGNATURE_MISMATCH,
      TIMESTAMP_OUT_OF_WINDOW,
      REPLAYED,
      APIKEY_NOT_FOUND,
      SESSION_EXPIRED,
      TOKEN_REUSED,
      USER_NOT_FOUND,
      STORE_UNAVAILABLE,
      AMBIGUOUS_CREDENTIALS,
      DIGEST_MISMATCH,
      SCHEME_DOWNGRADE,
    };
    for (const [code, [status, message]] of Object.entries(codes)) {
      const err = new CaaError(code as CaaErrorCode, { cause: new Error('secret detail') });
      expect({ status: err.status, message: err.message, code: err.code }).toStrictEqual({ status, message, code });
      expect(JSON.parse(JSON.stringify(err))).toStrictEqual({ message });
      expect(JSON.stringify(err)).not.toContain('secret detail');
    }
  });
});

describe('store and user-repository faults are 503 STORE_UNAVAILABLE', () => {
  /** A MemoryStore whose `failing` methods throw a plain Error. */
  function faultyStore(inner: SessionStore, failing: keyof SessionStore, thrown: unknown): SessionStore {
    const fail = (): Promise<never> => Promise.reject(thrown);
    return {
      create: failing === 'create' ? fail : (session, now, options) => inner.create(session, now, options),
      lookup: failing === 'lookup' ? fail : (apiKey, now) => inner.lookup(apiKey, now),
      rotate: failing === 'rotate' ? fail : (req) => inner.rotate(req),
      use: failing === 'use' ? fail : (req) => inner.use(req),
      revoke: failing === 'revoke' ? fail : (apiKey, now) => inner.revoke(apiKey, now),
      listUserSessions: failing === 'listUserSessions' ? fail : (userId, now) => inner.listUserSessions(userId, now),
      revokeUserSessions: failing === 'revokeUserSessions' ? fail : (userId, now, filter) => inner.revokeUserSessions(userId, now, filter),
    };
  }

  it('issueSession, when the store cannot create', async () => {
    const broken = faultyStore(store, 'create', new Error('ECONNREFUSED'));
    await expectRejection(issueSession(broken, user, { now: clock.now }), STORE_UNAVAILABLE);
  });

  it('listSessions, when the store cannot read the index: 503, and the body hides the cause', async () => {
    await login();
    const broken = faultyStore(store, 'listUserSessions', new Error('CLUSTERDOWN The cluster is down'));
    const err = await expectRejection(listSessions(broken, user._id, { now: clock.now }), STORE_UNAVAILABLE, ['CLUSTERDOWN']);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('revokeUserSessions and revokeUserSession, when the store cannot revoke: 503, and nothing was revoked', async () => {
    const pair = await login();
    const broken = faultyStore(store, 'revokeUserSessions', new Error('timeout'));
    await expectRejection(revokeUserSessions(broken, user._id, { now: clock.now }), STORE_UNAVAILABLE);
    const [listed] = await listSessions(store, user._id, { now: clock.now });
    if (listed === undefined) throw new Error('the session is not listed');
    await expectRejection(revokeUserSession(broken, user._id, listed.sessionId, { now: clock.now }), STORE_UNAVAILABLE);
    expect(store.liveSessions(clock.t).map((session) => session.apiKey)).toStrictEqual([pair.apiKey]);
  });

  it('refreshToken, when the rotation fails: the session stays live and a fresh request then succeeds', async () => {
    const pair = await login();
    const broken = faultyStore(store, 'rotate', new Error('READONLY You cannot write against a read only replica'));
    await expectRejection(
      refreshToken(broken, users, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now }),
      STORE_UNAVAILABLE,
    );
    expect(store.liveSessions(clock.t).map((session) => session.apiKey)).toStrictEqual([pair.apiKey]);
    await expect(
      refreshToken(store, users, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now }),
    ).resolves.toMatchObject({ userId: user._id });
  });

  it('refreshToken for a deleted user, when revoking the orphan fails: 503, not USER_NOT_FOUND', async () => {
    const pair = await login();
    users.delete(user._id);
    const broken = faultyStore(store, 'revoke', new Error('timeout'));
    await expectRejection(
      refreshToken(broken, users, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now }),
      STORE_UNAVAILABLE,
    );
  });

  it('revokeSession, when the revocation fails', async () => {
    const pair = await login();
    const broken = faultyStore(store, 'use', new Error('timeout'));
    await expectRejection(revokeSession(broken, signedRequest(pair, CAA_ACTIONS.logout, clock.stamp()), { now: clock.now }), STORE_UNAVAILABLE);
  });

  it('authenticate, when recording the first use of a key fails', async () => {
    const pair = await login();
    const broken = faultyStore(store, 'use', new Error('timeout'));
    await expectRejection(
      authenticate(broken, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
      STORE_UNAVAILABLE,
    );
  });

  it('a synchronous lookup that throws is 503 as well', async () => {
    const pair = await login();
    const broken: SessionStore = Object.assign(Object.create(store) as MemoryStore, {
      lookupSync: () => {
        throw new Error('corrupted map');
      },
    });
    await expectRejection(
      authenticate(broken, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
      STORE_UNAVAILABLE,
    );
  });

  it('whatever is thrown: a string, undefined, a TypeError', async () => {
    const pair = await login();
    for (const thrown of ['boom', undefined, new TypeError('x is not a function')]) {
      const broken = faultyStore(store, 'lookup', thrown);
      await expectRejection(
        authenticate(broken, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
        STORE_UNAVAILABLE,
      );
    }
  });

  it('a CaaError a store throws passes through unchanged', async () => {
    const pair = await login();
    const own = new CaaError('STORE_UNAVAILABLE', { cause: new Error('circuit open') });
    const broken = faultyStore(store, 'lookup', own);
    const err = await expectRejection(
      authenticate(broken, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, { now: clock.now }),
      STORE_UNAVAILABLE,
    );
    expect(err).toBe(own);
  });

  it('refreshToken, when the UserRepository throws: 503, and the session is neither rotated nor revoked', async () => {
    const pair = await login();
    const broken: UserRepository = { findById: () => Promise.reject(new Error('mongo: no primary')) };
    await expectRejection(
      refreshToken(store, broken, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now }),
      STORE_UNAVAILABLE,
      [pair.secretKey],
    );
    expect(store.liveSessions(clock.t).map((session) => session.apiKey)).toStrictEqual([pair.apiKey]);
  });
});

describe('request shapes the header is read from', () => {
  const fetchProfile = (req: RequestLike) => authenticate(store, req, CAA_ACTIONS.fetchMyProfile, { now: clock.now });
  const value = (pair: Pair) =>
    signCaaHeader({ action: CAA_ACTIONS.fetchMyProfile, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp: clock.stamp() });

  it('a Node-style { headers: { authorization } }', async () => {
    const pair = await login();
    await expect(fetchProfile({ headers: { authorization: value(pair) } })).resolves.toMatchObject({ apiKey: pair.apiKey });
  });

  it('a capitalised Authorization key, or any other case', async () => {
    const pair = await login();
    await expect(fetchProfile({ headers: { Authorization: value(pair) } })).resolves.toMatchObject({ apiKey: pair.apiKey });
    await expect(fetchProfile({ headers: { AUTHORIZATION: value(pair) } })).resolves.toMatchObject({ apiKey: pair.apiKey });
  });

  it('an array of one value; an array of two values is 400 invalid authorization', async () => {
    const pair = await login();
    await expect(fetchProfile({ headers: { authorization: [value(pair)] } })).resolves.toMatchObject({ apiKey: pair.apiKey });
    await expectRejection(fetchProfile({ headers: { authorization: [value(pair), value(pair)] } }), INVALID_AUTHORIZATION);
    await expectRejection(fetchProfile({ headers: { authorization: [] } }), INVALID_AUTHORIZATION);
  });

  it('a Fetch Request', async () => {
    const pair = await login();
    const req = new Request('http://localhost/api/my', { headers: { Authorization: value(pair) } });
    await expect(fetchProfile(req)).resolves.toMatchObject({ apiKey: pair.apiKey });
    await expectRejection(fetchProfile(new Request('http://localhost/api/my')), INVALID_AUTHORIZATION);
  });

  it('a Fetch Headers object, alone or as headers; two values in it are 400 invalid authorization', async () => {
    const pair = await login();
    await expect(fetchProfile(new Headers({ authorization: value(pair) }))).resolves.toMatchObject({ apiKey: pair.apiKey });
    await expect(fetchProfile({ headers: new Headers({ Authorization: value(pair) }) })).resolves.toMatchObject({ apiKey: pair.apiKey });
    const twice = new Headers();
    twice.append('authorization', value(pair));
    twice.append('authorization', value(pair));
    await expectRejection(fetchProfile(twice), INVALID_AUTHORIZATION);
  });

  it('refreshToken and revokeSession read the same shapes', async () => {
    const pair = await login();
    const next = await refreshToken(
      store,
      users,
      new Request('http://localhost/api/my/refresh-token', {
        method: 'POST',
        headers: {
          Authorization: signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp: clock.stamp() }),
          'Content-Type': 'application/x-www-form-urlencoded',
        },
      }),
      { now: clock.now },
    );
    const logout = signCaaHeader({ action: CAA_ACTIONS.logout, apiKey: next.apiKey, secretKey: next.secretKey, timestamp: clock.stamp() });
    await expect(revokeSession(store, { headers: { Authorization: [logout] } }, { now: clock.now })).resolves.toMatchObject({
      apiKey: next.apiKey,
    });
  });
});
