/**
 * The Caa client API as a Hono app on Node (`@hono/node-server`), built from the package's
 * exports: one `createCaaAuth` object, the ready-made routes of `caa-auth/hono`, its `onError`
 * handler. What is left here is the app's own: the body limit, the login's client address, a test
 * route, the 404.
 */

import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createCaaAuth, type CaaAuthConfig, type SessionStore } from 'caa-auth';
import { caaErrorHandler, caaRoutes, type CaaEnv } from 'caa-auth/hono';
import { MAX_BODY_BYTES, NOT_FOUND } from '../shared/http.js';
import { unexpectedErrorLine } from '../shared/log.js';
import { checkLogin, type DemoUser, type DemoUsers } from '../shared/users.js';

export interface AppOptions {
  store: SessionStore;
  users: DemoUsers;
  /** Adds `DELETE /api/admin/users/:id` (unauthenticated) for the end-to-end tests. */
  testRoutes?: boolean;
  /** Passed to `createCaaAuth` (ttlMs, graceMs, maxLifetimeMs, a clock, onEvent, …); its defaults when absent. */
  authOptions?: Omit<CaaAuthConfig<DemoUser>, 'store' | 'users'>;
}

export function createApp({ store, users, testRoutes = false, authOptions = {} }: AppOptions): Hono<CaaEnv> {
  const auth = createCaaAuth({ ...authOptions, store, users });
  const app = new Hono<CaaEnv>();
  // Hono reads any body size by default; a larger one is 413, answered by the error handler below.
  app.use(bodyLimit({ maxSize: MAX_BODY_BYTES }));

  // Login (through the app's password check), profile, refresh, logout, and the session endpoints.
  caaRoutes(app, auth, { verifyLogin: (body) => checkLogin(users, body), onServerError: logUnexpected });

  if (testRoutes) {
    app.delete('/api/admin/users/:id', (c) => {
      if (users.delete(c.req.param('id'))) return c.json({ message: 'ok' });
      return c.json({ message: 'user not found' }, 404);
    });
  }

  app.notFound((c) => c.json(NOT_FOUND.body, NOT_FOUND.status));
  app.onError(caaErrorHandler({ onServerError: logUnexpected }));
  return app;
}

function logUnexpected(err: unknown): void {
  const line = unexpectedErrorLine(err);
  if (line !== undefined) console.error(line);
}
