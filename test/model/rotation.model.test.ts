/**
 * Model-based tests of key rotation. fast-check generates random sequences of commands — logins,
 * refreshes (fresh, retried within grace, reused after grace, an older ancestor, stale, concurrent
 * bursts), authentications with the current and with old pairs, logouts, replays of a header, clock
 * jumps and a check of the live sessions the store really holds — and runs them through the use
 * cases against MemoryStore and against RedisStore (ioredis, a real redis-server). After every
 * command the outcome must be exactly what a small pure reference model of the rotation rules says:
 * the status, message and code of the CaaError, or the exact pair returned.
 *
 * The reference model is the rules of the spec and of src/stores/session-store.ts, not a copy of a
 * store. A store keeps a live record for `EXPIRED_SESSION_RETENTION_MS` (a day) past its `expireIn`,
 * and one sequence spans well under an hour of clock, so live records are never forgotten within a
 * sequence; a rotated pair is forgotten when its successor expires (its family's lifetime). The
 * rules as modelled (a refresh signed with pair P of family F, at server clock `now`):
 * - F revoked (logout, reuse), or P rotated and its successor expired → `APIKEY_NOT_FOUND`;
 * - P is F's live pair: expired → `SESSION_EXPIRED`, else rotated to a fresh pair (same family
 *   tag, `expireIn = now + ttlMs`); N concurrent calls all get that one successor;
 * - P is the immediate predecessor and `now - rotatedAt(P) <= graceMs` → exactly F's live pair
 *   (this includes a `now` before the rotation: such a call is one of the losers of the
 *   compare-and-swap, port rule 2);
 * - otherwise, `now` before P's rotation (a stale request) → `APIKEY_NOT_FOUND`, nothing revoked;
 * - otherwise → `TOKEN_REUSED`, and F is revoked;
 * - an identical refresh header a second time → lookup first (404 when the family is revoked:
 *   `lookup` answers `null` for a revoked key, src/stores/session-store.ts), else 400 `REPLAYED`.
 *
 * Every sequence starts with `issue(user 0)` (family F0) and ends with `checkLiveSessions()`; a
 * counterexample printed by fast-check lists only the commands in between. Families are named F0,
 * F1, … in login order, pairs F0#0, F0#1, … in issue order, times as T0 ± ms.
 *
 * All time comes from the model's clock through `now`; every signed request carries a timestamp no
 * other request of the run has used, inside the ±5 min window, so replay protection bites only in
 * the replay command.
 */

import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  DEFAULT_SKEW_MS,
  FAMILY_TAG_LENGTH,
  MemoryStore,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  isCaaError,
  issueSession,
  refreshToken,
  revokeSession,
  type CaaErrorCode,
  type CredentialsResponse,
  type Session,
  type SessionStore,
  type User,
} from '../../src/index.js';
import { EXPIRED_SESSION_RETENTION_MS } from '../../src/stores/session-store.js';
import { ioredisRaw, unexpiredLiveSessionsInRedis } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';
import { T0, expectCredentialsResponse, makeUser, publicPart, signedRequest } from '../support/use-case-fixtures.js';

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/** A short session lifetime, so that sequences reach expiry. */
const TTL_MS = 60_000;
/** The use cases run with their default grace; the model uses the same number. */
const GRACE_MS = DEFAULT_GRACE_MS;
const NUM_RUNS = 200;
const MAX_COMMANDS = 30;
/** Logins per sequence. */
const MAX_FAMILIES = 3;
/** Generous: a passing run takes a few seconds; shrinking a counterexample takes longer. */
const PROPERTY_TIMEOUT_MS = 300_000;

const USERS: readonly User[] = [makeUser('59573c395c2960da1aa83a08'), makeUser('59573c395c2960da1aa83a09', 'Ann')];

