/**
 * Caa authentication for Express: `caaAuth(auth, action)` makes a middleware that checks the
 * request's `Authorization: Caa …` header for one action and puts the session on `req.caaSession`.
 * All checks are the configured `auth.authenticate` (one `createCaaAuth` object for every route);
 * a failure is passed to the error handler as a `CaaError` (status + `{ message }`).
 */

import type { RequestHandler } from 'express';
import type { CaaAuth, Session, UserLike } from 'caa-auth';

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
 * const auth = createCaaAuth({ store, users });
 * app.get('/api/my', caaAuth(auth, CAA_ACTIONS.fetchMyProfile), (req, res) => { … req.caaSession … });
 * ```
 */
export function caaAuth<U extends UserLike, P>(
  auth: CaaAuth<U, P>,
  action: string,
  options: { replayProtection?: boolean } = {},
): RequestHandler {
  return async (req, _res, next) => {
    try {
      req.caaSession = await auth.authenticate(req, action, options);
      next();
    } catch (err) {
      next(err);
    }
  };
}
