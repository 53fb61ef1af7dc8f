/**
 * What the store and use-case tests share: an injected clock whose signing timestamps never repeat
 * (refreshToken refuses a repeated header), users with private fields, and signed requests.
 */

import { Buffer } from 'node:buffer';
import { expect } from 'vitest';
import {
  FAMILY_TAG_LENGTH,
  generateKey,
  signCaaHeader,
  type CredentialsResponse,
  type Session,
  type SessionStore,
  type User,
} from '../../src/index.js';

/** An epoch-ms instant with 13 digits, far from the real clock on purpose. */
export const T0 = 1_700_000_000_000;

/** How far ahead of the clock unique signing timestamps may run; well inside the ±5 min window. */
const STAMP_LEAD_MS = 200_000;

/** A settable clock for the `now` option, and a source of unique signing timestamps. */
export class TestClock {
  t: number;
  #lastStamp = 0;

  constructor(t: number = T0) {
    this.t = t;
  }

  /** The `now` option: reads the clock. */
  readonly now = (): number => this.t;

  /** A `now` option that advances the clock by 1 ms on every read. */
  readonly tick = (): number => ++this.t;

  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }

  /**
   * A signing timestamp strictly greater than every one before it and no earlier than the clock,
   * so that no two signed requests are ever identical headers and a request stamped now reads as
   * made now (rotated keys are judged by when the request was signed).
   */
  stamp(): number {
    const stamp = Math.max(this.#lastStamp + 1, this.t);
    if (stamp > this.t + STAMP_LEAD_MS) throw new Error('TestClock: too many stamps for this clock reading');
    this.#lastStamp = stamp;
    return stamp;
  }

  /** A signing timestamp `ms` before the clock: a request made earlier and delivered late. */
  stampedBefore(ms: number): number {
    return this.t - ms;
  }
}

/**
 * A stored user with every field of spec §6, private ones included, and the private fields a
 * typical application adds besides (which the allow-list projection must keep out as well).
 */
export type TestUser = User & {
  email: string;
  passwordHash: string;
  totpSecret: string;
  resetToken: string;
};

export function makeUser(id: string, name = 'PeckZeg892'): TestUser {
  return {
    _id: id,
    registerAt: 1_498_889_273_883,
    createAt: 1_498_889_273_883,
    thirdParty: { weixin: { unionid: `union-${id}`, openid: `open-${id}` } },
    avatar: 'http://example.test/ca80b7.png',
    gender: 'secret',
    name,
    mobile: '13000000000',
    password: 'scrypt$not-a-real-hash',
    email: `${id}@example.test`,
    passwordHash: 'argon2id$not-a-real-hash',
    totpSecret: 'JBSWY3DPEHPK3PXP',
    resetToken: `reset-${id}`,
  };
}

/**
 * The user as a response may carry it by default: the public fields of spec §6 it has (written
 * out here, not read from PUBLIC_USER_FIELDS, so that a change of the allow-list shows), `_id` as a
 * string. Everything else — `password`, `mobile`, and every field an application adds — stays out.
 */
export type PublicPart = Pick<User, '_id' | 'registerAt' | 'createAt' | 'thirdParty' | 'avatar' | 'gender' | 'name'>;

export function publicPart(user: User): PublicPart {
  return {
    _id: String(user._id),
    registerAt: user.registerAt,
    createAt: user.createAt,
    ...(Object.hasOwn(user, 'thirdParty') ? { thirdParty: user.thirdParty } : {}),
    avatar: user.avatar,
    gender: user.gender,
    name: user.name,
  };
}

/** Credentials a client holds. */
export interface Pair {
  readonly apiKey: string;
  readonly secretKey: string;
}

/** A Node-style request signed with `pair` for `action` at `timestamp`. */
export function signedRequest(pair: Pair, action: string, timestamp: number): { headers: { authorization: string } } {
  return { headers: { authorization: signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp }) } };
}

/** Standard base64 of exactly 32 bytes: 44 characters ending in one `=`. */
export function expectKeyFormat(key: string): void {
  expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  expect(Buffer.from(key, 'base64')).toHaveLength(32);
}

/** Asserts the spec §5 response shape for `user`, with `expireIn` as given. */
export function expectCredentialsResponse(body: CredentialsResponse, user: User, expireIn: number): void {
  expect(Object.keys(body).sort()).toStrictEqual(['apiKey', 'expireIn', 'secretKey', 'user', 'userId']);
  expectKeyFormat(body.apiKey);
  expectKeyFormat(body.secretKey);
  expect(body.apiKey).not.toBe(body.secretKey);
  expect(body.userId).toBe(user._id);
  expect(body.expireIn).toBe(expireIn);
  expect(body.user).toStrictEqual(publicPart(user));
  for (const field of ['password', 'mobile', 'email', 'passwordHash', 'totpSecret', 'resetToken']) expect(body.user).not.toHaveProperty(field);
}

/** The family id a store holds for `apiKey` (the use cases do not expose it). */
export async function familyOf(store: SessionStore, apiKey: string, now: number): Promise<string> {
  const { record } = await store.lookup(apiKey, now);
  if (record === null) throw new Error(`no record for ${apiKey}`);
  return record.familyId;
}

/** A first session (a login) as a store takes it. */
export function newSession(now: number, userId = 'user-1', ttlMs = 259_200_000): Session {
  return {
    apiKey: generateKey(),
    secretKey: generateKey(),
    userId,
    expireIn: now + ttlMs,
    familyId: generateKey(),
    issuedAt: now,
    createdAt: now,
  };
}

/** A candidate successor of `session`: same family and hash tag, fresh keys, a new lifetime. */
export function successorOf(session: Session, now: number, ttlMs = 259_200_000): Session {
  return {
    apiKey: session.apiKey.slice(0, FAMILY_TAG_LENGTH) + generateKey().slice(FAMILY_TAG_LENGTH),
    secretKey: generateKey(),
    userId: session.userId,
    expireIn: now + ttlMs,
    familyId: session.familyId,
    issuedAt: now,
    createdAt: session.createdAt,
  };
}
