/**
 * A user's sessions: the list of their devices, and logging them out — one, all but the caller's,
 * or all. A session here is a family (every pair descended from one login), named by its
 * `sessionId`, which is stable across rotations and is not a credential.
 *
 * @module use-cases/sessions
 */

import { idString, type Session, type UserId } from '../models.js';
import type { SessionStore, StoredSessionInfo } from '../stores/session-store.js';
import { emit, reportFailure, type EventOptions, type RevokeReason } from './events.js';
import { fromStore, maxLifetimeOf, type ClockOptions, type LifetimeOptions } from './options.js';

/**
 * One of a user's sessions, as {@link listSessions} returns it.
 *
 * @example
 * ```ts
 * import type { SessionInfo } from 'caa-auth';
 *
 * // A device list: the caller's own session first, then the others by their last refresh.
 * const byRecency = (a: SessionInfo, b: SessionInfo) => Number(b.current) - Number(a.current) || b.refreshedAt - a.refreshedAt;
 * const devices = (await auth.listSessions(session.userId, { current: session })).sort(byRecency);
 * ```
 *
 * @category Sessions
 */
export interface SessionInfo extends StoredSessionInfo {
  /** True for the session the caller's request was signed with (the `current` option). */
  current: boolean;
}

/**
 * A session named by its id, or a {@link Session} as `authenticate` returns it (its `familyId`).
 *
 * @example
 * ```ts
 * import type { SessionRef } from 'caa-auth';
 *
 * const mine: SessionRef = await auth.authenticate(req, 'client:my:sessions'); // or a sessionId string
 * ```
 *
 * @category Sessions
 */
export type SessionRef = string | Pick<Session, 'familyId'>;

/**
 * Options of {@link listSessions}.
 *
 * @example
 * ```ts
 * import { listSessions, type ListSessionsOptions } from 'caa-auth';
 *
 * const options: ListSessionsOptions = { current: session };
 * await listSessions(store, session.userId, options); // [{ sessionId, current: true, … }, …]
 * ```
 *
 * @category Sessions
 */
export interface ListSessionsOptions extends ClockOptions, LifetimeOptions, EventOptions {
  /** The caller's session: its entry has `current: true`. */
  current?: SessionRef | undefined;
}

/**
 * Options of {@link revokeUserSessions}.
 *
 * @example
 * ```ts
 * import { revokeUserSessions, type RevokeUserSessionsOptions } from 'caa-auth';
 *
 * // "Log out other devices": the caller's session stays.
 * const options: RevokeUserSessionsOptions = { except: session };
 * const count = await revokeUserSessions(store, session.userId, options);
 * ```
 *
 * @category Sessions
 */
export interface RevokeUserSessionsOptions extends ClockOptions, EventOptions {
  /** A session to keep (the caller's, for "log out other devices"). */
  except?: SessionRef | undefined;
}

/** The sessionId a ref names. */
function sessionIdOf(ref: SessionRef): string {
  const id = typeof ref === 'string' ? ref : ref.familyId;
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('caa-auth: a session is named by its sessionId (a non-empty string) or a Session');
  return id;
}

/**
 * A user's live sessions, oldest login first: one entry per family, with when it began, when it
 * was last refreshed, when its current pair expires and the metadata given at login.
 *
 * @param store - Where the sessions live.
 * @param userId - The user whose sessions to list (as `_id` or its string).
 * @param options - `current`: the caller's session, marked `current: true`; the clock and the absolute lifetime.
 *
 * @throws {@link CaaError} 503 `STORE_UNAVAILABLE` when the store fails.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, listSessions } from 'caa-auth';
 *
 * app.get('/api/my/sessions', async (req, res) => {
 *   const session = await authenticate(store, req, 'client:my:sessions');
 *   res.json({ sessions: await listSessions(store, session.userId, { current: session }) });
 * });
 * ```
 *
 * @category Sessions
 */
