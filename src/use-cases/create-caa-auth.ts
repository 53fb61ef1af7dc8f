/**
 * One configured auth object: the use cases bound to one store, one user repository and one set of
 * options, so that every route judges sessions alike.
 *
 * @module use-cases/create-caa-auth
 */

import { toPublicUser, type CredentialsResponse, type PublicUser, type Session, type User, type UserId, type UserLike } from '../models.js';
import type { SessionMetadata, SessionStore } from '../stores/session-store.js';
import type { UserRepository } from '../users/user-repository.js';
import { authenticate, type AuthenticateOptions } from './authenticate.js';
import type { CaaScheme, SchemeOptions } from './caa-v2.js';
import { emit, type EventOptions } from './events.js';
import { issueSession, type IssueSessionOptions } from './issue-session.js';
import type { ClockOptions, LifetimeOptions, ProjectionOptions, RotationOptions } from './options.js';
import { refreshToken, type RefreshTokenOptions } from './refresh-token.js';
import type { RequestLike } from './request.js';
import { revokeSession, type RevokeSessionOptions } from './revoke-session.js';
import { listSessions, revokeUserSession, revokeUserSessions, type SessionInfo, type SessionRef } from './sessions.js';

/**
 * The configuration of {@link createCaaAuth}: the store, the users, and the options every use
 * case shares.
 *
 * @example
 * ```ts
 * import { MemoryStore, MemoryUserRepository, createCaaAuth, type CaaAuthConfig } from 'caa-auth';
 *
 * const config: CaaAuthConfig<AppUser> = {
 *   store: new MemoryStore(),
 *   users: new MemoryUserRepository<AppUser>(),
 *   ttlMs: 86_400_000, // each pair lives a day
 *   maxLifetimeMs: 14 * 86_400_000, // a new login every two weeks
 *   onEvent: (event) => console.log(event.type),
 * };
 * const auth = createCaaAuth(config);
 * ```
 *
 * @category Use cases
 */
export interface CaaAuthConfig<U extends UserLike = User, P = PublicUser<U>>
  extends ClockOptions,
    RotationOptions,
    LifetimeOptions,
    EventOptions,
    SchemeOptions,
    ProjectionOptions<U, P> {
  /** Where sessions live: {@link MemoryStore}, {@link RedisStore}, or a store of one's own. */
  store: SessionStore;
  /** Where the users of sessions are found (a refresh reads the user it answers with). */
  users: UserRepository<U>;
  /** Lifetime of each pair, ms; default {@link DEFAULT_SESSION_TTL_MS} (3 days). */
  ttlMs?: number;
  /**
   * The most live sessions one user may have; a login beyond it revokes the oldest. Default
   * {@link DEFAULT_MAX_SESSIONS_PER_USER} (100); `Infinity` turns it off.
   */
  maxSessionsPerUser?: number;
  /** Makes a new apiKey or secretKey; default {@link generateKey}. */
  generateKey?: () => string;
  /** The actions refresh and logout must be signed with; defaults of the original API. */
  actions?: { refreshToken?: string; logout?: string };
  /** Accept each exact refresh header only once within the window. Default `true`. */
  refreshReplayProtection?: boolean;
}

/**
 * The use cases of one configuration, typed by the application's user (`U`) and what a response
 * carries of it (`P`).
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, createCaaAuth } from 'caa-auth';
 *
 * const auth = createCaaAuth({ store, users });
 * app.post('/api/my/refresh-token', async (req, res) => res.json(await auth.refreshToken(req)));
 * app.get('/api/my', async (req, res) => {
 *   const session = await auth.authenticate(req, CAA_ACTIONS.fetchMyProfile);
 *   res.json({ user: await users.findById(session.userId) });
 * });
 * ```
 *
 * @category Use cases
 */
