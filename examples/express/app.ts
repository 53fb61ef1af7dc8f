/**
 * The Caa client API as an Express app (Express 5, or 4 given as `express`), built from the
 * package's exports: one `createCaaAuth` object, the ready-made routes of `caa-auth/express`, its
 * error handler. What is left here is the app's own: the body limit, a test route, the 404.
 */

import expressDefault, { type Express } from 'express';
import { createCaaAuth, type CaaAuthConfig, type SessionStore } from 'caa-auth';
import { captureRawBody, caaErrorHandler, caaRoutes } from 'caa-auth/express';
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
  /** The `express` function to build the app with; default Express 5 (`import express from 'express'`). */
  express?: typeof expressDefault;
}

export function createApp({ store, users, testRoutes = false, authOptions = {}, express = expressDefault }: AppOptions): Express {
  const auth = createCaaAuth({ ...authOptions, store, users });
  const app = express();
  app.disable('x-powered-by');
  // The raw bytes kept too: a caa-v2 request's Content-Digest is checked against them.
  app.use(express.json({ limit: MAX_BODY_BYTES, verify: captureRawBody }));

  // Login (through the app's password check), profile, refresh, logout, and the session endpoints.
  caaRoutes(app, auth, { verifyLogin: (body) => checkLogin(users, body) });

  if (testRoutes) {
    app.delete('/api/admin/users/:id', (req, res) => {
      if (users.delete(req.params.id)) res.json({ message: 'ok' });
      else res.status(404).json({ message: 'user not found' });
    });
  }

  app.use((_req, res) => {
    res.status(NOT_FOUND.status).json(NOT_FOUND.body);
  });
  app.use(
    caaErrorHandler({
      onServerError: (err) => {
        const line = unexpectedErrorLine(err);
        if (line !== undefined) console.error(line);
      },
    }),
  );
  return app;
}
