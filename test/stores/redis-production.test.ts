/**
 * RedisStore as operators run it (issue 10), against real redis-server processes: a client key
 * prefix, memory limits, the configuration check, secrets in error causes, sealed records moved
 * between users, Redis losing its data, and reconnects with the clients' default settings.
 */

import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  createSecretCipher,
  issueSession,
  isCaaError,
  refreshToken,
  revokeSession,
  signCaaHeader,
  type CredentialsResponse,
} from '../../src/index.js';
import { describeSessionStoreContract } from '../contract/session-store.contract.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { ioredisRaw, redisStoreFixture } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';
import { makeUser } from '../support/use-case-fixtures.js';

let server: RedisServer | undefined;
/** A client without a prefix, to look at what Redis really holds. */
let raw: Redis | undefined;

beforeAll(async () => {
  server = await RedisServer.start();
  raw = new Redis({ port: server.port, host: '127.0.0.1' });
  await raw.ping();
});

afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});

const user = makeUser('59573c395c2960da1aa83a0d');
const other = makeUser('59573c395c2960da1aa83a0e', 'Eve');
const users = new MemoryUserRepository([user, other]);

let lastStamp = 0;
/** Signed now, with a timestamp no other request of this file used (as clients re-sign every retry). */
function signed(pair: { apiKey: string; secretKey: string }, action: string): { headers: { authorization: string } } {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return { headers: { authorization: signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp: lastStamp }) } };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The whole contract, through an ioredis client whose keyPrefix the store does not know about:
// every key a script touches must carry it (KEYS, or derived from KEYS[1]).
let prefixed = 0;
describeSessionStoreContract('RedisStore via ioredis with keyPrefix app1:', async () => {
  if (server === undefined || raw === undefined) throw new Error('no server');
  const keyPrefix = `app${++prefixed}:`;
  const client = new Redis({ port: server.port, host: '127.0.0.1', keyPrefix });
  await client.ping();
  const prefix = 'caa:';
  return redisStoreFixture(new RedisStore({ client, prefix, clock: 'caller' }), ioredisRaw(raw), `${keyPrefix}${prefix}`, async () => {
    client.disconnect();
  });
});

