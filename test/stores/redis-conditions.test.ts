/**
 * RedisStore's own conditions as events (issue 11): a Redis that can evict session keys and has no
 * persistence is reported through `onCondition`, once per condition, to listeners that subscribe
 * before or after the report, and `createCaaAuth({ onEvent })` turns them into `store.condition`
 * events; a listener that throws changes nothing.
 */

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryUserRepository, RedisStore, createCaaAuth, type CaaEvent, type StoreCondition } from '../../src/index.js';
import { RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await RedisServer.start({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru', '--appendonly', 'no'] });
  client = new Redis({ port: server.port, host: '127.0.0.1' });
  await client.ping();
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RedisStore conditions', () => {
  it('reports eviction and persistence once each, to listeners before and after, and as store.condition events', async () => {
    const store = new RedisStore({ client, logger: { warn: () => {} } });
    const early: StoreCondition[] = [];
    store.onCondition((condition) => {
      early.push(condition);
      throw new Error('a listener that throws');
    });
    const events: CaaEvent[] = [];
    createCaaAuth({ store, users: new MemoryUserRepository(), onEvent: (event) => void events.push(event), now: () => 1_700_000_000_000 });

    const report = await store.check();
    await store.check(); // a second check reports nothing new
    await settle();

    expect(report.warnings).toHaveLength(2);
    expect(early.map((c) => c.condition)).toStrictEqual(['eviction', 'persistence']);
    expect(early[0]?.message).toMatch(/^maxmemory-policy is allkeys-lru: Redis may evict session keys/);
    expect(events).toStrictEqual(
      early.map((c) => ({ type: 'store.condition', at: 1_700_000_000_000, condition: c.condition, message: c.message })),
    );

    const late: StoreCondition[] = [];
    store.onCondition((condition) => void late.push(condition));
    expect(late).toStrictEqual(early);
  });
});
