/**
 * Options shared by the use cases, their defaults, and the key generator.
 *
 * @module use-cases/options
 */

import { CaaError, isCaaError } from '../errors.js';
import type { UserLike } from '../models.js';
import { MAX_METADATA_KEYS, MAX_METADATA_VALUE_LENGTH, type SessionMetadata } from '../stores/session-store.js';
import type { EventOptions } from './events.js';
import { randomString } from './random.js';

/**
 * Session lifetime of the original service: 3 days, in ms.
 *
 * @example
 * ```ts
 * import { DEFAULT_SESSION_TTL_MS, issueSession } from 'caa-auth';
 *
 * // "Remember me" keeps a session twice as long as the original service did.
 * await issueSession(store, user, { ttlMs: rememberMe ? 2 * DEFAULT_SESSION_TTL_MS : DEFAULT_SESSION_TTL_MS });
 * ```
 *
 * @category Use cases
 */
export const DEFAULT_SESSION_TTL_MS = 259_200_000;

/**
 * How long after a rotation the predecessor still obtains the same successor, ms.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS, refreshToken } from 'caa-auth';
 *
 * // Mobile clients on slow networks retry a lost refresh late: give them three times as long.
 * res.json(await refreshToken(store, users, req, { graceMs: 3 * DEFAULT_GRACE_MS }));
 * ```
 *
 * @category Use cases
 */
export const DEFAULT_GRACE_MS = 10_000;

/**
 * How late a request signed with a rotated key may be stamped and still count as made before the
 * rotation (a delayed in-flight request, refused without revoking anything), ms: the 1 s resolution
 * of the HTTP `Date` header a client corrects its clock by, plus a round trip of correction error.
 *
 * @example
 * ```ts
 * import { DEFAULT_ROTATION_TOLERANCE_MS, authenticate } from 'caa-auth';
 *
 * // App servers known to drift up to 3 s from Redis: clients corrected against them drift as much.
 * await authenticate(store, req, action, { rotationToleranceMs: DEFAULT_ROTATION_TOLERANCE_MS + 3_000 });
 * ```
 *
 * @category Use cases
 */
export const DEFAULT_ROTATION_TOLERANCE_MS = 2_000;

/**
 * Bytes of randomness in an apiKey or secretKey.
 *
 * @example
 * ```ts
 * import { KEY_BYTES, issueSession } from 'caa-auth';
 *
 * // Predictable keys for snapshot tests, shaped like real ones (standard base64, 44 characters).
 * let n = 0;
 * const generateKey = () => Buffer.alloc(KEY_BYTES, ++n).toString('base64');
 * await issueSession(store, user, { generateKey });
 * ```
 *
 * @category Use cases
 */
export const KEY_BYTES = 32;

/**
 * Options every use case takes.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, DEFAULT_SESSION_TTL_MS, authenticate, issueSession, signCaaHeader, type ClockOptions } from 'caa-auth';
 *
 * // A clock the test moves by hand, so that expiry needs no waiting.
 * let time = Date.parse('2026-01-01T00:00:00Z');
 * const clock: ClockOptions = { now: () => time };
 * const { apiKey, secretKey } = await issueSession(store, user, clock);
 * time += DEFAULT_SESSION_TTL_MS;
 * const authorization = signCaaHeader({ action: CAA_ACTIONS.fetchMyProfile, apiKey, secretKey, timestamp: time });
 * await authenticate(store, { headers: { authorization } }, CAA_ACTIONS.fetchMyProfile, clock); // 404, code SESSION_EXPIRED
 * ```
 *
 * @category Use cases
 */
export interface ClockOptions {
  /** The server clock, epoch ms; default `Date.now`. Inject one in tests. */
  now?: () => number;
  /** Accepted clock difference either way, ms; default 300 000 (spec §3). */
  skewMs?: number;
}

