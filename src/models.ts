/**
 * The typed models of the protocol: the user (spec §6), the session behind a credential pair
 * (spec §1) and the credentials response (spec §5).
 *
 * @module models
 */

/**
 * `gender` values of the original user model.
 *
 * @example
 * ```ts
 * import type { Gender } from 'caa-auth';
 *
 * const GENDERS: readonly Gender[] = ['unknown', 'secret', 'male', 'female'];
 * // A profile update may only set one of the original values, which existing clients know.
 * const isGender = (value: unknown): value is Gender => GENDERS.includes(value as Gender);
 * ```
 *
 * @category Use cases
 */
export type Gender = 'unknown' | 'secret' | 'male' | 'female';

/**
 * What an application's user id may be: a string, a number, or an object that names itself as a
 * string (a MongoDB `ObjectId` has `toHexString()`). caa-auth turns it into a string once, when
 * the session is issued ({@link userIdOf}); every later call (`findById`, listings) gets that string.
 *
 * @example
 * ```ts
 * import type { UserId } from 'caa-auth';
 *
 * const ids: UserId[] = ['u1', 42, new ObjectId('65f1c2a9e4b0a1b2c3d4e5f6')];
 * ```
 *
 * @category Use cases
 */
export type UserId = string | number | bigint | { toHexString(): string } | { toString(): string };

/**
 * The one thing caa-auth needs of a user: an `_id`. Everything else is the application's.
 *
 * @example
 * ```ts
 * import type { UserLike } from 'caa-auth';
 *
 * interface AppUser extends UserLike {
 *   _id: string;
 *   email: string;
 *   passwordHash: string; // private: never in a response unless a publicUser option puts it there
 * }
 * ```
 *
 * @category Use cases
 */
export interface UserLike {
  _id: UserId;
}

/**
 * The longest user id caa-auth accepts, in characters (as a string).
 *
 * @example
 * ```ts
 * import { MAX_USER_ID_LENGTH } from 'caa-auth';
 *
 * // Ids of an external identity provider can be long: check them where they come in.
 * if (subject.length > MAX_USER_ID_LENGTH) throw new Error('user id too long for caa-auth');
 * ```
 *
 * @category Use cases
 */
export const MAX_USER_ID_LENGTH = 256;

/**
 * A user's id as caa-auth keeps it: `toHexString()` when the id has one (MongoDB `ObjectId`),
 * else `String(id)`. Throws a `TypeError` for an id that names nothing: empty, longer than
 * {@link MAX_USER_ID_LENGTH}, or an object without a string form of its own (`[object Object]`).
 *
 * @param user - A user, or its `_id`.
 *
 * @example
 * ```ts
 * import { userIdOf } from 'caa-auth';
 *
 * userIdOf({ _id: new ObjectId('65f1c2a9e4b0a1b2c3d4e5f6') }); // '65f1c2a9e4b0a1b2c3d4e5f6'
 * userIdOf({ _id: 42 }); // '42'
 * ```
 *
 * @category Use cases
 */
export function userIdOf(user: UserLike | UserId): string {
  const id: unknown = typeof user === 'object' && user !== null && '_id' in user ? user._id : user;
  return idString(id);
}

/** The string form of an id, or a TypeError naming what was wrong. @internal */
export function idString(id: unknown): string {
  let text: unknown;
  if (typeof id === 'string') text = id;
  else if (typeof id === 'number' || typeof id === 'bigint') text = Number.isFinite(Number(id)) ? String(id) : undefined;
  else if (typeof id === 'object' && id !== null) {
    const hex = (id as { toHexString?: unknown }).toHexString;
    if (typeof hex === 'function') text = hex.call(id);
    else if (typeof (id as { toString?: unknown }).toString === 'function' && id.toString !== Object.prototype.toString) {
      text = String(id);
    }
  }
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_USER_ID_LENGTH) {
    throw new TypeError(
      `caa-auth: a user _id must be a non-empty string, a number or an object with toHexString()/toString() (at most ${MAX_USER_ID_LENGTH} characters)`,
    );
  }
  return text;
}

/**
 * A stored user of the original service (spec §6). Applications with another shape use their own
 * type: caa-auth needs only {@link UserLike}.
 *
 * @example
 * ```ts
 * import type { User } from 'caa-auth';
 *
 * interface ShopUser extends User {
 *   vipLevel: number;
 * }
 * ```
 *
 * @category Use cases
 */
export interface User extends UserLike {
  /** User id (ObjectId hex in the original service). */
  _id: string;
  /** Epoch ms. */
  registerAt: number;
  /** Epoch ms. */
  createAt: number;
  thirdParty?: { weixin?: { unionid: string; openid: string } };
  /** URL, or `null`. */
  avatar: string | null;
  gender: Gender;
  /** Nickname. */
  name: string;
  /** Private: never in a response. */
  mobile?: string;
  /** Private (a hash): never in a response. */
  password?: string;
}

/**
 * The fields of a user a response may carry by default: the public fields of the spec's model
 * (§6). Everything else — `password`, `mobile`, and any field the application adds — stays out
 * unless a `publicUser` option puts it in.
 *
 * @example
 * ```ts
 * import { PUBLIC_USER_FIELDS } from 'caa-auth';
 *
 * // Fetch only what a response may carry, so private fields never reach the process that answers.
 * const projection = Object.fromEntries(PUBLIC_USER_FIELDS.map((field) => [field, 1]));
 * const user = await db.collection('users').findOne({ _id: new ObjectId(id) }, { projection });
 * ```
 *
 * @category Use cases
 */
