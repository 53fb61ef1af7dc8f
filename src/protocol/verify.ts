/**
 * Checking a signature on the server side: the timestamp window first, then a constant-time
 * comparison of the decoded signature bytes.
 *
 * @module protocol/verify
 */

import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { CaaError } from '../errors.js';
import type { CaaCredentials } from './header.js';
import { DEFAULT_SKEW_MS, SIGNATURE_BYTES } from './limits.js';
import { signatureDigest } from './sign.js';

/** What {@link verifyCaaSignature} checks against. */
export interface VerifyOptions {
  /** The action of the endpoint that was called. */
  readonly action: string;
  /** The session's secret. */
  readonly secretKey: string;
  /** The server's time, epoch ms; defaults to `Date.now()`. */
  readonly now?: number;
  /** Accepted clock difference either way, in ms; defaults to {@link DEFAULT_SKEW_MS}. */
  readonly skewMs?: number;
}

/**
 * Throws unless `timestamp` lies within ±`skewMs` of `now` (both edges included).
 *
 * @throws {@link CaaError} 400 `invalid signature`, code `TIMESTAMP_OUT_OF_WINDOW`.
 *
 * @example
 * ```ts
 * import { assertTimestampInWindow } from 'caa-auth';
 *
 * assertTimestampInWindow(credentials.timestamp, { now: Date.now() });
 * ```
 */
export function assertTimestampInWindow(timestamp: number, options: { now?: number; skewMs?: number } = {}): void {
  const now = options.now ?? Date.now();
  const skewMs = options.skewMs ?? DEFAULT_SKEW_MS;
  if (!(Math.abs(now - timestamp) <= skewMs)) throw new CaaError('TIMESTAMP_OUT_OF_WINDOW');
}

/**
 * Verifies a parsed header against the session's secret: the timestamp must be inside the window,
 * and the signature must equal the one computed with `action` (constant-time on the 20 bytes).
 *
 * @throws {@link CaaError} 400 `invalid signature`, code `TIMESTAMP_OUT_OF_WINDOW` or `SIGNATURE_MISMATCH`.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, parseCaaHeader, verifyCaaSignature } from 'caa-auth';
 *
 * const credentials = parseCaaHeader(req.headers.authorization);
 * const session = await store.get(credentials.apiKey);
 * verifyCaaSignature(credentials, { action: CAA_ACTIONS.fetchMyProfile, secretKey: session.secretKey });
 * ```
 */
export function verifyCaaSignature(credentials: CaaCredentials, options: VerifyOptions): void {
  assertTimestampInWindow(credentials.timestamp, options);
  assertSignature(credentials, options.action, options.secretKey);
}

/**
 * The signature half of {@link verifyCaaSignature}, for callers that checked the window already.
 * @internal
 */
export function assertSignature(credentials: CaaCredentials, action: string, secretKey: string): void {
  const expected = signatureDigest({ action, apiKey: credentials.apiKey, secretKey, timestamp: credentials.timestamp });
  const given = Buffer.from(credentials.signature, 'base64');
  if (given.length !== SIGNATURE_BYTES || !timingSafeEqual(given, expected)) {
    throw new CaaError('SIGNATURE_MISMATCH');
  }
}
