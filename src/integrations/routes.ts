/**
 * The endpoints of the original client API (login, profile, refresh, logout) and the session
 * endpoints caa-auth adds, as a framework-free table: each route is a method, a path and a
 * handler from a request to `{ status, body }`. The Express, Fastify and Hono integrations mount
 * the same table, so that they cannot differ; no rule lives here that is not a use case's.
 *
 * @module integrations/routes
 */

import { CAA_ACTIONS, CAA_V2_ACCEPT_SIGNATURE, CaaError, toErrorResponse, type CaaAuth, type RequestLike, type SessionMetadata, type UserLike } from 'caa-auth';

/**
 * What a route handler gets: the request (for its headers), the parsed body and the path parameters.
 *
 * @example
 * ```ts
 * import type { CaaRouteInput } from 'caa-auth/express';
 *
 * const input: CaaRouteInput = { req, body: req.body, params: req.params };
 * ```
 *
 * @category Integrations
 */
export interface CaaRouteInput {
  req: RequestLike;
  body: unknown;
  params: Readonly<Record<string, string | undefined>>;
  /** The client's address as the framework tells it (behind a proxy, as its trust settings make it). */
  ip?: string | undefined;
}

/**
 * An answer: a status and a JSON body.
 *
 * @example
 * ```ts
 * import type { CaaRouteAnswer } from 'caa-auth/express';
 *
 * const ok: CaaRouteAnswer = { status: 200, body: { message: 'ok' } };
 * ```
 *
 * @category Integrations
 */
export interface CaaRouteAnswer {
  status: number;
  body: unknown;
  /** Response headers to set (`Accept-Signature` on login and refresh, when `caa-v2` is on). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * One endpoint: what the integrations mount.
 *
 * @example
 * ```ts
 * import { caaRouteTable } from 'caa-auth/express';
 *
 * for (const route of caaRouteTable(auth, { verifyLogin })) console.log(route.method, route.path);
 * ```
 *
 * @category Integrations
 */
export interface CaaRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** With `:id` for a path parameter (Express, Fastify and Hono all read it so). */
  path: string;
  /**
   * Answers a request of this route.
   *
   * @param input - The request, its parsed body, its path parameters and the client's address.
   */
  handle(input: CaaRouteInput): Promise<CaaRouteAnswer>;
}

/**
 * Options of the ready-made routes.
 *
 * @example
 * ```ts
 * import type { CaaRoutesOptions } from 'caa-auth/express';
 *
 * const options: CaaRoutesOptions<AppUser> = {
 *   // Login stays the application's: check the password, return the user or null.
 *   verifyLogin: async (body) => checkPassword(body),
 *   metadata: (body, req) => ({ userAgent: req.headers['user-agent'] ?? null }),
 * };
 * ```
 *
 * @category Integrations
 */
export interface CaaRoutesOptions<U extends UserLike> {
  /**
   * Checks a login request's body (whatever the application's login form sends) and returns the
   * user it proves, or `null`/`undefined` for a failed login.
   *
   * @param body - The login request's parsed body.
   * @param req - The login request (for its headers).
   */
  verifyLogin(body: unknown, req: RequestLike): Promise<U | null | undefined>;
  /**
   * What the user's device list shows about the new session. Default: `{ userAgent, ip }` (the
   * `User-Agent` header and the framework's client address), and `device` when the login body has
   * a string `device` (at most 64 characters kept).
   *
   * @param body - The login request's parsed body.
   * @param req - The login request (for its headers).
   * @param ip - The client's address, as the framework tells it.
   */
  metadata?: (body: unknown, req: RequestLike, ip: string | undefined) => SessionMetadata | undefined;
  /** Where the routes live; default `/api/my` (the original API's). */
  prefix?: string;
  /** The answer to a failed login; default 401 `{ message: 'invalid login' }`. */
  loginFailed?: CaaRouteAnswer;
}

/**
 * The answer to a failed login by default (not a Caa wire message: login is the application's).
 *
 * @category Integrations
 */
export const LOGIN_FAILED: CaaRouteAnswer = { status: 401, body: { message: 'invalid login' } };

/**
 * The answer to `DELETE /api/my/sessions/:id` for an id the user has no live session of.
 *
 * @category Integrations
 */
export const SESSION_NOT_FOUND: CaaRouteAnswer = { status: 404, body: { message: 'session not found' } };

