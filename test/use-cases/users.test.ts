/**
 * Users (issue 11): the allow-list projection (a private field the application adds never reaches
 * a response), the `publicUser` option and its types, and ids that are not strings (a MongoDB
 * `ObjectId`) turned into strings once, at issue, on MemoryStore and on RedisStore through ioredis
 * and node-redis.
 */

import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CAA_ACTIONS,
  MAX_USER_ID_LENGTH,
  MemoryStore,
  MemoryUserRepository,
  PUBLIC_USER_FIELDS,
  createCaaAuth,
  generateKey,
  issueSession,
  refreshToken,
  toPublicUser,
  userIdOf,
  type CredentialsResponse,
  type PublicUser,
  type User,
  type UserLike,
  type UserRepository,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { TestClock, expectCredentialsResponse, makeUser, publicPart } from '../support/use-case-fixtures.js';
import { Device, storeKinds, type StoreKind } from './use-case-harness.js';

const kinds = storeKinds();

/** A typical application user: an id, and private fields caa-auth has never heard of. */
interface AppUser extends UserLike {
  _id: string;
  email: string;
  passwordHash: string;
  totpSecret: string;
  resetToken: string;
  name: string;
}

const appUser: AppUser = {
  _id: 'app-user-1',
  email: 'ann@example.test',
  passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
  totpSecret: 'JBSWY3DPEHPK3PXP',
  resetToken: 'reset-7f3c9a1e2b',
  name: 'Ann',
};

/** Stands in for a MongoDB ObjectId (the mongodb package is not a dependency): an object, not a string. */
class FakeObjectId {
  readonly #hex: string;

  constructor(hex: string) {
    if (!/^[0-9a-f]{24}$/.test(hex)) throw new TypeError('an ObjectId is 24 hex digits');
    this.#hex = hex;
  }

  toHexString(): string {
    return this.#hex;
  }

  toString(): string {
    return this.#hex;
  }

  /** As bson's ObjectId: JSON.stringify writes the hex string. */
  toJSON(): string {
    return this.#hex;
  }
}

interface MongoUser extends UserLike {
  _id: FakeObjectId;
  name: string;
  email: string;
}

/** A repository over MongoDB-like documents that records what findById received. */
class RecordingRepository implements UserRepository<MongoUser> {
  readonly received: unknown[] = [];
  readonly #byHex = new Map<string, MongoUser>();

  constructor(users: MongoUser[]) {
    for (const user of users) this.#byHex.set(user._id.toHexString(), user);
  }

  async findById(id: string): Promise<MongoUser | null> {
    this.received.push(id);
    return this.#byHex.get(id) ?? null;
  }
}

