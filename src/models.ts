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
 */
export type Gender = 'unknown' | 'secret' | 'male' | 'female';

/**
 * A stored user (spec §6). Applications extend it with their own fields:
 *
 * @example
 * ```ts
 * import type { User } from 'caa-auth';
 *
 * interface ShopUser extends User {
 *   vipLevel: number;
 * }
 * ```
 */
export interface User {
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
 * The private fields {@link toPublicUser} removes.
 *
 * @example
 * ```ts
 * import { PRIVATE_USER_FIELDS } from 'caa-auth';
 *
 * // Leave them out of profile queries too, so they never reach the process that answers.
 * const projection = Object.fromEntries(PRIVATE_USER_FIELDS.map((field) => [field, 0])); // { password: 0, mobile: 0 }
 * const user = await db.collection('users').findOne({ _id: new ObjectId(id) }, { projection });
 * ```
 */
export const PRIVATE_USER_FIELDS = ['password', 'mobile'] as const;

/**
 * A user as it may be sent to a client: everything but `password` and `mobile`.
 *
 * @example
 * ```ts
 * import { toPublicUser, type PublicUser, type User } from 'caa-auth';
 *
 * interface ShopUser extends User {
 *   vipLevel: number;
 * }
 * // The application's own fields stay, and `body.password` does not compile.
 * const body: PublicUser<ShopUser> = toPublicUser(shopUser);
 * ```
 */
export type PublicUser<U extends User = User> = Omit<U, (typeof PRIVATE_USER_FIELDS)[number]>;

/**
 * Projects a stored user to what a response may carry: a shallow copy without `password` and
 * `mobile`, whatever else the application added.
 *
 * @example
 * ```ts
 * import { toPublicUser } from 'caa-auth';
 *
 * toPublicUser({ _id: 'u1', name: 'Ann', password: 'scrypt$…', mobile: '130…', … }); // no password, no mobile
 * ```
 */
export function toPublicUser<U extends User>(user: U): PublicUser<U> {
  const copy: Partial<U> = { ...user };
  for (const field of PRIVATE_USER_FIELDS) delete copy[field];
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
 */
export interface CredentialsResponse<U extends User = User> {
  apiKey: string;
  secretKey: string;
  userId: string;
  /** Absolute expiry, epoch ms. */
  expireIn: number;
  user: PublicUser<U>;
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
 */
export type RefreshTokenResponse<U extends User = User> = CredentialsResponse<U>;