/** The wire side of each code the model can expect (spec §5 and the table in src/errors.ts). */
type ExpectedCode = Extract<CaaErrorCode, 'APIKEY_NOT_FOUND' | 'SESSION_EXPIRED' | 'TOKEN_REUSED' | 'REPLAYED'>;
const WIRE: { readonly [C in ExpectedCode]: { readonly status: number; readonly message: string } } = {
  APIKEY_NOT_FOUND: { status: 404, message: 'apiKey not found' },
  SESSION_EXPIRED: { status: 404, message: 'apiKey not found' },
  TOKEN_REUSED: { status: 404, message: 'apiKey not found' },
  REPLAYED: { status: 400, message: 'invalid signature' },
};

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

/** One credential pair of a family, oldest first; the last of a chain is the family's live pair. */
interface ModelPair {
  readonly apiKey: string;
  readonly secretKey: string;
  readonly issuedAt: number;
  readonly expireIn: number;
  /** When this pair was rotated to the next one of the chain; undefined for the live pair. */
  rotatedAt: number | undefined;
}

/** All sessions descended from one login. */
interface ModelFamily {
  /** `F0`, `F1`, … in login order, as the commands name them. */
  readonly name: string;
  readonly user: User;
  readonly familyId: string;
  readonly chain: ModelPair[];
  /** Logged out, or killed by reuse detection. */
  revoked: boolean;
}

/** A refresh header that was accepted, kept for the replay command. */
interface AcceptedRefresh {
  readonly request: { headers: { authorization: string } };
  readonly stamp: number;
  readonly family: ModelFamily;
  readonly index: number;
}

interface Model {
  /** The server clock every use case reads, epoch ms. */
  clock: number;
  readonly families: ModelFamily[];
  /** Every signing timestamp used so far: none is used twice. */
  readonly usedStamps: Set<number>;
  /** Every apiKey and secretKey handed out so far: a new pair must be fresh. */
  readonly issuedKeys: Set<string>;
  lastAccepted: AcceptedRefresh | undefined;
}

function newModel(): Model {
  return { clock: T0, families: [], usedStamps: new Set(), issuedKeys: new Set(), lastAccepted: undefined };
}

/** What a request must come to. */
type Expectation =
  /** A new pair (a refresh of the live pair). */
  | { readonly kind: 'rotated' }
  /** Exactly this existing pair. */
  | { readonly kind: 'pair'; readonly pair: ModelPair }
  /** This error; `revokes`: the family is revoked by it. */
  | { readonly kind: 'error'; readonly code: ExpectedCode; readonly revokes: boolean };

const error = (code: ExpectedCode, revokes = false): Expectation => ({ kind: 'error', code, revokes });

function pairAt(family: ModelFamily, index: number): ModelPair {
  const pair = family.chain[index];
  if (pair === undefined) throw new Error(`model: ${family.name} has no pair #${index}`);
  return pair;
}

function liveIndex(family: ModelFamily): number {
  return family.chain.length - 1;
}

function livePair(family: ModelFamily): ModelPair {
  return pairAt(family, liveIndex(family));
}

function rotatedAtOf(family: ModelFamily, index: number): number {
  const rotatedAt = pairAt(family, index).rotatedAt;
  if (rotatedAt === undefined) throw new Error(`model: ${family.name}#${index} was not rotated`);
  return rotatedAt;
}

/** A rotated pair is forgotten with the lifetime of the family it served: when its successor expires. */
function isForgotten(family: ModelFamily, index: number, now: number): boolean {
  return index < liveIndex(family) && now >= pairAt(family, index + 1).expireIn;
}

/** The refresh rules for pair #index of `family` at server clock `now`. */
function expectRefresh(family: ModelFamily, index: number, now: number): Expectation {
  if (family.revoked || isForgotten(family, index, now)) return error('APIKEY_NOT_FOUND');
  const live = liveIndex(family);
  if (index === live) return now >= pairAt(family, index).expireIn ? error('SESSION_EXPIRED') : { kind: 'rotated' };
  const rotatedAt = rotatedAtOf(family, index);
  if (index === live - 1 && now - rotatedAt <= GRACE_MS) return { kind: 'pair', pair: livePair(family) };
  if (now < rotatedAt) return error('APIKEY_NOT_FOUND');
  return error('TOKEN_REUSED', true);
}

