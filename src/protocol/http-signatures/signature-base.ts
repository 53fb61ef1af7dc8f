/**
 * The signature base of RFC 9421 §2.5: one line per covered component, in the order of
 * `Signature-Input`, then the `"@signature-params"` line. The bytes the HMAC is made over.
 *
 * @module protocol/http-signatures/signature-base
 */

import { CaaError } from '../../errors.js';
import { isCoverable, isDerived } from './components.js';
import type { CaaV2Signature } from './signature-input.js';

/**
 * What a request exposes to be signed or verified. The framework integrations and
 * {@link requestPartsFromUrl} / {@link requestPartsFromFetch} provide it.
 *
 * @example
 * ```ts
 * import type { CaaV2RequestParts } from 'caa-auth';
 *
 * // An Express request, as sent (req.originalUrl is the request target, not decoded).
 * const [path, query = ''] = req.originalUrl.split('?', 2) as [string, string?];
 * const parts: CaaV2RequestParts = {
 *   method: req.method,
 *   authority: (req.headers.host ?? '').toLowerCase(),
 *   path,
 *   query: `?${query}`,
 *   header: (name) => req.get(name),
 * };
 * ```
 *
 * @category Protocol
 */
export interface CaaV2RequestParts {
  /** The method as sent, e.g. `GET` (RFC 9421 §2.2.1: not normalized). */
  readonly method: string;
  /** The authority the client addressed: the `Host` header on HTTP/1.1 (lowercased here, RFC 9421 §2.2.3). */
  readonly authority: string;
  /** The path as sent, not decoded, e.g. `/api/my`; empty reads as `/`. */
  readonly path: string;
  /** The query with its leading `?`, or `?` when there is none (an empty string reads as `?`). */
  readonly query: string;
  /**
   * The value of the field `name` (lowercase), its lines combined with `, ` (RFC 9421 §2.1), or
   * `undefined` when the request lacks it.
   */
  header(name: string): string | undefined;
}

function invalid(): never {
  throw new CaaError('INVALID_AUTHORIZATION');
}

const QUESTION = 0x3f;
const SP = 0x20;
const HTAB = 0x09;
const DEL = 0x7f;

/**
 * Throws unless every character of `value` is visible ASCII, space or tab: a line break would let
 * one request's component forge lines of another's base, and a character outside ASCII has no
 * single byte form that every runtime agrees on.
 */
function assertLineSafe(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < SP && c !== HTAB) || c >= DEL) invalid();
  }
  return value;
}

/** RFC 9421 §2.1: leading and trailing whitespace of a field value is not part of it. */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === SP || value.charCodeAt(start) === HTAB)) start++;
  while (end > start && (value.charCodeAt(end - 1) === SP || value.charCodeAt(end - 1) === HTAB)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** The value of one covered component (RFC 9421 §2.1, §2.2). */
function componentValue(name: string, request: CaaV2RequestParts): string {
  if (!isCoverable(name)) invalid();
  if (!isDerived(name)) {
    const value = request.header(name);
    if (value === undefined) invalid();
    return trimOws(value);
  }
  switch (name) {
    case '@method':
      return request.method;
    case '@authority':
      return request.authority.toLowerCase();
    case '@path':
      return request.path === '' ? '/' : request.path;
    default: // '@query'
      if (request.query === '') return '?';
      return request.query.charCodeAt(0) === QUESTION ? request.query : `?${request.query}`;
  }
}

/**
 * Builds the signature base of RFC 9421 §2.5 for a `caa` signature: `"<component>": <value>` for
 * each covered component, in order, then `"@signature-params": <signatureParams>`, joined by LF,
 * with no final LF.
 *
 * Derived components are `@method`, `@authority` (lowercased), `@path` and `@query`; a field is
 * read with `request.header` and trimmed of surrounding whitespace.
 *
 * @param sig - The covered components and the serialized parameters, as {@link parseCaaV2Signature} returns them.
 * @param request - The request's method, authority, path, query and fields.
 *
 * @throws {@link CaaError} 400 `invalid authorization` (code `INVALID_AUTHORIZATION`) for a covered
 *   field the request lacks, a derived component other than those four, or a value holding a
 *   control character (other than tab) or a character outside ASCII.
 *
 * @example
 * ```ts
 * import { buildCaaV2SignatureBase, requestPartsFromUrl } from 'caa-auth';
 *
 * buildCaaV2SignatureBase(
 *   { components: ['@method', '@authority', '@path', '@query'], signatureParams: '("@method" "@authority" "@path" "@query");created=1700000000;…' },
 *   requestPartsFromUrl('GET', 'https://api.example.com/api/my', {}),
 * );
 * // '"@method": GET\n"@authority": api.example.com\n"@path": /api/my\n"@query": ?\n"@signature-params": ("@method" …'
 * ```
 *
 * @category Protocol
 */
export function buildCaaV2SignatureBase(
  sig: Pick<CaaV2Signature, 'components' | 'signatureParams'>,
  request: CaaV2RequestParts,
): string {
  let base = '';
  for (const name of sig.components) base += `"${name}": ${assertLineSafe(componentValue(name, request))}\n`;
  return `${base}"@signature-params": ${assertLineSafe(sig.signatureParams)}`;
}
