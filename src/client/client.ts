/**
 * `createCaaClient`: a `fetch`-based client of a Caa API that signs every request, corrects its
 * clock from the server's `Date` header, refreshes its credentials before they expire (one refresh
 * at a time, however many calls need it) and never sends the same header twice.
 *
 * @module client/client
 */

import type { CredentialsResponse, PublicUser, User } from '../models.js';
import { CAA_ACTIONS } from '../protocol/actions.js';
import { CaaClock, parseHttpDate } from './clock.js';
import { CaaClientError, isCaaClientError } from './errors.js';
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
 */
export const DEFAULT_REFRESH_AHEAD_MS = 60_000;

/**
 * Paths of the original client API (spec §3), used by the convenience methods.
 *
 * @example
 * ```ts
 * import { CAA_PATHS } from 'caa-auth/client';
 *
 * CAA_PATHS.refreshToken; // '/api/my/refresh-token'
 * ```
 */
export const CAA_PATHS = {
  login: '/api/my/login',
  fetchMyProfile: '/api/my',
  refreshToken: '/api/my/refresh-token',
  logout: '/api/my/logout',
} as const;

/** Wire messages (spec §5) the client acts on. */
const INVALID_SIGNATURE = 'invalid signature';
const APIKEY_NOT_FOUND = 'apiKey not found';
const USER_NOT_FOUND = 'user not found';

/**
 * The credential pair a client holds (spec §1): what `onCredentials` hands over to persist.
 *
 * @example
 * ```ts
 * import type { CaaClientCredentials } from 'caa-auth/client';
 *
 * const saved: CaaClientCredentials | null = JSON.parse(localStorage.getItem('caa') ?? 'null');
 * ```
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
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Options of {@link createCaaClient}.
 *
 * @example
 * ```ts
 * import type { CaaClientOptions } from 'caa-auth/client';
 *
 * const options: CaaClientOptions = { baseUrl: 'https://api.example.com', refreshAheadMs: 300_000 };
 * ```
 */
export interface CaaClientOptions {
  /** Origin (and optional path prefix) of the API, e.g. `https://api.example.com`; paths are appended. */
  readonly baseUrl: string;
  /** Credentials to start with, e.g. restored from storage; default none (call `login`). */
  readonly credentials?: CaaClientCredentials | null;
  /** The `fetch` to use; default `globalThis.fetch`, looked up at each call. */
  readonly fetch?: FetchLike;
  /**
   * Called whenever the credentials change (login, refresh, logout, and `null` when a refresh finds
   * the session gone), so that the application can persist them. Awaited; an error it throws
   * rejects the call that changed the credentials (the new credentials are in use all the same).
   */
  readonly onCredentials?: (credentials: CaaClientCredentials | null) => void | Promise<void>;
  /**
   * Refresh before a signed request when less than this much of the session is left, by the
   * server-corrected clock, ms; default {@link DEFAULT_REFRESH_AHEAD_MS}.
   */
  readonly refreshAheadMs?: number;
  /** The local clock, epoch ms; default `Date.now`. Inject one in tests. */
  readonly now?: () => number;
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
 */
export interface CaaRequestOptions {
  /** The action of the endpoint (spec §3), e.g. `client:my:update-my-profile`. */
  readonly action: string;
  /** Sent as JSON when given. */
  readonly body?: unknown;
  /** Extra request headers; `authorization` is always the client's own. */
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
 */
export interface CaaClient<U extends User = User> {
  /** The credentials held now, or `null` when logged out. */
  readonly credentials: CaaClientCredentials | null;
  /** Server time minus local time, ms, as learned from the server's `Date` headers. */
  readonly clockOffsetMs: number;
  /**
   * Sends a request signed with `options.action` (refreshing first when the session is about to
   * expire) and resolves with the parsed response body (JSON, else text; `undefined` when empty).
   *
   * @throws {@link CaaClientError} for a non-2xx answer (after the retries described at {@link createCaaClient}).
   */
  request<T = unknown>(method: string, path: string, options: CaaRequestOptions): Promise<T>;
  /** `POST /api/my/login` with `{ mobile, password }` (not signed); keeps the issued credentials. */
  login(mobile: string, password: string): Promise<CredentialsResponse<U>>;
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
   * `DELETE /api/my/logout`, signed with `client:my:logout`, then clears the credentials (also when
   * the server no longer knows the session). Other failures keep them, so the call can be retried.
   * Does nothing when there are no credentials.
   */
  logout(): Promise<void>;
}

/** How one call is sent. */
interface SendPlan {
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
}

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

const defaultFetch: FetchLike = (input, init) => globalThis.fetch(input, init);

class Client<U extends User> implements CaaClient<U> {
  readonly #baseUrl: string;
  readonly #fetch: FetchLike;
  readonly #onCredentials: ((credentials: CaaClientCredentials | null) => void | Promise<void>) | undefined;
  readonly #refreshAheadMs: number;
  readonly #clock: CaaClock;
  #credentials: CaaClientCredentials | null;
  #refreshing: Promise<CredentialsResponse<U>> | null = null;

