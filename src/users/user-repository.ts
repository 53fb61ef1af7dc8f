/**
 * The user port: how the use cases find the user of a session. Applications plug in their own
 * (MongoDB, SQL, …); {@link MemoryUserRepository} serves tests and examples.
 *
 * @module users/user-repository
 */

import { userIdOf, type User, type UserLike } from '../models.js';

/**
 * Finds users by id. `id` is always the string caa-auth made of the user's `_id` at login
 * ({@link userIdOf}: `toHexString()` of a MongoDB `ObjectId`, `String(id)` of a number), whatever
 * the store: turn it back into the database's type here. Return `null` (or `undefined`) for an
 * unknown id; throw only for a fault, which the use cases answer with 503.
 *
 * @example
 * ```ts
 * import { ObjectId } from 'mongodb';
 * import type { UserRepository } from 'caa-auth';
 *
 * const users: UserRepository<AppUser> = {
 *   // A string that is not a valid ObjectId names no user (new ObjectId would throw: a 503).
 *   findById: (id) => (ObjectId.isValid(id) ? db.collection<AppUser>('users').findOne({ _id: new ObjectId(id) }) : Promise.resolve(null)),
 * };
 * ```
 *
 * @category Stores
 */
export interface UserRepository<U extends UserLike = User> {
  /**
   * The user of `id`, or `null` (or `undefined`) when there is none; a rejection is answered 503.
   *
   * @param id - The user's id as a string (what {@link userIdOf} made of `_id` at login).
   */
  findById(id: string): Promise<U | null | undefined>;
}

/**
 * Users in a `Map`, for tests, examples and demos.
 *
 * @example
 * ```ts
 * import { MemoryUserRepository } from 'caa-auth';
 *
 * const users = new MemoryUserRepository([{ _id: 'u1', name: 'Ann', gender: 'secret', avatar: null, registerAt: 0, createAt: 0 }]);
 * await users.findById('u1');
 * ```
 *
 * @category Stores
 */
export class MemoryUserRepository<U extends UserLike = User> implements UserRepository<U> {
  readonly #users = new Map<string, U>();

  /**
   * A repository holding `users`.
   *
   * @param users - The users to start with.
   */
  constructor(users: Iterable<U> = []) {
    for (const user of users) this.save(user);
  }

  /**
   * The user of `id`, or `null`.
   *
   * @param id - The user's id as a string.
   */
  async findById(id: string): Promise<U | null> {
    return this.#users.get(id) ?? null;
  }

  /**
   * Finds the first user matching `predicate` (e.g. by mobile, for a login form).
   *
   * @param predicate - True for the user to find.
   */
  async find(predicate: (user: U) => boolean): Promise<U | null> {
    for (const user of this.#users.values()) if (predicate(user)) return user;
    return null;
  }

  /**
   * Adds or replaces a user (keyed by the string form of its `_id`, as sessions name it).
   *
   * @param user - The user to add or replace (by `_id`).
   */
  save(user: U): void {
    this.#users.set(userIdOf(user), user);
  }

  /**
   * Removes a user; true if there was one.
   *
   * @param id - The `_id` of the user to remove.
   */
  delete(id: UserLike['_id']): boolean {
    return this.#users.delete(userIdOf(id));
  }
}