describe.each(kinds)('the default projection on $name', (kind: StoreKind) => {
  it('a user with email, passwordHash, totpSecret and resetToken never sees any of them in a login or refresh response', async () => {
    const store = await kind.open();
    const clock = new TestClock();
    const auth = createCaaAuth({ store, users: new MemoryUserRepository<AppUser>([appUser]), now: clock.now });
    const login = await auth.issueSession(appUser);
    expect(login.user).toStrictEqual({ _id: 'app-user-1', name: 'Ann' });
    const device = new Device(login, clock);
    const responses: unknown[] = [login];
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      responses.push(device.take(await auth.refreshToken(device.refreshRequest())));
    }
    for (const response of responses) {
      const json = JSON.stringify(response);
      for (const secret of [appUser.email, appUser.passwordHash, appUser.totpSecret, appUser.resetToken]) expect(json).not.toContain(secret);
      for (const field of ['email', 'passwordHash', 'totpSecret', 'resetToken']) expect(json).not.toContain(`"${field}"`);
      expect((response as CredentialsResponse<AppUser>).user).toStrictEqual({ _id: 'app-user-1', name: 'Ann' });
    }
  });

  it('a user of the spec model (§6) gets exactly its public fields, on login and refresh', async () => {
    const store = await kind.open();
    const clock = new TestClock();
    const user = makeUser('spec-user');
    const auth = createCaaAuth({ store, users: new MemoryUserRepository([user]), now: clock.now });
    const login = await auth.issueSession(user);
    expectCredentialsResponse(login, user, clock.t + 259_200_000);
    expect(Object.keys(login.user).sort()).toStrictEqual([...PUBLIC_USER_FIELDS].sort());
    clock.advance(1_000);
    const refreshed = await auth.refreshToken(new Device(login, clock).refreshRequest());
    expectCredentialsResponse(refreshed, user, clock.t + 259_200_000);
    expect(refreshed.user).toStrictEqual(publicPart(user));
  });

  it('a publicUser option adds the fields it names, to login and refresh alike', async () => {
    interface ShopUser extends User {
      vipLevel: number;
      loyaltyCardNumber: string;
    }
    type PublicShopUser = PublicUser<ShopUser> & { vipLevel: number };
    const user: ShopUser = { ...makeUser('shop-user'), vipLevel: 3, loyaltyCardNumber: '4000-1234' };
    const store = await kind.open();
    const clock = new TestClock();
    const auth = createCaaAuth({
      store,
      users: new MemoryUserRepository<ShopUser>([user]),
      now: clock.now,
      publicUser: (u: ShopUser): PublicShopUser => ({ ...toPublicUser(u), vipLevel: u.vipLevel }),
    });
    const login = await auth.issueSession(user);
    expect(login.user).toStrictEqual({ ...publicPart(makeUser('shop-user')), vipLevel: 3 });
    expect(login.user).not.toHaveProperty('loyaltyCardNumber');
    expect(login.user).not.toHaveProperty('password');
    clock.advance(1_000);
    const refreshed = await auth.refreshToken(new Device(login, clock).refreshRequest());
    expect(refreshed.user).toStrictEqual({ ...toPublicUser(user), vipLevel: 3 });
    expect(auth.publicUser(user)).toStrictEqual({ ...toPublicUser(user), vipLevel: 3 });

    // Its type flows: the response is CredentialsResponse<ShopUser, P>, P what publicUser returns.
    expectTypeOf(login).toEqualTypeOf<CredentialsResponse<ShopUser, PublicShopUser>>();
    expectTypeOf(refreshed).toEqualTypeOf<CredentialsResponse<ShopUser, PublicShopUser>>();
    expectTypeOf(refreshed.user.vipLevel).toEqualTypeOf<number>();
    // @ts-expect-error loyaltyCardNumber is not public
    expect(refreshed.user.loyaltyCardNumber).toBeUndefined();
  });

  it('the free functions take the same publicUser option', async () => {
    const store = await kind.open();
    const clock = new TestClock();
    const project = (u: AppUser) => ({ _id: u._id, name: u.name, initials: u.name.slice(0, 1) });
    const login = await issueSession(store, appUser, { now: clock.now, publicUser: project });
    expect(login.user).toStrictEqual({ _id: 'app-user-1', name: 'Ann', initials: 'A' });
    clock.advance(1_000);
    const users = new MemoryUserRepository<AppUser>([appUser]);
    const refreshed = await refreshToken(store, users, new Device(login, clock).refreshRequest(), { now: clock.now, publicUser: project });
    expect(refreshed.user).toStrictEqual({ _id: 'app-user-1', name: 'Ann', initials: 'A' });
    expectTypeOf(refreshed.user).toEqualTypeOf<{ _id: string; name: string; initials: string }>();
  });
});

describe('the default projection, by type', () => {
  it('PublicUser<AppUser> has _id (a string) and name only; a private field does not compile', () => {
    expectTypeOf<PublicUser<AppUser>>().toEqualTypeOf<{ _id: string; name: string }>();
    const projected = toPublicUser(appUser);
    // @ts-expect-error passwordHash is private
    expect(projected.passwordHash).toBeUndefined();
    expect(projected).toStrictEqual({ _id: 'app-user-1', name: 'Ann' });
  });

  it('copies only own properties: a public name inherited from a prototype is not sent', () => {
    const proto = { name: 'inherited' };
    const user = Object.assign(Object.create(proto) as UserLike, { _id: 'u-proto' });
    expect(toPublicUser(user)).toStrictEqual({ _id: 'u-proto' });
  });
});

