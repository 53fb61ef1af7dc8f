/**
 * Secrets at rest: with a SecretCipher, nothing in a dump of Redis verifies a request without the
 * application key, and the application key rotates without logging anyone out.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  createSecretCipher,
  issueSession,
  parseCaaHeader,
  refreshToken,
  signCaaHeader,
  verifyCaaSignature,
  type CredentialsResponse,
  type User,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { RedisServer } from '../support/redis-server.js';

const user: User = { _id: 'u-secret', registerAt: 1, createAt: 1, avatar: null, gender: 'secret', name: 'Sam' };
const key1 = randomBytes(32);
const key2 = randomBytes(32);

let server: RedisServer;
let redis: Redis;
let clock = 1_800_000_000_000;
const now = (): number => clock;

function signed(pair: CredentialsResponse, action: string): { headers: { authorization: string } } {
  clock += 1; // a distinct timestamp per request, so replay protection never bites
  return { headers: { authorization: signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp: clock }) } };
}

/** Every value Redis holds: string values and every field value of every hash. */
async function dumpValues(): Promise<string[]> {
  const values: string[] = [];
  for (const key of await redis.keys('*')) {
    const type = await redis.type(key);
    if (type === 'hash') values.push(...Object.values(await redis.hgetall(key)));
    else if (type === 'string') values.push((await redis.get(key)) ?? '');
  }
  return values;
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.port, '127.0.0.1');
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await redis.flushall();
});

describe('RedisStore with a SecretCipher', () => {
  it('keeps no stored value that verifies a request without the application key', async () => {
    const store = new RedisStore({ client: redis, clock: 'caller', secretCipher: createSecretCipher({ keys: { k1: key1 }, current: 'k1' }) });
    const users = new MemoryUserRepository([user]);
    const pairs: CredentialsResponse[] = [];
    for (let i = 0; i < 5; i++) {
      const first = await issueSession(store, user, { now });
      const second = await refreshToken(store, users, signed(first, CAA_ACTIONS.refreshToken), { now });
      pairs.push(first, second);
    }
    const live = pairs.filter((_, i) => i % 2 === 1);
    for (const pair of live) {
      await expect(authenticate(store, signed(pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, { now })).resolves.toMatchObject({ apiKey: pair.apiKey });
    }

    const values = await dumpValues();
    expect(values.length).toBeGreaterThan(0);
    expect(values.filter((v) => v.startsWith('g1.k1.'))).toHaveLength(pairs.length);
    for (const pair of pairs) {
      expect(values).not.toContain(pair.secretKey);
      expect(values.join('\n')).not.toContain(pair.secretKey);
      const credentials = parseCaaHeader(signed(pair, CAA_ACTIONS.fetchMyProfile).headers.authorization);
      for (const candidate of values) {
        expect(() => verifyCaaSignature(credentials, { action: CAA_ACTIONS.fetchMyProfile, secretKey: candidate, now: clock })).toThrow();
      }
    }

    // A store that reads the same dump without the key authenticates nobody: it refuses a sealed
    // value as its data's fault (503), never taking it for a plain secret.
    const keyless = new RedisStore({ client: redis, clock: 'caller' });
    for (const pair of live) {
      await expectCaaError(
        authenticate(keyless, signed(pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, { now }),
        503,
        'service unavailable',
        'STORE_UNAVAILABLE',
      );
    }
  });

  it('rotates the application key without logging anyone out', async () => {
    const users = new MemoryUserRepository([user]);
    const before = new RedisStore({ client: redis, clock: 'caller', secretCipher: createSecretCipher({ keys: { k1: key1 }, current: 'k1' }) });
    const old = await issueSession(before, user, { now });

    const after = new RedisStore({ client: redis, clock: 'caller', secretCipher: createSecretCipher({ keys: { k1: key1, k2: key2 }, current: 'k2' }) });
    await expect(authenticate(after, signed(old, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, { now })).resolves.toMatchObject({ apiKey: old.apiKey });
    const rotated = await refreshToken(after, users, signed(old, CAA_ACTIONS.refreshToken), { now });
    const sealed = await redis.hget(`caa:{${rotated.apiKey.slice(0, 2)}}:s:${rotated.apiKey}`, 'sk');
    expect(sealed?.startsWith('g1.k2.')).toBe(true);

    // Within grace the predecessor still gets the same successor, opened across key ids.
    const again = await refreshToken(after, users, signed(old, CAA_ACTIONS.refreshToken), { now });
    expect(again).toStrictEqual(rotated);

    // Once k1 is retired, sessions sealed under k2 keep working.
    const retired = new RedisStore({ client: redis, clock: 'caller', secretCipher: createSecretCipher({ keys: { k2: key2 }, current: 'k2' }) });
    await expect(authenticate(retired, signed(rotated, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, { now })).resolves.toMatchObject({ apiKey: rotated.apiKey });
  });

  it('refuses a sealed secret moved to another session (503, never a 4xx)', async () => {
    const cipher = createSecretCipher({ keys: { k1: key1 }, current: 'k1' });
    const store = new RedisStore({ client: redis, clock: 'caller', secretCipher: cipher });
    const a = await issueSession(store, user, { now });
    const b = await issueSession(store, user, { now });
    const keyOf = (pair: CredentialsResponse): string => `caa:{${pair.apiKey.slice(0, 2)}}:s:${pair.apiKey}`;
    const sealedA = await redis.hget(keyOf(a), 'sk');
    await redis.hset(keyOf(b), 'sk', sealedA ?? '');
    await expectCaaError(
      authenticate(store, signed(b, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, { now }),
      503,
      'service unavailable',
      'STORE_UNAVAILABLE',
    );
  });

  it('rejects malformed application keys', () => {
    expect(() => createSecretCipher({ keys: { k1: randomBytes(16) }, current: 'k1' })).toThrow(TypeError);
    expect(() => createSecretCipher({ keys: { 'k.1': key1 }, current: 'k.1' })).toThrow(TypeError);
    expect(() => createSecretCipher({ keys: { k1: key1 }, current: 'k2' })).toThrow(TypeError);
    const cipher = createSecretCipher({ keys: { k1: key1.toString('base64') }, current: 'k1' });
    expect(cipher.open(cipher.seal('secret', 'ctx'), 'ctx')).toBe('secret');
    expect(() => cipher.open(cipher.seal('secret', 'ctx'), 'other')).toThrow();
  });
});
