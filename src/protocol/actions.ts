/**
 * The action names of the original client API (spec §3). Each endpoint has exactly one action and
 * the server signs with the action of the endpoint that was called.
 *
 * @module protocol/actions
 */

/**
 * Actions of the original client API.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, signCaaHeader } from 'caa-auth';
 *
 * const authorization = signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey, secretKey });
 * ```
 *
 * @category Protocol
 */
export const CAA_ACTIONS = {
  /** `POST /api/my/login`: issues credentials; not signed. */
  login: 'client:my:login',
  /** `GET /api/my` */
  fetchMyProfile: 'client:my:fetch-my-profile',
  /** `POST /api/my/refresh-token` */
  refreshToken: 'client:my:refresh-token',
  /** `PUT /api/my` */
  updateMyProfile: 'client:my:update-my-profile',
  /** `DELETE /api/my/logout` */
  logout: 'client:my:logout',
  /** `GET /api/my/sessions`: the user's sessions (devices). Added by caa-auth; not in the original API. */
  listMySessions: 'client:my:list-sessions',
  /** `DELETE /api/my/sessions/:id`: sign out one of the user's sessions. Added by caa-auth. */
  revokeMySession: 'client:my:revoke-session',
  /** `DELETE /api/my/sessions`: sign out every session but the caller's ("log out other devices"). Added by caa-auth. */
  revokeMyOtherSessions: 'client:my:revoke-other-sessions',
} as const;

/**
 * One of the action names of {@link CAA_ACTIONS}. Applications may sign with their own action strings too.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type CaaAction } from 'caa-auth';
 *
 * // A misspelt action then fails to compile, instead of answering every request 400 invalid signature.
 * function requireSession(action: CaaAction) {
 *   return (req, res, next) => authenticate(store, req, action).then((session) => { res.locals.session = session; next(); }, next);
 * }
 * app.get('/api/my', requireSession(CAA_ACTIONS.fetchMyProfile), showProfile);
 * ```
 *
 * @category Protocol
 */
export type CaaAction = (typeof CAA_ACTIONS)[keyof typeof CAA_ACTIONS];