  constructor(options: CaaClientOptions) {
    let baseUrl = options.baseUrl;
    while (baseUrl.endsWith('/')) baseUrl = baseUrl.slice(0, -1);
    this.#baseUrl = baseUrl;
    this.#fetch = options.fetch ?? defaultFetch;
    this.#onCredentials = options.onCredentials;
    this.#refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.#clock = new CaaClock(options.now ?? Date.now);
    this.#credentials = options.credentials ?? null;
  }

  get credentials(): CaaClientCredentials | null {
    return this.#credentials;
  }

  get clockOffsetMs(): number {
    return this.#clock.offsetMs;
  }

  async request<T = unknown>(method: string, path: string, options: CaaRequestOptions): Promise<T> {
    const signed = options.signed ?? true;
    const answer = await this.#send({
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

  async login(mobile: string, password: string): Promise<CredentialsResponse<U>> {
    const answer = await this.#send({
      method: 'POST',
      path: CAA_PATHS.login,
      action: CAA_ACTIONS.login,
      body: { mobile, password },
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

  refresh(): Promise<CredentialsResponse<U>> {
    // Set synchronously, so that every call made from now on joins this refresh.
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async logout(): Promise<void> {
    if (this.#credentials === null && this.#refreshing === null) return;
    try {
      await this.#send({
        method: 'DELETE',
        path: CAA_PATHS.logout,
        action: CAA_ACTIONS.logout,
        body: undefined,
        headers: undefined,
        signal: undefined,
        signed: true,
        refreshAhead: false,
        followRefresh: true,
        retryNetworkError: false,
      });
    } catch (err) {
      const gone = isCaaClientError(err) && (err.code === 'NO_CREDENTIALS' || err.code === 'LOGGED_OUT' || isSessionGone(err));
      if (!gone) throw err;
    }
    await this.#setCredentials(null);
  }

  async #refreshOnce(): Promise<CredentialsResponse<U>> {
    const used = this.#credentials;
    if (used === null) throw noCredentials();
    let answer: Answer;
    try {
      answer = await this.#send({
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
    if (this.#credentials === used) await this.#setCredentials(credentials);
    return answer.body as CredentialsResponse<U>;
  }

  async #setCredentials(credentials: CaaClientCredentials | null): Promise<void> {
    this.#credentials = credentials;
    await this.#onCredentials?.(credentials);
  }

  /** The pair to sign with: after any refresh under way, refreshed first if about to expire. */
  async #credentialsForSigning(plan: SendPlan): Promise<CaaClientCredentials> {
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
    if (!plan.refreshAhead || credentials.expireIn - this.#clock.now() >= this.#refreshAheadMs) return credentials;
    // At most one refresh per call: a server issuing pairs shorter than refreshAheadMs must not loop.
    await this.refresh();
    const refreshed = this.#credentials;
    if (refreshed === null) throw noCredentials();
    return refreshed;
  }

  async #send(plan: SendPlan): Promise<Answer> {
    let clockRetried = false;
    let staleRetried = false;
    let networkRetried = false;
    for (;;) {
      const credentials = plan.signed ? await this.#credentialsForSigning(plan) : null;
      const headers: Record<string, string> = { accept: 'application/json', ...plan.headers };
      const init: RequestInit = { method: plan.method, headers };
      if (plan.body !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(plan.body);
      }
      if (plan.signal !== undefined) init.signal = plan.signal;
      const offsetAtSigning = this.#clock.offsetMs;
      if (credentials !== null) {
        // A fresh timestamp for every attempt: the server refuses an identical header as a replay.
        headers['authorization'] = await signCaaHeaderAsync({
          action: plan.action,
          apiKey: credentials.apiKey,
          secretKey: credentials.secretKey,
          timestamp: this.#clock.nextTimestamp(),
        });
      }

      const sentAt = this.#clock.localNow();
      let response: Response;
      try {
        response = await this.#fetch(`${this.#baseUrl}${plan.path}`, init);
      } catch (err) {
        if (plan.retryNetworkError && !networkRetried && err instanceof TypeError) {
          networkRetried = true;
          continue;
        }
        throw err;
      }
      const receivedAt = this.#clock.localNow();
      const serverDate = parseHttpDate(response.headers.get('date'));
      if (serverDate !== undefined) this.#clock.learn({ serverDate, sentAt, receivedAt });
      const body = await readBody(response);
      if (response.ok) return { status: response.status, body };

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
      // Signed with a pair that a refresh rotated away while the request was under way.
      if (
        response.status === 404 &&
        message === APIKEY_NOT_FOUND &&
        plan.followRefresh &&
        !staleRetried &&
        (this.#refreshing !== null || (this.#credentials !== null && this.#credentials !== credentials))
      ) {
        staleRetried = true;
        continue;
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
 * - **Signing**: every signed request carries `Authorization: Caa …` made with its action; every
 *   attempt is signed afresh, with timestamps strictly increasing per client, so the server's replay
 *   protection never refuses one of its requests.
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
 * - **Logged out**: a refresh answered `404 apiKey not found` (or `user not found`) clears the
 *   credentials, calls `onCredentials(null)` and throws {@link CaaClientError} `LOGGED_OUT`.
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
 */
export function createCaaClient<U extends User = User>(options: CaaClientOptions): CaaClient<U> {
  return new Client<U>(options);
}
