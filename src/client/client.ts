/**
 * `createCaaClient`: a `fetch`-based client of a Caa API that signs every request, corrects its
 * clock from the server's `Date` header, refreshes its credentials before they expire (one refresh
 * at a time, however many calls need it), never sends the same header twice and never leaves the
 * origin of its base URL.
 *
 * @module client/client
 */

import type { CredentialsResponse, PublicUser, User, UserLike } from '../models.js';
import { CAA_ACTIONS } from '../protocol/actions.js';
import { CaaClock, parseHttpDate } from './clock.js';
import { CaaClientError, isCaaClientError } from './errors.js';
import { advertisesCaaV2, signCaaV2Async } from './http-signatures.js';
import { signCaaHeaderAsync } from './sign.js';

/**
 * Default of {@link CaaClientOptions.refreshAheadMs}: refresh when less than a minute of the session is left.
 *
 * @example
 * ```ts
 * import { DEFAULT_REFRESH_AHEAD_MS, createCaaClient } from 'caa-auth/client';
 *
 * createCaaClient({ baseUrl, refreshAheadMs: 5 * DEFAULT_REFRESH_AHEAD_MS }); // five minutes ahead
 * ```
 *
 * @category Client
 */
export const DEFAULT_REFRESH_AHEAD_MS = 60_000;

/**
 * Paths of the original client API (spec §3), used by the convenience methods, and of the
 * session-management endpoints caa-auth's example servers add (`mySessions`: `GET` lists the
 * user's sessions, `DELETE` signs out the others, `DELETE /api/my/sessions/:id` one of them).
 *
 * @example
 * ```ts
 * import { CAA_PATHS } from 'caa-auth/client';
 *
 * CAA_PATHS.refreshToken; // '/api/my/refresh-token'
 * CAA_PATHS.mySessions; // '/api/my/sessions'
 * ```
 *
 * @category Client
 */
export const CAA_PATHS = {
  login: '/api/my/login',
  fetchMyProfile: '/api/my',
  refreshToken: '/api/my/refresh-token',
  logout: '/api/my/logout',
  mySessions: '/api/my/sessions',
} as const;

/** Wire messages (spec §5) the client acts on. */
const INVALID_SIGNATURE = 'invalid signature';
const APIKEY_NOT_FOUND = 'apiKey not found';
const USER_NOT_FOUND = 'user not found';
/** Not a Caa wire message: the example servers' answer to revoking a session the caller does not have. */
const SESSION_NOT_FOUND = 'session not found';

/**
 * One of the user's sessions (a device), as `GET /api/my/sessions` lists it: the shape of
 * caa-auth's server-side `SessionInfo`, declared here so that the client imports nothing of the
 * server. A session is every pair descended from one login; its `sessionId` is stable across
 * refreshes and is not a credential.
 *
 * @example
 * ```ts
 * import type { SessionInfo } from 'caa-auth/client';
 *
 * const label = (s: SessionInfo) => `${s.metadata.device ?? s.metadata.userAgent ?? 'unknown device'}${s.current ? ' (this device)' : ''}`;
 * ```
 *
 * @category Client
 */
export interface SessionInfo {
  /** The session's id: what {@link CaaClient.revokeSession} takes. */
  sessionId: string;
  userId: string;
  /** The login, epoch ms of the server's clock. */
  createdAt: number;
  /** When the live pair was issued (the last refresh, or the login), epoch ms. */
  refreshedAt: number;
  /** When the live pair expires, epoch ms. */
  expireIn: number;
  /** What the server recorded at login (the example servers: `userAgent`, `ip`, `device`). */
  metadata: Readonly<Record<string, string | number | boolean | null>>;
  /** True for the session this client's request was signed with. */
  current: boolean;
}

/**
 * Options of {@link CaaClient.login}.
 *
 * @example
 * ```ts
 * import type { CaaLoginOptions } from 'caa-auth/client';
 *
 * const options: CaaLoginOptions = { device: 'Pixel 8' };
 * await client.login('13000000000', 'secret', options);
 * ```
 *
 * @category Client
 */
export interface CaaLoginOptions {
  /**
   * A name for this device, sent as `device` in the login body; the example servers record it in
   * the session's metadata, where the user's device list shows it. Default: none sent.
   */
  readonly device?: string;
}

/**
 * The credential pair a client holds (spec §1): what `onCredentials` hands over to persist.
 *
 * @example
 * ```ts
 * import type { CaaClientCredentials } from 'caa-auth/client';
 *
 * const saved: CaaClientCredentials | null = JSON.parse(localStorage.getItem('caa') ?? 'null');
 * ```
 *
 * @category Client
 */
export interface CaaClientCredentials {
  readonly apiKey: string;
  readonly secretKey: string;
  readonly userId: string;
  /** Absolute expiry, epoch ms of the server's clock. */
  readonly expireIn: number;
}

