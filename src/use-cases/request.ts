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

/** Anything that carries request headers. */
export type RequestLike = HeadersLike | { readonly headers: HeaderRecord | HeadersLike };

function isHeadersLike(value: unknown): value is HeadersLike {
  return typeof (value as { get?: unknown }).get === 'function';
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
 * ```
 */
export function readAuthorization(req: RequestLike): string | undefined {
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