describe('RedisStore with a client keyPrefix, over the use cases and real time', () => {
  it('logout, a lost-response retry and reuse detection all work, and every key carries the prefix', async () => {
    if (server === undefined || raw === undefined) throw new Error('no server');
    const client = new Redis({ port: server.port, host: '127.0.0.1', keyPrefix: 'kp-real:' });
    const store = new RedisStore({ client });
    try {
      const login = await issueSession(store, user);
      const next = await refreshToken(store, users, signed(login, CAA_ACTIONS.refreshToken));
      expect(await refreshToken(store, users, signed(login, CAA_ACTIONS.refreshToken))).toStrictEqual(next); // lost response
      await authenticate(store, signed(next, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile);
      await sleep(2_100); // past the tolerance: the old pair is now a stolen one
      await expectCaaError(refreshToken(store, users, signed(login, CAA_ACTIONS.refreshToken)), 404, 'apiKey not found', 'TOKEN_REUSED');
      await expectCaaError(authenticate(store, signed(next, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');

      const second = await issueSession(store, user);
      await revokeSession(store, signed(second, CAA_ACTIONS.logout));
      await expectCaaError(authenticate(store, signed(second, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');

      // Every key the scripts touched carries the client's prefix; none was built without it.
      expect((await raw.keys('kp-real:caa:{*')).length).toBeGreaterThan(0);
      expect(await raw.keys('caa:{*')).toStrictEqual([]);
    } finally {
      client.disconnect();
    }
  });
});

describe('RedisStore at maxmemory with noeviction', () => {
  let full: RedisServer | undefined;
  let client: Redis | undefined;

  beforeAll(async () => {
    full = await RedisServer.start({ args: ['--maxmemory-policy', 'noeviction'] });
    client = new Redis({ port: full.port, host: '127.0.0.1' });
    await client.ping();
  });

  afterAll(async () => {
    client?.disconnect();
    await full?.stop();
  });

  it('refuses every writing script whole (503, nothing written) and still logs out and looks up', async () => {
    if (client === undefined) throw new Error('no client');
    const store = new RedisStore({ client, logger: { warn: () => {} } });
    // 5 000 sessions, then a maxmemory well below what they take: Redis is now over its limit. One
    // user's sessions, beyond the default maxSessionsPerUser, which this test is not about.
    const pairs: CredentialsResponse[] = await Promise.all(
      Array.from({ length: 5_000 }, () => issueSession(store, user, { maxSessionsPerUser: Infinity })),
    );
    const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await (client as Redis).info('memory'))?.[1]);
    await client.config('SET', 'maxmemory', String(Math.floor((await used()) / 2)));
    const keysBefore = await client.dbsize();

    // Logins, refreshes and first uses are refused whole: no key of theirs is written.
    const refusedKeys: string[] = [];
    const generateKey = (): string => {
      const key = randomBytes(32).toString('base64');
      refusedKeys.push(key);
      return key;
    };
    for (let i = 0; i < 200; i++) {
      await expectCaaError(issueSession(store, user, { generateKey }), 503, 'service unavailable', 'STORE_UNAVAILABLE');
    }
    const some = pairs.slice(0, 20);
    for (const pair of some) {
      await expectCaaError(refreshToken(store, users, signed(pair, CAA_ACTIONS.refreshToken)), 503, 'service unavailable', 'STORE_UNAVAILABLE');
    }
    expect(await client.dbsize()).toBe(keysBefore);
    for (const key of refusedKeys.filter((_, i) => i % 2 === 0).slice(0, 50)) {
      expect(await client.exists(`caa:{${key.slice(0, 2)}}:s:${key}`)).toBe(0);
    }
    for (const pair of some) {
      expect(await client.hget(`caa:{${pair.apiKey.slice(0, 2)}}:s:${pair.apiKey}`, 'st')).toBe('live');
    }

    // Reads and deletes still run: a logout at OOM logs out.
    const last = pairs[pairs.length - 1];
    if (last === undefined) throw new Error('no session');
    await expect(store.lookup(last.apiKey, Date.now())).resolves.toMatchObject({ record: { apiKey: last.apiKey, state: 'live' } });
    const first = pairs[0];
    if (first === undefined) throw new Error('no session');
    await revokeSession(store, signed(first, CAA_ACTIONS.logout));
    await expect(store.lookup(first.apiKey, Date.now())).resolves.toMatchObject({ record: null });
  }, 120_000);
});

describe('RedisStore.check', () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  for (const policy of ['allkeys-lru', 'volatile-lru', 'volatile-ttl', 'noeviction'] as const) {
    it(`reports maxmemory-policy ${policy} and persistence, once each, through both clients`, async () => {
      const redis = await RedisServer.start({
        durable: policy === 'noeviction',
        args: ['--maxmemory', '64mb', '--maxmemory-policy', policy],
      });
      servers.push(redis);
      const io = new Redis({ port: redis.port, host: '127.0.0.1' });
      const node = createClient({ socket: { port: redis.port, host: '127.0.0.1' } });
      await node.connect();
      try {
        for (const client of [io, node]) {
          const warnings: string[] = [];
          const store = new RedisStore({ client, logger: { warn: (message) => warnings.push(message) } });
          const report = await store.check();
          expect(report.servers).toHaveLength(1);
          expect(report.servers[0]).toMatchObject({ maxmemoryPolicy: policy, aof: policy === 'noeviction' });
          expect(report.servers[0]?.version).toMatch(/^7\./);
          await store.check(); // a second check reports nothing new
          if (policy === 'noeviction') {
            expect(report.warnings).toStrictEqual([]);
            expect(warnings).toStrictEqual([]);
            await expect(store.check({ strict: true })).resolves.toMatchObject({ warnings: [] });
          } else {
            expect(report.warnings).toHaveLength(2);
            expect(warnings).toHaveLength(2);
            expect(warnings[0]).toContain(`maxmemory-policy is ${policy}`);
            expect(warnings[1]).toContain('AOF persistence is off');
            await expect(store.check({ strict: true })).rejects.toThrow(/maxmemory-policy/);
          }
        }
      } finally {
        io.disconnect();
        await node.quit();
      }
    });
  }
});

describe('store faults carry no secret in their cause', () => {
  it('a script refused by Redis (OOM) through ioredis: no command arguments in the cause, by inspect or JSON', async () => {
    const full = await RedisServer.start({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] });
    const client = new Redis({ port: full.port, host: '127.0.0.1' });
    try {
      const store = new RedisStore({ client, logger: { warn: () => {} } });
      const secrets: string[] = [];
      const generateKey = (): string => {
        const key = randomBytes(32).toString('base64');
        secrets.push(key);
        return key;
      };
      let fault: unknown;
      for (let i = 0; i < 50_000 && fault === undefined; i++) {
        await issueSession(store, user, { generateKey }).catch((err: unknown) => {
          fault = err;
        });
      }
      expect(isCaaError(fault) && fault.code === 'STORE_UNAVAILABLE').toBe(true);
      const seen = `${inspect(fault, { depth: 10, showHidden: true })}\n${JSON.stringify(fault)}\n${JSON.stringify((fault as Error).cause)}`;
      expect(seen).toContain('OOM'); // the cause still says what happened
      for (const secret of secrets.slice(-2)) expect(seen).not.toContain(secret); // the refused login's apiKey and secretKey
      // ioredis keeps { command: { name: 'evalsha', args: [...] } } on its ReplyError: none of it survives.
      expect(seen).not.toContain('evalsha');
      expect(seen).not.toContain('args');
    } finally {
      client.disconnect();
      await full.stop();
    }
  }, 120_000);
});

describe('sealed records', () => {
  it('a sealed secret moved to another user, family or expiry does not open (503), and the original still works', async () => {
    if (server === undefined || raw === undefined) throw new Error('no server');
    const client = new Redis({ port: server.port, host: '127.0.0.1' });
    try {
      const secretCipher = createSecretCipher({ keys: { k1: randomBytes(32) }, current: 'k1' });
      const store = new RedisStore({ client, prefix: 'caa:sealed:', secretCipher });
      const victim = await issueSession(store, user);
      const attacker = await issueSession(store, other);
      const keyOf = (apiKey: string): string => `caa:sealed:{${apiKey.slice(0, 2)}}:s:${apiKey}`;
      const victimSealed = await raw.hget(keyOf(victim.apiKey), 'sk');
      expect(victimSealed).toMatch(/^g1\.k1\./);

      // Someone who can write Redis points their own record at the victim's user.
      await raw.hset(keyOf(attacker.apiKey), 'uid', user._id);
      await expectCaaError(authenticate(store, signed(attacker, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 503, 'service unavailable', 'STORE_UNAVAILABLE');
      // …or extends a record's expiry.
      await raw.hset(keyOf(victim.apiKey), 'exp', String(victim.expireIn + 86_400_000));
      await expectCaaError(authenticate(store, signed(victim, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 503, 'service unavailable', 'STORE_UNAVAILABLE');
      await raw.hset(keyOf(victim.apiKey), 'exp', String(victim.expireIn));
      await expect(authenticate(store, signed(victim, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile)).resolves.toMatchObject({
        apiKey: victim.apiKey,
        userId: user._id,
      });

      // A store whose cipher was removed refuses the sealed value rather than taking it for a secret.
      const keyless = new RedisStore({ client, prefix: 'caa:sealed:' });
      await expectCaaError(authenticate(keyless, signed(victim, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 503, 'service unavailable', 'STORE_UNAVAILABLE');
    } finally {
      client.disconnect();
    }
  });
});

describe('a Redis that lost its data', () => {
  it('is reported once through the logger, not only as ordinary 404s', async () => {
    const volatile = await RedisServer.start(); // no persistence
    const client = new Redis({ port: volatile.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      const warnings: string[] = [];
      const store = new RedisStore({ client, logger: { warn: (message) => warnings.push(message) } });
      const pairs = await Promise.all(Array.from({ length: 20 }, () => issueSession(store, user)));
      for (const pair of pairs) await authenticate(store, signed(pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile);
      expect(warnings).toStrictEqual([]);

      await volatile.restart();
      await client.ping();
      for (const pair of pairs) {
        await expectCaaError(authenticate(store, signed(pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      }
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('Redis has lost its data');
    } finally {
      client.disconnect();
      await volatile.stop();
    }
  });
});

describe('reconnects with the clients\' default settings', () => {
  const clients = [
    {
      name: 'ioredis (offline queue on: it resends scripts after CLIENT KILL)',
      prefix: 'caa:reconnect-io:',
      connect: async (port: number) => {
        const client = new Redis({ port, host: '127.0.0.1' });
        client.on('error', () => {});
        return { client, close: async () => client.disconnect() };
      },
    },
    {
      name: 'node-redis (defaults: replies were once matched to the wrong commands)',
      prefix: 'caa:reconnect-nr:',
      connect: async (port: number) => {
        const client = createClient({ socket: { port, host: '127.0.0.1' } });
        client.on('error', () => {});
        await client.connect();
        return { client, close: async () => void (await client.disconnect().catch(() => {})) };
      },
    },
  ];
  for (const { name, prefix, connect } of clients) {
    it(`${name}: no valid refresh becomes REPLAYED, no pair is handed to another session`, async () => {
      if (server === undefined || raw === undefined) throw new Error('no server');
      const { client, close } = await connect(server.port);
      try {
        const outcomes = await refreshStorm(new RedisStore({ client, prefix }), async () => {
          await raw?.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        });
        expect(outcomes.replayed).toBe(0);
        expect(outcomes.wrongPair).toBe(0);
        expect(outcomes.ok).toBeGreaterThan(0);
      } finally {
        await close();
      }
    }, 60_000);
  }
});

interface StormOutcomes {
  ok: number;
  replayed: number;
  unavailable: number;
  /** A refresh answered with a pair of another session (another user or family). */
  wrongPair: number;
  other: Record<string, number>;
}

/** 40 sessions refreshing in a loop for ~3 s while `kill` cuts the client's connections 10 times. */
async function refreshStorm(store: RedisStore, kill: () => Promise<void>): Promise<StormOutcomes> {
  const outcomes: StormOutcomes = { ok: 0, replayed: 0, unavailable: 0, wrongPair: 0, other: {} };
  const sessions = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => ({ owner: i % 2 === 0 ? user : other, pair: await issueSession(store, i % 2 === 0 ? user : other) })),
  );
  const deadline = Date.now() + 3_000;
  const killer = (async () => {
    for (let i = 0; i < 10; i++) {
      await sleep(250);
      await kill();
    }
  })();
  await Promise.all(
    sessions.map(async (session) => {
      while (Date.now() < deadline) {
        try {
          const next = await refreshToken(store, users, signed(session.pair, CAA_ACTIONS.refreshToken));
          if (next.userId !== session.owner._id || next.apiKey.slice(0, 2) !== session.pair.apiKey.slice(0, 2)) outcomes.wrongPair++;
          session.pair = next;
          outcomes.ok++;
        } catch (err) {
          if (isCaaError(err) && err.code === 'REPLAYED') outcomes.replayed++;
          else if (isCaaError(err) && err.code === 'STORE_UNAVAILABLE') outcomes.unavailable++;
          else {
            const key = isCaaError(err) ? err.code : String(err);
            outcomes.other[key] = (outcomes.other[key] ?? 0) + 1;
            // A session lost to a fault (a rotation that ran but whose answer was lost past grace) is re-issued.
            session.pair = await issueSession(store, session.owner).catch(() => session.pair);
          }
        }
      }
    }),
  );
  await killer;
  console.log(`[reconnect] ${JSON.stringify(outcomes)}`);
  return outcomes;
}
