/**
 * Logout: a signed request that revokes its session and the session's whole family.
 *
 * @module use-cases/revoke-session
 */

import { CAA_ACTIONS } from '../protocol/actions.js';
import type { Session } from '../models.js';
import type { SessionStore } from '../stores/session-store.js';
import { recordUse, verifyRequest, type AuthenticateOptions } from './authenticate.js';
import { emit, reportFailure } from './events.js';
import type { RequestLike } from './request.js';

/**
 * Options of {@link revokeSession}.
 *
 * @example
 * ```ts
 * import { revokeSession, type RevokeSessionOptions } from 'caa-auth';
 *
 * // An API with its own action names signs its logout with one of them.
 * const options: RevokeSessionOptions = { action: 'shop:session:logout' };
 * await revokeSession(store, req, options); // the session and its whole family are gone
 * ```
 *
 * @category Use cases
 */
export interface RevokeSessionOptions extends AuthenticateOptions {
  /** The action the request must be signed with. Default `client:my:logout`. */
  action?: string;
}

/**
 * Authenticates a logout request (action `client:my:logout` by default) and revokes the session's
 * whole family; afterwards every key of it answers 404 `apiKey not found`. Any key of a live family
 * logs it out: the live one, or a rotated one whose signature verifies — so a logout still works
 * after a thief refreshed first. Returns the session of the key that signed.
 *
 * @param store - Where the sessions live.
 * @param req - The logout request, signed with any key of the family.
 * @param options - As {@link authenticate}'s, and `action` (default `client:my:logout`).
 *
 * @throws {@link CaaError} as {@link authenticate} does; a rotated key outside its grace, made after
 *   the rotation, is 404 `TOKEN_REUSED` (the family is revoked all the same).
 *
 * @example
 * ```ts
 * import { revokeSession } from 'caa-auth';
 *
 * app.delete('/api/my/logout', async (req, res) => {
 *   await revokeSession(store, req);
 *   res.json({ message: 'ok' });
 * });
 * ```
 *
 * @category Use cases
 */
export async function revokeSession(
  store: SessionStore,
  req: RequestLike,
  options: RevokeSessionOptions = {},
): Promise<Session> {
  const action = options.action ?? CAA_ACTIONS.logout;
  try {
    const verifiedRequest = await verifyRequest(store, req, action, options);
    const session = await recordUse(store, verifiedRequest, options, action, true);
    emit(options, { type: 'session.revoked', at: verifiedRequest.now, userId: session.userId, sessionIds: [session.familyId], reason: 'logout' });
    return session;
  } catch (err) {
    reportFailure(options, err, action, 'revoke');
    throw err;
  }
}
