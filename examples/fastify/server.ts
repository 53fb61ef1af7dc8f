/**
 * Runs the Fastify example: `npm run example:fastify`. See examples/README.md for the environment.
 * Logs with Fastify's logger (pino, JSON lines): method, URL, status, time; never headers or bodies.
 */

import { readServerEnv, onShutdown } from '../shared/env.js';
import { createStoreFromEnv } from '../shared/store.js';
import { DEMO_MOBILE, createDemoUsers } from '../shared/users.js';
import { buildApp } from './app.js';

const env = readServerEnv();
const users = await createDemoUsers({ disposable: env.testRoutes });
const { store, description, close } = await createStoreFromEnv();

const app = await buildApp({
  store,
  users,
  testRoutes: env.testRoutes,
  // The default request serializer has no headers; the redaction is a second lock on the door.
  logger: { level: env.logLevel, redact: ['req.headers.authorization'] },
});
await app.listen({ port: env.port, host: env.host });
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : env.port;
console.log(`caa-auth fastify example listening on http://${env.host}:${port} (store: ${description})`);
console.log(`demo user: mobile ${DEMO_MOBILE}, password in examples/README.md`);
if (env.testRoutes) console.log('test routes enabled: DELETE /api/admin/users/:id');

onShutdown(async () => {
  await app.close();
  await close();
});