/** authenticate (and the authentication half of logout) with pair #index at `now`. */
function expectAuthenticate(family: ModelFamily, index: number, now: number): Expectation {
  if (family.revoked || index !== liveIndex(family)) return error('APIKEY_NOT_FOUND');
  const pair = pairAt(family, index);
  return now >= pair.expireIn ? error('SESSION_EXPIRED') : { kind: 'pair', pair };
}

/**
 * A refresh header sent a second time. Its pair was rotated by the first one (or already had been,
 * for a retry within grace), so no expiry applies; the lookup comes before the replay check, and
 * `LookupResult.record` is documented as `null` for a revoked key — the rotated keys of a revoked
 * family included.
 */
function expectReplay(family: ModelFamily, index: number, now: number): Expectation {
  return family.revoked || isForgotten(family, index, now) ? error('APIKEY_NOT_FOUND') : error('REPLAYED');
}

/** The session a store holds for a live pair. */
function sessionOf(family: ModelFamily, pair: ModelPair): Session {
  return {
    apiKey: pair.apiKey,
    secretKey: pair.secretKey,
    userId: family.user._id,
    expireIn: pair.expireIn,
    familyId: family.familyId,
    issuedAt: pair.issuedAt,
  };
}

/** The live, unexpired sessions a store must hold: one per family neither revoked nor expired. */
function expectedLiveSessions(model: Model, now: number): Session[] {
  return model.families
    .filter((family) => !family.revoked && livePair(family).expireIn > now)
    .map((family) => sessionOf(family, livePair(family)));
}

/** A signing timestamp no request of this run has used, inside the window around `now`. */
function takeStamp(model: Model, now: number): number {
  let stamp = now;
  while (model.usedStamps.has(stamp)) stamp++;
  if (stamp - now > DEFAULT_SKEW_MS / 2) throw new Error('model: ran out of signing timestamps near the clock');
  model.usedStamps.add(stamp);
  return stamp;
}

function at(now: number): string {
  const offset = now - T0;
  return `t=T0${offset < 0 ? '−' : '+'}${Math.abs(offset)}`;
}

function label(family: ModelFamily, index: number): string {
  const back = liveIndex(family) - index;
  const which = back === 0 ? 'live pair' : back === 1 ? 'predecessor' : `${back} back`;
  return `${family.name}#${index} (${which})`;
}

// ---------------------------------------------------------------------------------------------
// Observing outcomes
// ---------------------------------------------------------------------------------------------

/** An outcome as plain data, so that one `toStrictEqual` shows the whole difference. */
type Observed<T = unknown> =
  | { readonly resolved: T }
  | { readonly rejected: { name: string; status: number; message: string; code: string; body: string } }
  | { readonly threw: string };

function observeRejection(reason: unknown): Observed<never> {
  if (isCaaError(reason)) {
    return {
      rejected: {
        name: reason.name,
        status: reason.status,
        message: reason.message,
        code: reason.code,
        body: JSON.stringify(reason),
      },
    };
  }
  return { threw: reason instanceof Error ? `${reason.name}: ${reason.message}\n${reason.stack ?? ''}` : String(reason) };
}

async function observe<T>(call: Promise<T>): Promise<Observed<T>> {
  try {
    return { resolved: await call };
  } catch (reason) {
    return observeRejection(reason);
  }
}

function observeSettled<T>(result: PromiseSettledResult<T>): Observed<T> {
  return result.status === 'fulfilled' ? { resolved: result.value } : observeRejection(result.reason);
}

function rejectionOf(code: ExpectedCode): Observed<never> {
  const { status, message } = WIRE[code];
  return { rejected: { name: 'CaaError', status, message, code, body: JSON.stringify({ message }) } };
}

/** The refresh response that hands out `pair`. */
function responseOf(family: ModelFamily, pair: ModelPair): CredentialsResponse {
  return {
    apiKey: pair.apiKey,
    secretKey: pair.secretKey,
    userId: family.user._id,
    expireIn: pair.expireIn,
    user: publicPart(family.user),
  };
}

