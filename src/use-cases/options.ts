/**
 * Options shared by the use cases, their defaults, and the key generator.
 *
 * @module use-cases/options
 */

import { CaaError, isCaaError } from '../errors.js';
import { randomString } from './random.js';

/**
 * Session lifetime of the original service: 3 days, in ms.
 *
 * @example
 * ```ts
 * import { DEFAULT_SESSION_TTL_MS, issueSession } from 'caa-auth';
 *
 * // "Remember me" keeps a session twice as long as the original service did.
 * await issueSession(store, user, { ttlMs: rememberMe ? 2 * DEFAULT_SESSION_TTL_MS : DEFAULT_SESSION_TTL_MS });
 * ```
 */
export const DEFAULT_SESSION_TTL_MS = 259_200_000;

/**
 * How long after a rotation the predecessor still obtains the same successor, ms.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS, refreshToken } from 'caa-auth';
 *
 * // Mobile clients on slow networks retry a lost refresh late: give them three times as long.
 * res.json(await refreshToken(store, users, req, { graceMs: 3 * DEFAULT_GRACE_MS }));
 * ```
 */
export const DEFAULT_GRACE_MS = 10_000;

/**
 * How late a request signed with a rotated key may be stamped and still count as made before the
 * rotation (a delayed in-flight request, refused without revoking anything), ms: the 1 s resolution
 * of the HTTP `Date` header a client corrects its clock by, plus a round trip of correction error.
 *
 * @example
 * ```ts
 * import { DEFAULT_ROTATION_TOLERANCE_MS, authenticate } from 'caa-auth';
 *
 * // App servers known to drift up to 3 s from Redis: clients corrected against them drift as much.
 * await authenticate(store, req, action, { rotationToleranceMs: DEFAULT_ROTATION_TOLERANCE_MS + 3_000 });
 * ```
 */
export const DEFAULT_ROTATION_TOLERANCE_MS = 2_000;

/**
 * Bytes of randomness in an apiKey or secretKey.
 *
 * @example
 * ```ts
 * import { KEY_BYTES, issueSession } from 'caa-auth';
 *
 * // Predictable keys for snapshot tests, shaped like real ones (standard base64, 44 characters).
 * let n = 0;
 * const generateKey = () => Buffer.alloc(KEY_BYTES, ++n).toString('base64');
 * await issueSession(store, user, { generateKey });
 * ```
 */
export const KEY_BYTES = 32;

/**
 * Options every use case takes.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, DEFAULT_SESSION_TTL_MS, authenticate, issueSession, signCaaHeader, type ClockOptions } from 'caa-auth';
 *
 * // A clock the test moves by hand, so that expiry needs no waiting.
 * let time = Date.parse('2026-01-01T00:00:00Z');
 * const clock: ClockOptions = { now: () => time };
 * const { apiKey, secretKey } = await issueSession(store, user, clock);
 * time += DEFAULT_SESSION_TTL_MS;
 * const authorization = signCaaHeader({ action: CAA_ACTIONS.fetchMyProfile, apiKey, secretKey, timestamp: time });
 * await authenticate(store, { headers: { authorization } }, CAA_ACTIONS.fetchMyProfile, clock); // 404, code SESSION_EXPIRED
 * ```
 */
export interface ClockOptions {
  /** The server clock, epoch ms; default `Date.now`. Inject one in tests. */
  now?: () => number;
  /** Accepted clock difference either way, ms; default 300 000 (spec §3). */
  skewMs?: number;
}

/**
 * How rotated keys are judged, on every signed endpoint.
 *
 * @example
 * ```ts
 * import { authenticate, refreshToken, revokeSession, type RotationOptions } from 'caa-auth';
 *
 * // One setting for every route: refresh, authenticate and logout must judge old keys alike.
 * const rotation: RotationOptions = { graceMs: 30_000 };
 * await refreshToken(store, users, req, rotation);
 * await authenticate(store, req, action, rotation);
 * await revokeSession(store, req, rotation);
 * ```
 */
export interface RotationOptions {
  /**
   * For how long after a rotation a refresh signed with the predecessor returns the same successor
   * (a lost response, a second tab), ms; it ends earlier, at the successor's first verified use.
   * Default {@link DEFAULT_GRACE_MS} (10 s).
   */
  graceMs?: number;
  /**
   * A request signed with a rotated key no later than this after the rotation counts as made
   * before it: refused with `APIKEY_NOT_FOUND`, nothing revoked. Default
   * {@link DEFAULT_ROTATION_TOLERANCE_MS} (2 s).
   */
  rotationToleranceMs?: number;
}

/**
 * Options of the use cases that mint credentials.
 *
 * @example
 * ```ts
 * import { issueSession, type IssueOptions } from 'caa-auth';
 *
 * // A shared device (a shop's kiosk) gets 8 hours rather than the 3-day default.
 * const kiosk: IssueOptions = { ttlMs: 8 * 3_600_000 };
 * res.json(await issueSession(store, user, kiosk));
 * ```
 */
export interface IssueOptions extends ClockOptions {
  /** Session lifetime, ms; default {@link DEFAULT_SESSION_TTL_MS} (3 days). */
  ttlMs?: number;
  /** Makes a new apiKey or secretKey; default 32 bytes from the CSPRNG as standard base64 (44 chars). */
  generateKey?: () => string;
}

/**
 * 32 bytes from the CSPRNG as standard base64 (44 characters), as the original service issued.
 * The bytes come from a pool that one CSPRNG call fills for 64 keys; each is handed out once and
 * zeroed in the pool once encoded.
 *
 * @example
 * ```ts
 * import { generateKey } from 'caa-auth';
 *
 * generateKey(); // 'Lq3M…=' (44 characters)
 * ```
 */
export function generateKey(): string {
  return randomString(KEY_BYTES, 'base64');
}

/** A family id: 16 bytes from the CSPRNG (the same pool as {@link generateKey}), base64url. @internal */
export function generateFamilyId(): string {
  return randomString(16, 'base64url');
}

/**
 * Awaits a store or repository call; anything but a {@link CaaError} it throws is a fault of the
 * store and becomes 503 `STORE_UNAVAILABLE` (never a 4xx). @internal
 */
export function fromStore<T>(call: Promise<T>): Promise<T> {
  return call.catch((cause: unknown) => {
    throw isCaaError(cause) ? cause : new CaaError('STORE_UNAVAILABLE', { cause });
  });
}
