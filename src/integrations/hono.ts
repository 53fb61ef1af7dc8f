/**
 * caa-auth for Hono: a middleware that authenticates a route (`c.get('caaSession')`), an `onError`
 * handler that answers every error as JSON, and the ready-made routes. It reads the request as a
 * Fetch `Request` (`c.req.raw`), so it runs on every runtime Hono runs on that has `node:crypto`
 * (Node, Bun, Deno, Cloudflare Workers with `nodejs_compat`). `hono` is an optional peer
 * dependency: this module imports only its types.
 *
 * @module caa-auth/hono
 */

import { toFetchErrorResponse, type CaaAuth, type Session, type UserLike } from 'caa-auth';
import type { Context, ErrorHandler, Hono, MiddlewareHandler } from 'hono';
import { caaRouteTable, reportServerError, type CaaRoutesOptions } from './routes.js';

export { LOGIN_FAILED, SESSION_NOT_FOUND, caaRouteTable, defaultLoginMetadata } from './routes.js';
export type { CaaRoute, CaaRouteAnswer, CaaRouteInput, CaaRoutesOptions } from './routes.js';

/**
 * The Hono environment of an app using caa-auth: `c.get('caaSession')` is typed.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import type { CaaEnv } from 'caa-auth/hono';
 *
 * const app = new Hono<CaaEnv>();
 * ```
 *
 * @category Integrations
 */
export interface CaaEnv {
  Variables: {
    /** The live session of a request that passed {@link caaAuth}. */
    caaSession: Session;
  };
}

/**
 * A middleware that authenticates requests signed with `action`, sets `caaSession`, and answers
 * a refusal itself as JSON (status + `{ message }`), whatever the app's error handler.
 *
 * @param auth - The configured auth object (`createCaaAuth`).
 * @param action - The action the request must be signed with.
 * @param options - `replayProtection`: accept each exact header only once (for writes).
 *
 * @example
 * ```ts
 * import { caaAuth, type CaaEnv } from 'caa-auth/hono';
 *
 * const app = new Hono<CaaEnv>();
 * app.get('/api/orders', caaAuth(auth, 'shop:orders:list'), (c) => c.json(listOrders(c.get('caaSession').userId)));
 * ```
 *
 * @category Integrations
 */
export function caaAuth<U extends UserLike, P>(
  auth: CaaAuth<U, P>,
  action: string,
  options: { replayProtection?: boolean; onServerError?: (err: unknown) => void } = {},
): MiddlewareHandler<CaaEnv> {
  if (typeof action !== 'string' || action.length === 0) throw new TypeError('caaAuth: action must be a non-empty string');
  return async (c, next) => {
    let session: Session;
    try {
      session = await auth.authenticate(c.req.raw, action, options.replayProtection === undefined ? {} : { replayProtection: options.replayProtection });
    } catch (err) {
      reportServerError(options.onServerError, err);
      return toFetchErrorResponse(err);
    }
    c.set('caaSession', session);
    await next();
    return undefined;
  };
}

/**
 * The `onError` handler: every error as `toErrorResponse` answers it (a CaaError as status +
 * `{ message }`, anything else 500 `{ message: 'internal error' }`). Hono's default turns a
 * CaaError into a text 500, which `caa-auth/client` cannot read.
 *
 * @param options - `onServerError`, to log 5xx answers.
 *
 * @example
 * ```ts
 * import { caaErrorHandler } from 'caa-auth/hono';
 *
 * app.onError(caaErrorHandler({ onServerError: (err) => console.error(err) }));
 * ```
 *
 * @category Integrations
 */
export function caaErrorHandler(options: { onServerError?: (err: unknown) => void } = {}): ErrorHandler {
  return (err: unknown) => {
    reportServerError(options.onServerError, err);
    return toFetchErrorResponse(err);
  };
}

/** A 400 for a body that is not the JSON it says it is: answered `invalid request`, as Express and Fastify do. */
function badBody(cause: unknown): Error {
  return Object.assign(new Error('request body is not JSON', { cause }), { status: 400 });
}

/** The body of a JSON request; `undefined` when it has none or it is not JSON; a malformed JSON body is a 400. */
async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!type.toLowerCase().includes('json')) return undefined;
  // Read from a clone: the request's own body stays unread, for caa-v2's Content-Digest check.
  const text = await c.req.raw.clone().text();
  // An empty body stays none: a refresh sent with an empty JSON body must keep working.
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw badBody(cause);
  }
}

/** The client's address under @hono/node-server (its `incoming` request); `undefined` on other runtimes. */
function nodeClientAddress(c: Context): string | undefined {
  const incoming: unknown = (c.env as { incoming?: unknown } | undefined)?.incoming;
  const socket: unknown = typeof incoming === 'object' && incoming !== null ? (incoming as { socket?: unknown }).socket : undefined;
  const address: unknown = typeof socket === 'object' && socket !== null ? (socket as { remoteAddress?: unknown }).remoteAddress : undefined;
  return typeof address === 'string' ? address : undefined;
}

/**
 * Options of the Hono {@link caaRoutes}: the route table's, plus where the client's address comes
 * from and where 5xx answers are reported.
 *
 * @example
 * ```ts
 * import { getConnInfo } from 'hono/cloudflare-workers';
 * import type { HonoRoutesOptions } from 'caa-auth/hono';
 *
 * const options: HonoRoutesOptions<AppUser> = { verifyLogin, clientAddress: (c) => getConnInfo(c).remote.address };
 * ```
 *
 * @category Integrations
 */
export interface HonoRoutesOptions<U extends UserLike> extends CaaRoutesOptions<U> {
  /** The client's address for login metadata; default the socket's under @hono/node-server. */
  clientAddress?: (c: Context) => string | undefined;
  /** Called for every answer of 500 or more a route gives, to log it. */
  onServerError?: (err: unknown) => void;
}

/**
 * Mounts the ready-made routes (login through `verifyLogin`, profile, refresh, logout, and the
 * session endpoints; see `caaRouteTable`) on a Hono app. Use {@link caaErrorHandler} as its
 * `onError`.
 *
 * @param app - A Hono app.
 * @param auth - The configured auth object.
 * @param options - `verifyLogin` (required), `metadata`, `prefix`, `loginFailed`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { caaErrorHandler, caaRoutes, type CaaEnv } from 'caa-auth/hono';
 *
 * const app = new Hono<CaaEnv>();
 * caaRoutes(app, auth, { verifyLogin: (body) => checkPassword(body) });
 * app.onError(caaErrorHandler());
 * ```
 *
 * @category Integrations
 */
export function caaRoutes<U extends UserLike, P, E extends CaaEnv>(app: Hono<E>, auth: CaaAuth<U, P>, options: HonoRoutesOptions<U>): void {
  const clientAddress = options.clientAddress ?? nodeClientAddress;
  for (const route of caaRouteTable(auth, options)) {
    app.on(route.method, route.path, async (c) => {
      try {
        const body = route.method === 'POST' ? await jsonBody(c) : undefined;
        const params = c.req.param() as Record<string, string | undefined>;
        const answer = await route.handle({ req: c.req.raw, body, params, ip: clientAddress(c) });
        return c.json(answer.body as object, answer.status as 200, answer.headers === undefined ? undefined : { ...answer.headers });
      } catch (err) {
        reportServerError(options.onServerError, err);
        return toFetchErrorResponse(err);
      }
    });
  }
}
