/**
 * Signing with the `caa-v2` profile (RFC 9421 HTTP Message Signatures, `hmac-sha256`, spec
 * `caa-http-signatures.md` §1–§2) on any runtime: Web Crypto's HKDF, HMAC and SHA-256, with a
 * serializer of its own for the few structured-field shapes the profile uses. Nothing of the server
 * side's parser or verifier is imported.
 *
 * @module client/http-signatures
 */

/**
 * The signature label of the profile in `Signature-Input` and `Signature` (spec §1).
 *
 * @example
 * ```ts
 * import { CAA_V2_LABEL } from 'caa-auth/client';
 *
 * CAA_V2_LABEL; // 'caa'
 * ```
 *
 * @category Client
 */
export const CAA_V2_LABEL = 'caa';

/**
 * The `tag` parameter of the profile (spec §1); a server advertises the profile with it in
 * `Accept-Signature` (spec §4).
 *
 * @example
 * ```ts
 * import { CAA_V2_TAG } from 'caa-auth/client';
 *
 * CAA_V2_TAG; // 'caa-v2'
 * ```
 *
 * @category Client
 */
export const CAA_V2_TAG = 'caa-v2';

/**
 * The `alg` parameter of the profile (spec §1).
 *
 * @example
 * ```ts
 * import { CAA_V2_ALG } from 'caa-auth/client';
 *
 * CAA_V2_ALG; // 'hmac-sha256'
 * ```
 *
 * @category Client
 */
export const CAA_V2_ALG = 'hmac-sha256';

/**
 * The HKDF `info` that derives the HMAC key from a session's secretKey (spec §2): the key is
 * HKDF-SHA256 of the UTF-8 secretKey, with an empty salt, this info and 32 bytes of output.
 *
 * @example
 * ```ts
 * import { CAA_V2_KEY_INFO } from 'caa-auth/client';
 *
 * CAA_V2_KEY_INFO; // 'caa-auth http-signatures hmac-sha256 v1'
 * ```
 *
 * @category Client
 */
export const CAA_V2_KEY_INFO = 'caa-auth http-signatures hmac-sha256 v1';

/**
 * Random bytes in a nonce {@link signCaaV2Async} makes: 18, i.e. 144 bits (the profile asks for
 * at least 96) in 24 base64url characters, without padding.
 *
 * @example
 * ```ts
 * import { CAA_V2_NONCE_BYTES } from 'caa-auth/client';
 *
 * CAA_V2_NONCE_BYTES; // 18
 * ```
 *
 * @category Client
 */
export const CAA_V2_NONCE_BYTES = 18;

/** Derived keys kept: a client holds one pair at a time, a few more cover rotations under way. */
const KEY_CACHE_SIZE = 8;
const KEY_LENGTH_BITS = 256;
/** The range of an RFC 8941 integer. */
const MAX_SF_INTEGER = 999_999_999_999_999;
/** Nonce length the profile allows (spec §1), and its alphabet: base64 or base64url, no padding. */
const MIN_NONCE_LENGTH = 16;
const MAX_NONCE_LENGTH = 128;
const NONCE_ALPHABET = /^[A-Za-z0-9+/_-]+$/;
/** An RFC 9110 token: what a method is. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Methods `fetch` sends upper-cased whatever their case (the Fetch standard's "normalize"). */
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

const encoder = new TextEncoder();

function subtleCrypto(): SubtleCrypto {
  const webCrypto: Crypto | undefined = globalThis.crypto;
  if (webCrypto?.subtle === undefined) {
    // Browsers hide crypto.subtle outside secure contexts (plain http:// other than localhost).
    throw new Error('caa-auth/client needs Web Crypto (globalThis.crypto.subtle): use https, or Node 20+');
  }
  return webCrypto.subtle;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function base64url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Derivations by secretKey, oldest first (a Map keeps insertion order): each request costs one HMAC. */
const derivedKeys = new Map<string, Promise<CryptoKey>>();

async function deriveKey(secretKey: string): Promise<CryptoKey> {
  const subtle = subtleCrypto();
  const ikm = await subtle.importKey('raw', encoder.encode(secretKey), 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(CAA_V2_KEY_INFO) },
    ikm,
    { name: 'HMAC', hash: 'SHA-256', length: KEY_LENGTH_BITS },
    false,
    ['sign'],
  );
}

