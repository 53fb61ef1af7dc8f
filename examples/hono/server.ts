/**
 * Runs the Hono example on Node: `npm run example:hono`. See examples/README.md for the
 * environment. Logs one line per request (method, path, status, time), never headers or bodies.
 */

import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { readServerEnv, onShutdown } from '../shared/env.js';
import { logEvents } from '../shared/log.js';
import { createStoreFromEnv } from '../shared/store.js';
import { DEMO_MOBILE, createDemoUsers } from '../shared/users.js';
import { createApp } from './app.js';

const env = readServerEnv();
const users = await createDemoUsers({ disposable: env.testRoutes });
const { store, description, close } = await createStoreFromEnv();

const app = createApp({
  store,
  users,
  testRoutes: env.testRoutes,
  // Store faults always; at LOG_LEVEL=debug every event (its type and kind; no ids, no metadata, no secrets).
  authOptions: { onEvent: logEvents({ warn: console.error, debug: env.logEvents ? console.log : undefined }) },
});
// @hono/node-server's listener under a plain Node server, so that requests are logged as the Express example logs them.
const listener = getRequestListener(app.fetch);
const server = createServer((req, res) => {
  const started = performance.now();
  res.on('finish', () => {
    const path = (req.url ?? '').split('?')[0];
    const ms = (performance.now() - started).toFixed(1);
    console.log(`${req.method ?? '?'} ${path} ${res.statusCode} ${ms} ms`);
  });
  void listener(req, res);
});

await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(env.port, env.host, resolve);
});
const address = server.address();
const port = typeof address === 'object' && address !== null ? address.port : env.port;
console.log(`caa-auth hono example listening on http://${env.host}:${port} (store: ${description})`);
console.log(`demo user: mobile ${DEMO_MOBILE}, password in examples/README.md`);
if (env.testRoutes) console.log('test routes enabled: DELETE /api/admin/users/:id');

onShutdown(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await close();
});
