/**
 * The Caa client API as an Express 5 app. Routes only: every check and every rotation is a
 * caa-auth use case, bound to one configuration by `createCaaAuth`.
 */

import express, { type ErrorRequestHandler, type Express, type Request } from 'express';
import { CAA_ACTIONS, CaaError, createCaaAuth, type Session, type SessionStore } from 'caa-auth';
import { NOT_FOUND, toErrorResponse } from '../shared/errors.js';
import { SESSION_NOT_FOUND, loginMetadata, type ExampleAuthOptions } from '../shared/sessions.js';
import { LOGIN_FAILED, checkLogin, type DemoUsers } from '../shared/users.js';
import { caaAuth } from './caa-middleware.js';

export interface AppOptions {
  store: SessionStore;
  users: DemoUsers;
  /** Adds `DELETE /api/admin/users/:id` (unauthenticated) for the end-to-end tests. */
  testRoutes?: boolean;
  /** Passed to `createCaaAuth` (ttlMs, graceMs, maxLifetimeMs, a clock, onEvent, …); its defaults when absent. */
  authOptions?: ExampleAuthOptions;
}

function sessionOf(req: Request): Session {
  // Only reachable if a route forgot its caaAuth middleware: a bug, answered 500.
  if (req.caaSession === undefined) throw new Error('route is missing the caaAuth middleware');
  return req.caaSession;
}

export function createApp({ store, users, testRoutes = false, authOptions = {} }: AppOptions): Express {
  const auth = createCaaAuth({ ...authOptions, store, users });
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  app.post('/api/my/login', async (req, res) => {
    const user = await checkLogin(users, req.body);
    if (user === null) {
      res.status(LOGIN_FAILED.status).json(LOGIN_FAILED.body);
      return;
    }
    res.json(await auth.issueSession(user, { metadata: loginMetadata(req.get('user-agent'), req.ip, req.body) }));
  });

  app.get('/api/my', caaAuth(auth, CAA_ACTIONS.fetchMyProfile), async (req, res) => {
    const user = await users.findById(sessionOf(req).userId);
    if (user === null) throw new CaaError('USER_NOT_FOUND');
    res.json({ user: auth.publicUser(user) });
  });

  app.post('/api/my/refresh-token', async (req, res) => {
    res.json(await auth.refreshToken(req));
  });

  app.delete('/api/my/logout', async (req, res) => {
    await auth.revokeSession(req);
    res.json({ message: 'ok' });
  });

  app.get('/api/my/sessions', caaAuth(auth, CAA_ACTIONS.listMySessions), async (req, res) => {
    const session = sessionOf(req);
    res.json({ sessions: await auth.listSessions(session.userId, { current: session }) });
  });

  // The two that revoke are replay-protected: a captured header cannot sign out devices twice.
  app.delete('/api/my/sessions/:id', caaAuth(auth, CAA_ACTIONS.revokeMySession, { replayProtection: true }), async (req, res) => {
    const { id } = req.params;
    if (typeof id === 'string' && (await auth.revokeUserSession(sessionOf(req).userId, id))) res.json({ message: 'ok' });
    else res.status(SESSION_NOT_FOUND.status).json(SESSION_NOT_FOUND.body);
  });

  app.delete('/api/my/sessions', caaAuth(auth, CAA_ACTIONS.revokeMyOtherSessions, { replayProtection: true }), async (req, res) => {
    const session = sessionOf(req);
    res.json({ message: 'ok', revoked: await auth.revokeUserSessions(session.userId, { except: session }) });
  });

  if (testRoutes) {
    app.delete('/api/admin/users/:id', (req, res) => {
      if (users.delete(req.params.id)) res.json({ message: 'ok' });
      else res.status(404).json({ message: 'user not found' });
    });
  }

  app.use((_req, res) => {
    res.status(NOT_FOUND.status).json(NOT_FOUND.body);
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const { status, body, logLine } = toErrorResponse(err);
    if (logLine !== undefined) console.error(logLine);
    res.status(status).json(body);
  };
  app.use(onError);

  return app;
}