/** What `expectation` looks like as an observed outcome (a new pair shows as a placeholder). */
function observedOf(family: ModelFamily, expectation: Expectation): Observed<CredentialsResponse | string> {
  if (expectation.kind === 'rotated') return { resolved: '<a new pair>' };
  if (expectation.kind === 'pair') return { resolved: responseOf(family, expectation.pair) };
  return rejectionOf(expectation.code);
}

/** Fails unless a refresh came to `expectation` (for `rotated`: to some new pair, checked later). */
function expectRefreshOutcome(
  context: string,
  observed: Observed<CredentialsResponse>,
  family: ModelFamily,
  expectation: Expectation,
): void {
  if (expectation.kind === 'rotated' && 'resolved' in observed) return;
  expect(observed, context).toStrictEqual(observedOf(family, expectation));
}

// ---------------------------------------------------------------------------------------------
// The system under test
// ---------------------------------------------------------------------------------------------

interface Real {
  readonly store: SessionStore;
  readonly users: MemoryUserRepository;
  /** The live, unexpired sessions the store really holds (read behind the use cases' back). */
  liveSessions(now: number): Promise<Session[]>;
}

function byApiKey(a: Session, b: Session): number {
  return a.apiKey < b.apiKey ? -1 : a.apiKey > b.apiKey ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Shared steps
// ---------------------------------------------------------------------------------------------

/** Takes a fresh pair returned by a rotation into the model. */
function adoptSuccessor(
  model: Model,
  family: ModelFamily,
  now: number,
  context: string,
  observed: Observed<CredentialsResponse>,
): ModelPair {
  if (!('resolved' in observed)) throw new Error(`${context}: expected a new pair, got ${JSON.stringify(observed)}`);
  const body = observed.resolved;
  const previous = livePair(family);
  expectCredentialsResponse(body, family.user, now + TTL_MS);
  expect(body.apiKey.slice(0, FAMILY_TAG_LENGTH), `${context}: the successor keeps the family tag`).toBe(
    previous.apiKey.slice(0, FAMILY_TAG_LENGTH),
  );
  expect(model.issuedKeys.has(body.apiKey), `${context}: the successor apiKey is fresh`).toBe(false);
  expect(model.issuedKeys.has(body.secretKey), `${context}: the successor secretKey is fresh`).toBe(false);
  model.issuedKeys.add(body.apiKey);
  model.issuedKeys.add(body.secretKey);
  previous.rotatedAt = now;
  const next: ModelPair = {
    apiKey: body.apiKey,
    secretKey: body.secretKey,
    issuedAt: now,
    expireIn: now + TTL_MS,
    rotatedAt: undefined,
  };
  family.chain.push(next);
  return next;
}

/** Takes what the (already checked) outcome of a refresh did into the model. */
function adoptRefresh(
  model: Model,
  family: ModelFamily,
  now: number,
  context: string,
  expectation: Expectation,
  observed: Observed<CredentialsResponse>,
): void {
  if (expectation.kind === 'rotated') adoptSuccessor(model, family, now, context, observed);
  if (expectation.kind === 'error' && expectation.revokes) family.revoked = true;
}

/** One refresh with pair #index of `family`, at server clock `now`. */
async function refreshWith(model: Model, real: Real, family: ModelFamily, index: number, now: number): Promise<void> {
  const pair = pairAt(family, index);
  const context = `refresh with ${label(family, index)} at ${at(now)}`;
  const expectation = expectRefresh(family, index, now);
  const stamp = takeStamp(model, now);
  const request = signedRequest(pair, CAA_ACTIONS.refreshToken, stamp);
  const observed = await observe(refreshToken(real.store, real.users, request, { now: () => now, ttlMs: TTL_MS }));
  expectRefreshOutcome(context, observed, family, expectation);
  adoptRefresh(model, family, now, context, expectation, observed);
  if (expectation.kind !== 'error') model.lastAccepted = { request, stamp, family, index };
}

/**
 * One authenticated call (`what`: authenticate, or logout) with pair #index of `family`, signed for
 * `action`, at the model's clock; returns what the model expected of it.
 */
async function authenticatedCallWith(
  model: Model,
  family: ModelFamily,
  index: number,
  what: string,
  action: string,
  send: (request: { headers: { authorization: string } }) => Promise<unknown>,
): Promise<Expectation> {
  const now = model.clock;
  const expectation = expectAuthenticate(family, index, now);
  const request = signedRequest(pairAt(family, index), action, takeStamp(model, now));
  const observed = await observe(send(request));
  const context = `${what} with ${label(family, index)} at ${at(now)}`;
  expect(observed, context).toStrictEqual(sessionOutcome(family, expectation));
  return expectation;
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

type RotationCommand = fc.AsyncCommand<Model, Real>;

function familyAt(model: Readonly<Model>, index: number): ModelFamily | undefined {
  return model.families[index];
}

function requireFamily(model: Model, index: number): ModelFamily {
  const family = familyAt(model, index);
  if (family === undefined) throw new Error(`model: no family F${index}`);
  return family;
}

/** What authenticate (or logout) must come to: the live session, or an error. */
function sessionOutcome(family: ModelFamily, expectation: Expectation): Observed<Session | string> {
  if (expectation.kind === 'pair') return { resolved: sessionOf(family, expectation.pair) };
  if (expectation.kind === 'error') return rejectionOf(expectation.code);
  return { resolved: '<model: authenticate never rotates>' };
}

/**
 * A command with the pair `back` steps behind the live pair of family F`familyIndex` (back 0: the
 * live pair); it applies once the family has that many pairs.
 */
abstract class PairCommand implements RotationCommand {
  constructor(
    readonly familyIndex: number,
    readonly back: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    const family = familyAt(model, this.familyIndex);
    return family !== undefined && family.chain.length > this.back;
  }
  /** The family, and the index in its chain of the pair the command uses. */
  protected target(model: Model): { family: ModelFamily; index: number } {
    const family = requireFamily(model, this.familyIndex);
    return { family, index: liveIndex(family) - this.back };
  }
  /** The pair as toString names it: `F0 live pair`, `F0 2 back`. */
  protected pairName(): string {
    return `F${this.familyIndex} ${this.back === 0 ? 'live pair' : `${this.back} back`}`;
  }
  abstract run(model: Model, real: Real): Promise<void>;
  abstract toString(): string;
}

/** Login: a new family. */
class Issue implements RotationCommand {
  constructor(readonly userIndex: number) {}
  check(model: Readonly<Model>): boolean {
    return model.families.length < MAX_FAMILIES;
  }
  async run(model: Model, real: Real): Promise<void> {
    const user = USERS[this.userIndex];
    if (user === undefined) throw new Error('no such user');
    const now = model.clock;
    const name = `F${model.families.length}`;
    const body = await issueSession(real.store, user, { now: () => model.clock, ttlMs: TTL_MS });
    expectCredentialsResponse(body, user, now + TTL_MS);
    expect(model.issuedKeys.has(body.apiKey), `${name}: a fresh apiKey`).toBe(false);
    expect(model.issuedKeys.has(body.secretKey), `${name}: a fresh secretKey`).toBe(false);
    model.issuedKeys.add(body.apiKey);
    model.issuedKeys.add(body.secretKey);
    // The use cases do not expose the family id; the store's record names it.
    const { record, replayed } = await real.store.lookup(body.apiKey, now);
    if (record === null) throw new Error(`${name}: the new session is not in the store`);
    const familyId = record.familyId;
    expect(model.families.some((family) => family.familyId === familyId), `${name}: a new family id`).toBe(false);
    const pair: ModelPair = { apiKey: body.apiKey, secretKey: body.secretKey, issuedAt: now, expireIn: now + TTL_MS, rotatedAt: undefined };
    const family: ModelFamily = { name, user, familyId, chain: [pair], revoked: false };
    expect({ record, replayed }, `${name}: the stored record`).toStrictEqual({
      record: { ...sessionOf(family, pair), state: 'live' },
      replayed: false,
    });
    model.families.push(family);
  }
  toString(): string {
    return `issue(user ${this.userIndex})`;
  }
}

/** A fresh refresh: the client's live pair. */
class Refresh implements RotationCommand {
  constructor(readonly familyIndex: number) {}
  check(model: Readonly<Model>): boolean {
    return familyAt(model, this.familyIndex) !== undefined;
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    await refreshWith(model, real, family, liveIndex(family), model.clock);
  }
  toString(): string {
    return `refresh(F${this.familyIndex} live pair)`;
  }
}

/** A retry with the immediate predecessor while still within grace of its rotation. */
class RetryWithinGrace implements RotationCommand {
  constructor(readonly familyIndex: number) {}
  check(model: Readonly<Model>): boolean {
    const family = familyAt(model, this.familyIndex);
    if (family === undefined || family.chain.length < 2) return false;
    return model.clock - rotatedAtOf(family, liveIndex(family) - 1) <= GRACE_MS;
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    await refreshWith(model, real, family, liveIndex(family) - 1, model.clock);
  }
  toString(): string {
    return `retryWithinGrace(F${this.familyIndex} predecessor)`;
  }
}

/** The clock moves to `extraMs` past the predecessor's grace, then the predecessor refreshes. */
class ReuseAfterGrace implements RotationCommand {
  constructor(
    readonly familyIndex: number,
    readonly extraMs: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    const family = familyAt(model, this.familyIndex);
    return family !== undefined && family.chain.length >= 2;
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    const index = liveIndex(family) - 1;
    model.clock = Math.max(model.clock, rotatedAtOf(family, index) + GRACE_MS + this.extraMs);
    await refreshWith(model, real, family, index, model.clock);
  }
  toString(): string {
    return `reuseAfterGrace(F${this.familyIndex} predecessor, clock ≥ its rotation + ${GRACE_MS} + ${this.extraMs} ms)`;
  }
}

/** A refresh with a pair older than the immediate predecessor. */
class ReuseAncestor extends PairCommand {
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await refreshWith(model, real, family, index, model.clock);
  }
  toString(): string {
    return `reuseAncestor(${this.pairName()})`;
  }
}

/** A delayed request: a rotated pair refreshes with a server clock `earlyMs` before its rotation. */
class StaleRefresh extends PairCommand {
  constructor(
    familyIndex: number,
    back: number,
    readonly earlyMs: number,
  ) {
    super(familyIndex, back);
  }
  /**
   * Only while the pair can still be remembered: a store may forget a rotated pair for good once
   * the clock has passed its successor's expiry, so a clock sent back before that is no test.
   */
  override check(model: Readonly<Model>): boolean {
    if (!super.check(model)) return false;
    const family = familyAt(model, this.familyIndex);
    const index = family === undefined ? -1 : liveIndex(family) - this.back;
    return family !== undefined && !isForgotten(family, index, model.clock);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await refreshWith(model, real, family, index, rotatedAtOf(family, index) - this.earlyMs);
  }
  toString(): string {
    return `staleRefresh(${this.pairName()}, now = its rotation − ${this.earlyMs} ms)`;
  }
}

/** N concurrent refreshes of the live pair, each with a timestamp of its own. */
class ConcurrentRefresh implements RotationCommand {
  constructor(
    readonly familyIndex: number,
    readonly n: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    return familyAt(model, this.familyIndex) !== undefined;
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    const index = liveIndex(family);
    const pair = pairAt(family, index);
    const now = model.clock;
    const context = `${this.n} concurrent refreshes with ${label(family, index)} at ${at(now)}`;
    const expectation = expectRefresh(family, index, now);
    const stamps = Array.from({ length: this.n }, () => takeStamp(model, now));
    const requests = stamps.map((stamp) => signedRequest(pair, CAA_ACTIONS.refreshToken, stamp));
    const settled = await Promise.allSettled(
      requests.map((request) => refreshToken(real.store, real.users, request, { now: () => model.clock, ttlMs: TTL_MS })),
    );
    const observed = settled.map(observeSettled);
    const first = observed[0];
    if (first === undefined) throw new Error('no request');
    // One successor whatever the concurrency: every caller gets exactly the first caller's answer.
    expect(observed, `${context}: every caller gets the same answer`).toStrictEqual(observed.map(() => first));
    expectRefreshOutcome(context, first, family, expectation);
    adoptRefresh(model, family, now, context, expectation, first);
    const lastRequest = requests[requests.length - 1];
    const lastStamp = stamps[stamps.length - 1];
    if (expectation.kind !== 'error' && lastRequest !== undefined && lastStamp !== undefined) {
      model.lastAccepted = { request: lastRequest, stamp: lastStamp, family, index };
    }
  }
  toString(): string {
    return `concurrentRefresh(F${this.familyIndex} live pair ×${this.n})`;
  }
}

/** authenticate (fetch-my-profile) with the live pair (back 0) or an old one. */
class Authenticate extends PairCommand {
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await authenticatedCallWith(model, family, index, 'authenticate', CAA_ACTIONS.fetchMyProfile, (request) =>
      authenticate(real.store, request, CAA_ACTIONS.fetchMyProfile, { now: () => model.clock }),
    );
  }
  toString(): string {
    return `authenticate(${this.pairName()})`;
  }
}

