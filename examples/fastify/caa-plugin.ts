/**
 * Caa authentication for Fastify, as a plugin (fastify-plugin, so it decorates the app it is
 * registered on). It adds `request.caaSession` and `app.caaAuth(action)`, a `preHandler` that
 * checks the request's `Authorization: Caa …` header for that action with caa-auth's
 * `authenticate`. A failure is thrown as a `CaaError` (status + `{ message }`) to the error handler.
 */

import fp from 'fastify-plugin';
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { authenticate, type AuthenticateOptions, type Session, type SessionStore } from 'caa-auth';

declare module 'fastify' {
  interface FastifyRequest {
    /** The live session of a request that passed a `caaAuth` preHandler; `null` elsewhere. */
    caaSession: Session | null;
  }
  interface FastifyInstance {
    /** A preHandler that authenticates requests signed with `action`. */
    caaAuth(action: string): preHandlerAsyncHookHandler;
  }
}

export interface CaaPluginOptions {
  store: SessionStore;
  /** Passed to `authenticate` (clock, skew, replay protection). */
  authenticateOptions?: AuthenticateOptions;
}

/**
 * @example
 * ```ts
 * await app.register(caaPlugin, { store });
 * app.get('/api/my', { preHandler: app.caaAuth(CAA_ACTIONS.fetchMyProfile) }, async (request) => { … });
 * ```
 */
export const caaPlugin = fp<CaaPluginOptions>(
  async (app, { store, authenticateOptions = {} }) => {
    app.decorateRequest('caaSession', null);
    app.decorate('caaAuth', (action: string): preHandlerAsyncHookHandler => {
      return async (request) => {
        request.caaSession = await authenticate(store, request, action, authenticateOptions);
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
