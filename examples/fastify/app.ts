/**
 * The Caa client API as a Fastify 5 app, built from the package's exports: one `createCaaAuth`
 * object and the `caa-auth/fastify` plugin with its ready-made routes and error handler. What is
 * left here is the app's own: the body parsers and limit, a test route, the 404, logging.
 */

import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createCaaAuth, type CaaAuthConfig, type SessionStore } from 'caa-auth';
import { caaPlugin } from 'caa-auth/fastify';
import { MAX_BODY_BYTES, NOT_FOUND } from '../shared/http.js';
import { logEvents, unexpectedErrorLine } from '../shared/log.js';
import { checkLogin, type DemoUser, type DemoUsers } from '../shared/users.js';

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
   * short session lifetime. Without an `onEvent` of its own, store faults are logged at `warn`
   * level and every event at `debug`.
   */
  useCaseOptions?: Omit<CaaAuthConfig<DemoUser>, 'store' | 'users'>;
}

export async function buildApp({
  store,
  users,
  logger = false,
  testRoutes = false,
  useCaseOptions = {},
}: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger, bodyLimit: MAX_BODY_BYTES });

  // The original clients post refresh-token as an empty `application/x-www-form-urlencoded` body,
  // and some send an empty JSON body: accept both (Fastify would answer 415 and 400). A form is
  // read as no body, as Express's and Hono's examples read it (they parse JSON only).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, _body, done) => done(null, undefined));
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });

  const auth = createCaaAuth({
    // One line per event (type and kind: no ids, no metadata, no secrets); pino's level decides.
    onEvent: logEvents({ warn: (line) => app.log.warn(line), debug: (line) => app.log.debug(line) }),
    ...useCaseOptions,
    store,
    users,
  });
  // Login (through the app's password check), profile, refresh, logout, and the session endpoints;
  // every error answered as JSON by the plugin's error handler.
  await app.register(caaPlugin, { auth, routes: { verifyLogin: (body) => checkLogin(users, body) } });

  if (testRoutes) {
    app.delete<{ Params: { id: string } }>('/api/admin/users/:id', async (request, reply) => {
      if (users.delete(request.params.id)) return { message: 'ok' };
      return reply.status(404).send({ message: 'user not found' });
    });
  }

  app.setNotFoundHandler(async (_request, reply) => reply.status(NOT_FOUND.status).send(NOT_FOUND.body));
  app.addHook('onError', async (request, _reply, err) => {
    const line = unexpectedErrorLine(err);
    if (line !== undefined) request.log.error(line);
  });
  return app;
}