/** Logout with the live pair (back 0) or an old one: revokes the family when it authenticates. */
class Logout extends PairCommand {
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    const expectation = await authenticatedCallWith(model, family, index, 'logout', CAA_ACTIONS.logout, (request) =>
      revokeSession(real.store, request, { now: () => model.clock }),
    );
    if (expectation.kind === 'pair') family.revoked = true;
  }
  toString(): string {
    return `logout(${this.pairName()})`;
  }
}

/** The identical header of the last accepted refresh, sent again. */
class Replay implements RotationCommand {
  check(model: Readonly<Model>): boolean {
    const last = model.lastAccepted;
    return last !== undefined && Math.abs(model.clock - last.stamp) <= DEFAULT_SKEW_MS;
  }
  async run(model: Model, real: Real): Promise<void> {
    const last = model.lastAccepted;
    if (last === undefined) throw new Error('model: nothing to replay');
    const { family, index, request } = last;
    const now = model.clock;
    const observed = await observe(refreshToken(real.store, real.users, request, { now: () => model.clock, ttlMs: TTL_MS }));
    const context = `replay of the refresh header of ${family.name}#${index} (stamp ${at(last.stamp)}) at ${at(now)}`;
    expectRefreshOutcome(context, observed, family, expectReplay(family, index, now));
  }
  toString(): string {
    return 'replayLastAcceptedRefresh()';
  }
}

