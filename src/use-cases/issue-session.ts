/**
 * Issuing credentials at login: a new session, the first of a new family.
 *
 * @module use-cases/issue-session
 */

import { toPublicUser, userIdOf, type CredentialsResponse, type PublicUser, type Session, type UserLike } from '../models.js';
import type { CreateResult, SessionMetadata, SessionStore } from '../stores/session-store.js';
import { emit, reportFailure } from './events.js';
import {
  DEFAULT_MAX_SESSIONS_PER_USER,
  DEFAULT_SESSION_TTL_MS,
  fromStore,
  generateFamilyId,
  generateKey,
  maxLifetimeOf,
  normalizeMetadata,
  type IssueOptions,
  type ProjectionOptions,
} from './options.js';

/**
 * Options of {@link issueSession}.
 *
 * @example
 * ```ts
 * import { issueSession, type IssueSessionOptions } from 'caa-auth';
 *
 * const options: IssueSessionOptions = { metadata: { userAgent: req.headers['user-agent'] ?? null, ip: req.ip ?? null } };
 * res.json(await issueSession(store, user, options));
 * ```
 *
 * @category Use cases
 */
export interface IssueSessionOptions<U extends UserLike = UserLike, P = PublicUser<U>> extends IssueOptions, ProjectionOptions<U, P> {
  /** What the user's list of sessions shows about this one (see {@link SessionMetadata}). */
  metadata?: SessionMetadata | undefined;
  /**
   * The most live sessions one user may have; this login revokes the oldest beyond it. Default
   * {@link DEFAULT_MAX_SESSIONS_PER_USER} (100); `Infinity` turns it off.
   */
  maxSessionsPerUser?: number;
}

/** The response body for a session and its user (spec §5 shape). @internal */
export function credentialsResponse<U extends UserLike, P>(
  session: Session,
  user: U,
  options: ProjectionOptions<U, P>,
): CredentialsResponse<U, P> {
  const project = options.publicUser ?? (toPublicUser as (user: U) => P);
  return {
    apiKey: session.apiKey,
    secretKey: session.secretKey,
    userId: session.userId,
    expireIn: session.expireIn,
    user: project(user),
  };
}

/**
 * Issues a new credential pair for a user who has just proved who they are (login). Checking the
 * password is the application's business; this mints and stores the session, adds it to the
 * user's sessions (with its `metadata`) and, beyond `maxSessionsPerUser`, revokes the user's
 * oldest. The user's `_id` becomes a string here, once ({@link userIdOf}): every later
 * `findById` receives that string.
 *
 * @param store - Where the session is kept.
 * @param user - The user who has just proved who they are; its `_id` names the session's user.
 * @param options - `ttlMs`, `maxLifetimeMs`, `maxSessionsPerUser`, `metadata` (shown in the user's device list), `publicUser`, `onEvent`, the clock and the key generator.
 *
 * @throws {@link CaaError} 503 `STORE_UNAVAILABLE` when the store fails; `TypeError` for a user
 *   without a usable `_id` or malformed metadata.
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
 *
 * @category Use cases
 */
export async function issueSession<U extends UserLike, P = PublicUser<U>>(
  store: SessionStore,
  user: U,
  options: IssueSessionOptions<U, P> = {},
): Promise<CredentialsResponse<U, P>> {
  const userId = userIdOf(user);
  const metadata = normalizeMetadata(options.metadata);
  const now = (options.now ?? Date.now)();
  const newKey = options.generateKey ?? generateKey;
  const lifetime = Math.min(options.ttlMs ?? DEFAULT_SESSION_TTL_MS, maxLifetimeOf(options));
  const session: Session = {
    apiKey: newKey(),
    secretKey: newKey(),
    userId,
    expireIn: now + lifetime,
    familyId: generateFamilyId(),
    issuedAt: now,
    createdAt: now,
  };
  let evicted: readonly string[];
  try {
    const created = await fromStore(
      store.create(session, now, {
        metadata,
        maxSessions: options.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER,
        endsAt: now + maxLifetimeOf(options),
      }),
    );
    // A store written before the user index resolves with nothing: it evicted nothing.
    evicted = (created as Partial<CreateResult> | undefined)?.evicted ?? [];
  } catch (err) {
    reportFailure(options, err, 'login', 'issue');
    throw err;
  }
  emit(options, { type: 'session.created', at: now, userId, sessionId: session.familyId, metadata });
  if (evicted.length > 0) emit(options, { type: 'session.revoked', at: now, userId, sessionIds: [...evicted], reason: 'limit' });
  return credentialsResponse(session, user, options);
}
