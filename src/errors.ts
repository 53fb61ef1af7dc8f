/**
 * The one error type of caa-auth: an HTTP-aware exception whose `message` is one of the wire
 * messages of the protocol and whose `code` tells the finer reason.
 *
 * @module errors
 */

import { CAA_V2_ACCEPT_SIGNATURE } from './protocol/http-signatures/profile.js';

/**
 * The four messages existing clients match on (spec §5), plus the one of a server-side fault.
 *
 * @example
 * ```ts
 * import { CAA_MESSAGES } from 'caa-auth';
 *
 * // In a Node service calling a Caa API: after a refresh, this 404 means only a new login helps.
 * if (res.status === 404 && body.message === CAA_MESSAGES.apiKeyNotFound) await login();
 * ```
 *
 * @category Errors
 */

export const CAA_MESSAGES = {
  invalidAuthorization: 'invalid authorization',
  invalidSignature: 'invalid signature',
  apiKeyNotFound: 'apiKey not found',
  userNotFound: 'user not found',
  storeUnavailable: 'service unavailable',
} as const;

/**
 * One of the messages a {@link CaaError} can carry.
 *
 * @example
 * ```ts
 * import type { CaaMessage } from 'caa-auth';
 *
 * // The body of every rejection, typed so that a client's checks cannot misspell a message.
 * type CaaErrorBody = { message: CaaMessage };
 * ```
 *
 * @category Errors
 */
export type CaaMessage = (typeof CAA_MESSAGES)[keyof typeof CAA_MESSAGES];

/**
 * Machine-readable reasons. Callers can `switch` on them; the wire message stays one of the four.
 *
 * | code | status | message |
 * |------|--------|---------|
 * | `INVALID_AUTHORIZATION` | 400 | invalid authorization |
 * | `SIGNATURE_MISMATCH` | 400 | invalid signature |
 * | `TIMESTAMP_OUT_OF_WINDOW` | 400 | invalid signature |
 * | `REPLAYED` | 400 | invalid signature |
 * | `AMBIGUOUS_CREDENTIALS` | 400 | invalid authorization |
 * | `DIGEST_MISMATCH` | 400 | invalid signature |
 * | `SCHEME_DOWNGRADE` | 400 | invalid signature |
 * | `APIKEY_NOT_FOUND` | 404 | apiKey not found |
 * | `SESSION_EXPIRED` | 404 | apiKey not found |
 * | `TOKEN_REUSED` | 404 | apiKey not found |
 * | `USER_NOT_FOUND` | 404 | user not found |
 * | `STORE_UNAVAILABLE` | 503 | service unavailable |
 *
 * @example
 * ```ts
 * import { isCaaError, type CaaErrorCode } from 'caa-auth';
 *
 * function logLevel(code: CaaErrorCode): 'info' | 'warn' | 'error' {
 *   switch (code) {
 *     case 'TOKEN_REUSED':
 *       return 'warn'; // a rotated key came back after grace: the pair may have been stolen
 *     case 'STORE_UNAVAILABLE':
 *       return 'error';
 *     default:
 *       return 'info';
 *   }
 * }
 * if (isCaaError(err)) logger[logLevel(err.code)]({ code: err.code }, err.message);
 * ```
 *
 * @category Errors
 */
export type CaaErrorCode =
  | 'INVALID_AUTHORIZATION'
  | 'SIGNATURE_MISMATCH'
  | 'TIMESTAMP_OUT_OF_WINDOW'
  | 'REPLAYED'
  | 'AMBIGUOUS_CREDENTIALS'
  | 'DIGEST_MISMATCH'
  | 'SCHEME_DOWNGRADE'
  | 'APIKEY_NOT_FOUND'
  | 'SESSION_EXPIRED'
  | 'TOKEN_REUSED'
  | 'USER_NOT_FOUND'
  | 'STORE_UNAVAILABLE';

const STATUS_AND_MESSAGE: { readonly [C in CaaErrorCode]: readonly [number, CaaMessage] } = {
  INVALID_AUTHORIZATION: [400, CAA_MESSAGES.invalidAuthorization],
  SIGNATURE_MISMATCH: [400, CAA_MESSAGES.invalidSignature],
  TIMESTAMP_OUT_OF_WINDOW: [400, CAA_MESSAGES.invalidSignature],
  REPLAYED: [400, CAA_MESSAGES.invalidSignature],
  AMBIGUOUS_CREDENTIALS: [400, CAA_MESSAGES.invalidAuthorization],
  DIGEST_MISMATCH: [400, CAA_MESSAGES.invalidSignature],
  SCHEME_DOWNGRADE: [400, CAA_MESSAGES.invalidSignature],
  APIKEY_NOT_FOUND: [404, CAA_MESSAGES.apiKeyNotFound],
  SESSION_EXPIRED: [404, CAA_MESSAGES.apiKeyNotFound],
  TOKEN_REUSED: [404, CAA_MESSAGES.apiKeyNotFound],
  USER_NOT_FOUND: [404, CAA_MESSAGES.userNotFound],
  STORE_UNAVAILABLE: [503, CAA_MESSAGES.storeUnavailable],
};

/** The brand of a CaaError, the same in every copy of the package (a registered symbol). */
const CAA_ERROR_BRAND: unique symbol = Symbol.for('caa-auth.CaaError') as never;