/** The clock moves on. */
class AdvanceClock implements RotationCommand {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model): Promise<void> {
    model.clock += this.ms;
  }
  toString(): string {
    return `advance(+${this.ms} ms)`;
  }
}

/**
 * The invariant through the store: every family neither revoked nor expired has exactly one live
 * session, its live pair; no other live unexpired session exists.
 */
class CheckLiveSessions implements RotationCommand {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const now = model.clock;
    const actual = (await real.liveSessions(now)).sort(byApiKey);
    const expected = expectedLiveSessions(model, now).sort(byApiKey);
    const perFamily = (sessions: readonly Session[]) =>
      Object.fromEntries(
        model.families.map((family) => [family.name, sessions.filter((session) => session.familyId === family.familyId).length]),
      );
    expect(perFamily(actual), `live sessions per family at ${at(now)}`).toStrictEqual(perFamily(expected));
    expect(actual, `live sessions at ${at(now)}`).toStrictEqual(expected);
  }
  toString(): string {
    return 'checkLiveSessions()';
  }
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

const familyIndex = fc.nat({ max: MAX_FAMILIES - 1 });

/** The most one command moves the clock: an advance, or a reuse after grace (grace + 20 s). */
const MAX_STEP_MS = TTL_MS + 30_000;

/** Small steps, the grace boundary, past grace, the expiry boundary, past expiry. */
const advanceMs = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3_000 }) },
  { weight: 2, arbitrary: fc.constantFrom(GRACE_MS - 1, GRACE_MS, GRACE_MS + 1) },
  { weight: 2, arbitrary: fc.integer({ min: GRACE_MS + 1, max: 30_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(TTL_MS - 1, TTL_MS, TTL_MS + 1) },
  { weight: 1, arbitrary: fc.integer({ min: TTL_MS, max: MAX_STEP_MS }) },
);

/** One command, weighted towards what makes long chains and hits the rotation rules. */
const command: fc.Arbitrary<RotationCommand> = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: USERS.length - 1 }).map((user): RotationCommand => new Issue(user)) },
  { weight: 6, arbitrary: familyIndex.map((family) => new Refresh(family)) },
  { weight: 3, arbitrary: familyIndex.map((family) => new RetryWithinGrace(family)) },
  {
    weight: 2,
    arbitrary: fc.tuple(familyIndex, fc.integer({ min: 1, max: 20_000 })).map(([family, ms]) => new ReuseAfterGrace(family, ms)),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(familyIndex, fc.integer({ min: 2, max: 4 })).map(([family, back]) => new ReuseAncestor(family, back)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(familyIndex, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5_000 }))
      .map(([family, back, ms]) => new StaleRefresh(family, back, ms)),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(familyIndex, fc.integer({ min: 2, max: 8 })).map(([family, n]) => new ConcurrentRefresh(family, n)),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(familyIndex, fc.integer({ min: 0, max: 2 })).map(([family, back]) => new Authenticate(family, back)),
  },
  { weight: 1, arbitrary: fc.tuple(familyIndex, fc.integer({ min: 0, max: 1 })).map(([family, back]) => new Logout(family, back)) },
  { weight: 2, arbitrary: fc.constant(null).map(() => new Replay()) },
  { weight: 4, arbitrary: advanceMs.map((ms) => new AdvanceClock(ms)) },
  { weight: 1, arbitrary: fc.constant(null).map(() => new CheckLiveSessions()) },
);

