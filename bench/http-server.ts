/**
 * The server of `bench/http.bench.ts`, run as its own process: the Fastify example app
 * (`buildApp`, with the example's users and its store from the environment: a `MemoryStore`, or a
 * `RedisStore` when `REDIS_URL` is set) plus one bench-only route, {@link UNAUTHENTICATED_TWIN}:
 * `GET /api/my` without Caa authentication. The twin does what the real route does after its
 * `caaAuth` preHandler (find the user, answer `{ user }` with the same body), so the two differ by
 * the authentication alone. It is added here, not in the example, so the example keeps no
 * unauthenticated copy of a signed route. No request logging (the example's default), for either.
 * A second bench-only route, {@link CPU_USAGE}, reports the process's CPU time, so the bench can
 * relate CPU time to requests served (a measure a busy shared machine disturbs far less than req/s).
 *
 * Run by the bench: `node <tsx cli> bench/http-server.ts` with `PORT`, `HOST` and maybe `REDIS_URL`.
 */

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { toPublicUser } from 'caa-auth';
import { buildApp } from '../examples/fastify/app.js';
import { onShutdown, readServerEnv } from '../examples/shared/env.js';
import { createStoreFromEnv } from '../examples/shared/store.js';
import { DEMO_PROFILE, createDemoUsers } from '../examples/shared/users.js';

/** The unauthenticated twin of `GET /api/my`: for this bench only. */
export const UNAUTHENTICATED_TWIN = '/bench/my-unauthenticated';

/** Bench-only: the server process's CPU time so far, `{ micros }` (user + system, µs). */
export const CPU_USAGE = '/bench/cpu-usage';

/** The line the server prints once it listens. */
export const LISTENING = 'caa-auth bench server listening on';

async function main(): Promise<void> {
  const env = readServerEnv();
  const users = await createDemoUsers();
  const { store, description, close } = await createStoreFromEnv();
  const app = await buildApp({ store, users });
  app.get(UNAUTHENTICATED_TWIN, async () => {
    const user = await users.findById(DEMO_PROFILE._id);
    if (user === null) throw new Error('the demo user is missing');
    return { user: toPublicUser(user) };
  });
  app.get(CPU_USAGE, async () => {
    const { user, system } = process.cpuUsage();
    return { micros: user + system };
  });
  await app.listen({ port: env.port, host: env.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : env.port;
  console.log(`${LISTENING} http://${env.host}:${port} (store: ${description})`);
  onShutdown(async () => {
    await app.close();
    await close();
  });
}

function isMain(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href;
}

if (isMain()) await main();
