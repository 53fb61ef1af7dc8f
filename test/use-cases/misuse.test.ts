/**
 * Misuse answered as it should be (issue 12): a request without usable headers is 400 invalid
 * authorization on every use case, never a TypeError (which frameworks answer 500); a RedisStore
 * built with wrong arguments throws a TypeError that names the option and what was expected.
 */

import { describe, expect, it } from 'vitest';
import { CAA_ACTIONS, MemoryStore, MemoryUserRepository, RedisStore, authenticate, refreshToken, revokeSession, type RequestLike } from '../../src/index.js';
import { expectCaaError, thrownBy } from '../support/expect-caa-error.js';

const UNUSABLE: [string, unknown][] = [
  ['an empty object', {}],
  ['headers: null', { headers: null }],
  ['headers: a string', { headers: 'authorization: Caa x' }],
  ['undefined', undefined],
  ['null', null],
  ['a string', 'Caa abc'],
  ['a number', 42],
  ['an authorization that is a number', { headers: { authorization: 5 } }],
  ['an authorization array of two', { headers: { authorization: ['Caa a', 'Caa b'] } }],
  ['a signature-input that is an object', { headers: { 'signature-input': { caa: 1 } } }],
  ['a caa-v2 request without method or URL', { headers: { 'signature-input': 'caa=();created=1', signature: 'caa=:AA==:' } }],
];

describe('a request without usable headers', () => {
  const store = new MemoryStore();
  const users = new MemoryUserRepository();
  for (const [name, req] of UNUSABLE) {
    it(`is 400 invalid authorization on authenticate, refresh and logout: ${name}`, async () => {
      const request = req as RequestLike;
      await expectCaaError(authenticate(store, request, CAA_ACTIONS.fetchMyProfile), 400, 'invalid authorization', 'INVALID_AUTHORIZATION');
      await expectCaaError(refreshToken(store, users, request), 400, 'invalid authorization', 'INVALID_AUTHORIZATION');
      await expectCaaError(revokeSession(store, request), 400, 'invalid authorization', 'INVALID_AUTHORIZATION');
    });
  }
});

describe('new RedisStore with wrong arguments', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['no options', () => new (RedisStore as unknown as new () => RedisStore)(), /^RedisStore: needs its options, \{ client \}/],
    ['client undefined', () => new RedisStore({ client: undefined as never }), /^RedisStore: client must be a connected ioredis or node-redis client.*\(got undefined\)$/],
    ['client a URL string', () => new RedisStore({ client: 'redis://127.0.0.1:6379' as never }), /^RedisStore: client must be .*\(got a string \(a URL\? connect a client and pass it\)\)$/],
    ['client an object of another kind', () => new RedisStore({ client: {} as never }), /^RedisStore: client must be an ioredis or node-redis client, or a RedisScriptClient$/],
    ['a prefix with a brace', () => new RedisStore({ client: { evalshaScript: async () => null, evalScript: async () => null }, prefix: 'a{b' }), /^RedisStore: prefix must be a string without \{ or \}$/],
    ['timeoutMs 0', () => new RedisStore({ client: { evalshaScript: async () => null, evalScript: async () => null }, timeoutMs: 0 }), /^RedisStore: timeoutMs must be a positive number of ms$/],
    ['clock unknown', () => new RedisStore({ client: { evalshaScript: async () => null, evalScript: async () => null }, clock: 'app' as never }), /^RedisStore: clock must be 'redis' or 'caller'$/],
  ];
  for (const [name, make, message] of cases) {
    it(`throws a TypeError naming what is wrong: ${name}`, () => {
      const err = thrownBy(make);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as TypeError).message).toMatch(message);
    });
  }
});