/** Up to MAX_COMMANDS commands, the whole range used (not fast-check's small default size). */
const commandSequences = fc.commands([command], { maxCommands: MAX_COMMANDS, size: 'max' });

/** Runs the command sequences against the stores `makeReal` makes, one fresh store per sequence. */
async function checkAgainstModel(makeReal: () => Promise<Real>): Promise<void> {
  // The model relies on these: a successor outlives its grace, and no sequence outlasts the retention.
  expect(TTL_MS).toBeGreaterThan(GRACE_MS);
  expect(MAX_COMMANDS * MAX_STEP_MS).toBeLessThan(EXPIRED_SESSION_RETENTION_MS);
  await fc.assert(
    fc.asyncProperty(commandSequences, async (commands) => {
      const real = await makeReal();
      // Every sequence starts with a login (so that no command waits for one) and ends with the
      // invariant check, whatever it did in between.
      await fc.asyncModelRun(async () => ({ model: newModel(), real }), [new Issue(0), ...commands, new CheckLiveSessions()]);
    }),
    { numRuns: NUM_RUNS },
  );
}

// ---------------------------------------------------------------------------------------------
// The stores
// ---------------------------------------------------------------------------------------------

describe('rotation model: MemoryStore', () => {
  it(
    `agrees with the reference model over ${NUM_RUNS} random command sequences`,
    async () => {
      await checkAgainstModel(async () => {
        const store = new MemoryStore();
        return { store, users: new MemoryUserRepository(USERS), liveSessions: async (now) => store.liveSessions(now) };
      });
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe('rotation model: RedisStore (ioredis)', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis({ host: '127.0.0.1', port: server.port });
  });

  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  /** Every hash `caa:{T}:s:<apiKey>` with `st` = live and `exp` after `now`. */
  const liveSessions = (now: number): Promise<Session[]> => unexpiredLiveSessionsInRedis(ioredisRaw(redis), 'caa:', now);

  it(
    `agrees with the reference model over ${NUM_RUNS} random command sequences`,
    async () => {
      await checkAgainstModel(async () => {
        await redis.flushall();
        return { store: new RedisStore({ client: redis }), users: new MemoryUserRepository(USERS), liveSessions };
      });
    },
    PROPERTY_TIMEOUT_MS,
  );
});