export const PUBLIC_USER_FIELDS = ['_id', 'registerAt', 'createAt', 'thirdParty', 'avatar', 'gender', 'name'] as const;

/**
 * The private fields of the spec's model (§6), which no response carries. Private by default is
 * wider: only {@link PUBLIC_USER_FIELDS} are sent.
 *
 * @example
 * ```ts
 * import { PRIVATE_USER_FIELDS } from 'caa-auth';
 *
 * PRIVATE_USER_FIELDS; // ['password', 'mobile']
 * ```
 *
 * @category Use cases
 */
export const PRIVATE_USER_FIELDS = ['password', 'mobile'] as const;

/**
 * A user as the default projection sends it: the fields of {@link PUBLIC_USER_FIELDS} it has,
 * with `_id` as a string.
 *
 * @example
 * ```ts
 * import { toPublicUser, type PublicUser, type User } from 'caa-auth';
 *
 * interface ShopUser extends User {
 *   vipLevel: number;
 * }
 * // `body.vipLevel` and `body.password` do not compile: neither is public by default.
 * const body: PublicUser<ShopUser> = toPublicUser(shopUser);
 * ```
 *
 * @category Use cases
 */
export type PublicUser<U extends UserLike = User> = {
  // Remapped over keyof U (homomorphic), so optional fields stay optional, as toPublicUser leaves them out.
  [K in keyof U as K extends (typeof PUBLIC_USER_FIELDS)[number] ? K : never]: K extends '_id' ? string : U[K];
};

/**
 * Projects a stored user to what a response may carry by default: an allow-list, the fields of
 * {@link PUBLIC_USER_FIELDS} the user has (`_id` as a string, see {@link userIdOf}). A field the
 * application adds never appears; to send more, pass a `publicUser` option to the use cases.
 *
 * @param user - The stored user.
 *
 * @example
 * ```ts
 * import { toPublicUser } from 'caa-auth';
 *
 * toPublicUser({ _id: 'u1', name: 'Ann', email: 'ann@example.test', passwordHash: '…' }); // { _id: 'u1', name: 'Ann' }
 * ```
 *
 * @category Use cases
 */
export function toPublicUser<U extends UserLike>(user: U): PublicUser<U> {
  const copy: Record<string, unknown> = {};
  const source = user as unknown as Record<string, unknown>;
  for (const field of PUBLIC_USER_FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(source, field)) continue;
    copy[field] = field === '_id' ? userIdOf(user) : source[field];
  }
  return copy as PublicUser<U>;
}

/**
 * One live session: the credential pair a client holds, and what the server keeps about it.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type Session } from 'caa-auth';
 *
 * const session: Session = await authenticate(store, req, CAA_ACTIONS.fetchMyProfile);
 * // expireIn is a point in time (epoch ms), so the time left is a subtraction.
 * const secondsLeft = Math.floor((session.expireIn - Date.now()) / 1000);
 * ```
 *
 * @category Sessions
 */
export interface Session {
  /** Public identifier (base64 of 32 random bytes). */
  apiKey: string;
  /** Shared secret (base64 of 32 random bytes). */
  secretKey: string;
  /** The user the session belongs to. */
  userId: string;
  /** Absolute expiry, epoch ms (not a duration, despite the name). */
  expireIn: number;
  /** Id shared by every session descended from the same login, for revoking them together. */
  familyId: string;
  /** When this pair was issued, epoch ms. */
  issuedAt: number;
  /**
   * When the family began (the login), epoch ms; every pair of one family has the same. The
   * absolute lifetime (`maxLifetimeMs`) is counted from it.
   */
  createdAt: number;
}

/**
 * The body of a successful login or refresh (spec §5).
 *
 * @example
 * ```ts
 * import { createCaaClient, type CredentialsResponse } from 'caa-auth/client';
 *
 * const client = createCaaClient({ baseUrl: 'https://api.example.com' });
 * const { user, expireIn }: CredentialsResponse = await client.login('13000000000', 'secret');
 * // expireIn is a time on the server's clock, not a duration.
 * console.log(`${user.name}, signed in until ${new Date(expireIn).toISOString()}`);
 * ```
 *
 * @category Use cases
 */
export interface CredentialsResponse<U extends UserLike = User, P = PublicUser<U>> {
  apiKey: string;
  secretKey: string;
  userId: string;
  /** Absolute expiry, epoch ms. */
  expireIn: number;
  /** The user as the projection sends it: {@link toPublicUser} by default, or the `publicUser` option's. */
  user: P;
}

/**
 * The body of a successful refresh (spec §5).
 *
 * @example
 * ```ts
 * import { refreshToken, type RefreshTokenResponse } from 'caa-auth';
 *
 * app.post('/api/my/refresh-token', async (req, res) => {
 *   // The same shape as the login body, so the client swaps in the new pair the same way.
 *   const body: RefreshTokenResponse = await refreshToken(store, users, req);
 *   res.json(body);
 * });
 * ```
 *
 * @category Use cases
 */
export type RefreshTokenResponse<U extends UserLike = User, P = PublicUser<U>> = CredentialsResponse<U, P>;