export async function listSessions(store: SessionStore, userId: UserId, options: ListSessionsOptions = {}): Promise<SessionInfo[]> {
  const id = idString(userId);
  const current = options.current === undefined ? undefined : sessionIdOf(options.current);
  const now = (options.now ?? Date.now)();
  try {
    const sessions = await fromStore(store.listUserSessions(id, now));
    // Past the absolute lifetime a session no longer authenticates (a lifetime shortened since its login): not listed.
    const maxLifetimeMs = maxLifetimeOf(options);
    return sessions
      .filter((session) => session.createdAt + maxLifetimeMs > now)
      .map((session) => ({ ...session, current: session.sessionId === current }));
  } catch (err) {
    reportFailure(options, err, 'list-sessions', 'list-sessions');
    throw err;
  }
}

async function revokeWhere(
  store: SessionStore,
  userId: string,
  filter: { sessionId?: string; except?: string },
  reason: RevokeReason,
  options: ClockOptions & EventOptions,
): Promise<string[]> {
  const now = (options.now ?? Date.now)();
  try {
    const revoked = await fromStore(store.revokeUserSessions(userId, now, filter));
    if (revoked.length > 0) emit(options, { type: 'session.revoked', at: now, userId, sessionIds: [...revoked], reason });
    return revoked;
  } catch (err) {
    reportFailure(options, err, 'revoke-sessions', 'revoke-sessions');
    throw err;
  }
}

/**
 * Revokes a user's sessions — all of them ("log out everywhere": a changed password, a stolen
 * phone), or all but the caller's (`except`) — and returns how many were live. When it returns, no
 * key of them authenticates or refreshes, on every store; a login that ran at the same time is
 * either revoked too or listed afterwards.
 *
 * @param store - Where the sessions live.
 * @param userId - The user whose sessions to revoke.
 * @param options - `except`: a session to keep (the caller's, for "log out other devices"); the clock and `onEvent`.
 *
 * @throws {@link CaaError} 503 `STORE_UNAVAILABLE` when the store fails (some may be revoked; call
 *   again).
 *
 * @example
 * ```ts
 * import { revokeUserSessions } from 'caa-auth';
 *
 * // After a password change: every device signs in again.
 * await revokeUserSessions(store, user._id);
 * ```
 *
 * @category Sessions
 */
export async function revokeUserSessions(
  store: SessionStore,
  userId: UserId,
  options: RevokeUserSessionsOptions = {},
): Promise<number> {
  const id = idString(userId);
  if (options.except === undefined) return (await revokeWhere(store, id, {}, 'user', options)).length;
  return (await revokeWhere(store, id, { except: sessionIdOf(options.except) }, 'others', options)).length;
}

/**
 * Revokes one of a user's sessions by its id (a device list's "sign out this device"); false
 * when the user has no live session of that id (another user's session is never touched).
 *
 * @param store - Where the sessions live.
 * @param userId - The user the session must belong to.
 * @param sessionId - The session to revoke (a `sessionId` of {@link listSessions}).
 * @param options - The clock and `onEvent`.
 *
 * @throws {@link CaaError} 503 `STORE_UNAVAILABLE` when the store fails.
 *
 * @example
 * ```ts
 * import { authenticate, revokeUserSession } from 'caa-auth';
 *
 * app.delete('/api/my/sessions/:id', async (req, res) => {
 *   const session = await authenticate(store, req, 'client:my:sessions:revoke');
 *   const revoked = await revokeUserSession(store, session.userId, req.params.id);
 *   res.status(revoked ? 200 : 404).json({ message: revoked ? 'ok' : 'session not found' });
 * });
 * ```
 *
 * @category Sessions
 */
export async function revokeUserSession(
  store: SessionStore,
  userId: UserId,
  sessionId: string,
  options: ClockOptions & EventOptions = {},
): Promise<boolean> {
  const id = idString(userId);
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 256) return false;
  return (await revokeWhere(store, id, { sessionId }, 'session', options)).length > 0;
}
