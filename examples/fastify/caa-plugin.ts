/**
 * Caa authentication for Fastify, as a plugin (fastify-plugin, so it decorates the app it is
 * registered on). It adds `request.caaSession` and `app.caaAuth(action)`, a `preHandler` that
 * checks the request's `Authorization: Caa …` header for that action with the configured
 * `auth.authenticate` (one `createCaaAuth` object for every route). A failure is thrown as a
 * `CaaError` (status + `{ message }`) to the error handler.
 */

import fp from 'fastify-plugin';
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { CaaAuth, Session } from 'caa-auth';

declare module 'fastify' {
  interface FastifyRequest {
    /** The live session of a request that passed a `caaAuth` preHandler; `null` elsewhere. */
    caaSession: Session | null;
  }
  interface FastifyInstance {
    /** A preHandler that authenticates requests signed with `action` (`replayProtection`: accept each header once). */
    caaAuth(action: string, options?: { replayProtection?: boolean }): preHandlerAsyncHookHandler;
  }
}

export interface CaaPluginOptions {
  /** The configured use cases: `createCaaAuth({ store, users, …options })`. */
  auth: Pick<CaaAuth, 'authenticate'>;
}

/**
 * @example
 * ```ts
 * await app.register(caaPlugin, { auth: createCaaAuth({ store, users }) });
 * app.get('/api/my', { preHandler: app.caaAuth(CAA_ACTIONS.fetchMyProfile) }, async (request) => { … });
 * ```
 */
export const caaPlugin = fp<CaaPluginOptions>(
  async (app, { auth }) => {
    app.decorateRequest('caaSession', null);
    app.decorate('caaAuth', (action: string, options: { replayProtection?: boolean } = {}): preHandlerAsyncHookHandler => {
      return async (request) => {
        request.caaSession = await auth.authenticate(request, action, options);
      };
    });
  },
  { name: 'caa-auth', fastify: '5.x' },
);

/** The session of a route behind `caaAuth`; a route without it is a bug (500). */
export function sessionOf(request: FastifyRequest): Session {
  if (request.caaSession === null) throw new Error('route is missing the caaAuth preHandler');
  return request.caaSession;
}