function headerOf(req: RequestLike, name: string): string | undefined {
  const headers: unknown = typeof req === 'object' && req !== null && 'headers' in req ? req.headers : req;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = (headers as { get?: unknown }).get;
  const value: unknown = typeof get === 'function' ? get.call(headers, name) : (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The default metadata of a login: its user agent, the client's address, and the device name the
 * body gives (cut to 64 characters).
 *
 * @param body - The login request's parsed body.
 * @param req - The login request.
 * @param ip - The client's address, as the framework tells it.
 *
 * @example
 * ```ts
 * import { defaultLoginMetadata } from 'caa-auth/express';
 *
 * // The default plus the app's version header.
 * const metadata = (body, req, ip) => ({ ...defaultLoginMetadata(body, req, ip), appVersion: req.headers['x-app-version'] ?? null });
 * ```
 *
 * @category Integrations
 */
export function defaultLoginMetadata(body: unknown, req: RequestLike, ip?: string): SessionMetadata {
  const device = typeof body === 'object' && body !== null ? (body as { device?: unknown }).device : undefined;
  const metadata: Record<string, string | null> = { userAgent: headerOf(req, 'user-agent') ?? null, ip: ip ?? null };
  if (typeof device === 'string') metadata.device = device.slice(0, 64);
  return metadata;
}

const ok = (body: unknown): CaaRouteAnswer => ({ status: 200, body });

/**
 * The route table of the original API plus the session endpoints, at `prefix` (default `/api/my`):
 *
 * | method | path | action | answer |
 * |---|---|---|---|
 * | POST | `/login` | (not signed) | the credentials (spec §5) |
 * | GET | `` (the prefix) | `client:my:fetch-my-profile` | `{ user }` |
 * | POST | `/refresh-token` | `client:my:refresh-token` | the new credentials |
 * | DELETE | `/logout` | `client:my:logout` | `{ message: 'ok' }` |
 * | GET | `/sessions` | `client:my:list-sessions` | `{ sessions }` (the caller's marked `current`) |
 * | DELETE | `/sessions/:id` | `client:my:revoke-session` | `{ message: 'ok' }`, or 404 `{ message: 'session not found' }` |
 * | DELETE | `/sessions` | `client:my:revoke-other-sessions` | `{ message: 'ok', revoked }` (all but the caller's) |
 *
 * The two DELETEs accept each exact header once (replay protection): the legacy signature covers
 * the action but not the path, so a captured header must not be replayed against another session.
 *
 * @param auth - The configured auth object ({@link caa-auth!createCaaAuth}).
 * @param options - `verifyLogin` (required), `metadata`, `prefix`, `loginFailed`.
 *
 * @example
 * ```ts
 * import { caaRouteTable } from 'caa-auth/express';
 *
 * // A framework without an integration mounts the table itself.
 * for (const route of caaRouteTable(auth, { verifyLogin })) router.on(route.method, route.path, adapt(route.handle));
 * ```
 *
 * @category Integrations
 */
export function caaRouteTable<U extends UserLike, P>(auth: CaaAuth<U, P>, options: CaaRoutesOptions<U>): CaaRoute[] {
  if (typeof options?.verifyLogin !== 'function') {
    throw new TypeError('caa-auth routes: verifyLogin must be a function (body, req) => user | null');
  }
  const prefix = options.prefix ?? '/api/my';
  // A server that takes caa-v2 says so where a client gets its pair (spec §4), so clients move over.
  const credentials = (body: unknown): CaaRouteAnswer =>
    auth.schemes.includes('caa-v2') ? { status: 200, body, headers: { 'accept-signature': CAA_V2_ACCEPT_SIGNATURE } } : ok(body);
  const metadataOf = options.metadata ?? defaultLoginMetadata;
  const loginFailed = options.loginFailed ?? LOGIN_FAILED;
  return [
    {
      method: 'POST',
      path: `${prefix}/login`,
      async handle({ req, body, ip }) {
        const user = await options.verifyLogin(body, req);
        if (user === null || user === undefined) return loginFailed;
        const metadata = metadataOf(body, req, ip);
        return credentials(await auth.issueSession(user, metadata === undefined ? {} : { metadata }));
      },
    },
    {
      method: 'GET',
      path: prefix,
      async handle({ req }) {
        const session = await auth.authenticate(req, CAA_ACTIONS.fetchMyProfile);
        const user = await auth.users.findById(session.userId).catch((cause: unknown) => {
          throw new CaaError('STORE_UNAVAILABLE', { cause });
        });
        if (user === null || user === undefined) throw new CaaError('USER_NOT_FOUND');
        return ok({ user: auth.publicUser(user) });
      },
    },
    {
      method: 'POST',
      path: `${prefix}/refresh-token`,
      handle: async ({ req }) => credentials(await auth.refreshToken(req)),
    },
    {
      method: 'DELETE',
      path: `${prefix}/logout`,
      async handle({ req }) {
        await auth.revokeSession(req);
        return ok({ message: 'ok' });
      },
    },
    {
      method: 'GET',
      path: `${prefix}/sessions`,
      async handle({ req }) {
        const session = await auth.authenticate(req, CAA_ACTIONS.listMySessions);
        return ok({ sessions: await auth.listSessions(session.userId, { current: session }) });
      },
    },
    {
      method: 'DELETE',
      path: `${prefix}/sessions/:id`,
      async handle({ req, params }) {
        // The signature covers the action, not the path: a captured header must not sign out another device.
        const session = await auth.authenticate(req, CAA_ACTIONS.revokeMySession, { replayProtection: true });
        const revoked = await auth.revokeUserSession(session.userId, params.id ?? '');
        return revoked ? ok({ message: 'ok' }) : SESSION_NOT_FOUND;
      },
    },
    {
      method: 'DELETE',
      path: `${prefix}/sessions`,
      async handle({ req }) {
        const session = await auth.authenticate(req, CAA_ACTIONS.revokeMyOtherSessions, { replayProtection: true });
        return ok({ message: 'ok', revoked: await auth.revokeUserSessions(session.userId, { except: session }) });
      },
    },
  ];
}

/**
 * Hands an error answered 500 or more to the application's `onServerError`, if any; what it
 * throws must not change the answer. Shared by the three integrations. @internal
 */
export function reportServerError(onServerError: ((err: unknown) => void) | undefined, err: unknown, status = toErrorResponse(err).status): void {
  if (onServerError === undefined || status < 500) return;
  try {
    onServerError(err);
  } catch {
    // A logger that throws must not change the answer.
  }
}