/**
 * Thrown by every function of caa-auth that rejects a request. `status` is the HTTP status to
 * answer with and `toJSON()` the body, so a framework can send it as it is.
 *
 * The message never contains request data or secrets; `cause` (for store faults) holds the
 * underlying error for server-side logs.
 *
 * @example
 * ```ts
 * import { CaaError, parseCaaHeader } from 'caa-auth';
 *
 * try {
 *   parseCaaHeader('Bearer abc');
 * } catch (err) {
 *   if (err instanceof CaaError) {
 *     console.log(err.status, err.code, JSON.stringify(err)); // 400 INVALID_AUTHORIZATION {"message":"invalid authorization"}
 *   }
 * }
 * ```
 *
 * @category Errors
 */
export class CaaError extends Error {
  /**
   * `instanceof CaaError` is true for a CaaError of either build (ESM and CJS loaded together, or
   * two copies of the package): both brand their errors with the same registered symbol.
   *
   * @param value - The value on the left of `instanceof`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== CaaError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [CAA_ERROR_BRAND]?: unknown })[CAA_ERROR_BRAND] === true;
  }

  /** HTTP status to answer with. */
  readonly status: number;
  /** The finer, machine-readable reason. */
  readonly code: CaaErrorCode;
  declare readonly message: CaaMessage;

  /**
   * An error of `code`, with the status and wire message of that code.
   *
   * @param code - The reason; it decides the status and the wire message.
   * @param options - `cause`: the underlying error (a store fault's), for server-side logs only.
   */
  constructor(code: CaaErrorCode, options?: { cause?: unknown }) {
    const [status, message] = STATUS_AND_MESSAGE[code];
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CaaError';
    this.status = status;
    this.code = code;
    Object.defineProperty(this, CAA_ERROR_BRAND, { value: true });
  }

  /** The response body: `{ message }`, nothing else. */
  toJSON(): { message: CaaMessage } {
    return { message: this.message };
  }
}

/**
 * True when `err` is a {@link CaaError}, also across module copies (ESM and CJS builds loaded
 * together); the same as `err instanceof CaaError`.
 *
 * @param err - Anything caught.
 *
 * @example
 * ```ts
 * import { isCaaError } from 'caa-auth';
 *
 * // The same as `err instanceof CaaError`, which also holds across the ESM and CJS builds.
 * app.use((err, req, res, next) => {
 *   if (isCaaError(err)) return res.status(err.status).json(err); // body: { message }
 *   next(err);
 * });
 * ```
 *
 * @category Errors
 */
export function isCaaError(err: unknown): err is CaaError {
  return err instanceof CaaError;
}

/**
 * An HTTP answer to an error, framework-free: what every integration sends.
 *
 * @example
 * ```ts
 * import { toErrorResponse, type ErrorResponse } from 'caa-auth';
 *
 * const { status, body }: ErrorResponse = toErrorResponse(err);
 * ctx.status = status; // Koa
 * ctx.body = body;
 * ```
 *
 * @category Errors
 */
export interface ErrorResponse {
  status: number;
  /** `{ message }`: one of the wire messages for a CaaError, a generic one otherwise. */
  body: { message: string };
  /**
   * Headers to send with it: `Accept-Signature` for `SCHEME_DOWNGRADE`, so that a client which
   * signed with the legacy header learns that its session moved to `caa-v2` (spec §4).
   */
  headers?: Readonly<Record<string, string>>;
}

/** The status a framework's own client error (bad JSON, a body too large) carries, if it is a 4xx. */
function clientErrorStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
  const value = typeof status === 'number' ? status : statusCode;
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value < 500 ? value : undefined;
}

/**
 * The answer to any error: a {@link CaaError} is its `status` and `{ message }` (one of the wire
 * messages, spec §5); a framework's own client error (an `Error` with a 4xx `status` or
 * `statusCode`: malformed JSON, a body too large) keeps its status with
 * `{ message: 'invalid request' }`; anything else is `500 { message: 'internal error' }`. Nothing
 * of the error is echoed.
 *
 * @param err - Anything thrown while handling a request.
 *
 * @example
 * ```ts
 * import { toErrorResponse } from 'caa-auth';
 *
 * app.use((err, req, res, next) => {
 *   const { status, body } = toErrorResponse(err);
 *   res.status(status).json(body);
 * });
 * ```
 *
 * @category Errors
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (isCaaError(err)) {
    if (err.code === 'SCHEME_DOWNGRADE') return { status: err.status, body: err.toJSON(), headers: { 'accept-signature': CAA_V2_ACCEPT_SIGNATURE } };
    return { status: err.status, body: err.toJSON() };
  }
  const status = err instanceof Error ? clientErrorStatus(err) : undefined;
  if (status !== undefined) return { status, body: { message: 'invalid request' } };
  return { status: 500, body: { message: 'internal error' } };
}

/**
 * {@link toErrorResponse} as a Fetch API `Response` (JSON), for Hono, Bun, Deno and workers.
 *
 * @param err - Anything thrown while handling a request.
 *
 * @example
 * ```ts
 * import { toFetchErrorResponse } from 'caa-auth';
 *
 * export default {
 *   fetch: (request: Request) => handle(request).catch(toFetchErrorResponse),
 * };
 * ```
 *
 * @category Errors
 */
export function toFetchErrorResponse(err: unknown): Response {
  const { status, body, headers } = toErrorResponse(err);
  return new Response(JSON.stringify(body), { status, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } });
}