export interface CaaAuth<U extends UserLike = User, P = PublicUser<U>> {
  /** The store the configuration uses. */
  readonly store: SessionStore;
  /** The user repository the configuration uses. */
  readonly users: UserRepository<U>;
  /** The schemes accepted (`schemes` option): the integrations advertise `caa-v2` when it is one. */
  readonly schemes: readonly CaaScheme[];
  /**
   * The user as a response carries it: the `publicUser` option, or {@link toPublicUser}.
   *
   * @param user - A stored user.
   */
  publicUser(user: U): P;
  /**
   * Login: mints a session for a user the application has verified. See {@link issueSession}.
   *
   * @param user - The user who proved who they are (their `_id` becomes the session's `userId`).
   * @param options - `metadata`: what the user's device list shows about this session.
   */
  issueSession(user: U, options?: { metadata?: SessionMetadata }): Promise<CredentialsResponse<U, P>>;
  /**
   * Authenticates a request signed with `action`. See {@link authenticate}.
   *
   * @param req - Anything with headers (Node, Express, Fastify, Fetch `Request`).
   * @param action - The action the request must be signed with.
   * @param options - `replayProtection`: accept this exact header only once.
   */
  authenticate(req: RequestLike, action: string, options?: { replayProtection?: boolean }): Promise<Session>;
  /**
   * Refresh: rotates the pair the request was signed with. See {@link refreshToken}.
   *
   * @param req - The signed refresh request.
   */
  refreshToken(req: RequestLike): Promise<CredentialsResponse<U, P>>;
  /**
   * Logout: revokes the session the request was signed with. See {@link revokeSession}.
   *
   * @param req - The signed logout request.
   */
  revokeSession(req: RequestLike): Promise<Session>;
  /**
   * A user's live sessions. See {@link listSessions}.
   *
   * @param userId - The user (an id, as `session.userId`).
   * @param options - `current`: the caller's session, marked `current: true`.
   */
  listSessions(userId: UserId, options?: { current?: SessionRef }): Promise<SessionInfo[]>;
  /**
   * Revokes a user's sessions, all or all but `except`; returns how many. See {@link revokeUserSessions}.
   *
   * @param userId - The user.
   * @param options - `except`: the session to keep (the caller's).
   */
  revokeUserSessions(userId: UserId, options?: { except?: SessionRef }): Promise<number>;
  /**
   * Revokes one of a user's sessions by id; false when there was none. See {@link revokeUserSession}.
   *
   * @param userId - The user.
   * @param sessionId - The session, as listed.
   */
  revokeUserSession(userId: UserId, sessionId: string): Promise<boolean>;
}

const STORE_METHODS = ['create', 'lookup', 'rotate', 'use', 'revoke', 'listUserSessions', 'revokeUserSessions'] as const;

function optionError(option: string, expected: string, value: unknown): TypeError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return new TypeError(`createCaaAuth: ${option} must be ${expected} (got ${got})`);
}

function checkNumber(config: object, option: string, expected: string, valid: (value: number) => boolean): void {
  const value: unknown = (config as Record<string, unknown>)[option];
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value) || !valid(value)) throw optionError(option, expected, value);
}

function checkFunction(config: object, option: string): void {
  const value: unknown = (config as Record<string, unknown>)[option];
  if (value !== undefined && typeof value !== 'function') throw optionError(option, 'a function', value);
}

/** The entries of `options` that are set: an option left `undefined` takes its default downstream. */
function defined<T extends object>(options: { [K in keyof T]: T[K] | undefined }): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) set[key] = value;
  return set as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** Checks a configuration; each wrong option is a TypeError that names it and what it must be. */
function checkConfig(config: unknown): asserts config is CaaAuthConfig<UserLike, unknown> {
  if (typeof config !== 'object' || config === null) throw optionError('its argument', 'an object { store, users, …options }', config);
  const { store, users, actions } = config as { store?: unknown; users?: unknown; actions?: unknown };
  if (typeof store !== 'object' || store === null) throw optionError('store', 'a SessionStore (MemoryStore, RedisStore, …)', store);
  for (const method of STORE_METHODS) {
    if (typeof (store as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`createCaaAuth: store must be a SessionStore (MemoryStore, RedisStore, …): it has no ${method}()`);
    }
  }
  if (typeof users !== 'object' || users === null || typeof (users as { findById?: unknown }).findById !== 'function') {
    throw optionError('users', 'a UserRepository (an object with findById(id))', users);
  }
  const positive = (value: number) => value > 0 && Number.isFinite(value);
  const nonNegative = (value: number) => value >= 0 && Number.isFinite(value);
  checkNumber(config, 'ttlMs', 'a positive number of ms', positive);
  checkNumber(config, 'skewMs', 'a positive number of ms', positive);
  checkNumber(config, 'graceMs', 'a number of ms, 0 or more', nonNegative);
  checkNumber(config, 'rotationToleranceMs', 'a number of ms, 0 or more', nonNegative);
  checkNumber(config, 'maxLifetimeMs', 'a positive number of ms, or Infinity', (value) => value > 0);
  checkNumber(config, 'maxSessionsPerUser', 'a positive integer, or Infinity', (value) => value === Infinity || (Number.isInteger(value) && value > 0));
  for (const option of ['now', 'onEvent', 'publicUser', 'generateKey']) checkFunction(config, option);
  const { schemes, authority } = config as { schemes?: unknown; authority?: unknown };
  if (
    schemes !== undefined &&
    (!Array.isArray(schemes) || schemes.length === 0 || !schemes.every((scheme) => scheme === 'caa' || scheme === 'caa-v2'))
  ) {
    throw optionError('schemes', "a non-empty array of 'caa' and 'caa-v2'", schemes);
  }
  if (authority !== undefined && (typeof authority !== 'string' || authority.length === 0)) {
    throw optionError('authority', 'a non-empty string (host[:port])', authority);
  }
  const replay: unknown = (config as { refreshReplayProtection?: unknown }).refreshReplayProtection;
  if (replay !== undefined && typeof replay !== 'boolean') throw optionError('refreshReplayProtection', 'a boolean', replay);
  if (actions !== undefined) {
    if (typeof actions !== 'object' || actions === null) throw optionError('actions', 'an object { refreshToken?, logout? }', actions);
    for (const [name, value] of Object.entries(actions)) {
      if (typeof value !== 'string' || value.length === 0) throw optionError(`actions.${name}`, 'a non-empty string', value);
    }
  }
}

