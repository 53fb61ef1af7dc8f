/**
 * caa-auth for Express (5 and 4): a middleware that authenticates a route, an error handler that
 * answers every error as JSON, and the ready-made routes of the original API. `express` is an
 * optional peer dependency: this module imports only its types.
 *
 * @module caa-auth/express
 */

import { toErrorResponse, type CaaAuth, type Session, type UserLike } from 'caa-auth';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { caaRouteTable, reportServerError, type CaaRoutesOptions } from './routes.js';

export { LOGIN_FAILED, SESSION_NOT_FOUND, caaRouteTable, defaultLoginMetadata } from './routes.js';
export type { CaaRoute, CaaRouteAnswer, CaaRouteInput, CaaRoutesOptions } from './routes.js';

declare global {
  // Declaration merging is how Express types request decorations.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The live session of a request that passed {@link caaAuth}. */
      caaSession?: Session;
    }
  }
}

/**
 * A middleware that authenticates requests signed with `action` and puts the session on
 * `req.caaSession`; a refusal goes to the error handler as a `CaaError` (see {@link caaErrorHandler}).
 * Its promise is handled here, so Express 4 (which ignores a rejected handler) behaves as Express 5.
 *
 * @param auth - The configured auth object (`createCaaAuth`).
 * @param action - The action the request must be signed with.
 * @param options - `replayProtection`: accept each exact header only once (for writes).
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS } from 'caa-auth';
 * import { caaAuth, caaErrorHandler } from 'caa-auth/express';
 *
 * app.get('/api/orders', caaAuth(auth, 'shop:orders:list'), (req, res) => res.json(listOrders(req.caaSession!.userId)));
 * app.use(caaErrorHandler());
 * ```
 *
 * @category Integrations
 */
export function caaAuth<U extends UserLike, P>(
  auth: CaaAuth<U, P>,
  action: string,
  options: { replayProtection?: boolean } = {},
): RequestHandler {
  if (typeof action !== 'string' || action.length === 0) throw new TypeError('caaAuth: action must be a non-empty string');
  return (req: Request, _res: Response, next: NextFunction): void => {
    auth.authenticate(req, action, options).then((session) => {
      req.caaSession = session;
      next();
    }, next);
  };
}

/**
 * Options of {@link caaErrorHandler}.
 *
 * @example
 * ```ts
 * import { caaErrorHandler, type CaaErrorHandlerOptions } from 'caa-auth/express';
 *
 * const options: CaaErrorHandlerOptions = { onServerError: (err) => logger.error({ err }, 'request failed') };
 * app.use(caaErrorHandler(options));
 * ```
 *
 * @category Integrations
 */
export interface CaaErrorHandlerOptions {
  /**
   * Called for every answer of 500 or more (the application's errors, 503 store faults), to log
   * it. Default: nothing. The error of a store fault is a `CaaError` whose `cause` holds no secret.
   *
   * @param err - What was thrown (a store fault: a `CaaError` whose `cause` holds no secret).
   */
  onServerError?: (err: unknown) => void;
}

/**
 * The error handler: a `CaaError` is its status and `{ message }`, a framework client error (bad
 * JSON) keeps its 4xx with `{ message: 'invalid request' }`, anything else is 500
 * `{ message: 'internal error' }` — see `toErrorResponse`. Mount it last.
 *
 * @param options - `onServerError`, to log 5xx answers.
 *
 * @example
 * ```ts
 * import { caaErrorHandler } from 'caa-auth/express';
 *
 * app.use(caaErrorHandler({ onServerError: (err) => console.error(err) }));
 * ```
 *
 * @category Integrations
 */
export function caaErrorHandler(options: CaaErrorHandlerOptions = {}): ErrorRequestHandler {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const { status, body, headers } = toErrorResponse(err);
    if (headers !== undefined) res.set(headers);
    reportServerError(options.onServerError, err, status);
    res.status(status).json(body);
  };
}

/**
 * Keeps the raw bytes of a request body on `req.rawBody`, for `caa-v2`'s `Content-Digest`: pass it
 * as the `verify` option of Express's body parsers, which call it with the bytes before parsing.
 *
 * @param req - The request being parsed.
 * @param _res - The response (unused).
 * @param bytes - The body's bytes as received.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { captureRawBody } from 'caa-auth/express';
 *
 * app.use(express.json({ limit: '16kb', verify: captureRawBody }));
 * ```
 *
 * @category Integrations
 */
export function captureRawBody(req: object, _res: unknown, bytes: Buffer): void {
  (req as { rawBody?: Uint8Array }).rawBody = bytes;
}

/**
 * The part of an Express app or router {@link caaRoutes} mounts on.
 *
 * @category Integrations
 */
export interface ExpressRouterLike {
  /**
   * Mounts `GET` handlers.
   *
   * @param path - The route's path.
   * @param handlers - Its handlers.
   */
  get(path: string, ...handlers: RequestHandler[]): unknown;
  /**
   * Mounts `POST` handlers.
   *
   * @param path - The route's path.
   * @param handlers - Its handlers.
   */
  post(path: string, ...handlers: RequestHandler[]): unknown;
  /**
   * Mounts `DELETE` handlers.
   *
   * @param path - The route's path.
   * @param handlers - Its handlers.
   */
  delete(path: string, ...handlers: RequestHandler[]): unknown;
}

/**
 * Mounts the ready-made routes (login through `verifyLogin`, profile, refresh, logout, and the
 * session endpoints; see `caaRouteTable`) on an app or router. Needs a JSON body parser before it
 * for login — `express.json({ verify: captureRawBody })`, so that `caa-v2` requests with a body can
 * be checked against their `Content-Digest` — and {@link caaErrorHandler} after it.
 *
 * @param app - An Express app or router.
 * @param auth - The configured auth object.
 * @param options - `verifyLogin` (required), `metadata`, `prefix`, `loginFailed`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { captureRawBody, caaErrorHandler, caaRoutes } from 'caa-auth/express';
 *
 * const app = express();
 * app.use(express.json({ verify: captureRawBody }));
 * caaRoutes(app, auth, { verifyLogin: (body) => checkPassword(body) });
 * app.use(caaErrorHandler());
 * ```
 *
 * @category Integrations
 */
export function caaRoutes<U extends UserLike, P>(app: ExpressRouterLike, auth: CaaAuth<U, P>, options: CaaRoutesOptions<U>): void {
  for (const route of caaRouteTable(auth, options)) {
    const handler: RequestHandler = (req, res, next) => {
      route.handle({ req, body: req.body as unknown, params: req.params as Record<string, string | undefined>, ip: req.ip }).then(({ status, body, headers }) => {
        if (headers !== undefined) res.set(headers);
        res.status(status).json(body);
      }, next);
    };
    if (route.method === 'GET') app.get(route.path, handler);
    else if (route.method === 'POST') app.post(route.path, handler);
    else app.delete(route.path, handler);
  }
}
