/**
 * {@link CaaV2RequestParts} from what an application has at hand: a URL and headers, a raw request
 * target (Node's `req.url`) and headers, or a Fetch `Request`.
 *
 * @module protocol/http-signatures/request-parts
 */

import { CaaError } from '../../errors.js';
import type { CaaV2RequestParts } from './signature-base.js';

const SLASH = 0x2f;

/** `@query` of a URL: its query with the `?`, or `?` when it has none (RFC 9421 §2.2.7). */
function queryOf(url: URL): string {
  return url.search === '' ? '?' : url.search;
}

/**
 * Headers as Node and most frameworks keep them (a record, names in any case), or anything with a
 * Fetch-style `get`.
 *
 * @example
 * ```ts
 * import { requestPartsFromUrl, type CaaV2HeaderSource } from 'caa-auth';
 *
 * const headers: CaaV2HeaderSource = req.headers; // Node's IncomingHttpHeaders fits, so does a Fetch Headers
 * const parts = requestPartsFromUrl(req.method ?? 'GET', `https://${req.headers.host}${req.url}`, headers);
 * ```
 *
 * @category Protocol
 */
export type CaaV2HeaderSource =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null };

function isGetter(headers: CaaV2HeaderSource): headers is { get(name: string): string | null } {
  return typeof (headers as { get?: unknown }).get === 'function';
}

function combined(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 0 ? undefined : value.join(', ');
}

/**
 * A `header(name)` look-up over a header source: Fetch `get` as it is; a record by its own
 * properties only (an inherited one is not a header), in any case, several lines or case variants
 * combined with `, ` (RFC 9421 §2.1).
 */
function headerLookup(headers: CaaV2HeaderSource): (name: string) => string | undefined {
  if (isGetter(headers)) return (name) => headers.get(name) ?? undefined;
  const record = headers;
  return (name) => {
    let value = Object.hasOwn(record, name) ? combined(record[name]) : undefined;
    for (const key in record) {
      if (key === name || key.length !== name.length || !Object.hasOwn(record, key) || key.toLowerCase() !== name) continue;
      const variant = combined(record[key]);
      if (variant !== undefined) value = value === undefined ? variant : `${value}, ${variant}`;
    }
    return value;
  };
}

/**
 * The parts of a request addressed to `url`: `@authority` is its host (lowercase, default port
 * left out, as WHATWG URL writes it), `@path` its path and `@query` its query or `?`, both as URL
 * serializes them (percent-encoded; dot segments resolved). A server that must sign what the client
 * sent byte for byte should use {@link requestPartsFromTarget} with the raw request target instead.
 *
 * @param method - The method exactly as sent.
 * @param url - The absolute URL of the request.
 * @param headers - The request's headers (default: none).
 *
 * @example
 * ```ts
 * import { requestPartsFromUrl } from 'caa-auth';
 *
 * const parts = requestPartsFromUrl('PUT', 'https://api.example.com/api/my?lang=zh-CN', { 'Content-Digest': digest });
 * parts.authority; // 'api.example.com'
 * parts.query; // '?lang=zh-CN'
 * parts.header('content-digest'); // digest
 * ```
 *
 * @category Protocol
 */
export function requestPartsFromUrl(method: string, url: string | URL, headers: CaaV2HeaderSource = {}): CaaV2RequestParts {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return { method, authority: parsed.host, path: parsed.pathname, query: queryOf(parsed), header: headerLookup(headers) };
}

/**
 * The parts of a request from its raw request target, as an HTTP/1.1 server receives it (Node's
 * `req.url`, Express's `req.originalUrl`): the path and query as sent, not decoded or normalized.
 * The target is split at its first `?`. A target that does not start with `/` (absolute-form, sent
 * to proxies) is read as a URL.
 *
 * @param method - The method as received.
 * @param authority - The authority the client addressed (the `Host` header on HTTP/1.1, or the
 *   server's public authority behind a proxy that rewrites it); lowercased.
 * @param target - The request target, e.g. `/api/my?lang=zh-CN`.
 * @param headers - The request's headers (default: none).
 *
 * @throws {@link CaaError} 400 `invalid authorization` for a target that is neither a path nor an absolute URL.
 *
 * @example
 * ```ts
 * import { requestPartsFromTarget } from 'caa-auth';
 *
 * // Node's http server: req.url is the target as sent.
 * const parts = requestPartsFromTarget(req.method ?? 'GET', req.headers.host ?? '', req.url ?? '/', req.headers);
 * ```
 *
 * @category Protocol
 */
export function requestPartsFromTarget(
  method: string,
  authority: string,
  target: string,
  headers: CaaV2HeaderSource = {},
): CaaV2RequestParts {
  const header = headerLookup(headers);
  if (target.charCodeAt(0) !== SLASH) {
    let parsed: URL;
    try {
      parsed = new URL(target);
    } catch {
      throw new CaaError('INVALID_AUTHORIZATION');
    }
    return { method, authority: authority.toLowerCase(), path: parsed.pathname, query: queryOf(parsed), header };
  }
  const question = target.indexOf('?');
  const path = question < 0 ? target : target.slice(0, question);
  const query = question < 0 || question === target.length - 1 ? '?' : target.slice(question);
  return { method, authority: authority.toLowerCase(), path, query, header };
}

/**
 * The parts of a Fetch `Request` (Hono, Bun, Deno, workers): its method, the URL's host, path and
 * query (as {@link requestPartsFromUrl} reads them), and its `Headers`.
 *
 * @param request - The request.
 *
 * @example
 * ```ts
 * import { deriveCaaV2Key, parseCaaV2Signature, requestPartsFromFetch, verifyCaaV2Signature } from 'caa-auth';
 *
 * const parts = requestPartsFromFetch(request);
 * const sig = parseCaaV2Signature(parts.header('signature-input'), parts.header('signature'));
 * verifyCaaV2Signature(sig, parts, deriveCaaV2Key(secretKey));
 * ```
 *
 * @category Protocol
 */
export function requestPartsFromFetch(request: Request): CaaV2RequestParts {
  return requestPartsFromUrl(request.method, request.url, request.headers);
}
