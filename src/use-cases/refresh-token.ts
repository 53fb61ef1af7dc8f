/**
 * `POST /api/my/refresh-token`: checks a signed refresh request and rotates the session's key pair
 * atomically, retry-safe (grace) and theft-aware (reuse detection).
 *
 * @module use-cases/refresh-token
 */

import { CaaError } from '../errors.js';
import type { CredentialsResponse, PublicUser, Session, UserLike } from '../models.js';
import { CAA_ACTIONS } from '../protocol/actions.js';
import { DEFAULT_SKEW_MS } from '../protocol/limits.js';
import { FAMILY_TAG_LENGTH, type SessionStore } from '../stores/session-store.js';
import type { UserRepository } from '../users/user-repository.js';
import { refusal, replayMarker, reportReuse, verifiedUse, verifyRequest } from './authenticate.js';
import { emit, reportFailure } from './events.js';
import { credentialsResponse } from './issue-session.js';
import {
  DEFAULT_SESSION_TTL_MS,
  fromStore,
  generateKey,
  maxLifetimeOf,
  type IssueOptions,
  type ProjectionOptions,
  type RotationOptions,
} from './options.js';
import type { RequestLike } from './request.js';
import type { SchemeOptions } from './caa-v2.js';

/**
 * Options of {@link refreshToken}.
 *
 * @example
 * ```ts
 * import { refreshToken, type RefreshTokenOptions } from 'caa-auth';
 *
 * // This API names its own actions, and gives each new pair one day rather than three.
 * const options: RefreshTokenOptions = { action: 'shop:session:refresh', ttlMs: 86_400_000 };
 * res.json(await refreshToken(store, users, req, options));
 * ```
 *
 * @category Use cases
 */
export interface RefreshTokenOptions<U extends UserLike = UserLike, P = PublicUser<U>>
  extends IssueOptions,
    RotationOptions,
    SchemeOptions,
    ProjectionOptions<U, P> {
  /** Accept each exact header only once within the window. Default `true`. */
  replayProtection?: boolean;
  /** The action the request must be signed with. Default `client:my:refresh-token`. */
  action?: string;
}

/**
 * Checks a signed refresh request and rotates the session's `apiKey`/`secretKey`.
 *
 * Order of checks: parse (400 `invalid authorization`) → timestamp window (400 `invalid signature`)
 * → session lookup (404 `apiKey not found`; expired, or past the absolute lifetime, is
 * `SESSION_EXPIRED`) → signature (400 `invalid signature`) → user (404 `user not found`; the
 * orphaned session is revoked) → replay and atomic rotation, one store call (400
 * `invalid signature`, `REPLAYED`). Nothing is written before the signature verified.
 *
 * Rotation: exactly one successor per session whatever the concurrency; it expires `ttlMs` later,
 * but never after the family's login plus `maxLifetimeMs`. A refresh with the immediate
 * predecessor returns that same successor while the successor has never been used in a verified
 * request and at most `graceMs` after the rotation (a lost response, a second tab). After that, a
 * rotated key — or any older one — revokes the whole family (404 `apiKey not found`, code
 * `TOKEN_REUSED`), unless the request was signed before the rotation (within
 * `rotationToleranceMs`): a delayed in-flight request is refused with `APIKEY_NOT_FOUND` and
 * revokes nothing.
 *
 * @param store - Where the sessions live.
 * @param userRepo - Finds the session's user, whom the response carries.
 * @param req - The refresh request, signed with the pair to rotate.
 * @param options - The action (default `client:my:refresh-token`), lifetimes, `graceMs`, `rotationToleranceMs`, replay protection, `publicUser`, `onEvent` and the clock.
 *
 * @throws {@link CaaError}; a store fault is 503 `STORE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { MemoryStore, MemoryUserRepository, refreshToken } from 'caa-auth';
 *
 * const store = new MemoryStore();
 * const users = new MemoryUserRepository();
 * // in any framework:
 * const body = await refreshToken(store, users, req); // { apiKey, secretKey, userId, expireIn, user }
 * ```
 *
 * @category Use cases
 */
export async function refreshToken<U extends UserLike, P = PublicUser<U>>(
  store: SessionStore,
  userRepo: UserRepository<U>,
  req: RequestLike,
  options: RefreshTokenOptions<U, P> = {},
): Promise<CredentialsResponse<U, P>> {
  const action = options.action ?? CAA_ACTIONS.refreshToken;
  try {
    return await refresh(store, userRepo, req, action, options);
  } catch (err) {
    reportFailure(options, err, action, 'refresh');
    throw err;
  }
}

async function refresh<U extends UserLike, P>(
  store: SessionStore,
  userRepo: UserRepository<U>,
  req: RequestLike,
  action: string,
  options: RefreshTokenOptions<U, P>,
): Promise<CredentialsResponse<U, P>> {
  const verifiedRequest = await verifyRequest(store, req, action, options);
  const { credentials, record, now } = verifiedRequest;
  const user = await fromStore(userRepo.findById(record.userId));
  if (user === null || user === undefined) {
    await fromStore(store.revoke(credentials.apiKey, now));
    emit(options, { type: 'session.revoked', at: now, userId: record.userId, sessionIds: [record.familyId], reason: 'user-not-found' });
    throw new CaaError('USER_NOT_FOUND');
  }
  const newKey = options.generateKey ?? generateKey;
  const next: Session = {
    // The successor keeps the family's first characters, so sharded stores keep a family together.
    apiKey: credentials.apiKey.slice(0, FAMILY_TAG_LENGTH) + newKey().slice(FAMILY_TAG_LENGTH),
    secretKey: newKey(),
    userId: record.userId,
    // Never past the family's absolute lifetime (verifyRequest refused a family already past it).
    expireIn: Math.min(now + (options.ttlMs ?? DEFAULT_SESSION_TTL_MS), record.createdAt + maxLifetimeOf(options)),
    familyId: record.familyId,
    issuedAt: now,
    createdAt: record.createdAt,
  };
  // The candidate's apiKey is unique to this call: a resent rotation sees its own marker.
  const replay =
    (options.replayProtection ?? true) ? replayMarker(verifiedRequest, options.skewMs ?? DEFAULT_SKEW_MS, next.apiKey) : undefined;
  const result = await fromStore(store.rotate({ ...verifiedUse(verifiedRequest, options), next, replay }));
  switch (result.outcome) {
    case 'rotated':
    case 'grace': {
      const type = result.outcome === 'rotated' ? 'session.rotated' : 'session.grace';
      emit(options, { type, at: now, userId: record.userId, sessionId: record.familyId });
      return credentialsResponse(result.session, user, options);
    }
    case 'reused':
      reportReuse(options, verifiedRequest, action);
      throw refusal(result.outcome);
    default:
      throw refusal(result.outcome);
  }
}
