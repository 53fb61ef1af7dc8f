/**
 * Checking a signature on the server side: the timestamp window first, then a constant-time
 * comparison of the signature text with the expected one.
 *
 * @module protocol/verify
 */

import { CaaError } from '../errors.js';
import { timestampText, type CaaCredentials } from './header.js';
import { DEFAULT_SKEW_MS, SIGNATURE_LENGTH } from './limits.js';
import { hash } from './sign.js';
import { stringToSign } from './string-to-sign.js';

/**
 * What {@link verifyCaaSignature} checks against.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, parseCaaHeader, verifyCaaSignature, type VerifyOptions } from 'caa-auth';
 *
 * // A wider window, 10 minutes either way, for devices whose clocks are known to drift.
 * const options: VerifyOptions = { action: CAA_ACTIONS.fetchMyProfile, secretKey: session.secretKey, skewMs: 600_000 };
 * verifyCaaSignature(parseCaaHeader(req.headers.authorization), options);
 * ```
 *
 * @category Protocol
 */
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
 * @param timestamp - The request's timestamp, epoch ms.
 * @param options - `now` (default `Date.now()`) and `skewMs` (default {@link DEFAULT_SKEW_MS}).
 *
 * @throws {@link CaaError} 400 `invalid signature`, code `TIMESTAMP_OUT_OF_WINDOW`.
 *
 * @example
 * ```ts
 * import { assertTimestampInWindow } from 'caa-auth';
 *
 * assertTimestampInWindow(credentials.timestamp, { now: Date.now() });
 * ```
 *
 * @category Protocol
 */
export function assertTimestampInWindow(timestamp: number, options: { now?: number; skewMs?: number } = {}): void {
  if (!isInWindow(timestamp, options.now ?? Date.now(), options.skewMs ?? DEFAULT_SKEW_MS)) {
    throw new CaaError('TIMESTAMP_OUT_OF_WINDOW');
  }
}

/** Both edges included; false when any of the three is NaN. */
function isInWindow(timestamp: number, now: number, skewMs: number): boolean {
  return Math.abs(now - timestamp) <= skewMs;
}

/**
 * Verifies a parsed header against the session's secret: the timestamp must be inside the window,
 * and the signature must equal the one computed with `action` (constant-time, on its base64 text).
 *
 * @param credentials - What {@link parseCaaHeader} read from the header.
 * @param options - The action the request must be signed with, the session's secretKey, `now` and `skewMs`.
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
 *
 * @category Protocol
 */
export function verifyCaaSignature(credentials: CaaCredentials, options: VerifyOptions): void {
  // The window check of assertTimestampInWindow, written out: one call less on the hot path.
  if (!isInWindow(credentials.timestamp, options.now ?? Date.now(), options.skewMs ?? DEFAULT_SKEW_MS)) {
    throw new CaaError('TIMESTAMP_OUT_OF_WINDOW');
  }
  assertSignature(credentials, options.action, options.secretKey);
}

/**
 * The signature half of {@link verifyCaaSignature}, for callers that checked the window already.
 * @internal
 */
export function assertSignature(credentials: CaaCredentials, action: string, secretKey: string): void {
  // Compared as the base64 text the spec defines, not as decoded bytes: decoding ignores the two
  // spare bits of the last character, so four spellings would pass, each under its own replay key.
  const { apiKey, signature, timestamp } = credentials;
  const expected = hash('sha1', stringToSign(action, apiKey, secretKey, timestampText(timestamp)), 'base64');
  if (!constantTimeEqual(signature, expected)) throw new CaaError('SIGNATURE_MISMATCH');
}

/** Both signatures side by side, as bytes; room for `given` in UTF-8 at 3 bytes a character, and `expected`. */
const compared = new Uint8Array(4 * SIGNATURE_LENGTH);
const comparedView = new DataView(compared.buffer);
const encoder = new TextEncoder();

/**
 * String equality in time that depends on the lengths only (the expected length, 28, is public).
 * One `encodeInto` of both strings, then a loop over bytes: indexing two strings would cost a check
 * of each one's representation per character. A character of `given` outside ASCII takes more than
 * one byte, so it shows as a length mismatch.
 */
function constantTimeEqual(given: string, expected: string): boolean {
  if (given.length !== SIGNATURE_LENGTH || expected.length !== SIGNATURE_LENGTH) return false;
  if (encoder.encodeInto(given + expected, compared).written !== 2 * SIGNATURE_LENGTH) return false;
  let difference = 0;
  for (let i = 0; i < SIGNATURE_LENGTH; i++) difference |= comparedView.getUint8(i) ^ comparedView.getUint8(SIGNATURE_LENGTH + i);
  return difference === 0;
}
