/**
 * The `caa-v2` profile in the use cases: telling which scheme a request uses, reading what the
 * profile signs (method, authority, path, query, the raw body) from whatever a framework hands
 * over, and the checks of the profile in the order of its spec (§3). Rotation, grace, reuse,
 * replay and session management are the legacy scheme's, unchanged.
 *
 * @module use-cases/caa-v2
 */

import { CaaError } from '../errors.js';
import { deriveCaaV2Key } from '../protocol/http-signatures/key.js';
import { checkContentDigest, requiresContentDigest } from '../protocol/http-signatures/content-digest.js';
import { requestPartsFromFetch, requestPartsFromTarget } from '../protocol/http-signatures/request-parts.js';
import type { CaaV2RequestParts } from '../protocol/http-signatures/signature-base.js';
import type { CaaV2Signature } from '../protocol/http-signatures/signature-input.js';
import { verifyCaaV2Signature } from '../protocol/http-signatures/verify.js';
import type { HeaderRecord, RequestLike } from './request.js';

/**
 * The schemes a server may accept: the legacy `Authorization: Caa` header, and the `caa-v2`
 * profile (RFC 9421 HTTP Message Signatures).
 *
 * @example
 * ```ts
 * import { createCaaAuth, type CaaScheme } from 'caa-auth';
 *
 * // Every client has moved: refuse the legacy header.
 * const schemes: readonly CaaScheme[] = ['caa-v2'];
 * const auth = createCaaAuth({ store, users, schemes });
 * ```
 *
 * @category Use cases
 */
export type CaaScheme = 'caa' | 'caa-v2';

/**
 * Options of the schemes, on every signed endpoint.
 *
 * @example
 * ```ts
 * import { authenticate, type SchemeOptions } from 'caa-auth';
 *
 * // Behind a proxy that rewrites Host: the authority the clients address, which they sign.
 * const options: SchemeOptions = { authority: 'api.example.com' };
 * await authenticate(store, req, action, options);
 * ```
 *
 * @category Use cases
 */
export interface SchemeOptions {
  /** The schemes accepted; default both (`['caa', 'caa-v2']`). */
  schemes?: readonly CaaScheme[] | undefined;
  /**
   * The authority (`host[:port]`) clients address, for `caa-v2`'s `@authority`: default the
   * request's `Host` (the URL's host for a Fetch `Request`). Set it behind a proxy that rewrites it.
   */
  authority?: string | undefined;
}

/**
 * A request as `caa-v2` needs it, besides its headers: the method, the request target as sent,
 * and the raw body bytes. Node's `IncomingMessage` and Express and Fastify requests have
 * `method` and `url` (`originalUrl` on Express); the integrations put the bytes on `rawBody`. A
 * Fetch `Request` carries all of it.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type CaaV2RequestLike } from 'caa-auth';
 *
 * // AWS Lambda behind API Gateway (HTTP API, payload 2.0): the event has everything.
 * const req: CaaV2RequestLike = {
 *   method: event.requestContext.http.method,
 *   url: event.rawPath + (event.rawQueryString ? `?${event.rawQueryString}` : ''),
 *   headers: event.headers,
 *   rawBody: event.body === undefined ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8'),
 * };
 * await authenticate(store, req, CAA_ACTIONS.fetchMyProfile);
 * ```
 *
 * @category Use cases
 */
export interface CaaV2RequestLike {
  readonly method?: string | undefined;
  /** The request target as sent: `/api/my?lang=zh-CN`. */
  readonly url?: string | undefined;
  /** Express: the target before routers rewrote `url`. */
  readonly originalUrl?: string | undefined;
  readonly headers: HeaderRecord;
  /** The body's bytes as received (the integrations capture them). */
  readonly rawBody?: Uint8Array | undefined;
}

/** The value of a header of any request shape, lowercase `name`; `undefined` when absent. */
function headerOf(req: object, name: string): string | undefined {
  const headers: unknown = 'headers' in req ? (req as { headers: unknown }).headers : req;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function' && !('headers' in req && Object.hasOwn(headers, name))) {
    const value: unknown = get.call(headers, name);
    return typeof value === 'string' ? value : undefined;
  }
  if (!Object.hasOwn(headers, name)) return undefined;
  const value: unknown = (headers as Record<string, unknown>)[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((line) => typeof line === 'string')) return (value as string[]).join(', ');
  return undefined;
}

/** True when a request carries `caa-v2` headers (`Signature-Input` or `Signature`). @internal */
export function carriesCaaV2(req: RequestLike): boolean {
  if (typeof req !== 'object' || req === null) return false;
  return headerOf(req, 'signature-input') !== undefined || headerOf(req, 'signature') !== undefined;
}

