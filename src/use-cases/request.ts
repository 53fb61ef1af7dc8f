/**
 * Reading the `Authorization` header from whatever a framework hands over: a Node
 * `IncomingMessage`, an Express or Fastify request, a plain `{ headers }` object, or a Fetch-API
 * `Request` or `Headers`.
 *
 * @module use-cases/request
 */

/** Header values as Node and most frameworks keep them. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The Fetch-API `Headers` interface, as far as reading one header goes. */
export interface HeadersLike {
  get(name: string): string | null;
}

/**
 * Anything that carries request headers. `rawHeaders` (a Node `IncomingMessage`, an Express
 * request) or `raw.rawHeaders` (a Fastify request) is read when present, only to notice an
 * `Authorization` header sent more than once: Node keeps the first and drops the others from
 * `headers`.
 */
export type RequestLike =
  | HeadersLike
  | {
      readonly headers: HeaderRecord | HeadersLike;
      readonly rawHeaders?: readonly string[];
      readonly raw?: { readonly rawHeaders?: readonly string[] };
    };

function isHeadersLike(value: unknown): value is HeadersLike {
  return typeof (value as { get?: unknown }).get === 'function';
}

/** True when Node's `rawHeaders` (name, value, name, value, …) name `Authorization` more than once. */
function isRepeated(rawHeaders: unknown): boolean {
  if (!Array.isArray(rawHeaders)) return false;
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name: unknown = rawHeaders[i];
    if (typeof name === 'string' && name.length === 13 && name.toLowerCase() === 'authorization') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/**
 * The `Authorization` value of a request, or `undefined` when it is missing or sent more than once
 * (a repeated credential is refused, not guessed at).
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
  if (isHeadersLike(req)) return req.get('authorization') ?? undefined;
  if (isRepeated(req.rawHeaders) || isRepeated(req.raw?.rawHeaders)) return undefined;
  const headers = req.headers;
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