/**
 * Binds the use cases to one configuration. The free functions ({@link issueSession},
 * {@link authenticate}, {@link refreshToken}, {@link revokeSession}, {@link listSessions},
 * {@link revokeUserSessions}, {@link revokeUserSession}) stay the functional core and take the same
 * options; this object passes the configuration to each, so that routes cannot disagree. With
 * `onEvent`, the store's own conditions ({@link SessionStore.onCondition}) arrive as
 * `store.condition` events too.
 *
 * @param config - The store, the user repository and the shared options.
 * @throws `TypeError` naming the option, for a configuration that cannot work.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, createCaaAuth } from 'caa-auth';
 *
 * const auth = createCaaAuth({
 *   store: new RedisStore({ client: new Redis(process.env.REDIS_URL) }),
 *   users: { findById: (id) => db.users.findOne({ _id: new ObjectId(id) }) },
 *   onEvent: (event) => logger.info(event, event.type),
 * });
 * const body = await auth.issueSession(user, { metadata: { userAgent: req.headers['user-agent'] ?? null } });
 * ```
 *
 * @category Use cases
 */
export function createCaaAuth<U extends UserLike = User, P = PublicUser<U>>(config: CaaAuthConfig<U, P>): CaaAuth<U, P> {
  checkConfig(config);
  const { store, users } = config;
  const shared: AuthenticateOptions = defined({
    now: config.now,
    skewMs: config.skewMs,
    graceMs: config.graceMs,
    rotationToleranceMs: config.rotationToleranceMs,
    maxLifetimeMs: config.maxLifetimeMs,
    onEvent: config.onEvent,
    schemes: config.schemes,
    authority: config.authority,
  });
  const minting = defined({ ttlMs: config.ttlMs, generateKey: config.generateKey, publicUser: config.publicUser });
  const issue: IssueSessionOptions<U, P> = { ...shared, ...minting, ...defined({ maxSessionsPerUser: config.maxSessionsPerUser }) };
  const refresh: RefreshTokenOptions<U, P> = {
    ...shared,
    ...minting,
    ...defined({ action: config.actions?.refreshToken, replayProtection: config.refreshReplayProtection }),
  };
  const logout: RevokeSessionOptions = { ...shared, ...defined({ action: config.actions?.logout }) };
  const onEvent = config.onEvent;
  if (onEvent !== undefined && store.onCondition !== undefined) {
    const events: EventOptions = { onEvent };
    store.onCondition((condition) => {
      emit(events, { type: 'store.condition', at: (config.now ?? Date.now)(), condition: condition.condition, message: condition.message });
    });
  }
  const publicUser = config.publicUser ?? (toPublicUser as (user: U) => P);
  return {
    store,
    users,
    schemes: config.schemes === undefined ? ['caa', 'caa-v2'] : [...config.schemes],
    publicUser: (user) => publicUser(user),
    issueSession: (user, options = {}) => issueSession<U, P>(store, user, { ...issue, ...defined({ metadata: options.metadata }) }),
    authenticate: (req, action, options = {}) =>
      authenticate(store, req, action, options.replayProtection === undefined ? shared : { ...shared, replayProtection: options.replayProtection }),
    refreshToken: (req) => refreshToken<U, P>(store, users, req, refresh),
    revokeSession: (req) => revokeSession(store, req, logout),
    listSessions: (userId, options = {}) => listSessions(store, userId, { ...shared, ...defined({ current: options.current }) }),
    revokeUserSessions: (userId, options = {}) => revokeUserSessions(store, userId, { ...shared, ...defined({ except: options.except }) }),
    revokeUserSession: (userId, sessionId) => revokeUserSession(store, userId, sessionId, shared),
  };
}
