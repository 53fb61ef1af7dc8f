/**
 * Authenticating a signed request: the checks every signed endpoint shares, in the order of the
 * spec: parse → timestamp window → session lookup → signature (→ replay).
 *
 * @module use-cases/authenticate
 */

import { CaaError } from '../errors.js';
import { type Session } from '../models.js';
import { parseCaaHeader, type CaaCredentials } from '../protocol/header.js';
import { DEFAULT_SKEW_MS } from '../protocol/limits.js';
import { assertSignature, assertTimestampInWindow } from '../protocol/verify.js';
import { toSession, type SessionRecord, type SessionStore } from '../stores/session-store.js';
import { fromStore, type ClockOptions } from './options.js';
import { readAuthorization, type RequestLike } from './request.js';

/**
 * Options of {@link authenticate}.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type AuthenticateOptions } from 'caa-auth';
 *
 * // A write must not run twice: the same header sent again answers 400 invalid signature (REPLAYED).
 * const once: AuthenticateOptions = { replayProtection: true };
 * const session = await authenticate(store, req, CAA_ACTIONS.updateMyProfile, once);
 * ```
 */
export interface AuthenticateOptions extends ClockOptions {
  /** Accept each exact header only once within the window (400 `REPLAYED` the second time). Default `false`. */
  replayProtection?: boolean;
}

/** A verified request: its credentials and the record they matched. @internal */
export interface VerifiedRequest {
  credentials: CaaCredentials;
  record: SessionRecord;
  now: number;
}

/**
 * The shared checks. A rotated record is returned as is (the refresh use case needs it); every
 * other caller refuses it. @internal
 */
export async function verifyRequest(
  store: SessionStore,
  req: RequestLike,
  action: string,
  options: ClockOptions & { replayProtection?: boolean },
): Promise<VerifiedRequest> {
  const now = (options.now ?? Date.now)();
  const skewMs = options.skewMs ?? DEFAULT_SKEW_MS;
  const credentials = parseCaaHeader(readAuthorization(req));
  assertTimestampInWindow(credentials.timestamp, { now, skewMs });
  const replay = options.replayProtection
    ? {
        key: `${credentials.apiKey}:${credentials.timestamp}:${credentials.signature}`,
        expiresAt: credentials.timestamp + skewMs + 1,
      }
    : undefined;
  const { record, replayed } = await fromStore(store.lookup(credentials.apiKey, now, replay));
  if (record === null) throw new CaaError('APIKEY_NOT_FOUND');
  if (record.state === 'live' && record.expireIn <= now) throw new CaaError('SESSION_EXPIRED');
  assertSignature(credentials, action, record.secretKey);
  if (replayed) throw new CaaError('REPLAYED');
  return { credentials, record, now };
}

/**
 * Authenticates a request signed with `action` and returns its live session.
 *
 * @throws {@link CaaError} 400 `invalid authorization` | 400 `invalid signature` (codes
 *   `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_MISMATCH`, `REPLAYED`) | 404 `apiKey not found` (codes
 *   `APIKEY_NOT_FOUND`, `SESSION_EXPIRED`) | 503 (`STORE_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate } from 'caa-auth';
 *
 * const session = await authenticate(store, req, CAA_ACTIONS.fetchMyProfile);
 * const user = await users.findById(session.userId);
 * ```
 */
export async function authenticate(
  store: SessionStore,
  req: RequestLike,
  action: string,
  options: AuthenticateOptions = {},
): Promise<Session> {
  const { record } = await verifyRequest(store, req, action, options);
  if (record.state !== 'live') throw new CaaError('APIKEY_NOT_FOUND');
  return toSession(record);
}
