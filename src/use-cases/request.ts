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
 */
export interface HeadersLike {
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
 */
export type RequestLike = HeadersLike | { readonly headers: HeaderRecord | HeadersLike };

function isHeadersLike(value: unknown): value is HeadersLike {
  return typeof (value as { get?: unknown }).get === 'function';
}

/**
 * Node's `rawHeaders` (name, value, name, value, …) of a Node `IncomingMessage` or an Express
 * request, or `raw.rawHeaders` of a Fastify request; `undefined` for other shapes.
 */
function rawHeadersOf(req: object): readonly unknown[] | undefined {
  const own: unknown = Reflect.get(req, 'rawHeaders');
  if (Array.isArray(own)) return own;
  const raw: unknown = Reflect.get(req, 'raw');
  if (typeof raw !== 'object' || raw === null) return undefined;
  const inner: unknown = Reflect.get(raw, 'rawHeaders');
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

/**
 * The `Authorization` value of a request, or `undefined` when it is missing or sent more than once
 * (a repeated credential is refused, not guessed at). Node keeps only the first of several
 * `Authorization` lines in `req.headers`, so the lines are counted in `rawHeaders` (Node, Express)
 * or `raw.rawHeaders` (Fastify) when the request has them.
 *
 * @example
 * ```ts
 * import { readAuthorization } from 'caa-auth';
 *
 * readAuthorization({ headers: { authorization: 'Caa …' } }); // 'Caa …'
 * readAuthorization(new Request('http://x', { headers: { Authorization: 'Caa …' } })); // 'Caa …'
 * // Node request with two Authorization lines (req.headers keeps only the first):
 * readAuthorization(req); // undefined, so the use cases answer 400 invalid authorization
 * ```
 */
export function readAuthorization(req: RequestLike): string | undefined {
  const rawHeaders = rawHeadersOf(req);
  if (rawHeaders !== undefined && isRepeated(rawHeaders)) return undefined;
  const headers = isHeadersLike(req) ? req : req.headers;
  if (isHeadersLike(headers)) return headers.get('authorization') ?? undefined;
  let value = headers.authorization;
  if (value === undefined) {
    for (const name of Object.keys(headers)) {
      if (name.length === 13 && name.toLowerCase() === 'authorization') {
        value = headers[name];
        break;
      }
    }
  }
  if (typeof value === 'string') return value;
  return value?.length === 1 ? value[0] : undefined;
}
