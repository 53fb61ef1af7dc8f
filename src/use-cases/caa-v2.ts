/**
 * The `caa-v2` profile in the use cases: telling which scheme a request uses, reading what the
 * profile signs (method, authority, path, query, the raw body) from whatever a framework hands
 * over, and the checks of the profile in the order of its spec (§3). Rotation, grace, reuse,
 * replay and session management are the legacy scheme's, unchanged.
 *
 * @module use-cases/caa-v2
 */

import { hash } from 'node:crypto';
import { CaaError } from '../errors.js';
import { deriveCaaV2Key } from '../protocol/http-signatures/key.js';
import { checkContentDigest, requiresContentDigest } from '../protocol/http-signatures/content-digest.js';
import { requestPartsFromFetch, requestPartsFromTarget } from '../protocol/http-signatures/request-parts.js';
import type { CaaV2RequestParts } from '../protocol/http-signatures/signature-base.js';
import type { CaaV2Signature } from '../protocol/http-signatures/signature-input.js';
import { buildCaaV2SignatureBase } from '../protocol/http-signatures/signature-base.js';
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
  const headers: unknown = (req as { headers?: unknown }).headers;
  // The legacy hot path: a plain header record (Node, Express, Fastify) is two property reads. An
  // inherited property can only send a request to the caa-v2 checks, which then refuse it.
  if (typeof headers === 'object' && headers !== null && typeof (headers as { get?: unknown }).get !== 'function') {
    const record = headers as Record<string, unknown>;
    return record['signature-input'] !== undefined || record.signature !== undefined;
  }
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

/**
 * The HMAC pads of a derived key (RFC 2104: the key XOR ipad, and XOR opad with room for the inner
 * hash), by secretKey: one HKDF per session, not per request, and each request's HMAC is two
 * one-shot SHA-256 calls (creating an Hmac object costs more than hashing the base). Bounded,
 * oldest out first.
 */
interface HmacPads {
  readonly inner: Buffer;
  readonly outer: Buffer;
}
const hmacPads = new Map<string, HmacPads>();
const MAX_DERIVED_KEYS = 4096;
const SHA256_BLOCK = 64;
const SHA256_BYTES = 32;

function padsOf(secretKey: string): HmacPads {
  let pads = hmacPads.get(secretKey);
  if (pads !== undefined) return pads;
  const key = deriveCaaV2Key(secretKey);
  const inner = Buffer.alloc(SHA256_BLOCK, 0x36);
  const outer = Buffer.alloc(SHA256_BLOCK + SHA256_BYTES, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i] = (inner[i] ?? 0) ^ (key[i] ?? 0);
    outer[i] = (outer[i] ?? 0) ^ (key[i] ?? 0);
  }
  key.fill(0);
  pads = { inner, outer };
  if (hmacPads.size >= MAX_DERIVED_KEYS) {
    const oldest = hmacPads.keys().next();
    if (oldest.done !== true) hmacPads.delete(oldest.value);
  }
  hmacPads.set(secretKey, pads);
  return pads;
}

/** Scratch for the inner hash's input (ipad + base) and the outer one's (opad + inner hash). */
const INNER_INPUT = Buffer.allocUnsafe(SHA256_BLOCK + 65_536);
const OUTER_INPUT = Buffer.allocUnsafe(SHA256_BLOCK + SHA256_BYTES);

/** The HMAC check, constant-time. @internal */
export function assertCaaV2Signature(sig: CaaV2Signature, parts: CaaV2RequestParts, secretKey: string): void {
  // The base is ASCII (buildCaaV2SignatureBase refuses anything else), so latin1 writes its bytes.
  const base = buildCaaV2SignatureBase(sig, parts);
  const pads = padsOf(secretKey);
  if (base.length > INNER_INPUT.length - SHA256_BLOCK) throw new CaaError('INVALID_AUTHORIZATION');
  pads.inner.copy(INNER_INPUT, 0);
  const written = INNER_INPUT.write(base, SHA256_BLOCK, 'latin1');
  const innerHash = hash('sha256', INNER_INPUT.subarray(0, SHA256_BLOCK + written), 'buffer');
  pads.outer.copy(OUTER_INPUT, 0, 0, SHA256_BLOCK);
  innerHash.copy(OUTER_INPUT, SHA256_BLOCK);
  const mac = hash('sha256', OUTER_INPUT, 'buffer');
  const given = sig.signature;
  let diff = given.length ^ SHA256_BYTES;
  for (let i = 0; i < SHA256_BYTES; i++) diff |= (mac[i] ?? 0) ^ (given[i] ?? 0);
  if (diff !== 0) throw new CaaError('SIGNATURE_MISMATCH');
}

/** Whether the digest check has anything to do (else the caller stays synchronous). @internal */
export function needsContentDigest(sig: CaaV2Signature, parts: CaaV2RequestParts): boolean {
  return sig.components.includes('content-digest') || requiresContentDigest(parts);
}

/** Which schemes are on. @internal */
export function accepts(options: SchemeOptions, scheme: CaaScheme): boolean {
  return options.schemes === undefined || options.schemes.includes(scheme);
}
