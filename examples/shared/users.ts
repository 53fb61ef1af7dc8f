/**
 * The seeded users of the example servers, and checking a login against them. The plain demo
 * password is hashed at startup (fresh salt each run); only the hash is stored.
 */

import { MemoryUserRepository, type User } from 'caa-auth';
import { MAX_PASSWORD_LENGTH, hashPassword, verifyPassword } from './password.js';

/** A stored user of the examples: spec §6 fields plus the private `mobile` and `password` (a hash). */
export interface DemoUser extends User {
  mobile: string;
  password: string;
}

/** The users of an example server: a library `MemoryUserRepository` (find by mobile, delete for tests). */
export type DemoUsers = MemoryUserRepository<DemoUser>;

/** The demo login, documented in examples/README.md. */
export const DEMO_MOBILE = '13055818112';
export const DEMO_PASSWORD = 'caa-demo-password';

/** The demo user's public fields: the user of the original refresh-token document (spec §5). */
export const DEMO_PROFILE = {
  _id: '59573c395c2960da1aa83a08',
  registerAt: 1498889273883,
  createAt: 1498889273883,
  thirdParty: { weixin: { unionid: 'okGoa1vFQSIYULTYodGww1iVt1aw', openid: 'osRutw7PUvFEstItTsd2Z7nchjPM' } },
  avatar:
    'http://beta.images.fashionworldcn.com/user/59573c395c2960da1aa83a08/ca80b79960c48f1712b513f163541ff8036c71df.png',
  gender: 'secret',
  name: 'PeckZeg892',
} as const satisfies Omit<User, 'mobile' | 'password'>;

/**
 * A second demo user, always seeded: another user's sessions to try the device list against (a
 * session id of this user is never revocable by the demo user, and the other way round).
 */
export const SECOND_MOBILE = '13055818114';
export const SECOND_PASSWORD = 'caa-second-password';
export const SECOND_PROFILE = {
  _id: '59573c395c2960da1aa83a0a',
  registerAt: 1498889273883,
  createAt: 1498889273883,
  avatar: null,
  gender: 'female',
  name: 'Ann',
} as const satisfies Omit<User, 'mobile' | 'password'>;

/**
 * A third user, seeded only with test routes on (`CAA_EXAMPLE_TEST_ROUTES=1`), so that a test can
 * delete it and watch its live session answer 404 `user not found`.
 */
export const DISPOSABLE_MOBILE = '13055818113';
export const DISPOSABLE_PASSWORD = 'caa-disposable-password';
export const DISPOSABLE_PROFILE = {
  _id: '59573c395c2960da1aa83a09',
  registerAt: 1498889273883,
  createAt: 1498889273883,
  avatar: null,
  gender: 'unknown',
  name: 'Disposable',
} as const satisfies Omit<User, 'mobile' | 'password'>;

/** Builds the user repository with the two demo users (and the disposable one when asked). */
export async function createDemoUsers(options: { disposable?: boolean } = {}): Promise<DemoUsers> {
  const users = new MemoryUserRepository<DemoUser>([
    { ...DEMO_PROFILE, thirdParty: { weixin: { ...DEMO_PROFILE.thirdParty.weixin } }, mobile: DEMO_MOBILE, password: await hashPassword(DEMO_PASSWORD) },
    { ...SECOND_PROFILE, mobile: SECOND_MOBILE, password: await hashPassword(SECOND_PASSWORD) },
  ]);
  if (options.disposable === true) {
    users.save({ ...DISPOSABLE_PROFILE, mobile: DISPOSABLE_MOBILE, password: await hashPassword(DISPOSABLE_PASSWORD) });
  }
  return users;
}

/** Hash of a password nobody has: unknown mobiles are checked against it, so they take as long as known ones. */
let dummyHash: Promise<string> | undefined;

/**
 * The user a login body (`{ mobile, password }`, both strings) names, if the password matches;
 * `null` for a wrong password, an unknown mobile or a malformed body alike. The `verifyLogin` of
 * the ready-made routes: a `null` is answered 401 `{ message: 'invalid login' }`.
 */
export async function checkLogin(users: DemoUsers, body: unknown): Promise<DemoUser | null> {
  if (typeof body !== 'object' || body === null) return null;
  const { mobile, password } = body as { mobile?: unknown; password?: unknown };
  if (typeof mobile !== 'string' || typeof password !== 'string') return null;
  if (mobile.length > 32 || password.length > MAX_PASSWORD_LENGTH) return null;
  const user = await users.find((candidate) => candidate.mobile === mobile);
  if (user === null) {
    dummyHash ??= hashPassword('no such user');
    await verifyPassword(password, await dummyHash);
    return null;
  }
  return (await verifyPassword(password, user.password)) ? user : null;
}