/**
 * How rotated keys are judged, on every signed endpoint.
 *
 * @example
 * ```ts
 * import { authenticate, refreshToken, revokeSession, type RotationOptions } from 'caa-auth';
 *
 * // One setting for every route: refresh, authenticate and logout must judge old keys alike.
 * const rotation: RotationOptions = { graceMs: 30_000 };
 * await refreshToken(store, users, req, rotation);
 * await authenticate(store, req, action, rotation);
 * await revokeSession(store, req, rotation);
 * ```
 *
 * @category Use cases
 */
export interface RotationOptions {
  /**
   * For how long after a rotation a refresh signed with the predecessor returns the same successor
   * (a lost response, a second tab), ms; it ends earlier, at the successor's first verified use.
   * Default {@link DEFAULT_GRACE_MS} (10 s).
   */
  graceMs?: number;
  /**
   * A request signed with a rotated key no later than this after the rotation counts as made
   * before it: refused with `APIKEY_NOT_FOUND`, nothing revoked. Default
   * {@link DEFAULT_ROTATION_TOLERANCE_MS} (2 s).
   */
  rotationToleranceMs?: number;
}

/**
 * The absolute lifetime of a session (a family) by default: 30 days from the login, in ms. No
 * refresh extends a family past it.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_LIFETIME_MS, createCaaAuth } from 'caa-auth';
 *
 * // A bank app asks for a new login every week; a game keeps the default.
 * const auth = createCaaAuth({ store, users, maxLifetimeMs: DEFAULT_MAX_LIFETIME_MS / 30 * 7 });
 * ```
 *
 * @category Sessions
 */
export const DEFAULT_MAX_LIFETIME_MS = 2_592_000_000;

/**
 * The most live sessions one user may have by default; a login beyond it revokes the oldest.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_SESSIONS_PER_USER, createCaaAuth } from 'caa-auth';
 *
 * const auth = createCaaAuth({ store, users, maxSessionsPerUser: Math.min(5, DEFAULT_MAX_SESSIONS_PER_USER) });
 * ```
 *
 * @category Sessions
 */
export const DEFAULT_MAX_SESSIONS_PER_USER = 100;

/**
 * The absolute lifetime, which every signed endpoint enforces.
 *
 * @example
 * ```ts
 * import { refreshToken, type LifetimeOptions } from 'caa-auth';
 *
 * const lifetime: LifetimeOptions = { maxLifetimeMs: 7 * 86_400_000 }; // a new login every week
 * await refreshToken(store, users, req, lifetime); // after that: 404 apiKey not found, SESSION_EXPIRED
 * ```
 *
 * @category Sessions
 */
export interface LifetimeOptions {
  /**
   * How long a family may live from its login, ms: no pair of it expires later, and a refresh past
   * it is 404 `apiKey not found` (`SESSION_EXPIRED`). Default {@link DEFAULT_MAX_LIFETIME_MS}
   * (30 days); `Infinity` turns it off.
   */
  maxLifetimeMs?: number;
}

/**
 * How a user is projected into a response.
 *
 * @example
 * ```ts
 * import { toPublicUser, type ProjectionOptions } from 'caa-auth';
 *
 * // This app's clients show a VIP badge: send vipLevel besides the default public fields.
 * const projection: ProjectionOptions<ShopUser, PublicShopUser> = {
 *   publicUser: (user) => ({ ...toPublicUser(user), vipLevel: user.vipLevel }),
 * };
 * ```
 *
 * @category Use cases
 */
export interface ProjectionOptions<U extends UserLike = UserLike, P = unknown> {
  /**
   * The user as a login or refresh response carries it. Default {@link toPublicUser}: the public
   * fields of the spec's model only, so a field the application adds never leaks by default.
   *
   * @param user - The stored user.
   */
  publicUser?: ((user: U) => P) | undefined;
}

/**
 * Options of the use cases that mint credentials.
 *
 * @example
 * ```ts
 * import { issueSession, type IssueOptions } from 'caa-auth';
 *
 * // A shared device (a shop's kiosk) gets 8 hours rather than the 3-day default.
 * const kiosk: IssueOptions = { ttlMs: 8 * 3_600_000 };
 * res.json(await issueSession(store, user, kiosk));
 * ```
 *
 * @category Use cases
 */
