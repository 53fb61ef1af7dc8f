/** RedisStore through node-redis (the `redis` package), against a real redis-server: the shared contract and the Redis specifics. */

import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../../src/index.js';
import { describeSessionStoreContract } from '../contract/session-store.contract.js';
import { nodeRedisRaw, redisStoreFixture } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';
import { describeRedisStoreSpecifics, type RedisDriver } from './redis-store.shared.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server?.stop();
});

type Client = ReturnType<typeof createClient>;

/** Ends a client without waiting for a server that may be gone. */
async function end(client: Client): Promise<void> {
  if (client.isOpen) client.destroy();
}

const nodeRedis: RedisDriver = {
  async connect(port) {
    const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: 50 } });
    client.on('error', () => {}); // reconnect errors while a fault test has killed the server
    await client.connect();
    return { client, raw: nodeRedisRaw(client), close: () => end(client) };
  },
  async failFast(port) {
    const client = createClient({
      socket: { port, host: '127.0.0.1', reconnectStrategy: false, connectTimeout: 200 },
      disableOfflineQueue: true,
    });
    client.on('error', () => {});
    // Nothing listens on `port`: connecting fails, and the client stays closed.
    await client.connect().catch(() => undefined);
    return { client, close: () => end(client) };
  },
  async queueing(port) {
    const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: 50 } });
    client.on('error', () => {});
    // Keeps trying to connect; commands wait in the offline queue meanwhile.
    void client.connect().catch(() => undefined);
    return { client, close: () => end(client) };
  },
};

let contractStores = 0;

describeSessionStoreContract('RedisStore via node-redis', async () => {
  const { client, raw, close } = await nodeRedis.connect(server.port);
  const prefix = `caa:contract${++contractStores}:`;
  return redisStoreFixture(new RedisStore({ client, prefix, clock: 'caller' }), raw, prefix, close);
});

describeRedisStoreSpecifics('node-redis', nodeRedis, () => server);
