/**
 * Caa authentication for Express: `caaAuth(store, action)` makes a middleware that checks the
 * request's `Authorization: Caa …` header for one action and puts the session on `req.caaSession`.
 * All checks are caa-auth's `authenticate`; a failure is passed to the error handler as a
 * `CaaError` (status + `{ message }`).
 */

import type { RequestHandler } from 'express';
import { authenticate, type AuthenticateOptions, type Session, type SessionStore } from 'caa-auth';

declare global {
  // Declaration merging is how Express types request decorations.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The live session of a request that passed `caaAuth`. */
      caaSession?: Session;
    }
  }
}

/**
 * @example
 * ```ts
 * app.get('/api/my', caaAuth(store, CAA_ACTIONS.fetchMyProfile), (req, res) => { … req.caaSession … });
 * ```
 */
export function caaAuth(store: SessionStore, action: string, options: AuthenticateOptions = {}): RequestHandler {
  return async (req, _res, next) => {
    try {
      req.caaSession = await authenticate(store, req, action, options);
      next();
    } catch (err) {
      next(err);
    }
  };
}
