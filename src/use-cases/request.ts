/**
 * Reading the `Authorization` header from whatever a framework hands over: a Node
 * `IncomingMessage`, an Express or Fastify request, a plain `{ headers }` object, or a Fetch-API
 * `Request` or `Headers`.
 *
 * @module use-cases/request
 */

/**
 * Header values as Node and most frameworks keep them.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type HeaderRecord } from 'caa-auth';
 *
 * // Only the headers are read, so the plain record of an AWS Lambda (API Gateway) event is enough.
 * const headers: HeaderRecord = event.headers;
 * const session = await authenticate(store, { headers }, CAA_ACTIONS.fetchMyProfile);
 * ```
 *
 * @category Use cases
 */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * The Fetch-API `Headers` interface, as far as reading one header goes.
 *
 * @example
 * ```ts
 * import { readAuthorization, type HeadersLike } from 'caa-auth';
 *
 * // A Fetch-API Headers is one; so is any object with get(), such as this view of a Koa context.
 * const headers: HeadersLike = { get: (name) => ctx.get(name) || null };
 * readAuthorization(headers); // 'Caa …', or undefined when there is none
 * ```
 *
 * @category Use cases
 */
export interface HeadersLike {
  /**
   * The value of a header, or `null` when it is absent.
   *
   * @param name - The header name, lower case.
   */
  get(name: string): string | null;
}

/**
 * Anything that carries request headers.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type RequestLike } from 'caa-auth';
 *
 * // One helper for every framework: Node, Express and Fastify requests, Fetch Requests and Headers all fit.
 * const currentSession = (req: RequestLike) => authenticate(store, req, CAA_ACTIONS.fetchMyProfile);
 *
 * app.get('/api/my', async (c) => c.json(await currentSession(c.req.raw))); // Hono: c.req.raw is a Request
 * ```
 *
 * @category Use cases
 */
export type RequestLike =
  | HeadersLike
  | {
      readonly headers: HeaderRecord | HeadersLike;
      /** For `caa-v2`: the method as sent. */
      readonly method?: string | undefined;
      /** For `caa-v2`: the request target as sent (`/api/my?lang=zh-CN`). */
      readonly url?: string | undefined;
      /** For `caa-v2`, Express: the target before routers rewrote `url`. */
      readonly originalUrl?: string | undefined;
      /** For `caa-v2`: the body's bytes as received (the integrations capture them). */
      readonly rawBody?: Uint8Array | undefined;
    };

function isHeadersLike(value: object): value is HeadersLike {
  return typeof (value as { get?: unknown }).get === 'function';
}

/**
 * Node's `rawHeaders` (name, value, name, value, …) of a Node `IncomingMessage` or an Express
 * request, or `raw.rawHeaders` of a Fastify request; `undefined` for other shapes. Plain reads, not
 * own-only: these are own properties on all three, and a polluted prototype can only make a request
 * look repeated (refused), never supply a credential.
 */
function rawHeadersOf(req: object): readonly unknown[] | undefined {
  const own = (req as { rawHeaders?: unknown }).rawHeaders;
  if (Array.isArray(own)) return own;
  const raw = (req as { raw?: unknown }).raw;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const inner = (raw as { rawHeaders?: unknown }).rawHeaders;
  return Array.isArray(inner) ? inner : undefined;
}

/** True when raw headers name `Authorization` more than once (any case). */
function isRepeated(rawHeaders: readonly unknown[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (typeof name === 'string' && name.length === 13 && name.toLowerCase() === 'authorization') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/** One header value as a record holds it: a string, or an array of exactly one string. */
function singleValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1) {
    const [only] = value as unknown[];
    if (typeof only === 'string') return only;
  }
  return undefined;
}

/**
 * The `authorization` entry of a header record, by own properties only (an inherited one, as from a
 * polluted prototype, is not a header), or `undefined` when there is none or more than one case
 * variant (`Authorization` and `AUTHORIZATION`) has a value. Every own key is looked at, even when
 * the lowercase one is there, because that is the only way to see a second variant; `for…in` with the
 * length test first is the cheapest scan (a few ns over ~10 keys of a Node request).
 */
function authorizationOfRecord(headers: object): string | undefined {
  const record = headers as Readonly<Record<string, unknown>>;
  let value: unknown = Object.hasOwn(record, 'authorization') ? record.authorization : undefined;
  for (const name in record) {
    if (name.length !== 13 || name === 'authorization' || !Object.hasOwn(record, name)) continue;
    if (name.toLowerCase() !== 'authorization') continue;
    const variant = record[name];
    if (variant === undefined) continue;
    if (value !== undefined) return undefined;
    value = variant;
  }
  return singleValue(value);
}

/**
 * The `Authorization` value of a request, or `undefined` when it is missing, sent more than once
 * (a repeated credential is refused, not guessed at) or not readable. Node keeps only the first of several
 * `Authorization` lines in `req.headers`, so the lines are counted in `rawHeaders` (Node, Express)
 * or `raw.rawHeaders` (Fastify) when the request has them. A header record is read by its own
 * properties only, and two case variants of `authorization` in it count as a repeat. A request that
 * is not an object, or whose `headers` is not one, has no header: the use cases answer 400
 * `invalid authorization`, never a `TypeError`.
 *
 * @param req - A request, its headers, or a Fetch `Headers`.
 *
 * @example
 * ```ts
 * import { readAuthorization } from 'caa-auth';
 *
 * readAuthorization({ headers: { authorization: 'Caa …' } }); // 'Caa …'
 * readAuthorization(new Request('http://x', { headers: { Authorization: 'Caa …' } })); // 'Caa …'
 * readAuthorization({ headers: { Authorization: 'Caa a', AUTHORIZATION: 'Caa b' } }); // undefined
 * // Node request with two Authorization lines (req.headers keeps only the first):
 * readAuthorization(req); // undefined, so the use cases answer 400 invalid authorization
 * ```
 *
 * @category Use cases
 */
export function readAuthorization(req: RequestLike): string | undefined {
  // Typed callers cannot pass these, but a framework handing over `undefined` must not cause a TypeError.
  if (typeof req !== 'object' || req === null) return undefined;
  const rawHeaders = rawHeadersOf(req);
  if (rawHeaders !== undefined && isRepeated(rawHeaders)) return undefined;
  // `headers` first: an Express request also has get(), which would read its record through the prototype chain.
  const headers: unknown = (req as { headers?: unknown }).headers;
  if (typeof headers === 'object' && headers !== null) {
    if (isHeadersLike(headers)) return singleValue(headers.get('authorization'));
    return authorizationOfRecord(headers);
  }
  return isHeadersLike(req) ? singleValue(req.get('authorization')) : undefined;
}