/**
 * True when a request carries an `Authorization` header at all, however many lines of it (a
 * caa-v2 request beside it is ambiguous, whatever the header says). @internal
 */
export function carriesAuthorization(req: RequestLike): boolean {
  if (typeof req !== 'object' || req === null) return false;
  if (headerOf(req, 'authorization') !== undefined) return true;
  const raw = (req as { rawHeaders?: unknown; raw?: { rawHeaders?: unknown } }).rawHeaders ?? (req as { raw?: { rawHeaders?: unknown } }).raw?.rawHeaders;
  if (!Array.isArray(raw)) return false;
  for (let i = 0; i < raw.length; i += 2) {
    const name: unknown = raw[i];
    if (typeof name === 'string' && name.toLowerCase() === 'authorization') return true;
  }
  return false;
}

/** The two signature headers of a request. @internal */
export function caaV2Headers(req: RequestLike): { signatureInput: string | undefined; signature: string | undefined } {
  return { signatureInput: headerOf(req, 'signature-input'), signature: headerOf(req, 'signature') };
}

function isFetchRequest(req: object): req is Request {
  return typeof Request !== 'undefined' && req instanceof Request;
}

/** What the profile signs of `req`; a request without a method or target cannot be verified. @internal */
export function caaV2Parts(req: RequestLike, options: SchemeOptions): CaaV2RequestParts {
  if (isFetchRequest(req)) {
    const parts = requestPartsFromFetch(req);
    return options.authority === undefined ? parts : { ...parts, authority: options.authority.toLowerCase() };
  }
  const { method, originalUrl, url, raw } = req as { method?: unknown; originalUrl?: unknown; url?: unknown; raw?: unknown };
  // Fastify: request.url is the target as sent; Express: originalUrl survives routers' rewrites.
  const target = typeof originalUrl === 'string' ? originalUrl : typeof url === 'string' ? url : (raw as { url?: unknown } | undefined)?.url;
  const authority = options.authority ?? headerOf(req, 'host');
  if (typeof method !== 'string' || typeof target !== 'string' || authority === undefined) throw new CaaError('INVALID_AUTHORIZATION');
  const headers: unknown = (req as { headers?: unknown }).headers;
  return requestPartsFromTarget(method, authority, target, headers as HeaderRecord);
}

/** The raw body of a request, for `Content-Digest`; a framework that parsed it away is a setup error. @internal */
async function rawBodyOf(req: RequestLike): Promise<Uint8Array> {
  if (isFetchRequest(req)) return new Uint8Array(await req.clone().arrayBuffer());
  const own = (req as { rawBody?: unknown }).rawBody;
  if (own instanceof Uint8Array) return own;
  if (typeof own === 'string') return new TextEncoder().encode(own);
  throw new TypeError(
    'caa-auth: a caa-v2 request with a body needs its raw bytes on req.rawBody (the caa-auth integrations capture them: ' +
      'caa-auth/express captureRawBody, caa-auth/fastify and caa-auth/hono do it themselves)',
  );
}

/**
 * The `Content-Digest` check of spec §3: a request with a body must cover `content-digest`, and
 * the digest must be the body's. @internal
 */
export async function assertContentDigest(sig: CaaV2Signature, parts: CaaV2RequestParts, req: RequestLike): Promise<void> {
  const covered = sig.components.includes('content-digest');
  if (!covered && !requiresContentDigest(parts)) return;
  if (!covered) throw new CaaError('DIGEST_MISMATCH');
  if (!checkContentDigest(parts.header('content-digest'), await rawBodyOf(req))) throw new CaaError('DIGEST_MISMATCH');
}

/** Derived keys by secretKey: one HKDF per session, not per request. Bounded, oldest out first. */
const derivedKeys = new Map<string, Buffer>();
const MAX_DERIVED_KEYS = 4096;

function derivedKey(secretKey: string): Buffer {
  let key = derivedKeys.get(secretKey);
  if (key !== undefined) return key;
  key = deriveCaaV2Key(secretKey);
  if (derivedKeys.size >= MAX_DERIVED_KEYS) {
    const oldest = derivedKeys.keys().next();
    if (oldest.done !== true) derivedKeys.delete(oldest.value);
  }
  derivedKeys.set(secretKey, key);
  return key;
}

/** The HMAC check, constant-time. @internal */
export function assertCaaV2Signature(sig: CaaV2Signature, parts: CaaV2RequestParts, secretKey: string): void {
  if (!verifyCaaV2Signature(sig, parts, derivedKey(secretKey))) throw new CaaError('SIGNATURE_MISMATCH');
}

/** Which schemes are on. @internal */
export function accepts(options: SchemeOptions, scheme: CaaScheme): boolean {
  return options.schemes === undefined || options.schemes.includes(scheme);
}
