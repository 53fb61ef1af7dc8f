/**
 * Reading and writing the `Authorization: Caa <base64(apiKey ":" signature " " timestamp)>` header
 * (spec §2). Parsing is strict, bounded and linear: at most {@link MAX_HEADER_LENGTH} characters,
 * no regular expressions.
 *
 * @module protocol/header
 */

import { Buffer } from 'node:buffer';
import { CaaError } from '../errors.js';
import { decodedLength, isBase64 } from './base64.js';
import { MAX_HEADER_LENGTH, SIGNATURE_BYTES, TIMESTAMP_DIGITS } from './limits.js';

/**
 * What a `Caa` header carries.
 *
 * @example
 * ```ts
 * import { formatCaaHeader, parseCaaHeader, type CaaCredentials } from 'caa-auth';
 *
 * const credentials: CaaCredentials = {
 *   apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
 *   signature: 'VHTnYjscONrGXMumaGChvV+Q+Xo=',
 *   timestamp: 1494908261599,
 * };
 * const header = formatCaaHeader(credentials); // 'Caa U3pnZ1U4ZGoy…'
 * parseCaaHeader(header); // the same three fields
 * ```
 */
export interface CaaCredentials {
  /** Public identifier of the session (base64). */
  readonly apiKey: string;
  /** base64 of the 20-byte SHA-1 signature (28 characters). */
  readonly signature: string;
  /** Client time of signing, epoch milliseconds (13 digits). */
  readonly timestamp: number;
}

const SCHEME = 'Caa';
/** `c | LOWER_CASE_BIT` lowercases an ASCII letter; no other UTF-16 code unit lands on `c` or `a`. */
const LOWER_CASE_BIT = 0x20;
const LOWER_C = 0x63;
const LOWER_A = 0x61;
const ZERO = 0x30;
const NINE = 0x39;
const SIGNATURE_LENGTH = 28;
const MIN_TIMESTAMP = 10 ** (TIMESTAMP_DIGITS - 1);
const MAX_TIMESTAMP = 10 ** TIMESTAMP_DIGITS - 1;

/** HTTP optional whitespace between scheme and token: SP or HTAB. */
function isHttpSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** ASCII whitespace, as the original server tolerated between signature and timestamp. */
function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** `value` starts with `Caa` in any case (RFC 9110 §11.1: scheme names are case-insensitive). */
function isScheme(value: string): boolean {
  return (
    (value.charCodeAt(0) | LOWER_CASE_BIT) === LOWER_C &&
    (value.charCodeAt(1) | LOWER_CASE_BIT) === LOWER_A &&
    (value.charCodeAt(2) | LOWER_CASE_BIT) === LOWER_A
  );
}

function invalid(): never {
  throw new CaaError('INVALID_AUTHORIZATION');
}

/**
 * Parses an `Authorization` header value of the `Caa` scheme.
 *
 * Accepts exactly: `Caa` (any case), whitespace, one standard base64 token whose text is
 * `apiKey:signature<whitespace>timestamp`, with base64 `apiKey`, a 28-character base64
 * `signature` and a 13-digit `timestamp`. Values over {@link MAX_HEADER_LENGTH} characters
 * are refused before any decoding.
 *
 * @throws {@link CaaError} 400 `invalid authorization` (code `INVALID_AUTHORIZATION`) for anything else,
 *   including a missing header.
 *
 * @example
 * ```ts
 * import { parseCaaHeader } from 'caa-auth';
 *
 * const { apiKey, signature, timestamp } = parseCaaHeader(req.headers.authorization);
 * ```
 */
export function parseCaaHeader(value: string | null | undefined): CaaCredentials {
  if (typeof value !== 'string' || value.length > MAX_HEADER_LENGTH) invalid();

  // Scheme, case-insensitively, then at least one space.
  if (value.length < SCHEME.length + 2 || !isScheme(value)) invalid();
  let start = SCHEME.length;
  if (!isHttpSpace(value.charCodeAt(start))) invalid();
  while (start < value.length && isHttpSpace(value.charCodeAt(start))) start++;

  // Decode first: when the canonical base64 of the result is the token itself, the token is valid
  // base64 without a scan in JavaScript; anything else (invalid, or valid but not canonical) gets
  // the exact check.
  const token = value.slice(start);
  const bytes = Buffer.from(token, 'base64');
  if (bytes.length === 0 || (bytes.toString('base64') !== token && !isBase64(token))) invalid();
  const inner = bytes.toString('latin1');

  const colon = inner.indexOf(':');
  if (colon <= 0 || !isBase64(inner, 0, colon)) invalid();
  const apiKey = inner.slice(0, colon);

  const signatureEnd = colon + 1 + SIGNATURE_LENGTH;
  if (
    !isBase64(inner, colon + 1, signatureEnd) ||
    decodedLength(inner, colon + 1, signatureEnd) !== SIGNATURE_BYTES
  ) {
    invalid();
  }
  const signature = inner.slice(colon + 1, signatureEnd);

  let digits = signatureEnd;
  if (!isAsciiSpace(inner.charCodeAt(digits))) invalid();
  while (digits < inner.length && isAsciiSpace(inner.charCodeAt(digits))) digits++;
  if (inner.length - digits !== TIMESTAMP_DIGITS) invalid();
  let timestamp = 0;
  for (let i = digits; i < inner.length; i++) {
    const c = inner.charCodeAt(i);
    if (c < ZERO || c > NINE) invalid();
    timestamp = timestamp * 10 + (c - ZERO);
  }
  if (timestamp < MIN_TIMESTAMP) invalid();

  return { apiKey, signature, timestamp };
}

/**
 * Writes credentials as an `Authorization` header value, the exact inverse of
 * {@link parseCaaHeader}: `Caa ` and the base64 of `apiKey:signature timestamp`.
 *
 * @throws RangeError when the credentials could not be parsed back (not base64, wrong signature
 *   length, timestamp not a 13-digit integer, header longer than {@link MAX_HEADER_LENGTH}).
 *
 * @example
 * ```ts
 * import { formatCaaHeader } from 'caa-auth';
 *
 * formatCaaHeader({ apiKey, signature, timestamp: 1510213872070 }); // 'Caa N1Qr…'
 * ```
 */
export function formatCaaHeader(credentials: CaaCredentials): string {
  const { apiKey, signature, timestamp } = credentials;
  if (!isBase64(apiKey)) throw new RangeError('apiKey must be standard base64');
  if (signature.length !== SIGNATURE_LENGTH || !isBase64(signature) || decodedLength(signature) !== SIGNATURE_BYTES) {
    throw new RangeError('signature must be base64 of 20 bytes');
  }
  if (!Number.isInteger(timestamp) || timestamp < MIN_TIMESTAMP || timestamp > MAX_TIMESTAMP) {
    throw new RangeError('timestamp must be epoch milliseconds of 13 digits');
  }
  const header = `Caa ${Buffer.from(`${apiKey}:${signature} ${timestamp}`, 'latin1').toString('base64')}`;
  // parseCaaHeader refuses longer values, so an apiKey of over 720 characters cannot be sent.
  if (header.length > MAX_HEADER_LENGTH) throw new RangeError(`header must not exceed ${MAX_HEADER_LENGTH} characters`);
  return header;
}