/**
 * The part of the Fetch API the client uses; `globalThis.fetch` fits, and so do wrappers and mocks.
 *
 * @param input - The URL.
 * @param init - The method, headers, body, `redirect` mode and abort signal.
 *
 * @example
 * ```ts
 * import { createCaaClient, type FetchLike } from 'caa-auth/client';
 *
 * const logged: FetchLike = (input, init) => {
 *   console.log(init.method, input);
 *   return fetch(input, init);
 * };
 * createCaaClient({ baseUrl, fetch: logged });
 * ```
 *
 * @category Client
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * How a client signs its requests ({@link CaaClientOptions.scheme}):
 *
 * - `'auto'` (the default): with the legacy `Authorization: Caa` header until the server advertises
 *   the `caa-v2` profile (an `Accept-Signature` header with `tag="caa-v2"` on a login or refresh
 *   response, spec §4), then with `caa-v2`. The client remembers it across refreshes; a login
 *   answered without it goes back to the legacy header.
 * - `'caa-v2'`: always `Signature-Input`, `Signature` and, with a body, `Content-Digest` (RFC 9421),
 *   never `Authorization: Caa`.
 * - `'caa'`: always the legacy header, never `caa-v2`.
 *
 * In browsers, a cross-origin API must allow `Signature-Input`, `Signature` and `Content-Digest` in
 * `Access-Control-Allow-Headers`, and list `Accept-Signature` in `Access-Control-Expose-Headers`
 * for `'auto'` to see the advertisement (as it lists `Date` for the clock correction).
 *
 * @example
 * ```ts
 * import { createCaaClient, type CaaClientScheme } from 'caa-auth/client';
 *
 * // A restored session that already moved over: a server that refuses its legacy header
 * // (SCHEME_DOWNGRADE) would refuse a restored 'auto' client until it sees the advertisement again.
 * const scheme: CaaClientScheme = localStorage.getItem('caa-scheme') === 'caa-v2' ? 'caa-v2' : 'auto';
 * const client = createCaaClient({ baseUrl, credentials, scheme });
 * localStorage.setItem('caa-scheme', client.scheme);
 * ```
 *
 * @category Client
 */
export type CaaClientScheme = 'auto' | 'caa-v2' | 'caa';

/**
 * Options of {@link createCaaClient}.
 *
 * @example
 * ```ts
 * import type { CaaClientOptions } from 'caa-auth/client';
 *
 * const options: CaaClientOptions = { baseUrl: 'https://api.example.com', refreshAheadMs: 300_000 };
 * ```
 *
 * @category Client
 */
export interface CaaClientOptions {
  /**
   * Origin (and optional path prefix) of the API, e.g. `https://api.example.com` or
   * `https://api.example.com/v1`; request paths are appended to it. An absolute `http(s)` URL
   * without query, fragment or user info (in a browser, one relative to the page also works).
   */
  readonly baseUrl: string;
  /** Credentials to start with, e.g. restored from storage; default none (call `login`). */
  readonly credentials?: CaaClientCredentials | null;
  /** The `fetch` to use; default `globalThis.fetch`, looked up at each call. */
  readonly fetch?: FetchLike;
  /**
   * Called whenever the credentials change (login, refresh, logout, and `null` when a refresh finds
   * the session gone), so that the application can persist them. Awaited; an error it throws
   * rejects the call that changed the credentials (the new credentials are in use all the same).
   *
   * @param credentials - The new credentials, or `null` once logged out.
   */
  readonly onCredentials?: (credentials: CaaClientCredentials | null) => void | Promise<void>;
  /**
   * Refresh before a signed request when less than this much of the session is left, by the
   * server-corrected clock, ms; default {@link DEFAULT_REFRESH_AHEAD_MS}.
   */
  readonly refreshAheadMs?: number;
  /** The local clock, epoch ms; default `Date.now`. Inject one in tests. */
  readonly now?: () => number;
  /** How to sign (see {@link CaaClientScheme}); default `'auto'`. */
  readonly scheme?: CaaClientScheme;
}

/**
 * Options of {@link CaaClient.request}.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, type CaaRequestOptions } from 'caa-auth/client';
 *
 * const update: CaaRequestOptions = { action: CAA_ACTIONS.updateMyProfile, body: { name: 'Ann' } };
 * await client.request('PUT', '/api/my', update);
 * ```
 *
 * @category Client
 */