/** The non-extractable HMAC key of a secretKey, derived once and kept among the last few used. */
function keyOf(secretKey: string): Promise<CryptoKey> {
  const cached = derivedKeys.get(secretKey);
  if (cached !== undefined) {
    derivedKeys.delete(secretKey);
    derivedKeys.set(secretKey, cached);
    return cached;
  }
  const derived = deriveKey(secretKey);
  derivedKeys.set(secretKey, derived);
  // A failed derivation is not kept: the next request tries again.
  derived.catch(() => {
    if (derivedKeys.get(secretKey) === derived) derivedKeys.delete(secretKey);
  });
  for (const oldest of derivedKeys.keys()) {
    if (derivedKeys.size <= KEY_CACHE_SIZE) break;
    derivedKeys.delete(oldest);
  }
  return derived;
}

/** An RFC 8941 sf-string: printable ASCII, `"` and `\` escaped. */
function sfString(value: string, name: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.charCodeAt(0);
    if (char.length !== 1 || code < 0x20 || code > 0x7e) throw new RangeError(`${name} must be printable ASCII`);
    out += char === '"' || char === '\\' ? `\\${char}` : char;
  }
  return `${out}"`;
}

function sfInteger(value: number, name: string): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_SF_INTEGER) {
    throw new RangeError(`${name} must be a non-negative integer of seconds`);
  }
  return String(value);
}

/**
 * What {@link signCaaV2Async} needs.
 *
 * @example
 * ```ts
 * import type { SignCaaV2Input } from 'caa-auth/client';
 *
 * const input: SignCaaV2Input = { method: 'PUT', url: 'https://api.example.com/api/my', body: '{"name":"Ann"}', apiKey, secretKey };
 * ```
 *
 * @category Client
 */
export interface SignCaaV2Input {
  /** The request method as it will be sent; `fetch` upper-cases `get`, `post`, … and so does the signer. */
  readonly method: string;
  /** The absolute `http(s)` URL the request is sent to: its authority, path and query are signed as the WHATWG parser gives them. */
  readonly url: string | URL;
  /**
   * The body bytes exactly as they will be sent (a string is signed as its UTF-8 bytes, which is
   * what `fetch` sends for it). A non-empty body adds `content-digest` to the covered components
   * and a `content-digest` header to the result; none, or an empty one, adds neither (spec §1: a
   * request has a body when its `Content-Length` is above 0).
   */
  readonly body?: string | Uint8Array | undefined;
  /** The session's apiKey: the `keyid`. */
  readonly apiKey: string;
  /** The session's secretKey, from which the HMAC key is derived (spec §2). */
  readonly secretKey: string;
  /**
   * The `created` parameter, integer seconds since the epoch; default `Date.now()` in seconds. Pass
   * the server-corrected time (see `CaaClock.now`) when the local clock may be off.
   */
  readonly created?: number | undefined;
  /**
   * The `nonce` parameter: 16 to 128 characters of the base64 or base64url alphabet (no padding);
   * default {@link CAA_V2_NONCE_BYTES} fresh random bytes, base64url. A server refuses a nonce it
   * has seen for this apiKey within its window: never reuse one.
   */
  readonly nonce?: string | undefined;
  /** The optional `expires` parameter, integer seconds: the server refuses the request after it. */
  readonly expires?: number | undefined;
}

/**
 * The request headers {@link signCaaV2Async} makes, under their lower-case names, ready to spread
 * into a `fetch` call's headers (a type alias, so that it fits `HeadersInit` as it is).
 * `content-digest` is there when the request has a body.
 *
 * @example
 * ```ts
 * import type { CaaV2Headers } from 'caa-auth/client';
 *
 * const headers: CaaV2Headers = await signCaaV2Async({ method: 'GET', url, apiKey, secretKey });
 * headers['signature-input']; // 'caa=("@method" "@authority" "@path" "@query");created=…;nonce="…";keyid="…";alg="hmac-sha256";tag="caa-v2"'
 * await fetch(url, { headers });
 * ```
 *
 * @category Client
 */
export type CaaV2Headers = {
  readonly 'signature-input': string;
  readonly signature: string;
  readonly 'content-digest'?: string;
};

