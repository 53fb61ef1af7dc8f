/**
 * Checking a `caa` signature on the server side: the time window of its parameters, and the
 * HMAC-SHA256 of the signature base compared in constant time.
 *
 * @module protocol/http-signatures/verify
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import { CaaError } from '../../errors.js';
import { DEFAULT_SKEW_MS } from '../limits.js';
import { CAA_V2_SIGNATURE_BYTES } from './limits.js';
import { buildCaaV2SignatureBase, type CaaV2RequestParts } from './signature-base.js';
import type { CaaV2Signature } from './signature-input.js';

const MS_PER_SECOND = 1000;

/**
 * Throws unless the signature is inside its window (spec §3): `|now − created·1000| ≤ skewMs`
 * (both edges included) and, when `expires` was sent, `now ≤ expires·1000`.
 *
 * @param sig - `created` and `expires` as {@link parseCaaV2Signature} read them.
 * @param options - `now` (epoch ms, default `Date.now()`) and `skewMs` (default {@link DEFAULT_SKEW_MS}).
 *
 * @throws {@link CaaError} 400 `invalid signature`, code `TIMESTAMP_OUT_OF_WINDOW`.
 *
 * @example
 * ```ts
 * import { assertCaaV2Window, parseCaaV2Signature } from 'caa-auth';
 *
 * const sig = parseCaaV2Signature(req.headers['signature-input'], req.headers.signature);
 * assertCaaV2Window(sig, { now: Date.now() });
 * ```
 *
 * @category Protocol
 */
export function assertCaaV2Window(
  sig: Pick<CaaV2Signature, 'created' | 'expires'>,
  options: { readonly now?: number; readonly skewMs?: number } = {},
): void {
  const now = options.now ?? Date.now();
  const skewMs = options.skewMs ?? DEFAULT_SKEW_MS;
  // Written so that NaN in any of them fails the check.
  const inWindow = Math.abs(now - sig.created * MS_PER_SECOND) <= skewMs;
  const notExpired = sig.expires === undefined || now <= sig.expires * MS_PER_SECOND;
  if (!(inWindow && notExpired)) throw new CaaError('TIMESTAMP_OUT_OF_WINDOW');
}

/**
 * The HMAC-SHA256 of a signature base under `key`.
 * @internal
 */
export function hmacOfBase(base: string, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(base, 'latin1').digest();
}

/**
 * True when `sig.signature` is the HMAC-SHA256, under `key`, of the signature base of `request`
 * ({@link buildCaaV2SignatureBase}); compared in constant time. Time is not checked here: see
 * {@link assertCaaV2Window}; nor is the body: see {@link checkContentDigest}.
 *
 * @param sig - What {@link parseCaaV2Signature} read.
 * @param request - The request as received.
 * @param key - The session's key, {@link deriveCaaV2Key} of its secretKey.
 *
 * @throws {@link CaaError} 400 `invalid authorization` (code `INVALID_AUTHORIZATION`) when the base
 *   cannot be built (a covered field the request lacks; see {@link buildCaaV2SignatureBase}).
 *
 * @example
 * ```ts
 * import { CaaError, deriveCaaV2Key, parseCaaV2Signature, verifyCaaV2Signature } from 'caa-auth';
 *
 * const sig = parseCaaV2Signature(parts.header('signature-input'), parts.header('signature'));
 * const session = await store.get(sig.keyid);
 * if (!verifyCaaV2Signature(sig, parts, deriveCaaV2Key(session.secretKey))) throw new CaaError('SIGNATURE_MISMATCH');
 * ```
 *
 * @category Protocol
 */
export function verifyCaaV2Signature(sig: CaaV2Signature, request: CaaV2RequestParts, key: Uint8Array): boolean {
  // The base holds ASCII only (buildCaaV2SignatureBase refuses anything else), so latin1 is its UTF-8.
  const expected = hmacOfBase(buildCaaV2SignatureBase(sig, request), key);
  const given = sig.signature;
  return given.length === CAA_V2_SIGNATURE_BYTES && timingSafeEqual(expected, given);
}