export interface CaaRequestOptions {
  /**
   * The action of the endpoint (spec §3), e.g. `client:my:update-my-profile`; what the legacy
   * header signs (`caa-v2` signs the method, authority, path and query instead).
   */
  readonly action: string;
  /** Sent as JSON when given: serialized once, and under `caa-v2` the bytes sent are the bytes digested. */
  readonly body?: unknown;
  /**
   * Extra request headers. On a signed request, `authorization`, `signature-input`, `signature`
   * and `content-digest` are always the client's own (a caller's are dropped, in any case).
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sign the request; default `true`. Unsigned requests (like login) need no credentials. */
  readonly signed?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * What {@link createCaaClient} returns.
 *
 * @example
 * ```ts
 * import { createCaaClient, type CaaClient } from 'caa-auth/client';
 *
 * const client: CaaClient = createCaaClient({ baseUrl: 'https://api.example.com' });
 * ```
 *
 * @category Client
 */
export interface CaaClient<U extends UserLike = User> {
  /** The credentials held now, or `null` when logged out (also after a logout the server did not confirm). */
  readonly credentials: CaaClientCredentials | null;
  /** Server time minus local time, ms, as learned from the server's `Date` headers. */
  readonly clockOffsetMs: number;
  /**
   * The scheme the next signed request uses: `'caa-v2'` when the option says so, or under `'auto'`
   * once the server advertised it; else `'caa'`.
   */
  readonly scheme: 'caa' | 'caa-v2';
  /**
   * Sends a request signed with `options.action` (refreshing first when the session is about to
   * expire) and resolves with the parsed response body (JSON, else text; `undefined` when empty).
   * `path` starts with one `/` and is appended to the base URL (`/api/my?x=1`); it can never reach
   * another origin, nor climb above the base URL's path prefix.
   *
   * @param method - The HTTP method, e.g. `GET`.
   * @param path - The path under the base URL, starting with one `/` (a query string may follow).
   * @param options - The action to sign with, the body (sent as JSON), extra headers, `signed` and the abort signal.
   *
   * @throws {@link CaaClientError} `INVALID_PATH` for any other path, before anything is signed or
   *   sent; `REDIRECT_REFUSED` for a 3xx answer (redirects are never followed); `HTTP_ERROR` for a
   *   non-2xx answer (after the retries described at {@link createCaaClient}).
   */
  request<T = unknown>(method: string, path: string, options: CaaRequestOptions): Promise<T>;
  /**
   * `POST /api/my/login` with `{ mobile, password }` (and `device`, when `options.device` is given;
   * not signed); keeps the issued credentials.
   *
   * @param mobile - The user's mobile number, as the login form has it.
   * @param password - The user's password.
   * @param options - `device`: a name for this device, shown in the user's device list.
   */
  login(mobile: string, password: string, options?: CaaLoginOptions): Promise<CredentialsResponse<U>>;
  /** `GET /api/my`, signed with `client:my:fetch-my-profile`: the `user` of the `{ user }` body. */
  profile(): Promise<PublicUser<U>>;
  /**
   * `POST /api/my/refresh-token`, signed with `client:my:refresh-token`; keeps the new pair. Single
   * flight: calls made while a refresh is under way get that refresh's result.
   *
   * @throws {@link CaaClientError} `LOGGED_OUT` (404) when the session is gone; the credentials are cleared.
   */
  refresh(): Promise<CredentialsResponse<U>>;
  /**
   * `DELETE /api/my/logout`, signed with `client:my:logout`: revokes the session (the server revokes
   * its whole family).
   *
   * - **Which pair**: when a refresh is under way, the logout waits for it and signs with the pair it
   *   leaves, the new one if it rotated.
   * - **Never left logged in**: from the moment the logout is sent, `credentials` is `null` and
   *   `onCredentials(null)` has been called, whatever the server answers; every other call fails
   *   `NO_CREDENTIALS`.
   * - **Resolves** only when the server confirmed: a 2xx, or `404 apiKey not found` / `user not
   *   found` (the session was already gone).
   * - **Rejects** with {@link CaaClientError} `LOGOUT_UNCONFIRMED` otherwise (network error, 3xx,
   *   400, 5xx, any other answer; `status` and `body` are the response's, 0 and `undefined` without
   *   one, `cause` the underlying error; no secret is in it). The pair is then kept privately, only so
   *   that calling `logout()` again retries the revocation with it; nothing else signs with it, and a
   *   successful `login()` forgets it (its session then lives on at the server until it expires).
   *
   * Concurrent calls share one logout. Resolves at once when there is nothing to revoke.
   *
   * @example
   * ```ts
   * import { isCaaClientError } from 'caa-auth/client';
   *
   * try {
   *   await client.logout();
   * } catch (err) {
   *   // Logged out here all the same; the server may still hold the session: try again later.
   *   if (isCaaClientError(err) && err.code === 'LOGOUT_UNCONFIRMED') setTimeout(() => void client.logout().catch(() => {}), 30_000);
   * }
   * ```
   */
  logout(): Promise<void>;
  /**
   * `GET /api/my/sessions`, signed with `client:my:list-sessions`: the user's live sessions
   * (devices), oldest login first, this client's own marked `current: true`.
   *
   * @throws {@link CaaClientError} as {@link CaaClient.request} does (`LOGGED_OUT` when this
   *   session was signed out elsewhere, the credentials cleared; `NO_CREDENTIALS`); `INVALID_RESPONSE` for a 2xx body without a
   *   `sessions` array.
   *
   * @example
   * ```ts
   * for (const s of await client.sessions()) console.log(s.sessionId, s.metadata.device, s.current ? '(this device)' : '');
   * ```
   */
  sessions(): Promise<SessionInfo[]>;
  /**
   * `DELETE /api/my/sessions/:id`, signed with `client:my:revoke-session`: signs out one of the
   * user's sessions (a device of the list). Resolves `true` when it was revoked, `false` when the
   * server answered `404 session not found` (already gone, or not a session of this user). To sign
   * out this device, call {@link CaaClient.logout}: revoking the client's own session by id leaves it
   * holding a pair the server no longer knows.
   *
   * @param sessionId - The session to sign out (a `sessionId` of {@link CaaClient.sessions}).
   *
   * @throws {@link CaaClientError} `INVALID_PATH` for an empty id or `.`/`..` (nothing sent); else as
   *   {@link CaaClient.request} does.
   *
   * @example
   * ```ts
   * const [lost] = (await client.sessions()).filter((s) => s.metadata.device === 'old phone');
   * if (lost !== undefined) await client.revokeSession(lost.sessionId);
   * ```
   */
  revokeSession(sessionId: string): Promise<boolean>;
  /**
   * `DELETE /api/my/sessions`, signed with `client:my:revoke-other-sessions` ("log out other
   * devices"): revokes every session of the user but this client's; resolves with how many were
   * revoked. This client stays logged in with the pair it holds.
   *
   * @throws {@link CaaClientError} as {@link CaaClient.request} does; `INVALID_RESPONSE` for a 2xx
   *   body without a `revoked` count.
   *
   * @example
   * ```ts
   * const revoked = await client.logoutOtherDevices();
   * console.log(`${revoked} other device(s) signed out`);
   * ```
   */
  logoutOtherDevices(): Promise<number>;
}

/** How one call is sent. */
interface SendPlan {
  /** Sign with exactly this pair (a logout's) instead of the client's current one; `null` for the current one. */
  readonly pair: CaaClientCredentials | null;
  readonly method: string;
  readonly path: string;
  readonly action: string;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly signal: AbortSignal | undefined;
  readonly signed: boolean;
  /** Refresh first when the session is about to expire. */
  readonly refreshAhead: boolean;
  /** Wait for a refresh under way, and retry once with the new pair if the old one was rotated away. */
  readonly followRefresh: boolean;
  /** Retry once, re-signed, when `fetch` rejects (only for refresh, which the server makes retry-safe). */
  readonly retryNetworkError: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** The response asks for `caa-v2` in `Accept-Signature` (spec §4). */
  readonly advertisesCaaV2: boolean;
}

/** Request headers that carry the client's own credentials: a caller's never join them. */
const SIGNING_HEADERS = new Set(['authorization', 'signature-input', 'signature', 'content-digest']);

function messageOf(body: unknown, status: number): string {
  if (typeof body === 'object' && body !== null) {
    const { message } = body as { message?: unknown };
    if (typeof message === 'string') return message;
  }
  return `HTTP ${status}`;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function credentialsOf(body: unknown): CaaClientCredentials | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { apiKey, secretKey, userId, expireIn } = body as Partial<Record<keyof CaaClientCredentials, unknown>>;
  if (typeof apiKey !== 'string' || typeof secretKey !== 'string' || typeof userId !== 'string') return undefined;
  if (typeof expireIn !== 'number' || !Number.isFinite(expireIn)) return undefined;
  return { apiKey, secretKey, userId, expireIn };
}

function noCredentials(): CaaClientError {
  return new CaaClientError('NO_CREDENTIALS', 'no credentials: log in first');
}

const INVALID_PATH_MESSAGE = 'path must start with one "/" and stay on the base URL';
const INVALID_BASE_URL_MESSAGE = 'baseUrl must be an absolute http(s) URL without query, fragment or user info';
const REDIRECT_REFUSED_MESSAGE = 'redirect refused: the client never follows one';
const LOGOUT_UNCONFIRMED_MESSAGE = 'logout not confirmed by the server: call logout() again to retry';
const INVALID_SESSION_ID_MESSAGE = 'sessionId must be a non-empty string other than "." and ".."';

/** The page's address in a browser, against which a relative `baseUrl` resolves; `undefined` elsewhere. */
function documentAddress(): string | undefined {
  try {
    const href = (globalThis as { location?: { href?: unknown } }).location?.href;
    return typeof href === 'string' ? href : undefined;
  } catch {
    // Deno throws on reading `location` when it was started without --location.
    return undefined;
  }
}

/** The origin and the path prefix (no trailing `/`) of a base URL. */
function parseBaseUrl(baseUrl: string): { origin: string; prefix: string } {
  let url: URL;
  try {
    url = new URL(baseUrl, documentAddress());
  } catch (err) {
    throw new CaaClientError('INVALID_BASE_URL', INVALID_BASE_URL_MESSAGE, { cause: err });
  }
  const plain = url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !plain) {
    throw new CaaClientError('INVALID_BASE_URL', INVALID_BASE_URL_MESSAGE);
  }
  let prefix = url.pathname;
  while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  return { origin: url.origin, prefix };
}

