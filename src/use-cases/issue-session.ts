/**
 * Issuing credentials at login: a new session, the first of a new family.
 *
 * @module use-cases/issue-session
 */

import { toPublicUser, type CredentialsResponse, type Session, type User } from '../models.js';
import type { SessionStore } from '../stores/session-store.js';
import {
  DEFAULT_SESSION_TTL_MS,
  fromStore,
  generateFamilyId,
  generateKey,
  type IssueOptions,
} from './options.js';

/** The response body for a session and its user (spec §5 shape). @internal */
export function credentialsResponse<U extends User>(session: Session, user: U): CredentialsResponse<U> {
  return {
    apiKey: session.apiKey,
    secretKey: session.secretKey,
    userId: session.userId,
    expireIn: session.expireIn,
    user: toPublicUser(user),
  };
}

/**
 * Issues a new credential pair for a user who has just proved who they are (login). Checking the
 * password is the application's business; this mints and stores the session.
 *
 * @throws {@link CaaError} 503 `STORE_UNAVAILABLE` when the store fails.
 *
 * @example
 * ```ts
 * import { issueSession } from 'caa-auth';
 *
 * app.post('/api/my/login', async (req, res) => {
 *   const user = await checkPassword(req.body.mobile, req.body.password);
 *   res.json(await issueSession(store, user)); // { apiKey, secretKey, userId, expireIn, user }
 * });
 * ```
 */
export async function issueSession<U extends User>(
  store: SessionStore,
  user: U,
  options: IssueOptions = {},
): Promise<CredentialsResponse<U>> {
  const now = (options.now ?? Date.now)();
  const newKey = options.generateKey ?? generateKey;
  const session: Session = {
    apiKey: newKey(),
    secretKey: newKey(),
    userId: user._id,
    expireIn: now + (options.ttlMs ?? DEFAULT_SESSION_TTL_MS),
    familyId: generateFamilyId(),
    issuedAt: now,
  };
  await fromStore(store.create(session, now));
  return credentialsResponse(session, user);
}
