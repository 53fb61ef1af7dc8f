/**
 * The Caa client API as a Fastify 5 app. Routes only: every check and every rotation is a
 * caa-auth use case, bound to one configuration by `createCaaAuth`.
 */

import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { CAA_ACTIONS, CaaError, createCaaAuth, type SessionStore } from 'caa-auth';
import { NOT_FOUND, toErrorResponse } from '../shared/errors.js';
import { SESSION_NOT_FOUND, describeEvent, loginMetadata, type ExampleAuthOptions } from '../shared/sessions.js';
import { LOGIN_FAILED, checkLogin, type DemoUsers } from '../shared/users.js';
import { caaPlugin, sessionOf } from './caa-plugin.js';

export interface BuildAppOptions {
  store: SessionStore;
  users: DemoUsers;
  /** Fastify's logger option; default off. Request logs carry method, URL and status, never headers. */
  logger?: FastifyServerOptions['logger'];
  /** Adds `DELETE /api/admin/users/:id` (unauthenticated) for the end-to-end tests. */
  testRoutes?: boolean;
  /**
   * Passed to `createCaaAuth`, so to every use case (session lifetime `ttlMs`, clock `now`,
   * `skewMs`, `maxLifetimeMs`, …); the library's defaults when absent. The soak test uses it for a
   * short session lifetime. Without an `onEvent` of its own, events are logged at `debug` level.
   */
  useCaseOptions?: ExampleAuthOptions;
}

export async function buildApp({
  store,
  users,
  logger = false,
  testRoutes = false,
  useCaseOptions = {},
}: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger });

  // The original clients post refresh-token as an empty `application/x-www-form-urlencoded` body,
  // and some send an empty JSON body: accept both (Fastify would answer 415 and 400).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
  });
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });

  const auth = createCaaAuth({
    // One line per event at debug level: its type and kind (no ids, no metadata, no secrets).
    onEvent: (event) => app.log.debug(`caa-auth event ${describeEvent(event)}`),
    ...useCaseOptions,
    store,
    users,
  });
  await app.register(caaPlugin, { auth });

  app.post('/api/my/login', async (request, reply) => {
    const user = await checkLogin(users, request.body);
    if (user === null) return reply.status(LOGIN_FAILED.status).send(LOGIN_FAILED.body);
    return auth.issueSession(user, { metadata: loginMetadata(request.headers['user-agent'], request.ip, request.body) });
  });

  app.get('/api/my', { preHandler: app.caaAuth(CAA_ACTIONS.fetchMyProfile) }, async (request) => {
    const user = await users.findById(sessionOf(request).userId);
    if (user === null) throw new CaaError('USER_NOT_FOUND');
    return { user: auth.publicUser(user) };
  });

  app.post('/api/my/refresh-token', async (request) => auth.refreshToken(request));

  app.delete('/api/my/logout', async (request) => {
    await auth.revokeSession(request);
    return { message: 'ok' };
  });

  app.get('/api/my/sessions', { preHandler: app.caaAuth(CAA_ACTIONS.listMySessions) }, async (request) => {
    const session = sessionOf(request);
    return { sessions: await auth.listSessions(session.userId, { current: session }) };
  });

  // The two that revoke are replay-protected: a captured header cannot sign out devices twice.
  app.delete<{ Params: { id: string } }>(
    '/api/my/sessions/:id',
    { preHandler: app.caaAuth(CAA_ACTIONS.revokeMySession, { replayProtection: true }) },
    async (request, reply) => {
      if (await auth.revokeUserSession(sessionOf(request).userId, request.params.id)) return { message: 'ok' };
      return reply.status(SESSION_NOT_FOUND.status).send(SESSION_NOT_FOUND.body);
    },
  );

  app.delete('/api/my/sessions', { preHandler: app.caaAuth(CAA_ACTIONS.revokeMyOtherSessions, { replayProtection: true }) }, async (request) => {
    const session = sessionOf(request);
    return { message: 'ok', revoked: await auth.revokeUserSessions(session.userId, { except: session }) };
  });

  if (testRoutes) {
    app.delete<{ Params: { id: string } }>('/api/admin/users/:id', async (request, reply) => {
      if (users.delete(request.params.id)) return { message: 'ok' };
      return reply.status(404).send({ message: 'user not found' });
    });
  }

  app.setNotFoundHandler(async (_request, reply) => reply.status(NOT_FOUND.status).send(NOT_FOUND.body));

  app.setErrorHandler(async (err: unknown, request, reply) => {
    const { status, body, logLine } = toErrorResponse(err);
    if (logLine !== undefined) request.log.error(logLine);
    return reply.status(status).send(body);
  });

  return app;
}
