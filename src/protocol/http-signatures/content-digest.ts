/**
 * `Content-Digest` (RFC 9530) with `sha-256`: making it for a body, checking a received one, and
 * telling whether a request has a body that the signature must cover through it (spec §1).
 *
 * @module protocol/http-signatures/content-digest
 */

import { Buffer } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import { MAX_CONTENT_DIGEST_LENGTH } from './limits.js';
import type { CaaV2RequestParts } from './signature-base.js';
import { parseDictionary, soleMember } from './structured-fields.js';

const SHA_256 = 'sha-256';
const SHA_256_BYTES = 32;

function sha256(body: Uint8Array): Buffer {
  return createHash('sha256').update(body).digest();
}

/**
 * The `Content-Digest` value of a body: `sha-256=:<base64 of its SHA-256>:`.
 *
 * @param body - The body bytes as sent (after any content coding, before transfer coding).
 *
 * @example
 * ```ts
 * import { makeContentDigest } from 'caa-auth';
 *
 * // Spec vector S2.
 * makeContentDigest(new TextEncoder().encode('{"name":"PeckZeg892"}'));
 * // 'sha-256=:HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg=:'
 * ```
 *
 * @category Protocol
 */
export function makeContentDigest(body: Uint8Array): string {
  return `${SHA_256}=:${sha256(body).toString('base64')}:`;
}

/**
 * True when `header` is an RFC 8941 Dictionary (at most {@link MAX_CONTENT_DIGEST_LENGTH}
 * characters, checked first) with exactly one `sha-256` member, a byte sequence equal to the
 * SHA-256 of `body` (compared in constant time). Other members (other algorithms) are parsed and
 * ignored; a missing, malformed or repeated `sha-256` member does not match.
 *
 * @param header - The `Content-Digest` field value; `undefined` when absent.
 * @param body - The body bytes as received (after transfer coding is removed, before any content coding is undone).
 *
 * @example
 * ```ts
 * import { CaaError, checkContentDigest } from 'caa-auth';
 *
 * if (!checkContentDigest(req.headers['content-digest'], rawBody)) throw new CaaError('DIGEST_MISMATCH');
 * ```
 *
 * @category Protocol
 */
export function checkContentDigest(header: string | undefined, body: Uint8Array): boolean {
  if (typeof header !== 'string' || header.length > MAX_CONTENT_DIGEST_LENGTH) return false;
  const members = parseDictionary(header);
  if (members === undefined) return false;
  const member = soleMember(members, SHA_256);
  if (member === undefined || member === null || member.kind !== 'item' || member.value.type !== 'binary') return false;
  const received = Buffer.from(member.value.value, 'base64');
  return received.length === SHA_256_BYTES && timingSafeEqual(received, sha256(body));
}

const ZERO = 0x30;
const NINE = 0x39;

/**
 * True when the request has a body (spec §1: a `Content-Length` above 0, or any
 * `Transfer-Encoding`), so that its signature must cover `content-digest`. A `Content-Length` that
 * is not all digits counts as a body: better to ask for a digest than to let a body go unsigned.
 *
 * @param request - At least the request's `header` look-up.
 *
 * @example
 * ```ts
 * import { CaaError, requiresContentDigest } from 'caa-auth';
 *
 * if (requiresContentDigest(parts) && !sig.components.includes('content-digest')) throw new CaaError('DIGEST_MISMATCH');
 * ```
 *
 * @category Protocol
 */
export function requiresContentDigest(request: Pick<CaaV2RequestParts, 'header'>): boolean {
  if (request.header('transfer-encoding') !== undefined) return true;
  const length = request.header('content-length');
  if (length === undefined) return false;
  let nonZero = false;
  let digits = 0;
  for (let i = 0; i < length.length; i++) {
    const c = length.charCodeAt(i);
    if (c === 0x20 || c === 0x09) continue; // OWS around the value
    if (c < ZERO || c > NINE) return true;
    digits++;
    if (c !== ZERO) nonZero = true;
  }
  return digits === 0 || nonZero;
}