export interface IssueOptions extends ClockOptions, LifetimeOptions, EventOptions {
  /** Session lifetime, ms; default {@link DEFAULT_SESSION_TTL_MS} (3 days). */
  ttlMs?: number;
  /** Makes a new apiKey or secretKey; default 32 bytes from the CSPRNG as standard base64 (44 chars). */
  generateKey?: () => string;
}

/**
 * 32 bytes from the CSPRNG as standard base64 (44 characters), as the original service issued.
 * The bytes come from a pool that one CSPRNG call fills for 64 keys; each is handed out once and
 * zeroed in the pool once encoded.
 *
 * @example
 * ```ts
 * import { generateKey } from 'caa-auth';
 *
 * generateKey(); // 'Lq3M…=' (44 characters)
 * ```
 *
 * @category Use cases
 */
export function generateKey(): string {
  return randomString(KEY_BYTES, 'base64');
}

/** A family id: 16 bytes from the CSPRNG (the same pool as {@link generateKey}), base64url. @internal */
export function generateFamilyId(): string {
  return randomString(16, 'base64url');
}

/**
 * Awaits a store or repository call; anything but a {@link CaaError} it throws is a fault of the
 * store and becomes 503 `STORE_UNAVAILABLE` (never a 4xx). @internal
 */
export function fromStore<T>(call: Promise<T>): Promise<T> {
  return call.catch((cause: unknown) => {
    throw isCaaError(cause) ? cause : new CaaError('STORE_UNAVAILABLE', { cause });
  });
}

/** The absolute lifetime option, checked: a positive number of ms, or Infinity. @internal */
export function maxLifetimeOf(options: LifetimeOptions): number {
  return options.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS;
}

/** Keys that name a secret: metadata is shown in device lists and logs, so none may be one. */
const SECRET_KEY_NAME = /pass|secret|token|authori[sz]ation|cookie|api[-_.]?key|signature|credential/i;
const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Checks and normalises session metadata: a plain object of at most {@link MAX_METADATA_KEYS}
 * keys; string values cut to {@link MAX_METADATA_VALUE_LENGTH} characters, with control characters
 * removed (the client chose them: a long user agent must not fail a login). A wrong shape is a
 * programming error: `TypeError`. @internal
 */
export function normalizeMetadata(metadata: unknown): SessionMetadata {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata) || Object.getPrototypeOf(metadata) !== Object.prototype) {
    throw new TypeError('caa-auth: metadata must be a plain object');
  }
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_KEYS) {
    throw new TypeError(`caa-auth: metadata may have at most ${MAX_METADATA_KEYS} keys`);
  }
  const normalized: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of entries) {
    if (!METADATA_KEY.test(key)) throw new TypeError(`caa-auth: metadata key ${JSON.stringify(key.slice(0, 64))} must be 1–64 characters of A-Z a-z 0-9 _ . -`);
    if (SECRET_KEY_NAME.test(key)) throw new TypeError(`caa-auth: metadata key ${JSON.stringify(key)} names a secret; metadata is shown in device lists and logs`);
    if (typeof value === 'string') {
      // C0 and C1 controls removed (a terminal acts on CSI), lone surrogates made U+FFFD (as any store would).
      // eslint-disable-next-line no-control-regex
      const cut = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').replace(LONE_SURROGATE, '\ufffd').slice(0, MAX_METADATA_VALUE_LENGTH);
      // A cut between the two halves of a surrogate pair would leave half a character.
      normalized[key] = /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
    } else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' || value === null) {
      normalized[key] = value;
    } else {
      throw new TypeError(`caa-auth: metadata value of ${JSON.stringify(key)} must be a string, a finite number, a boolean or null`);
    }
  }
  return normalized;
}