/** A 3xx other than 304, or what a browser hands over for `redirect: 'manual'`. */
function isRedirect(response: Response): boolean {
  return response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400 && response.status !== 304);
}

/** Frees the connection of a response whose body will not be read. */
async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Already read or locked (a mock): nothing to free.
  }
}

const defaultFetch: FetchLike = (input, init) => globalThis.fetch(input, init);

const encoder = new TextEncoder();

class Client<U extends UserLike> implements CaaClient<U> {
  readonly #origin: string;
  /** Path prefix of the base URL, without a trailing `/` ('' for none). */
  readonly #prefix: string;
  readonly #fetch: FetchLike;
  readonly #onCredentials: ((credentials: CaaClientCredentials | null) => void | Promise<void>) | undefined;
  readonly #refreshAheadMs: number;
  readonly #clock: CaaClock;
  readonly #scheme: CaaClientScheme;
  /** Under `'auto'`: the last login, or a refresh since, advertised `caa-v2`. */
  #serverOffersV2 = false;
  #credentials: CaaClientCredentials | null;
  #refreshing: Promise<CredentialsResponse<U>> | null = null;
  #loggingOut: Promise<void> | null = null;
  /** The pair of a logout the server did not confirm: only `logout()` signs with it, to retry. */
  #unrevoked: CaaClientCredentials | null = null;