describe.each(kinds)('an ObjectId-like _id on $name', (kind: StoreKind) => {
  const hex = '65f1c2a9e4b0a1b2c3d4e5f6';

  it('works end to end: login, authenticate, refresh (findById gets the hex string), list and revoke by the ObjectId', async () => {
    const store = await kind.open();
    const clock = new TestClock();
    const user: MongoUser = { _id: new FakeObjectId(hex), name: 'Mo', email: 'mo@example.test' };
    const users = new RecordingRepository([user]);
    const auth = createCaaAuth({ store, users, now: clock.now });

    const login = await auth.issueSession(user, { metadata: { device: 'phone' } });
    expect(login.userId).toBe(hex);
    expect(login.user).toStrictEqual({ _id: hex, name: 'Mo' });
    expect(typeof login.user._id).toBe('string');
    const device = new Device(login, clock);

    const session = await auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile);
    expect(session.userId).toBe(hex);

    clock.advance(1_000);
    const refreshed = device.take(await auth.refreshToken(device.refreshRequest()));
    expect(refreshed.userId).toBe(hex);
    expect(refreshed.user).toStrictEqual({ _id: hex, name: 'Mo' });
    expect(users.received).toStrictEqual([hex]);
    expect(typeof users.received[0]).toBe('string');

    await auth.issueSession(user, { metadata: { device: 'laptop' } });
    const byObjectId = await auth.listSessions(new FakeObjectId(hex));
    const byString = await auth.listSessions(hex);
    expect(byObjectId).toStrictEqual(byString);
    expect(byString.map((info) => [info.userId, info.metadata])).toStrictEqual([
      [hex, { device: 'phone' }],
      [hex, { device: 'laptop' }],
    ]);

    expect(await auth.revokeUserSessions(user._id)).toBe(2);
    expect(await auth.listSessions(hex)).toStrictEqual([]);
    await expectCaaError(auth.authenticate(device.request(), CAA_ACTIONS.fetchMyProfile), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
    await expectCaaError(auth.refreshToken(device.refreshRequest()), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
  });

  it('a number _id becomes its decimal string, and MemoryUserRepository finds it by that', async () => {
    const store = await kind.open();
    const clock = new TestClock();
    const user = { _id: 42, name: 'Numbered' };
    const auth = createCaaAuth({ store, users: new MemoryUserRepository([user]), now: clock.now });
    const login = await auth.issueSession(user);
    expect(login.userId).toBe('42');
    expect(login.user).toStrictEqual({ _id: '42', name: 'Numbered' });
    clock.advance(1_000);
    const refreshed = await auth.refreshToken(new Device(login, clock).refreshRequest());
    expect(refreshed.userId).toBe('42');
    expect((await auth.listSessions(42)).map((info) => info.userId)).toStrictEqual(['42']);
  });

  it('bad ids are a TypeError at issue, and nothing is stored', async () => {
    const store = await kind.open();
    const generated: string[] = [];
    const auth = createCaaAuth({
      store,
      users: new MemoryUserRepository<UserLike>(),
      generateKey: () => {
        const key = generateKey();
        generated.push(key);
        return key;
      },
    });
    const bad: [string, unknown][] = [
      ['an empty string', ''],
      ['a plain object', {}],
      ['null', null],
      ['undefined', undefined],
      [`a ${MAX_USER_ID_LENGTH + 44}-character string`, 'x'.repeat(MAX_USER_ID_LENGTH + 44)],
      ['NaN', Number.NaN],
      ['Infinity', Infinity],
      ['an object whose toHexString returns a number', { toHexString: () => 42 }],
      ['an array', []],
    ];
    for (const [name, id] of bad) {
      const issued = auth.issueSession({ _id: id } as UserLike);
      await expect(issued, name).rejects.toThrow(TypeError);
      await expect(issued, name).rejects.toThrow(/^caa-auth: a user _id must be a non-empty string, a number or an object with toHexString\(\)\/toString\(\) \(at most 256 characters\)$/);
    }
    // Refused before anything was minted or stored.
    expect(generated).toStrictEqual([]);
    if (store instanceof MemoryStore) expect(store.size).toBe(0);
    await expect(auth.listSessions({} as unknown as string)).rejects.toThrow(TypeError);
    await expect(auth.revokeUserSessions('')).rejects.toThrow(TypeError);
  });
});

describe('userIdOf', () => {
  it('prefers toHexString, else String(id); the longest id accepted is MAX_USER_ID_LENGTH', () => {
    expect(userIdOf({ _id: new FakeObjectId('65f1c2a9e4b0a1b2c3d4e5f6') })).toBe('65f1c2a9e4b0a1b2c3d4e5f6');
    expect(userIdOf({ _id: { toHexString: () => 'aa', toString: () => 'bb' } })).toBe('aa');
    expect(userIdOf({ _id: { toString: () => 'custom' } })).toBe('custom');
    expect(userIdOf({ _id: 7n })).toBe('7');
    expect(userIdOf({ _id: 'y'.repeat(MAX_USER_ID_LENGTH) })).toHaveLength(MAX_USER_ID_LENGTH);
    expect(() => userIdOf({ _id: 'y'.repeat(MAX_USER_ID_LENGTH + 1) })).toThrow(TypeError);
  });
});
