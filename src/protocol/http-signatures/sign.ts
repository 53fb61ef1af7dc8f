/**
 * Signing a request with the `caa-v2` profile, for servers calling servers, tests and benches (the
 * universal client signs with Web Crypto, in `caa-auth/client`).
 *
 * @module protocol/http-signatures/sign
 */

import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { isCaaError } from '../../errors.js';
import { isCoverable, isDerived } from './components.js';
import { makeContentDigest } from './content-digest.js';
import { deriveCaaV2Key } from './key.js';
import { MAX_COVERED_COMPONENTS, MAX_SIGNATURE_INPUT_LENGTH } from './limits.js';
import { CAA_V2_ALG, CAA_V2_LABEL, CAA_V2_REQUIRED_COMPONENTS, CAA_V2_TAG } from './profile.js';
import { requestPartsFromUrl } from './request-parts.js';
import { buildCaaV2SignatureBase } from './signature-base.js';
import { isCaaV2Nonce, serializeSignatureParams } from './signature-input.js';
import { isSfString } from './structured-fields.js';
import { hmacOfBase } from './verify.js';

/** Random bytes of a default nonce: 144 bits, 24 base64url characters. */
const NONCE_BYTES = 18;
const MS_PER_SECOND = 1000;
/** RFC 8941 integers have at most 15 digits. */
const MAX_SF_INTEGER = 999_999_999_999_999;
const CONTENT_DIGEST = 'content-digest';
const EMPTY_BODY = new Uint8Array(0);

/**
 * What {@link signCaaV2Request} needs.
 *
 * @example
 * ```ts
 * import { signCaaV2Request, type SignCaaV2RequestInput } from 'caa-auth';
 *
 * // Fixed created and nonce: a reproducible signature, for a test.
 * const input: SignCaaV2RequestInput = { method: 'GET', url: 'https://api.example.com/api/my', apiKey, secretKey, created: 1700000000, nonce: 'bm9uY2UtZm9yLXZlY3Rvci1h' };
 * const headers = signCaaV2Request(input);
 * ```
 *
 * @category Protocol
 */
