/**
 * Reading and writing the `Authorization: Caa <base64(apiKey ":" signature " " timestamp)>` header
 * (spec §2). Parsing is strict, bounded and linear: at most {@link MAX_HEADER_LENGTH} characters,
 * no regular expressions.
 *
 * @module protocol/header
 */

import { Buffer } from 'node:buffer';
import { CaaError } from '../errors.js';
import { base64Bit, decodeBase64, decodedLength, isBase64 } from './base64.js';
import { MAX_HEADER_LENGTH, SIGNATURE_BYTES, SIGNATURE_LENGTH, TIMESTAMP_DIGITS } from './limits.js';

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
 *
 * @category Protocol
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
const EQUALS = 0x3d;
const MIN_TIMESTAMP = 10 ** (TIMESTAMP_DIGITS - 1);
const MAX_TIMESTAMP = 10 ** TIMESTAMP_DIGITS - 1;
/** The timestamp is read as two halves that int32 arithmetic holds: the last 7 digits and the rest. */
const LOW_DIGITS = 7;
const LOW_SCALE = 10 ** LOW_DIGITS;

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

/** The decimal number written by the digits `bytes[start, end)`, or -1 if one is not a digit. */
function readDigits(bytes: DataView, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes.getUint8(i) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The inner string as bytes, for the character checks: indexing a string costs a check of its
 * representation per character, indexing bytes does not. Room for the longest inner string (the
 * token of a header at the length cap decodes to ¾ of it). Read through a DataView, whose getUint8
 * is a number to the type checker: `bytes[i] ?? 0` on the hot loops measurably costs.
 */
const innerBytes = new Uint8Array(MAX_HEADER_LENGTH);
const innerView = new DataView(innerBytes.buffer);
const encoder = new TextEncoder();

/*
 * The digits of recently parsed timestamps, by value. Verifying a signature needs the timestamp as
 * text, and String() of a 13-digit number not converted before costs about half a SHA-1 call; the
 * parser has just read those digits. A small direct-mapped table rather than a field on the
 * credentials: `parseCaaHeader` returns a plain object of three fields, and a value-keyed entry
 * cannot disagree with the number it is looked up by (the parser stores only 13-digit texts without
 * a leading zero, which are exactly String() of their value), so a forged or edited credentials
 * object can only miss. Requests in flight at once evict each other only when their timestamps are
 * equal modulo the table size; a miss costs the conversion, nothing else.
 */
const TIMESTAMP_SLOTS = 256;
const slotTimestamps = new Float64Array(TIMESTAMP_SLOTS).fill(Number.NaN);
const slotTexts = new Array<string>(TIMESTAMP_SLOTS).fill('');

/**
 * `String(timestamp)`, from the digits of a recently parsed header when it has them.
 * @internal
 */
export function timestampText(timestamp: number): string {
  const slot = timestamp & (TIMESTAMP_SLOTS - 1);
  return slotTimestamps[slot] === timestamp ? (slotTexts[slot] ?? String(timestamp)) : String(timestamp);
}

/**
 * Parses an `Authorization` header value of the `Caa` scheme.
 *
 * Accepts exactly: `Caa` (any case), whitespace, one standard base64 token whose text is
 * `apiKey:signature<whitespace>timestamp`, with base64 `apiKey`, a 28-character base64
 * `signature` and a 13-digit `timestamp`. Values over {@link MAX_HEADER_LENGTH} characters
 * are refused before any decoding.
 *
 * @param value - The `Authorization` header value, e.g. `Caa N1Qr…`; `null` or `undefined` when absent.
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
 *
 * @category Protocol
 */
export function parseCaaHeader(value: string | null | undefined): CaaCredentials {
  if (typeof value !== 'string' || value.length > MAX_HEADER_LENGTH) invalid();

  // Scheme, case-insensitively, then at least one space.
  if (value.length < SCHEME.length + 2 || !isScheme(value)) invalid();
  let start = SCHEME.length;
  if (!isHttpSpace(value.charCodeAt(start))) invalid();
  while (start < value.length && isHttpSpace(value.charCodeAt(start))) start++;

  const inner = decodeBase64(value.slice(start));
  if (inner === undefined) invalid();
  // A character outside ASCII takes two bytes or more, so it shows as a length mismatch.
  if (encoder.encodeInto(inner, innerBytes).written !== inner.length) invalid();
  const bytes = innerView;

  // apiKey ":" signature (28) whitespace (at least 1) timestamp (13): the lengths first, so that
  // every index below is inside `inner`.
  const colon = inner.indexOf(':');
  const signatureEnd = colon + 1 + SIGNATURE_LENGTH;
  const digits = inner.length - TIMESTAMP_DIGITS;
  if (colon <= 0 || colon % 4 !== 0 || signatureEnd >= digits) invalid();

  // The apiKey is padded base64: alphabet characters, then at most two `=`. The signature is base64
  // of 20 bytes: 27 alphabet characters and one `=`. The loops are written out here, not called:
  // they are the hot part of the parse.
  let apiKeyEnd = colon;
  if (bytes.getUint8(colon - 1) === EQUALS) apiKeyEnd = bytes.getUint8(colon - 2) === EQUALS ? colon - 2 : colon - 1;
  let alphabet = 1;
  for (let i = 0; i < apiKeyEnd; i++) alphabet &= base64Bit(bytes.getUint8(i));
  for (let i = colon + 1; i < signatureEnd - 1; i++) alphabet &= base64Bit(bytes.getUint8(i));
  if (alphabet !== 1 || bytes.getUint8(signatureEnd - 1) !== EQUALS) invalid();

  for (let i = signatureEnd; i < digits; i++) if (!isAsciiSpace(bytes.getUint8(i))) invalid();
  const high = readDigits(bytes, digits, inner.length - LOW_DIGITS);
  const low = readDigits(bytes, inner.length - LOW_DIGITS, inner.length);
  if (low < 0 || high < MIN_TIMESTAMP / LOW_SCALE) invalid(); // also refuses a leading zero
  const timestamp = high * LOW_SCALE + low;

  const slot = timestamp & (TIMESTAMP_SLOTS - 1);
  slotTimestamps[slot] = timestamp;
  slotTexts[slot] = inner.slice(digits);
  return { apiKey: inner.slice(0, colon), signature: inner.slice(colon + 1, signatureEnd), timestamp };
}

/**
 * Writes credentials as an `Authorization` header value, the exact inverse of
 * {@link parseCaaHeader}: `Caa ` and the base64 of `apiKey:signature timestamp`.
 *
 * @param credentials - The apiKey, the signature and the timestamp to encode.
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
 *
 * @category Protocol
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