/**
 * Signs a request with the `caa-v2` profile and returns its `Signature-Input`, `Signature` and (with
 * a body) `Content-Digest` headers. The HMAC key is HKDF-SHA256 of the secretKey (spec §2), derived
 * once per secretKey and kept as a non-extractable `CryptoKey`, so a request costs one HMAC (and one
 * SHA-256 of its body).
 *
 * Covered: `"@method" "@authority" "@path" "@query"`, then `"content-digest"` for a body; parameters
 * in this order: `created`, `expires` (when given), `nonce`, `keyid`, `alg`, `tag`. `@authority` is
 * the URL's host (lower case, default port omitted), `@path` its path as sent, `@query` its query
 * with the `?`, or `?` alone. Send no `Authorization: Caa` header beside these: a server refuses
 * both at once.
 *
 * @throws RangeError when the method is not an HTTP token, the URL not an absolute `http(s)` URL,
 *   the apiKey not printable ASCII, `created`/`expires` not integer seconds, or a given nonce not
 *   16–128 base64(url) characters.
 *
 * @example
 * ```ts
 * import { signCaaV2Async } from 'caa-auth/client';
 *
 * const body = JSON.stringify({ name: 'Ann' });
 * const url = 'https://api.example.com/api/my?lang=zh-CN';
 * const signed = await signCaaV2Async({ method: 'PUT', url, body, apiKey, secretKey });
 * await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/json', ...signed } });
 * ```
 *
 * @category Client
 */
export async function signCaaV2Async(input: SignCaaV2Input): Promise<CaaV2Headers> {
  const { apiKey, secretKey, expires } = input;
  let method = input.method;
  if (typeof method !== 'string' || !TOKEN.test(method)) throw new RangeError('method must be an HTTP token');
  if (NORMALIZED_METHODS.has(method.toUpperCase())) method = method.toUpperCase();
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new RangeError('url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError('url must be an absolute http(s) URL');
  const nonce = input.nonce ?? base64url(globalThis.crypto.getRandomValues(new Uint8Array(CAA_V2_NONCE_BYTES)));
  if (typeof nonce !== 'string' || nonce.length < MIN_NONCE_LENGTH || nonce.length > MAX_NONCE_LENGTH || !NONCE_ALPHABET.test(nonce)) {
    throw new RangeError('nonce must be 16 to 128 characters of the base64 or base64url alphabet');
  }
  const created = input.created ?? Math.floor(Date.now() / 1000);

  // A copy of bytes given (Web Crypto takes no view of a SharedArrayBuffer).
  const bodyBytes = typeof input.body === 'string' ? encoder.encode(input.body) : input.body === undefined ? undefined : new Uint8Array(input.body);
  const subtle = subtleCrypto();
  let contentDigest: string | undefined;
  if (bodyBytes !== undefined && bodyBytes.byteLength > 0) {
    contentDigest = `sha-256=:${bytesToBase64(new Uint8Array(await subtle.digest('SHA-256', bodyBytes)))}:`;
  }

  const components: [string, string][] = [
    ['@method', method],
    ['@authority', url.host],
    ['@path', url.pathname === '' ? '/' : url.pathname],
    ['@query', url.search === '' ? '?' : url.search],
  ];
  if (contentDigest !== undefined) components.push(['content-digest', contentDigest]);
  let params = `(${components.map(([name]) => `"${name}"`).join(' ')});created=${sfInteger(created, 'created')}`;
  if (expires !== undefined) params += `;expires=${sfInteger(expires, 'expires')}`;
  params += `;nonce="${nonce}";keyid=${sfString(apiKey, 'apiKey')};alg="${CAA_V2_ALG}";tag="${CAA_V2_TAG}"`;
  // RFC 9421 §2.5: one line per covered component, then the parameters, no trailing newline.
  const base = `${components.map(([name, value]) => `"${name}": ${value}\n`).join('')}"@signature-params": ${params}`;

  const mac = await subtle.sign('HMAC', await keyOf(secretKey), encoder.encode(base));
  const headers = {
    'signature-input': `${CAA_V2_LABEL}=${params}`,
    signature: `${CAA_V2_LABEL}=:${bytesToBase64(new Uint8Array(mac))}:`,
  };
  return contentDigest === undefined ? headers : { ...headers, 'content-digest': contentDigest };
}

/**
 * True when an `Accept-Signature` response header asks for the profile (spec §4): one of its
 * members carries `tag="caa-v2"`. Read loosely on purpose: the header only picks the scheme the
 * client signs with, and a server that does not verify `caa-v2` answers such a request 400.
 */
export function advertisesCaaV2(acceptSignature: string | null | undefined): boolean {
  return typeof acceptSignature === 'string' && acceptSignature.includes(`tag="${CAA_V2_TAG}"`);
}
