/**
 * Two app servers with different clocks on one RedisStore (issue 9, finding 4). Each "server" is
 * the use cases with a `now` option offset from the real clock; Redis is the real redis-server, and
 * the store judges rotation, grace, reuse and expiry on its `TIME` (the default `clock: 'redis'`).
 * Clients sign with the real clock.
 *
 * Before, marker TTLs were computed on the clock of the server that set them and grace on the
 * clock of the server that handled the retry: a replay on a server behind was served once the
 * marker expired, an honest retry 1 s after the rotation on a server 15 s ahead was theft, and a
 * thief 65 s after the rotation on a server 60 s behind was served.
 */

import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_SKEW_MS,
  MemoryUserRepository,
  RedisStore,
  issueSession,
  refreshToken,
  signCaaHeader,
  type AnyRedisClient,
  type CredentialsResponse,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { RedisServer } from '../support/redis-server.js';
import { makeUser } from '../support/use-case-fixtures.js';

/** How far apart the two servers' clocks are: A is `+apart/2` ahead of Redis, B `apart/2` behind, and the other way round. */
const APART_MS = [2_000, 15_000, 60_000, 120_000] as const;
const user = makeUser('59573c395c2960da1aa83a0c');
const users = new MemoryUserRepository([user]);

let server: RedisServer | undefined;
let ioredis: Redis | undefined;
let nodeRedis: ReturnType<typeof createClient> | undefined;

beforeAll(async () => {
  server = await RedisServer.start();
  ioredis = new Redis({ port: server.port, host: '127.0.0.1', enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
  await ioredis.connect();
  nodeRedis = createClient({ socket: { port: server.port, host: '127.0.0.1' }, disableOfflineQueue: true });
  await nodeRedis.connect();
});

afterAll(async () => {
  ioredis?.disconnect();
  await nodeRedis?.quit();
  await server?.stop();
});

interface AppServer {
  readonly name: string;
  readonly now: () => number;
}

function appServers(apartMs: number): [AppServer, AppServer] {
  return [
    { name: `A (+${apartMs / 2} ms)`, now: () => Date.now() + apartMs / 2 },
    { name: `B (-${apartMs / 2} ms)`, now: () => Date.now() - apartMs / 2 },
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A refresh request signed now, by the real clock. */
function refreshRequest(pair: { apiKey: string; secretKey: string }): { headers: { authorization: string } } {
  return { headers: { authorization: signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey: pair.apiKey, secretKey: pair.secretKey }) } };
}

const clients: { name: string; client: () => AnyRedisClient }[] = [
  { name: 'ioredis', client: () => ioredis as Redis },
  { name: 'node-redis', client: () => nodeRedis as ReturnType<typeof createClient> },
];

for (const { name, client } of clients) {
  describe(`RedisStore via ${name}: app servers with different clocks agree`, () => {
    it(`an honest retry 1 s after a rotation on one server is served the same pair on the other (${APART_MS.join(', ')} ms apart, both ways)`, async () => {
      const cases = APART_MS.flatMap((apartMs) => {
        const [a, b] = appServers(apartMs);
        return [
          [a, b],
          [b, a],
        ] as const;
      });
      await Promise.all(
        cases.map(async ([first, second]) => {
          const store = newStore();
          const login = await issueSession(store, user, { now: first.now });
          const lost: CredentialsResponse = await refreshToken(store, users, refreshRequest(login), { now: first.now });
          await sleep(1_000);
          const retried = await refreshToken(store, users, refreshRequest(login), { now: second.now });
          expect(retried, `${first.name} then ${second.name}`).toStrictEqual(lost);
        }),
      );
    });

    let prefixes = 0;
    const newStore = (): RedisStore => new RedisStore({ client: client(), prefix: `caa:clocks-${name}-${++prefixes}:` });

    for (const apartMs of APART_MS) {
      const [a, b] = appServers(apartMs);
      for (const [first, second] of [
        [a, b],
        [b, a],
      ] as const) {
        it(`clocks ${apartMs} ms apart: a captured refresh header served on ${first.name} is refused on both, with a marker that outlives the window`, async () => {
          const store = newStore();
          const login = await issueSession(store, user, { now: first.now });
          const captured = refreshRequest(login);
          await refreshToken(store, users, captured, { now: first.now });
          for (const replayOn of [first, second]) {
            await expectCaaError(refreshToken(store, users, captured, { now: replayOn.now }), 400, 'invalid signature', 'REPLAYED');
          }
          // The marker lives until the header is outside the window on every server within the window of Redis.
          const timestamp = Number(Buffer.from(captured.headers.authorization.slice(4), 'base64').toString('latin1').split(' ').pop());
          const raw = ioredis as Redis;
          const [markerKey] = await raw.keys(`caa:clocks-${name}-${prefixes}:*:r:*`);
          if (markerKey === undefined) throw new Error('no marker');
          const pttl = await raw.pttl(markerKey);
          const lastAcceptance = timestamp + DEFAULT_SKEW_MS + apartMs / 2; // on the server furthest behind
          expect(pttl).toBeGreaterThan(lastAcceptance - Date.now());
        });

      }
    }
  });
}

it(`a thief 65 s after the rotation is TOKEN_REUSED on every server, whatever its clock (${APART_MS.join(', ')} ms apart), through both clients`, async () => {
  let prefixes = 0;
  const cases = clients.flatMap(({ name, client }) =>
    APART_MS.flatMap((apartMs) => {
      const [a, b] = appServers(apartMs);
      return [
        { name, client, apartMs, rotateOn: a, thiefOn: b },
        { name, client, apartMs, rotateOn: b, thiefOn: a },
      ];
    }),
  );
  const families = await Promise.all(
    cases.map(async (c) => {
      const store = new RedisStore({ client: c.client(), prefix: `caa:clocks-thief-${++prefixes}:` });
      const login = await issueSession(store, user, { now: c.rotateOn.now });
      const next = await refreshToken(store, users, refreshRequest(login), { now: c.rotateOn.now });
      return { ...c, store, login, next };
    }),
  );
  await sleep(65_000);
  for (const family of families) {
    await expectCaaError(refreshToken(family.store, users, refreshRequest(family.login), { now: family.thiefOn.now }), 404, 'apiKey not found', 'TOKEN_REUSED');
    await expectCaaError(refreshToken(family.store, users, refreshRequest(family.next), { now: family.rotateOn.now }), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
  }
}, 120_000);
