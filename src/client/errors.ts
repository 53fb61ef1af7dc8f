/**
 * The error of the client helper. It is not the server's `CaaError`: the server's finer `code` never
 * travels (the body carries only `message`, spec §5), so the client reports the HTTP status, the
 * wire message and the body it received, plus a `code` of its own.
 *
 * @module client/errors
 */

/**
 * Why a client call failed.
 *
 * | code | status | when |
 * |------|--------|------|
 * | `HTTP_ERROR` | the response's | the server answered with a non-2xx status |
 * | `LOGGED_OUT` | 404 | a refresh was answered `apiKey not found` or `user not found`: the session is gone and the client's credentials were cleared |
 * | `NO_CREDENTIALS` | 0 | a signed call was made while the client holds no credentials |
 * | `INVALID_RESPONSE` | the response's | a 2xx answer did not carry what its method returns: credentials (login, refresh), `user` (profile), a `sessions` array (sessions), a `revoked` count (logoutOtherDevices) |
 * | `INVALID_PATH` | 0 | a request path that does not start with one `/`, or that would leave the base URL (another origin, or above its path prefix), or a `revokeSession` id that is empty, `.` or `..`; nothing was signed or sent |
 * | `INVALID_BASE_URL` | 0 | `createCaaClient` was given a `baseUrl` that is not an absolute `http(s)` URL without query, fragment or user info |
 * | `REDIRECT_REFUSED` | the response's | the server answered with a redirect (3xx, or an opaque redirect in browsers), or a `fetch` that followed one anyway answered from another origin: the client never follows a redirect, so no body and no signed header goes anywhere else |
 * | `LOGOUT_UNCONFIRMED` | the response's, 0 without one | the server did not confirm a logout (network error, 5xx, 400, …); the credentials are cleared all the same, and calling `logout()` again retries the revocation |
 *
 * @example
 * ```ts
 * import { isCaaClientError } from 'caa-auth/client';
 *
 * if (isCaaClientError(err)) {
 *   switch (err.code) {
 *     case 'LOGGED_OUT':
 *     case 'NO_CREDENTIALS':
 *       return showLoginForm();
 *   }
 * }
 * ```
 *
 * @category Client
 */
export type CaaClientErrorCode =
  | 'HTTP_ERROR'
  | 'LOGGED_OUT'
  | 'NO_CREDENTIALS'
  | 'INVALID_RESPONSE'
  | 'INVALID_PATH'
  | 'INVALID_BASE_URL'
  | 'REDIRECT_REFUSED'
  | 'LOGOUT_UNCONFIRMED';

/**
 * Options of the {@link CaaClientError} constructor.
 *
 * @example
 * ```ts
 * import { CaaClientError } from 'caa-auth/client';
 *
 * new CaaClientError('HTTP_ERROR', 'apiKey not found', { status: 404, body: { message: 'apiKey not found' } });
 * ```
 *
 * @category Client
 */
export interface CaaClientErrorOptions {
  /** HTTP status of the response; 0 when there was none. */
  readonly status?: number;
  /** The parsed response body (JSON, else text), if any. */
  readonly body?: unknown;
  readonly cause?: unknown;
}

/**
 * Thrown by `createCaaClient` calls that the server refused or that could not be made. `message` is
 * the body's `message` when there is one (`invalid signature`, `apiKey not found`, …, spec §5).
 * Network failures are not wrapped: they reject with the `fetch` implementation's own error (except
 * a logout's, which is `LOGOUT_UNCONFIRMED` with that error as `cause`).
 *
 * @example
 * ```ts
 * import { CaaClientError, createCaaClient } from 'caa-auth/client';
 *
 * try {
 *   await client.profile();
 * } catch (err) {
 *   if (err instanceof CaaClientError && err.code === 'LOGGED_OUT') showLoginForm();
 *   else if (err instanceof CaaClientError) console.log(err.status, err.message, err.body); // 404 'user not found' { message: … }
 * }
 * ```
 *
 * @category Client
 */
export class CaaClientError extends Error {
  /** What went wrong, for `switch`. */
  readonly code: CaaClientErrorCode;
  /** HTTP status of the response; 0 when no request was made. */
  readonly status: number;
  /** The parsed response body (JSON, else text); `undefined` when there was none. */
  readonly body: unknown;

  /**
   * An error of `code`.
   *
   * @param code - The reason.
   * @param message - A description; the server's `message` for an HTTP error.
   * @param options - The response's `status` and `body`, and the `cause`.
   */
  constructor(code: CaaClientErrorCode, message: string, options: CaaClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CaaClientError';
    this.code = code;
    this.status = options.status ?? 0;
    this.body = options.body;
  }
}

/**
 * True when `err` is a {@link CaaClientError}, also across module copies (ESM and CJS builds loaded
 * together).
 *
 * @param err - Anything caught.
 *
 * @example
 * ```ts
 * import { isCaaClientError } from 'caa-auth/client';
 *
 * promise.catch((err) => {
 *   if (isCaaClientError(err) && err.status === 404) logout();
 * });
 * ```
 *
 * @category Client
 */
export function isCaaClientError(err: unknown): err is CaaClientError {
  return (
    err instanceof CaaClientError ||
    (err instanceof Error &&
      err.name === 'CaaClientError' &&
      typeof (err as { code?: unknown }).code === 'string' &&
      typeof (err as { status?: unknown }).status === 'number')
  );
}