export interface SignCaaV2RequestInput {
  /** The method exactly as it will be sent (not normalized). */
  readonly method: string;
  /** The absolute URL of the request: `@authority`, `@path` and `@query` are read from it. */
  readonly url: string | URL;
  /** The body as it will be sent; a string is sent as UTF-8. */
  readonly body?: Uint8Array | string;
  /** The session's apiKey: the `keyid`. */
  readonly apiKey: string;
  /** The session's secretKey: the HMAC key is derived from it. */
  readonly secretKey: string;
  /** `created`, seconds since the epoch; defaults to now. */
  readonly created?: number;
  /** `nonce`; defaults to 18 random bytes, base64url. Must be new for every request. */
  readonly nonce?: string;
  /** `expires`, seconds since the epoch; left out by default. */
  readonly expires?: number;
  /**
   * The covered components, in order; by default {@link CAA_V2_REQUIRED_COMPONENTS}, and
   * `content-digest` when there is a non-empty body.
   */
  readonly components?: readonly string[];
  /** Values of covered fields other than `content-digest` (which is computed from the body), by lowercase name. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The fields {@link signCaaV2Request} adds to a request.
 *
 * @example
 * ```ts
 * import { signCaaV2Request, type CaaV2SignedHeaders } from 'caa-auth';
 *
 * const signed: CaaV2SignedHeaders = signCaaV2Request({ method: 'PUT', url, body, apiKey, secretKey });
 * await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/json', ...signed } });
 * ```
 *
 * @category Protocol
 */
export interface CaaV2SignedHeaders {
  readonly 'signature-input': string;
  readonly signature: string;
  /** Present when `content-digest` is covered. */
  readonly 'content-digest'?: string;
}

function isSeconds(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_SF_INTEGER;
}

function coveredComponents(input: SignCaaV2RequestInput, body: Uint8Array | undefined): readonly string[] {
  const components =
    input.components ?? (body !== undefined && body.length > 0 ? [...CAA_V2_REQUIRED_COMPONENTS, CONTENT_DIGEST] : CAA_V2_REQUIRED_COMPONENTS);
  if (components.length > MAX_COVERED_COMPONENTS) throw new RangeError(`at most ${MAX_COVERED_COMPONENTS} components can be covered`);
  const seen = new Set<string>();
  for (const name of components) {
    if (!isCoverable(name)) throw new RangeError(`cannot cover ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new RangeError(`${JSON.stringify(name)} is covered twice`);
    seen.add(name);
  }
  for (const name of CAA_V2_REQUIRED_COMPONENTS) if (!seen.has(name)) throw new RangeError(`${name} must be covered`);
  if (body !== undefined && body.length > 0 && !seen.has(CONTENT_DIGEST)) throw new RangeError('a body must be covered by content-digest');
  return components;
}

/**
 * Signs a request with the `caa-v2` profile (spec §1, §2) and returns the fields to add to it:
 * `signature-input`, `signature`, and `content-digest` when it is covered. Parameters are written
 * in the order `created`, `expires` (when given), `nonce`, `keyid`, `alg`, `tag`.
 *
 * @param input - The request (method, URL, body, other covered fields), the session (apiKey,
 *   secretKey), and optionally `created`, `nonce`, `expires` and the covered components.
 *
 * @throws RangeError when the input cannot make a signature the server accepts: a component that
 *   cannot be covered, repeated, or missing from the required ones; a body without
 *   `content-digest`; a covered field not given in `headers`; `created` or `expires` not a
 *   non-negative integer; a nonce not of the profile; an apiKey not printable ASCII; a
 *   `Signature-Input` over {@link MAX_SIGNATURE_INPUT_LENGTH} characters.
 *
 * @example
 * ```ts
 * import { signCaaV2Request } from 'caa-auth';
 *
 * // Spec vector S1.
 * signCaaV2Request({
 *   method: 'GET',
 *   url: 'https://api.example.com/api/my',
 *   apiKey: 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=',
 *   secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=',
 *   created: 1700000000,
 *   nonce: 'bm9uY2UtZm9yLXZlY3Rvci1h',
 * });
 * // { 'signature-input': 'caa=("@method" "@authority" "@path" "@query");created=1700000000;nonce="bm9uY2UtZm9yLXZlY3Rvci1h";keyid="R1a9…";alg="hmac-sha256";tag="caa-v2"',
 * //   signature: 'caa=:kSlditwE6HcTx7yCKC/TtJLfvuXgO3+KPtHjBdyKLjA=:' }
 * ```
 *
 * @category Protocol
 */
export function signCaaV2Request(input: SignCaaV2RequestInput): CaaV2SignedHeaders {
  const body = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body;
  const components = coveredComponents(input, body);

  const created = input.created ?? Math.floor(Date.now() / MS_PER_SECOND);
  if (!isSeconds(created)) throw new RangeError('created must be a non-negative integer of seconds');
  if (input.expires !== undefined && !isSeconds(input.expires)) throw new RangeError('expires must be a non-negative integer of seconds');
  const nonce = input.nonce ?? randomBytes(NONCE_BYTES).toString('base64url');
  if (!isCaaV2Nonce(nonce)) throw new RangeError('nonce must be 16 to 128 characters of the base64 or base64url alphabet');
  if (input.apiKey.length === 0 || !isSfString(input.apiKey)) throw new RangeError('apiKey must be non-empty printable ASCII');

  const params: [string, string | number][] = [['created', created]];
  if (input.expires !== undefined) params.push(['expires', input.expires]);
  params.push(['nonce', nonce], ['keyid', input.apiKey], ['alg', CAA_V2_ALG], ['tag', CAA_V2_TAG]);
  const signatureParams = serializeSignatureParams(components, params);
  const signatureInput = `${CAA_V2_LABEL}=${signatureParams}`;
  if (signatureInput.length > MAX_SIGNATURE_INPUT_LENGTH) {
    throw new RangeError(`Signature-Input must not exceed ${MAX_SIGNATURE_INPUT_LENGTH} characters`);
  }

  const contentDigest = components.includes(CONTENT_DIGEST) ? makeContentDigest(body ?? EMPTY_BODY) : undefined;
  const fields = input.headers ?? {};
  for (const name of components) {
    if (name !== CONTENT_DIGEST && !isDerived(name) && !Object.hasOwn(fields, name)) {
      throw new RangeError(`the covered field ${name} must be given in headers`);
    }
  }
  const { method, authority, path, query } = requestPartsFromUrl(input.method, input.url);
  const header = (name: string): string | undefined =>
    name === CONTENT_DIGEST ? contentDigest : Object.hasOwn(fields, name) ? fields[name] : undefined;
  const request = { method, authority, path, query, header };

  let base: string;
  try {
    base = buildCaaV2SignatureBase({ components, signatureParams }, request);
  } catch (err) {
    // A component value the server would refuse to put in a base (a line break, a non-ASCII method).
    if (isCaaError(err)) throw new RangeError('a covered component holds a character a signature base cannot', { cause: err });
    throw err;
  }
  const signature = `${CAA_V2_LABEL}=:${hmacOfBase(base, deriveCaaV2Key(input.secretKey)).toString('base64')}:`;
  return contentDigest === undefined
    ? { 'signature-input': signatureInput, signature }
    : { 'signature-input': signatureInput, signature, 'content-digest': contentDigest };
}