  constructor(options: CaaClientOptions) {
    const { origin, prefix } = parseBaseUrl(options.baseUrl);
    this.#origin = origin;
    this.#prefix = prefix;
    this.#fetch = options.fetch ?? defaultFetch;
    this.#onCredentials = options.onCredentials;
    this.#refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.#clock = new CaaClock(options.now ?? Date.now);
    this.#scheme = options.scheme ?? 'auto';
    this.#credentials = options.credentials ?? null;
  }

  get credentials(): CaaClientCredentials | null {
    return this.#credentials;
  }

  get clockOffsetMs(): number {
    return this.#clock.offsetMs;
  }

  get scheme(): 'caa' | 'caa-v2' {
    return this.#scheme === 'caa-v2' || (this.#scheme === 'auto' && this.#serverOffersV2) ? 'caa-v2' : 'caa';
  }

  async request<T = unknown>(method: string, path: string, options: CaaRequestOptions): Promise<T> {
    const signed = options.signed ?? true;
    const answer = await this.#send({
      pair: null,
      method,
      path,
      action: options.action,
      body: options.body,
      headers: options.headers,
      signal: options.signal,
      signed,
      refreshAhead: signed,
      followRefresh: signed,
      retryNetworkError: false,
    });
    // The caller names the shape of its endpoint's body; the client cannot check it.
    return answer.body as T;
  }

  async login(mobile: string, password: string, options: CaaLoginOptions = {}): Promise<CredentialsResponse<U>> {
    const answer = await this.#send({
      pair: null,
      method: 'POST',
      path: CAA_PATHS.login,
      action: CAA_ACTIONS.login,
      body: options.device === undefined ? { mobile, password } : { mobile, password, device: options.device },
      headers: undefined,
      signal: undefined,
      signed: false,
      refreshAhead: false,
      followRefresh: false,
      retryNetworkError: false,
    });
    const credentials = credentialsOf(answer.body);
    if (credentials === undefined) {
      throw new CaaClientError('INVALID_RESPONSE', 'login response carries no credentials', answer);
    }
    // A new session: the pair of an unconfirmed logout is no longer ours to revoke.
    this.#unrevoked = null;
    this.#serverOffersV2 = answer.advertisesCaaV2;
    await this.#setCredentials(credentials);
    return answer.body as CredentialsResponse<U>;
  }

  async profile(): Promise<PublicUser<U>> {
    const body = await this.request<{ user?: PublicUser<U> }>('GET', CAA_PATHS.fetchMyProfile, {
      action: CAA_ACTIONS.fetchMyProfile,
    });
    if (body.user === undefined) throw new CaaClientError('INVALID_RESPONSE', 'profile response carries no user', { status: 200, body });
    return body.user;
  }

  async sessions(): Promise<SessionInfo[]> {
    const body = await this.request<{ sessions?: unknown } | undefined>('GET', CAA_PATHS.mySessions, {
      action: CAA_ACTIONS.listMySessions,
    });
    const sessions = typeof body === 'object' && body !== null ? body.sessions : undefined;
    if (!Array.isArray(sessions)) throw new CaaClientError('INVALID_RESPONSE', 'sessions response carries no sessions', { status: 200, body });
    // The server names the entries' shape (SessionInfo); the client checks only that there is a list.
    return sessions as SessionInfo[];
  }

  async revokeSession(sessionId: string): Promise<boolean> {
    // `.` and `..` would be dot segments of the URL (encoded or not): another path, refused here.
    if (typeof sessionId !== 'string' || sessionId === '' || sessionId === '.' || sessionId === '..') {
      throw new CaaClientError('INVALID_PATH', INVALID_SESSION_ID_MESSAGE);
    }
    try {
      await this.request('DELETE', `${CAA_PATHS.mySessions}/${encodeURIComponent(sessionId)}`, {
        action: CAA_ACTIONS.revokeMySession,
      });
      return true;
    } catch (err) {
      if (isCaaClientError(err) && err.code === 'HTTP_ERROR' && err.status === 404 && err.message === SESSION_NOT_FOUND) return false;
      throw err;
    }
  }

  async logoutOtherDevices(): Promise<number> {
    const body = await this.request<{ revoked?: unknown } | undefined>('DELETE', CAA_PATHS.mySessions, {
      action: CAA_ACTIONS.revokeMyOtherSessions,
    });
    const revoked = typeof body === 'object' && body !== null ? body.revoked : undefined;
    if (typeof revoked !== 'number' || !Number.isInteger(revoked) || revoked < 0) {
      throw new CaaClientError('INVALID_RESPONSE', 'response carries no revoked count', { status: 200, body });
    }
    return revoked;
  }

  refresh(): Promise<CredentialsResponse<U>> {
    // Set synchronously, so that every call made from now on joins this refresh.
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  logout(): Promise<void> {
    this.#loggingOut ??= this.#logoutOnce().finally(() => {
      this.#loggingOut = null;
    });
    return this.#loggingOut;
  }

  async #logoutOnce(): Promise<void> {
    // Sign with the pair a refresh under way leaves (the new one if it rotated); its failure is not ours.
    while (this.#refreshing !== null) await this.#refreshing.catch(() => undefined);
    const pair = this.#credentials ?? this.#unrevoked;
    if (pair === null) return;
    this.#unrevoked = pair;
    let listenerFailed = false;
    let listenerError: unknown;
    if (this.#credentials === pair) {
      try {
        await this.#setCredentials(null);
      } catch (err) {
        // Revoke first all the same; the application hears of its listener's failure afterwards.
        listenerFailed = true;
        listenerError = err;
      }
    }
    try {
      await this.#send({
        pair,
        method: 'DELETE',
        path: CAA_PATHS.logout,
        action: CAA_ACTIONS.logout,
        body: undefined,
        headers: undefined,
        signal: undefined,
        signed: true,
        refreshAhead: false,
        followRefresh: false,
        retryNetworkError: false,
      });
    } catch (err) {
      if (!(isCaaClientError(err) && isSessionGone(err))) {
        const answer = isCaaClientError(err) ? { status: err.status, body: err.body } : {};
        throw new CaaClientError('LOGOUT_UNCONFIRMED', LOGOUT_UNCONFIRMED_MESSAGE, { ...answer, cause: err });
      }
    }
    if (this.#unrevoked === pair) this.#unrevoked = null;
    if (listenerFailed) throw listenerError;
  }

  async #refreshOnce(): Promise<CredentialsResponse<U>> {
    const used = this.#credentials;
    if (used === null) throw noCredentials();
    let answer: Answer;
    try {
      answer = await this.#send({
        pair: null,
        method: 'POST',
        path: CAA_PATHS.refreshToken,
        action: CAA_ACTIONS.refreshToken,
        body: undefined,
        headers: undefined,
        signal: undefined,
        signed: true,
        refreshAhead: false,
        followRefresh: false,
        retryNetworkError: true,
      });
    } catch (err) {
      if (isCaaClientError(err) && isSessionGone(err)) {
        // Only forget the pair this refresh was about, not one a login stored meanwhile.
        if (this.#credentials === used) await this.#setCredentials(null);
        throw new CaaClientError('LOGGED_OUT', err.message, { status: err.status, body: err.body, cause: err });
      }
      throw err;
    }
    const credentials = credentialsOf(answer.body);
    if (credentials === undefined) {
      throw new CaaClientError('INVALID_RESPONSE', 'refresh response carries no credentials', answer);
    }
    if (this.#credentials === used) {
      // Kept when a refresh does not say it again: only a login starts over.
      if (answer.advertisesCaaV2) this.#serverOffersV2 = true;
      await this.#setCredentials(credentials);
    }
    return answer.body as CredentialsResponse<U>;
  }

  async #setCredentials(credentials: CaaClientCredentials | null): Promise<void> {
    this.#credentials = credentials;
    await this.#onCredentials?.(credentials);
  }

  /**
   * The pair to sign with: after any refresh under way, refreshed first if about to expire (at most
   * once per call: `attempt.refreshedAhead`).
   */
  async #credentialsForSigning(plan: SendPlan, attempt: { refreshedAhead: boolean }): Promise<CaaClientCredentials> {
    if (plan.followRefresh && this.#refreshing !== null) {
      try {
        await this.#refreshing;
      } catch (err) {
        // Someone else's refresh failed: that matters here only if it left no credentials.
        if (this.#credentials === null) throw err;
      }
    }
    const credentials = this.#credentials;
    if (credentials === null) throw noCredentials();
    if (!plan.refreshAhead || attempt.refreshedAhead || credentials.expireIn - this.#clock.now() >= this.#refreshAheadMs) {
      return credentials;
    }
    // At most one refresh per call: a server issuing pairs shorter than refreshAheadMs must not loop.
    attempt.refreshedAhead = true;
    await this.refresh();
    const refreshed = this.#credentials;
    if (refreshed === null) throw noCredentials();
    return refreshed;
  }

  /**
   * The absolute URL of `path` on the base URL, or `INVALID_PATH`: a path starts with one `/` (so
   * that, appended to the base, it cannot change the authority), and the URL the WHATWG parser makes
   * of it must keep the base's origin and path prefix (`/v1/../x` climbs out of `/v1`).
   */
  #urlOf(path: string): string {
    const invalid = (): CaaClientError => new CaaClientError('INVALID_PATH', INVALID_PATH_MESSAGE);
    // `//host` and `/\host` are network-path references: refused however they would be resolved.
    if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')) throw invalid();
    let url: URL;
    try {
      url = new URL(`${this.#origin}${this.#prefix}${path}`);
    } catch {
      throw invalid();
    }
    if (url.origin !== this.#origin) throw invalid();
    const prefix = this.#prefix;
    if (prefix !== '' && url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) throw invalid();
    return url.href;
  }

  /** True when a response comes from the base URL's origin (`response.url` is empty for some mocks). */
  #isFromOrigin(response: Response, requested: string): boolean {
    const { url } = response;
    if (url === '' || url === requested) return true;
    try {
      return new URL(url).origin === this.#origin;
    } catch {
      return false;
    }
  }

  async #send(plan: SendPlan): Promise<Answer> {
    // Before anything is signed or sent, and before any refresh ahead.
    const url = this.#urlOf(plan.path);
    const attempt = { refreshedAhead: false };
    let clockRetried = false;
    let staleRetried = false;
    let networkRetried = false;
    let schemeRetried = false;
    // Serialized once: every attempt sends, and signs, the same bytes.
    const bodyText = plan.body === undefined ? undefined : JSON.stringify(plan.body);
    let bodyBytes: Uint8Array<ArrayBuffer> | undefined;
    for (;;) {
      let credentials: CaaClientCredentials | null = null;
      if (plan.signed) credentials = plan.pair ?? (await this.#credentialsForSigning(plan, attempt));
      const headers: Record<string, string> = { accept: 'application/json' };
      for (const [name, value] of Object.entries(plan.headers ?? {})) {
        // The client's own credentials only: a caller's `Authorization` or `Signature` would be merged with them.
        if (credentials === null || !SIGNING_HEADERS.has(name.toLowerCase())) headers[name] = value;
      }
      // Never follow a redirect: neither the body (a login's password) nor a signed header may go elsewhere.
      const init: RequestInit = { method: plan.method, headers, redirect: 'manual' };
      if (bodyText !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = bodyText;
      }
      if (plan.signal !== undefined) init.signal = plan.signal;
      const offsetAtSigning = this.#clock.offsetMs;
      const signedWith = this.scheme;
      if (credentials !== null) {
        if (signedWith === 'caa-v2') {
          // A fresh nonce and created for every attempt; the digest is of the very bytes sent.
          if (bodyText !== undefined) init.body = bodyBytes ??= encoder.encode(bodyText);
          Object.assign(
            headers,
            await signCaaV2Async({
              method: plan.method,
              url,
              body: bodyBytes,
              apiKey: credentials.apiKey,
              secretKey: credentials.secretKey,
              created: Math.floor(this.#clock.now() / 1000),
            }),
          );
        } else {
          // A fresh timestamp for every attempt: the server refuses an identical header as a replay.
          headers['authorization'] = await signCaaHeaderAsync({
            action: plan.action,
            apiKey: credentials.apiKey,
            secretKey: credentials.secretKey,
            timestamp: this.#clock.nextTimestamp(),
          });
        }
        // Signing is asynchronous: if a refresh started or answered meanwhile, this pair may be
        // rotated away, so wait for it and sign again rather than send it.
        if (plan.pair === null && plan.followRefresh && (this.#refreshing !== null || this.#credentials !== credentials)) {
          continue;
        }
      }

      const sentAt = this.#clock.localNow();
      let response: Response;
      try {
        response = await this.#fetch(url, init);
      } catch (err) {
        if (plan.retryNetworkError && !networkRetried && err instanceof TypeError) {
          networkRetried = true;
          continue;
        }
        throw err;
      }
      const receivedAt = this.#clock.localNow();
      // A fetch that followed a redirect anyway: nothing of another origin is believed, its Date neither.
      if (!this.#isFromOrigin(response, url)) {
        await discardBody(response);
        throw new CaaClientError('REDIRECT_REFUSED', REDIRECT_REFUSED_MESSAGE, { status: response.status });
      }
      const serverDate = parseHttpDate(response.headers.get('date'));
      if (serverDate !== undefined) this.#clock.learn({ serverDate, sentAt, receivedAt });
      if (isRedirect(response)) {
        await discardBody(response);
        throw new CaaClientError('REDIRECT_REFUSED', REDIRECT_REFUSED_MESSAGE, { status: response.status });
      }
      const body = await readBody(response);
      if (response.ok) return { status: response.status, body, advertisesCaaV2: advertisesCaaV2(response.headers.get('accept-signature')) };

      const message = messageOf(body, response.status);
      // Clock skew, as the AWS SDKs correct it: retry once if the clock has been corrected since
      // this request was signed (by this response's Date header or by a concurrent one).
      if (
        response.status === 400 &&
        message === INVALID_SIGNATURE &&
        !clockRetried &&
        this.#clock.offsetMs !== offsetAtSigning
      ) {
        clockRetried = true;
        continue;
      }
      // A family that moved to caa-v2 refuses the legacy header (SCHEME_DOWNGRADE) and says so with
      // Accept-Signature: under 'auto' (a client restored from saved credentials), move over and send once more.
      if (
        response.status === 400 &&
        message === INVALID_SIGNATURE &&
        credentials !== null &&
        signedWith === 'caa' &&
        this.#scheme === 'auto' &&
        !schemeRetried &&
        advertisesCaaV2(response.headers.get('accept-signature'))
      ) {
        schemeRetried = true;
        this.#serverOffersV2 = true;
        continue;
      }
      // Signed with a pair that a refresh rotated away while the request was under way.
      if (
        response.status === 404 &&
        message === APIKEY_NOT_FOUND &&
        plan.pair === null &&
        plan.followRefresh &&
        !staleRetried &&
        (this.#refreshing !== null || (this.#credentials !== null && this.#credentials !== credentials))
      ) {
        staleRetried = true;
        continue;
      }
      // The session itself is gone (signed out on another device, logged out everywhere, revoked
      // after a theft): nothing more will work with this pair, so forget it, as a refresh would.
      if (response.status === 404 && message === APIKEY_NOT_FOUND && plan.pair === null && plan.followRefresh && credentials !== null) {
        if (this.#credentials === credentials) await this.#setCredentials(null);
        throw new CaaClientError('LOGGED_OUT', message, { status: response.status, body });
      }
      throw new CaaClientError('HTTP_ERROR', message, { status: response.status, body });
    }
  }
}

/** A 404 that means the session behind the pair no longer exists (spec §5). */
function isSessionGone(err: CaaClientError): boolean {
  return err.status === 404 && (err.message === APIKEY_NOT_FOUND || err.message === USER_NOT_FOUND);
}

/**
 * Creates a client of a Caa API for any runtime with `fetch` and Web Crypto (Node 20+, browsers,
 * edge runtimes).
 *
 * - **Signing**: every signed request carries `Authorization: Caa …` made with its action, or, under
 *   the `caa-v2` profile (see {@link CaaClientScheme}; by default once the server advertises it),
 *   `Signature-Input` and `Signature` over its method, authority, path and query, plus
 *   `Content-Digest` of the exact body bytes sent, and then no `Authorization`. Every attempt is
 *   signed afresh (legacy timestamps strictly increasing per client, a new random nonce under
 *   `caa-v2`), so the server's replay protection never refuses one of its requests.
 * - **Clock skew**: the offset to the server's clock is learned from the `Date` header of every
 *   response (changes under `CLOCK_SKEW_TOLERANCE_MS`, 2 s, are ignored: the header has 1 s
 *   resolution). A request refused `400 invalid signature` after which the clock was corrected is
 *   re-signed and sent once more; a second refusal is thrown. In browsers, a cross-origin API must
 *   list `Date` in `Access-Control-Expose-Headers` for this to work.
 * - **Refresh**: before a signed request, when less than `refreshAheadMs` of the session is left by
 *   the corrected clock, the pair is refreshed first. One refresh at a time: concurrent calls wait
 *   for the one under way and then sign with the new pair (a call that was already on the wire with
 *   the old pair and gets `404 apiKey not found` is re-signed and sent once more). A refresh that
 *   fails on the network is re-sent once (the server answers a repeated refresh within its grace
 *   period with the same successor). `onCredentials` hears every new pair.
 * - **Logged out**: a refresh answered `404 apiKey not found` (or `user not found`), or any signed
 *   request answered `404 apiKey not found` with the pair the client holds (the session was signed
 *   out on another device or revoked), clears the
 *   credentials, calls `onCredentials(null)` and throws {@link CaaClientError} `LOGGED_OUT`. Once a
 *   refresh has answered, nothing (no retry, no queued or waiting call) signs with the pair it
 *   rotated away. `logout()` clears the credentials whatever the server answers (see {@link CaaClient.logout}).
 * - **One origin**: paths are appended to the base URL and checked to stay on its origin, and
 *   redirects are never followed (`redirect: 'manual'`, a 3xx is `REDIRECT_REFUSED`), so no signed
 *   header and no body (a login's password) ever reaches another origin. The clock learns only from
 *   the base origin's responses, and never more than `MAX_CLOCK_OFFSET_MS` (24 h).
 *
 * @param options - The API's base URL, and optionally credentials to start with, `onCredentials`, `fetch`, `refreshAheadMs` and the clock.
 *
 * @example
 * ```ts
 * import { createCaaClient } from 'caa-auth/client';
 *
 * const client = createCaaClient({
 *   baseUrl: 'https://api.example.com',
 *   credentials: JSON.parse(localStorage.getItem('caa') ?? 'null'),
 *   onCredentials: (credentials) => localStorage.setItem('caa', JSON.stringify(credentials)),
 * });
 * if (client.credentials === null) await client.login('13000000000', 'secret');
 * const me = await client.profile();
 * await client.request('PUT', '/api/my', { action: 'client:my:update-my-profile', body: { name: 'Ann' } });
 * await client.logout();
 * ```
 *
 * @category Client
 */
export function createCaaClient<U extends UserLike = User>(options: CaaClientOptions): CaaClient<U> {
  return new Client<U>(options);
}
