/**
 * Runs the Express example: `npm run example:express`. See examples/README.md for the environment.
 * Logs one line per request (method, path, status, time), never headers or bodies.
 */

import { createServer } from 'node:http';
import { readServerEnv, onShutdown } from '../shared/env.js';
import { describeEvent } from '../shared/sessions.js';
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
  // LOG_LEVEL=debug: one line per caa-auth event (its type and kind; no ids, no metadata, no secrets).
  authOptions: env.logEvents ? { onEvent: (event) => console.log(`[caa-example] event ${describeEvent(event)}`) } : {},
});
const server = createServer((req, res) => {
  const started = performance.now();
  res.on('finish', () => {
    const path = (req.url ?? '').split('?')[0];
    const ms = (performance.now() - started).toFixed(1);
    console.log(`${req.method ?? '?'} ${path} ${res.statusCode} ${ms} ms`);
  });
  app(req, res);
});

await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(env.port, env.host, resolve);
});
const address = server.address();
const port = typeof address === 'object' && address !== null ? address.port : env.port;
console.log(`caa-auth express example listening on http://${env.host}:${port} (store: ${description})`);
console.log(`demo user: mobile ${DEMO_MOBILE}, password in examples/README.md`);
if (env.testRoutes) console.log('test routes enabled: DELETE /api/admin/users/:id');

onShutdown(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await close();
});
