/**
 * Logout: a signed request that revokes its session and the session's whole family.
 *
 * @module use-cases/revoke-session
 */

import { CAA_ACTIONS } from '../protocol/actions.js';
import type { Session } from '../models.js';
import type { SessionStore } from '../stores/session-store.js';
import { authenticate, type AuthenticateOptions } from './authenticate.js';
import { fromStore } from './options.js';
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
 */
export interface RevokeSessionOptions extends AuthenticateOptions {
  /** The action the request must be signed with. Default `client:my:logout`. */
  action?: string;
}

/**
 * Authenticates a logout request (action `client:my:logout` by default) and revokes the session;
 * afterwards its apiKey answers 404 `apiKey not found`. Returns the session that was revoked.
 *
 * @throws {@link CaaError} as {@link authenticate} does.
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
 */
export async function revokeSession(
  store: SessionStore,
  req: RequestLike,
  options: RevokeSessionOptions = {},
): Promise<Session> {
  const session = await authenticate(store, req, options.action ?? CAA_ACTIONS.logout, options);
  await fromStore(store.revoke(session.apiKey, (options.now ?? Date.now)()));
  return session;
}
