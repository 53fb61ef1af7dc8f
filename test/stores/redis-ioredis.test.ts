/** RedisStore through ioredis, against a real redis-server: the shared contract and the Redis specifics. */

import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../../src/index.js';
import { describeSessionStoreContract } from '../contract/session-store.contract.js';
import { ioredisRaw, redisStoreFixture } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';
import { describeRedisStoreSpecifics, type RedisDriver } from './redis-store.shared.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server?.stop();
});

/** Ends a client without waiting for a server that may be gone. */
async function end(client: Redis): Promise<void> {
  client.disconnect();
}

const ioredis: RedisDriver = {
  async connect(port) {
    const client = new Redis({ port, host: '127.0.0.1' });
    client.on('error', () => {}); // reconnect errors while a fault test has killed the server
    await client.ping();
    return { client, raw: ioredisRaw(client), close: () => end(client) };
  },
  async failFast(port) {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    return { client, close: () => end(client) };
  },
  async queueing(port) {
    const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, retryStrategy: () => 50 });
    client.on('error', () => {});
    return { client, close: () => end(client) };
  },
};

let contractStores = 0;

describeSessionStoreContract('RedisStore via ioredis', async () => {
  const { client, raw, close } = await ioredis.connect(server.port);
  const prefix = `caa:contract${++contractStores}:`;
  return redisStoreFixture(new RedisStore({ client, prefix, clock: 'caller' }), raw, prefix, close);
});

describeRedisStoreSpecifics('ioredis', ioredis, () => server);
