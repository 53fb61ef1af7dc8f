/**
 * caa-v2 requests as the use cases receive them from Node-style frameworks: `method`, the target
 * as sent in `url`, `headers` with `host`, and the body's bytes on `rawBody` — signed with the
 * package's own `signCaaV2Request`, then changed on the way (another path, a tampered parameter, a
 * different body) to make each refusal of spec §3.
 */

import { Buffer } from 'node:buffer';
import { CAA_ACTIONS, signCaaHeader, signCaaV2Request, type Session } from '../../src/index.js';

/** The authority the clients address in these tests. */
export const AUTHORITY = 'api.example.com';

/** A signed endpoint: the method and path its requests are sent to, the action of its legacy header. */
export interface Endpoint {
  readonly method: string;
  readonly path: string;
  readonly action: string;
}

export const PROFILE: Endpoint = { method: 'GET', path: '/api/my', action: CAA_ACTIONS.fetchMyProfile };
export const REFRESH: Endpoint = { method: 'POST', path: '/api/my/refresh-token', action: CAA_ACTIONS.refreshToken };
export const LOGOUT: Endpoint = { method: 'DELETE', path: '/api/my/logout', action: CAA_ACTIONS.logout };

/** Credentials a client holds. */
export interface Pair {
  readonly apiKey: string;
  readonly secretKey: string;
}

/** What is signed; every field defaults to the endpoint's request, signed now with the pair. */
export interface SignAs {
  readonly method?: string;
  /** The target signed (path and query), default the endpoint's path. */
  readonly target?: string;
  readonly authority?: string;
  readonly body?: string;
  /** `created`, seconds. */
  readonly created?: number;
  readonly expires?: number;
  readonly nonce?: string;
  readonly components?: readonly string[];
  /** The key the HMAC is derived from (another session's, for a forgery); default the pair's. */
  readonly secretKey?: string;
  readonly keyid?: string;
}

/** What is sent, where it differs from what was signed. */
export interface SendAs {
  readonly method?: string;
  readonly target?: string;
  readonly host?: string;
  /** The bytes sent; `null` sends no body at all (and no `content-length`). Default: the signed body. */
  readonly body?: string | null;
  /** Headers changed or added after signing; `undefined` removes one. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

/** A Node-style request: what an Express or Fastify request carries for caa-v2. */
export interface NodeStyleRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly rawBody?: Uint8Array;
  /** Node's header lines as received (name, value, …), where a test needs one sent twice. */
  readonly rawHeaders?: readonly string[];
}

/** `created` for the clock reading `now` (ms): the second it falls in. */
export function secondsOf(now: number): number {
  return Math.floor(now / 1000);
}

/**
 * A caa-v2 request to `endpoint` signed with `pair` at `now` (ms), as a Node-style request. A body
 * is sent with `content-type: application/json` and its `content-length`.
 */
export function v2Request(pair: Pair, endpoint: Endpoint, now: number, sign: SignAs = {}, send: SendAs = {}): NodeStyleRequest {
  const target = sign.target ?? endpoint.path;
  const signed = signCaaV2Request({
    method: sign.method ?? endpoint.method,
    url: `https://${sign.authority ?? AUTHORITY}${target}`,
    apiKey: sign.keyid ?? pair.apiKey,
    secretKey: sign.secretKey ?? pair.secretKey,
    created: sign.created ?? secondsOf(now),
    ...(sign.body === undefined ? {} : { body: sign.body }),
    ...(sign.expires === undefined ? {} : { expires: sign.expires }),
    ...(sign.nonce === undefined ? {} : { nonce: sign.nonce }),
    ...(sign.components === undefined ? {} : { components: sign.components }),
  });
  const body = send.body === undefined ? sign.body : send.body;
  const headers: Record<string, string> = { host: send.host ?? sign.authority ?? AUTHORITY, ...signed };
  if (body !== undefined && body !== null) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  for (const [name, value] of Object.entries(send.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return {
    method: send.method ?? sign.method ?? endpoint.method,
    url: send.target ?? target,
    headers,
    ...(body === undefined || body === null ? {} : { rawBody: new Uint8Array(Buffer.from(body)) }),
  };
}

/** The same request with `signature-input` changed by `edit` after signing (a tampered parameter). */
export function withSignatureInput(req: NodeStyleRequest, edit: (value: string) => string): NodeStyleRequest {
  return { ...req, headers: { ...req.headers, 'signature-input': edit(req.headers['signature-input'] ?? '') } };
}

/** The same request as Node hands it over when `name` was sent on two lines: `headers` keeps the first, `rawHeaders` both. */
export function withHeaderTwice(req: NodeStyleRequest, name: string, value: string): NodeStyleRequest {
  const rawHeaders = Object.entries(req.headers).flatMap(([key, line]) => [key, line]);
  return { ...req, headers: { ...req.headers, [name]: value }, rawHeaders: [...rawHeaders, name, value, name, value] };
}

/** A legacy request (`Authorization: Caa`) for `endpoint` signed with `pair` at `timestamp` (ms). */
export function legacyRequest(pair: Pair, endpoint: Endpoint, timestamp: number): NodeStyleRequest {
  return {
    method: endpoint.method,
    url: endpoint.path,
    headers: {
      host: AUTHORITY,
      authorization: signCaaHeader({ action: endpoint.action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp }),
    },
  };
}

/** The pair of a session or credentials response. */
export function pairOf(session: Pick<Session, 'apiKey' | 'secretKey'>): Pair {
  return { apiKey: session.apiKey, secretKey: session.secretKey };
}
