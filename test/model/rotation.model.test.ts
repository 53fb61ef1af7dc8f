/**
 * Model-based tests of key rotation and of a user's sessions. fast-check generates random sequences
 * of commands — logins of a few users, with and without metadata;
 * refreshes with the live pair, with its predecessor and with older ancestors, concurrent bursts
 * (one clock, or skewed clocks whose losers may read theirs before the winner's); authentications
 * and logouts with the live pair and with old ones; the live pair used and then the predecessor
 * presented; requests at and past grace, at the end of a pair's lifetime, delayed in flight (signed
 * before the clock, around the rotation tolerance, at the window's edge), reaching a server whose
 * clock lags behind a rotation; refreshes while the user is gone; unknown keys; replays of accepted
 * refresh headers; clock jumps across tolerance, grace, expiry and the absolute lifetime (with the
 * family kept alive up to it, or not); a user's listing (with the caller's session marked),
 * "log out everywhere", "log out other devices" and "sign out this device" (any user's session, or
 * an unknown id); and a check of the records, the live sessions and every user's listing the store
 * really holds — and runs them through the use cases against MemoryStore
 * and against RedisStore (ioredis, a real redis-server, `clock: 'caller'`). After every command
 * the outcome must be exactly what a small pure reference model of the rotation rules says: the
 * status, message and code of the CaaError, or the exact pair or session returned.
 *
 * The reference model is the rules of the spec and of src/stores/session-store.ts, not a copy of a
 * store. A store keeps a live record for `EXPIRED_SESSION_RETENTION_MS` (a day) past its `expireIn`,
 * and one sequence spans well under a day of clock, so live records are never forgotten within a
 * sequence; a rotated pair is forgotten when its successor expires (its family's lifetime).
 *
 * The rules as modelled, for a request signed with pair P of family F at timestamp `signedAt`,
 * reaching a server whose clock reads `now` (G = grace, 10 s; K = rotation tolerance, 2 s). Every
 * request of the model is signed with the pair's own secret, so the signature always verifies.
 * - `signedAt` outside `now ± 5 min` → 400 `TIMESTAMP_OUT_OF_WINDOW`, before anything else;
 * - F revoked (logout, reuse, user gone), P unknown, or P rotated and its successor expired
 *   (`now >= expireIn` of the successor) → 404 `APIKEY_NOT_FOUND`;
 * - P live but expired (`expireIn <= now`) → 404 `SESSION_EXPIRED`, on every endpoint;
 * - "P in grace": P is the immediate predecessor of F's live pair S, S's grace flag is unset (the
 *   store's `used`: set by a verified authenticate with S, or with P while P is in grace; being
 *   handed out by a refresh is no use), and `max(0, now − rotatedAt(P)) <= G` — a clock that reads
 *   before the rotation counts as age 0, since the loser of the compare-and-swap may have read its
 *   clock before the winner did and must still get the one successor (port rule 2);
 * - "P made before its rotation": `signedAt <= rotatedAt(P) + K` (a delayed in-flight request).
 * - F's absolute deadline is its login plus `maxLifetimeMs` (MAX_LIFETIME_MS, passed to every use
 *   case): no pair of F expires later, so a live pair at or past it is the SESSION_EXPIRED above.
 * Refresh (replay protection on), after the lookup and signature:
 * - the user of F is gone → 404 `USER_NOT_FOUND`, and F is revoked;
 * - P live → rotated to a fresh pair (same family tag, `expireIn = min(now + ttlMs, deadline)`,
 *   `issuedAt = now`, flag unset); N concurrent calls all get that one successor, rotated at the
 *   winner's clock;
 * - P rotated: in grace → exactly S; else made before → `APIKEY_NOT_FOUND`, nothing revoked;
 *   else → `TOKEN_REUSED` and F is revoked (an older ancestor too: it is never in grace);
 * - an accepted refresh header sent a second time: window, lookup (the 404s above) and user first,
 *   then 400 `REPLAYED`, nothing changed — even where the pair would now count as reused.
 * Authenticate (replay protection off): P live → its session, and S = P's flag is set (ending its
 * predecessor's grace); P rotated: in grace → `APIKEY_NOT_FOUND`, nothing revoked, but S's flag is
 * set (the old pair in use elsewhere: nobody may claim S with it any more); else made before →
 * `APIKEY_NOT_FOUND`, nothing revoked; else → `TOKEN_REUSED`, F revoked.
 * Logout: P live → F revoked, resolves with P's session; P rotated: in grace or made before → F
 * revoked, resolves with P's session (its record's); else → F revoked, rejects `TOKEN_REUSED`.
 * `lookup` answers a live record with `used: true` once the flag is set, a rotated one with its
 * successor and `rotatedAt` (what a store keeps of `used` on a tombstone is not compared), and
 * `null` for a revoked family or a forgotten pair.
 * A user's sessions: F is listed while it is neither revoked nor expired (its live pair's
 * `expireIn > now`), as `{ sessionId: familyId, userId, createdAt: login, refreshedAt: its live
 * pair's issuedAt, expireIn, metadata of the login, current }`, oldest login first (logins of one ms
 * in either order). "Log out everywhere" revokes the user's listed families and answers how many;
 * "log out other devices" the same but the kept one (which may be another user's: then all); "sign
 * out this device" is true and revokes only a listed family of that user, false for another user's,
 * one not live, or an unknown id. A family that ended by expiry is not revoked by any of them: its
 * live pair keeps answering `SESSION_EXPIRED`.
 *
 * Every sequence starts with `issue(user 0)` (family F0) and ends with `checkStore()`; a
 * counterexample printed by fast-check lists only the commands in between, and the failing
 * assertion names the request, the rule the model applied, and the family as the model sees it.
 * Families are named F0, F1, … in login order, pairs F0#0, F0#1, … in issue order, times as T0 ± ms.
 *
 * All time comes from the model's clock through `now`. Every signed request carries a timestamp no
 * other request of the run has used (the nearest free one at or after the one the command asks
 * for), and the model judges the request by that very timestamp; replay protection therefore bites
 * only in the replay command. After the runs, a list of outcomes (MUST_SEE) must have come up at
 * least once, so a generator that stops reaching the rules fails; ROTATION_MODEL_STATS=1 prints
 * how often each outcome came up.
 */

import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  DEFAULT_SKEW_MS,
  EXPIRED_SESSION_RETENTION_MS,
  FAMILY_TAG_LENGTH,
  MemoryStore,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  generateKey,
  isCaaError,
  issueSession,
  listSessions,
  refreshToken,
  revokeSession,
  revokeUserSession,
  revokeUserSessions,
  type CaaErrorCode,
  type CredentialsResponse,
  type Session,
  type SessionInfo,
  type SessionMetadata,
  type SessionRecord,
  type SessionStore,
  type User,
} from '../../src/index.js';
import { ioredisRaw, unexpiredLiveSessionsInRedis } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';
import { T0, expectCredentialsResponse, makeUser, publicPart, signedRequest, type PublicPart } from '../support/use-case-fixtures.js';

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/** A short session lifetime, so that sequences reach expiry. */
const TTL_MS = 60_000;
/**
 * A short absolute lifetime (4 pair lifetimes), passed to every use case, so that sequences reach
 * it: a family refreshed in its last 60 s gets a pair that expires at the deadline exactly.
 */
const MAX_LIFETIME_MS = 600_000;
/** The use cases run with their default grace and tolerance; the model uses the same numbers. */
const GRACE_MS = DEFAULT_GRACE_MS;
const TOLERANCE_MS = DEFAULT_ROTATION_TOLERANCE_MS;
const NUM_RUNS = 500;
const MAX_COMMANDS = 40;
/** Logins per sequence. */
const MAX_FAMILIES = 3;
/** Generous: a passing run takes a few seconds; shrinking a counterexample takes longer. */
const PROPERTY_TIMEOUT_MS = 300_000;

const USERS: readonly User[] = [
  makeUser('59573c395c2960da1aa83a08'),
  makeUser('59573c395c2960da1aa83a09', 'Ann'),
  makeUser('59573c395c2960da1aa83a0a', 'Bo'),
];

/** What a login records for the user's list of sessions (index 0: none given). */
const METADATA: readonly (SessionMetadata | undefined)[] = [
  undefined,
  { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', ip: '203.0.113.7' },
  { device: 'Pixel 8', trusted: true, build: 42, note: null },
];

/** The endpoints the model drives, and the action each is signed for. */
type Endpoint = 'refresh' | 'authenticate' | 'logout';
const ENDPOINTS: readonly Endpoint[] = ['refresh', 'authenticate', 'logout'];
const ACTION: { readonly [E in Endpoint]: string } = {
  refresh: CAA_ACTIONS.refreshToken,
  authenticate: CAA_ACTIONS.fetchMyProfile,
  logout: CAA_ACTIONS.logout,
};

/** The wire side of each code the model can expect (spec §5 and the table in src/errors.ts). */
type ExpectedCode = Extract<
  CaaErrorCode,
  'APIKEY_NOT_FOUND' | 'SESSION_EXPIRED' | 'TOKEN_REUSED' | 'REPLAYED' | 'USER_NOT_FOUND' | 'TIMESTAMP_OUT_OF_WINDOW'
>;
const WIRE: { readonly [C in ExpectedCode]: { readonly status: number; readonly message: string } } = {
  APIKEY_NOT_FOUND: { status: 404, message: 'apiKey not found' },
  SESSION_EXPIRED: { status: 404, message: 'apiKey not found' },
  TOKEN_REUSED: { status: 404, message: 'apiKey not found' },
  USER_NOT_FOUND: { status: 404, message: 'user not found' },
  REPLAYED: { status: 400, message: 'invalid signature' },
  TIMESTAMP_OUT_OF_WINDOW: { status: 400, message: 'invalid signature' },
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
  /**
   * The grace of its predecessor is over early: a verified authenticate was signed with it while
   * it was live, or with its predecessor within grace (the store's `used` flag).
   */
  used: boolean;
}

/** All sessions descended from one login. */
interface ModelFamily {
  /** `F0`, `F1`, … in login order, as the commands name them. */
  readonly name: string;
  readonly user: User;
  readonly familyId: string;
  /** The metadata of the login, as the listing must show it (`{}` when none was given). */
  readonly metadata: SessionMetadata;
  readonly chain: ModelPair[];
  /** Logged out, killed by reuse detection, its user gone at a refresh, or revoked with its user's sessions. */
  revoked: boolean;
  /** What revoked it, for messages and the tally. */
  revokedBy: string | undefined;
}

/** A refresh header that was accepted, kept for the replay command. */
interface AcceptedRefresh {
  readonly request: { headers: { authorization: string } };
  readonly stamp: number;
  readonly family: ModelFamily;
  readonly index: number;
}

/** How often each outcome came up, over all the sequences run against one store. */
type Tally = Map<string, number>;

interface Model {
  /** The server clock every use case reads, epoch ms (a lagging server reads an earlier one). */
  clock: number;
  readonly families: ModelFamily[];
  /** Every signing timestamp used so far: none is used twice. */
  readonly usedStamps: Set<number>;
  /** Every apiKey and secretKey handed out so far: a new pair must be fresh. */
  readonly issuedKeys: Set<string>;
  /** Accepted refresh headers, oldest first. */
  readonly accepted: AcceptedRefresh[];
  readonly tally: Tally;
}

function newModel(tally: Tally): Model {
  return { clock: T0, families: [], usedStamps: new Set(), issuedKeys: new Set(), accepted: [], tally };
}

/** What a request must come to. */
type Outcome =
  /** A new pair (a refresh of the live pair). */
  | { readonly kind: 'new pair' }
  /** Exactly this existing pair: handed out by a refresh, or the session authenticate/logout returns. */
  | { readonly kind: 'pair'; readonly pair: ModelPair }
  | { readonly kind: 'error'; readonly code: ExpectedCode };

/** What a request does to the family besides its answer. */
type Effect = 'none' | 'rotate' | 'mark used' | 'end grace' | 'revoke';

interface Expectation {
  readonly outcome: Outcome;
  readonly effect: Effect;
  /** The rule that applied, for messages and the tally. */
  readonly why: string;
}

const refused = (code: ExpectedCode, effect: Effect, why: string): Expectation => ({ outcome: { kind: 'error', code }, effect, why });
const answered = (pair: ModelPair, effect: Effect, why: string): Expectation => ({ outcome: { kind: 'pair', pair }, effect, why });

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

/** When the family's absolute lifetime ends: its login plus MAX_LIFETIME_MS. */
function deadlineOf(family: ModelFamily): number {
  return pairAt(family, 0).issuedAt + MAX_LIFETIME_MS;
}

/** The expiry of a pair issued to `family` at `now`: a pair lifetime on, never past the deadline. */
function expiryAt(family: ModelFamily, now: number): number {
  return Math.min(now + TTL_MS, deadlineOf(family));
}

/** Neither revoked nor expired at `now`: what the user's listing shows, and what a revocation of them counts. */
function isListed(family: ModelFamily, now: number): boolean {
  return !family.revoked && livePair(family).expireIn > now;
}

/** A rotated pair is forgotten with the lifetime of the family it served: when its successor expires. */
function isForgotten(family: ModelFamily, index: number, now: number): boolean {
  return index < liveIndex(family) && now >= pairAt(family, index + 1).expireIn;
}

/** The facts a request is judged by. */
interface RequestFacts {
  readonly endpoint: Endpoint;
  readonly family: ModelFamily;
  readonly index: number;
  /** The clock of the server the request reaches. */
  readonly now: number;
  /** The request's signed timestamp. */
  readonly signedAt: number;
  /** The user of the family is gone from the repository (refresh looks it up). */
  readonly userGone: boolean;
  /** The identical header of an accepted refresh, sent again. */
  readonly replay: boolean;
}

/** The rules (see the header comment), in the order the use cases check them. */
function judge(facts: RequestFacts): Expectation {
  const { endpoint, family, index, now, signedAt } = facts;
  if (Math.abs(now - signedAt) > DEFAULT_SKEW_MS) return refused('TIMESTAMP_OUT_OF_WINDOW', 'none', 'outside the window');
  if (family.revoked) return refused('APIKEY_NOT_FOUND', 'none', `family revoked (${family.revokedBy ?? 'unknown'})`);
  if (isForgotten(family, index, now)) return refused('APIKEY_NOT_FOUND', 'none', 'rotated, successor expired: forgotten');
  const pair = pairAt(family, index);
  const isLive = index === liveIndex(family);
  if (isLive && pair.expireIn <= now) {
    return refused('SESSION_EXPIRED', 'none', pair.expireIn === deadlineOf(family) ? 'live, at its absolute lifetime' : 'live but expired');
  }
  if (endpoint === 'refresh' && facts.userGone) return refused('USER_NOT_FOUND', 'revoke', 'user gone');
  if (facts.replay) return refused('REPLAYED', 'none', 'replayed header');
  if (isLive) {
    switch (endpoint) {
      case 'refresh':
        return { outcome: { kind: 'new pair' }, effect: 'rotate', why: 'live: rotated' };
      case 'authenticate':
        return answered(pair, pair.used ? 'none' : 'mark used', pair.used ? 'live, used before' : 'live, first use');
      case 'logout':
        return answered(pair, 'revoke', 'live: logged out');
    }
  }
  const rotatedAt = rotatedAtOf(family, index);
  const successor = pairAt(family, index + 1);
  // A server clock that reads before the rotation is age 0: the loser of a compare-and-swap may
  // have read its clock before the winner did, and it must still get the one successor.
  const age = Math.max(0, now - rotatedAt);
  const immediate = index + 1 === liveIndex(family);
  const inGrace = immediate && !successor.used && age <= GRACE_MS;
  const madeBefore = signedAt <= rotatedAt + TOLERANCE_MS;
  const which = immediate ? 'predecessor' : 'ancestor';
  const notInGrace = immediate ? (successor.used ? 'successor used' : 'past grace') : 'successor rotated';
  switch (endpoint) {
    case 'refresh':
      if (inGrace) return answered(successor, 'none', 'predecessor in grace: the same successor');
      if (madeBefore) return refused('APIKEY_NOT_FOUND', 'none', `${which} (${notInGrace}) made before its rotation`);
      return refused('TOKEN_REUSED', 'revoke', `${which} (${notInGrace}) reused`);
    case 'authenticate':
      // The old pair in use elsewhere after the rotation: nobody may claim the successor with it now.
      if (inGrace) return refused('APIKEY_NOT_FOUND', 'end grace', 'predecessor in grace: grace ends');
      if (madeBefore) return refused('APIKEY_NOT_FOUND', 'none', `${which} (${notInGrace}) made before its rotation`);
      return refused('TOKEN_REUSED', 'revoke', `${which} (${notInGrace}) reused`);
    case 'logout':
      if (inGrace) return answered(pair, 'revoke', 'predecessor in grace: logged out');
      if (madeBefore) return answered(pair, 'revoke', `${which} (${notInGrace}) made before its rotation: logged out`);
      return refused('TOKEN_REUSED', 'revoke', `${which} (${notInGrace}) reused: revoked`);
  }
}

/** The session a store holds for a pair. */
function sessionOf(family: ModelFamily, pair: ModelPair): Session {
  return {
    apiKey: pair.apiKey,
    secretKey: pair.secretKey,
    userId: family.user._id,
    expireIn: pair.expireIn,
    familyId: family.familyId,
    issuedAt: pair.issuedAt,
    createdAt: pairAt(family, 0).issuedAt,
  };
}

/** The live, unexpired sessions a store must hold: one per family neither revoked nor expired. */
function expectedLiveSessions(model: Model, now: number): Session[] {
  return model.families.filter((family) => isListed(family, now)).map((family) => sessionOf(family, livePair(family)));
}

/** What listSessions must return for `user` at `now`: its listed families, oldest login first. */
function expectedListing(model: Model, user: User, now: number, current: ModelFamily | undefined): SessionInfo[] {
  return byLogin(
    model.families
      .filter((family) => family.user === user && isListed(family, now))
      .map((family) => ({
        sessionId: family.familyId,
        userId: user._id,
        createdAt: pairAt(family, 0).issuedAt,
        refreshedAt: livePair(family).issuedAt,
        expireIn: livePair(family).expireIn,
        metadata: family.metadata,
        current: family === current,
      })),
  );
}

/** Oldest login first; logins of the same ms (the port leaves their order open) by sessionId. */
function byLogin(sessions: SessionInfo[]): SessionInfo[] {
  return [...sessions].sort((a, b) => a.createdAt - b.createdAt || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
}


/** What `lookup` must answer for pair #index at `now`: null once the pair can no longer be used. */
function expectedRecord(family: ModelFamily, index: number, now: number): SessionRecord | null {
  if (family.revoked || isForgotten(family, index, now)) return null;
  const pair = pairAt(family, index);
  const session = sessionOf(family, pair);
  if (index === liveIndex(family)) return pair.used ? { ...session, state: 'live', used: true } : { ...session, state: 'live' };
  return { ...session, state: 'rotated', successor: pairAt(family, index + 1).apiKey, rotatedAt: rotatedAtOf(family, index) };
}

/**
 * The timestamp of a new signed request: the first one at or after `wanted` that no request of
 * this run has used (so no two requests are ever the same header). The model judges the request
 * by what this returns, not by `wanted`.
 */
function takeStamp(model: Model, wanted: number): number {
  let stamp = wanted;
  while (model.usedStamps.has(stamp)) stamp++;
  model.usedStamps.add(stamp);
  return stamp;
}

function at(t: number): string {
  const offset = t - T0;
  return `T0${offset < 0 ? '−' : '+'}${Math.abs(offset)}`;
}

function label(family: ModelFamily, index: number): string {
  const back = liveIndex(family) - index;
  const which = back === 0 ? 'live pair' : back === 1 ? 'predecessor' : `${back} back`;
  return `${family.name}#${index} (${which})`;
}

/** The family as the model sees it, for failure messages. */
function describeFamily(family: ModelFamily): string {
  const pairs = family.chain.map((pair, index) => {
    const state =
      pair.rotatedAt === undefined
        ? `live, ${pair.used ? 'flag set' : 'flag unset'}`
        : `rotated at ${at(pair.rotatedAt)}${pair.used ? ' (flag was set)' : ''}`;
    return `#${index} ${state}, expires ${at(pair.expireIn)}`;
  });
  return `${family.name}${family.revoked ? ' (revoked)' : ''}: ${pairs.join('; ')}`;
}

function count(tally: Tally, key: string, n = 1): void {
  tally.set(key, (tally.get(key) ?? 0) + n);
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
function responseOf(family: ModelFamily, pair: ModelPair): Omit<CredentialsResponse, 'user'> & { user: PublicPart } {
  return {
    apiKey: pair.apiKey,
    secretKey: pair.secretKey,
    userId: family.user._id,
    expireIn: pair.expireIn,
    user: publicPart(family.user),
  };
}

/** What `expectation` looks like as an observed outcome of `endpoint` (a new pair shows as a placeholder). */
function observedOf(endpoint: Endpoint, family: ModelFamily, expectation: Expectation): Observed {
  const { outcome } = expectation;
  if (outcome.kind === 'new pair') return { resolved: '<a new pair>' };
  if (outcome.kind === 'error') return rejectionOf(outcome.code);
  return { resolved: endpoint === 'refresh' ? responseOf(family, outcome.pair) : sessionOf(family, outcome.pair) };
}

/** Fails unless a request came to `expectation` (for a new pair: to some pair, checked on adoption). */
function expectOutcome(context: string, observed: Observed, endpoint: Endpoint, family: ModelFamily, expectation: Expectation): void {
  if (expectation.outcome.kind === 'new pair' && 'resolved' in observed) return;
  expect(observed, context).toStrictEqual(observedOf(endpoint, family, expectation));
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

/** Sends `request` to `endpoint` on a server whose clock reads `now`. */
function send(real: Real, endpoint: Endpoint, request: { headers: { authorization: string } }, now: number): Promise<unknown> {
  const options = { now: () => now, maxLifetimeMs: MAX_LIFETIME_MS };
  switch (endpoint) {
    case 'refresh':
      return refreshToken(real.store, real.users, request, { ...options, ttlMs: TTL_MS });
    case 'authenticate':
      return authenticate(real.store, request, ACTION.authenticate, options);
    case 'logout':
      return revokeSession(real.store, request, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared steps
// ---------------------------------------------------------------------------------------------

/** A pair just issued at `now` (login or rotation), expiring at `expireIn`: live, flag unset. */
function newPair(body: CredentialsResponse, now: number, expireIn: number): ModelPair {
  return { apiKey: body.apiKey, secretKey: body.secretKey, issuedAt: now, expireIn, rotatedAt: undefined, used: false };
}

/** Takes a fresh pair returned by a rotation into the model. */
function adoptSuccessor(model: Model, family: ModelFamily, now: number, context: string, observed: Observed): void {
  if (!('resolved' in observed)) throw new Error(`${context}: expected a new pair, got ${JSON.stringify(observed)}`);
  const body = observed.resolved as CredentialsResponse;
  const previous = livePair(family);
  // A pair lifetime on, but never past the family's absolute lifetime.
  const expireIn = expiryAt(family, now);
  if (expireIn === deadlineOf(family)) count(model.tally, 'refresh: rotated, capped at the absolute lifetime');
  expectCredentialsResponse(body, family.user, expireIn);
  expect(body.apiKey.slice(0, FAMILY_TAG_LENGTH), `${context}: the successor keeps the family tag`).toBe(
    previous.apiKey.slice(0, FAMILY_TAG_LENGTH),
  );
  expect(model.issuedKeys.has(body.apiKey), `${context}: the successor apiKey is fresh`).toBe(false);
  expect(model.issuedKeys.has(body.secretKey), `${context}: the successor secretKey is fresh`).toBe(false);
  model.issuedKeys.add(body.apiKey);
  model.issuedKeys.add(body.secretKey);
  previous.rotatedAt = now;
  family.chain.push(newPair(body, now, expireIn));
}

/** Takes what the (already checked) outcome of a request did into the model. */
function apply(
  model: Model,
  family: ModelFamily,
  index: number,
  now: number,
  context: string,
  expectation: Expectation,
  observed: Observed,
): void {
  switch (expectation.effect) {
    case 'rotate':
      adoptSuccessor(model, family, now, context, observed);
      break;
    case 'mark used':
      pairAt(family, index).used = true;
      break;
    case 'end grace':
      pairAt(family, index + 1).used = true;
      break;
    case 'revoke':
      family.revoked = true;
      if (expectation.outcome.kind === 'error') family.revokedBy = expectation.outcome.code === 'USER_NOT_FOUND' ? 'user gone' : 'reuse';
      else family.revokedBy = 'logout';
      break;
    case 'none':
      break;
  }
}

/** How a command sends its request, beyond the pair: the server clock, the stamp it asks for. */
interface Sending {
  /** The server's clock; default the model's. */
  readonly now?: number;
  /** The signing timestamp asked for (the nearest free one is used); default `now`. */
  readonly stamp?: number;
  /** The family's user is removed from the repository for this one request. */
  readonly userGone?: boolean;
  /** Names the command in the tally: `refresh (delayed)`. */
  readonly variant?: string;
}

function requestContext(endpoint: Endpoint, family: ModelFamily, index: number, now: number, signedAt: number, model: Model): string {
  const clockNote = now === model.clock ? '' : ` (the model's clock is ${at(model.clock)})`;
  const offset = `now ${signedAt - now >= 0 ? '+' : '−'} ${Math.abs(signedAt - now)} ms`;
  return `${endpoint} with ${label(family, index)} signed at ${at(signedAt)} (${offset}), server clock ${at(now)}${clockNote}`;
}

/** One signed request with pair #index of `family`; checks its outcome and takes its effect into the model. */
async function signedCall(
  model: Model,
  real: Real,
  endpoint: Endpoint,
  family: ModelFamily,
  index: number,
  sending: Sending = {},
): Promise<void> {
  const now = sending.now ?? model.clock;
  const signedAt = takeStamp(model, sending.stamp ?? now);
  const userGone = sending.userGone ?? false;
  const expectation = judge({ endpoint, family, index, now, signedAt, userGone, replay: false });
  const request = signedRequest(pairAt(family, index), ACTION[endpoint], signedAt);
  const sent = `${requestContext(endpoint, family, index, now, signedAt, model)}${userGone ? ', its user gone' : ''}`;
  const context = `${sent}; model: ${expectation.why}; ${describeFamily(family)}`;
  if (userGone) real.users.delete(family.user._id);
  let observed: Observed;
  try {
    observed = await observe(send(real, endpoint, request, now));
  } finally {
    if (userGone) real.users.save(family.user);
  }
  expectOutcome(context, observed, endpoint, family, expectation);
  apply(model, family, index, now, context, expectation, observed);
  if (endpoint === 'refresh' && expectation.outcome.kind !== 'error') model.accepted.push({ request, stamp: signedAt, family, index });
  count(model.tally, `${endpoint}${sending.variant === undefined ? '' : ` (${sending.variant})`}: ${expectation.why}`);
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
    return `F${this.familyIndex} ${this.back === 0 ? 'live pair' : this.back === 1 ? 'predecessor' : `${this.back} back`}`;
  }
  abstract run(model: Model, real: Real): Promise<void>;
  abstract toString(): string;
}

/** Login: a new family, with the metadata METADATA[metadataIndex]. */
class Issue implements RotationCommand {
  constructor(
    readonly userIndex: number,
    readonly metadataIndex = 0,
  ) {}
  check(model: Readonly<Model>): boolean {
    return model.families.length < MAX_FAMILIES;
  }
  async run(model: Model, real: Real): Promise<void> {
    const user = USERS[this.userIndex];
    if (user === undefined) throw new Error('no such user');
    const now = model.clock;
    const name = `F${model.families.length}`;
    const metadata = METADATA[this.metadataIndex];
    const body = await issueSession(real.store, user, { now: () => now, ttlMs: TTL_MS, maxLifetimeMs: MAX_LIFETIME_MS, metadata });
    expectCredentialsResponse(body, user, now + TTL_MS);
    expect(model.issuedKeys.has(body.apiKey), `${name}: a fresh apiKey`).toBe(false);
    expect(model.issuedKeys.has(body.secretKey), `${name}: a fresh secretKey`).toBe(false);
    model.issuedKeys.add(body.apiKey);
    model.issuedKeys.add(body.secretKey);
    // The use cases do not expose the family id; the store's record names it.
    const found = await real.store.lookup(body.apiKey, now);
    if (found.record === null) throw new Error(`${name}: the new session is not in the store`);
    const familyId = found.record.familyId;
    expect(model.families.some((family) => family.familyId === familyId), `${name}: a new family id`).toBe(false);
    const pair = newPair(body, now, now + TTL_MS);
    const family: ModelFamily = {
      name,
      user,
      familyId,
      metadata: metadata ?? {},
      chain: [pair],
      revoked: false,
      revokedBy: undefined,
    };
    expect(found, `${name}: the stored record`).toStrictEqual({ record: { ...sessionOf(family, pair), state: 'live' } });
    model.families.push(family);
    count(model.tally, 'issue');
  }
  toString(): string {
    return `issue(user ${this.userIndex}${this.metadataIndex === 0 ? '' : `, metadata ${this.metadataIndex}`})`;
  }
}

/** A request on `endpoint` with the live pair (back 0) or an old one, signed now, at the model's clock. */
class Call extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    back: number,
  ) {
    super(familyIndex, back);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await signedCall(model, real, this.endpoint, family, index);
  }
  toString(): string {
    return `${this.endpoint}(${this.pairName()})`;
  }
}

/** The clock moves to `extraMs` past the predecessor's grace (0: its last instant), then a request with it. */
class AfterGrace extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    readonly extraMs: number,
  ) {
    super(familyIndex, 1);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    model.clock = Math.max(model.clock, rotatedAtOf(family, index) + GRACE_MS + this.extraMs);
    await signedCall(model, real, this.endpoint, family, index, { variant: 'at/after grace' });
  }
  toString(): string {
    return `${this.endpoint}AfterGrace(${this.pairName()}, clock ≥ its rotation + ${GRACE_MS} + ${this.extraMs} ms)`;
  }
}

/**
 * The clock moves to `offsetMs` from the end of a pair's lifetime, then a request with it: for the
 * live pair its own `expireIn` (expiry), for a rotated one its successor's (when it is forgotten).
 */
class AtLifetimeEnd extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    back: number,
    readonly offsetMs: number,
  ) {
    super(familyIndex, back);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    const end = pairAt(family, this.back === 0 ? index : index + 1).expireIn;
    model.clock = Math.max(model.clock, end + this.offsetMs);
    await signedCall(model, real, this.endpoint, family, index, { variant: 'at lifetime end' });
  }
  toString(): string {
    const sign = this.offsetMs < 0 ? '−' : '+';
    const end = this.back === 0 ? 'its expiry' : "its successor's expiry";
    return `${this.endpoint}AtLifetimeEnd(${this.pairName()}, clock ≥ ${end} ${sign} ${Math.abs(this.offsetMs)} ms)`;
  }
}

/** A delayed in-flight request: signed `delayMs` before the model's clock, any pair. */
class Delayed extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    back: number,
    readonly delayMs: number,
  ) {
    super(familyIndex, back);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await signedCall(model, real, this.endpoint, family, index, { stamp: model.clock - this.delayMs, variant: 'delayed' });
  }
  toString(): string {
    return `${this.endpoint}Delayed(${this.pairName()}, signed ${this.delayMs} ms before the clock)`;
  }
}

/**
 * A request with a rotated pair signed at `offsetMs` from the end of its rotation's tolerance
 * (`rotatedAt + K + offsetMs`): on either side of "made before its rotation". Most of these are
 * signed before the clock (delayed); a few after it (a client clock ahead, within the window).
 */
class AroundTolerance extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    back: number,
    readonly offsetMs: number,
  ) {
    super(familyIndex, back);
  }
  override check(model: Readonly<Model>): boolean {
    return this.back >= 1 && super.check(model);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    const stamp = rotatedAtOf(family, index) + TOLERANCE_MS + this.offsetMs;
    await signedCall(model, real, this.endpoint, family, index, { stamp, variant: 'around tolerance' });
  }
  toString(): string {
    const sign = this.offsetMs < 0 ? '−' : '+';
    const signed = `signed at its rotation + ${TOLERANCE_MS} ${sign} ${Math.abs(this.offsetMs)} ms`;
    return `${this.endpoint}AroundTolerance(${this.pairName()}, ${signed})`;
  }
}

/**
 * A rotated pair reaches a server whose clock lags `earlyMs` behind its rotation (another app
 * server, clock 'caller'), signed `leadMs` after that server's clock. Only while the pair is
 * remembered at the model's clock: a store may drop a forgotten record for good, so a clock sent
 * back before that is no test.
 */
class LaggingServer extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    back: number,
    readonly earlyMs: number,
    readonly leadMs: number,
  ) {
    super(familyIndex, back);
  }
  override check(model: Readonly<Model>): boolean {
    if (this.back < 1 || !super.check(model)) return false;
    const family = familyAt(model, this.familyIndex);
    return family !== undefined && !isForgotten(family, liveIndex(family) - this.back, model.clock);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    const now = rotatedAtOf(family, index) - this.earlyMs;
    await signedCall(model, real, this.endpoint, family, index, { now, stamp: now + this.leadMs, variant: 'lagging server' });
  }
  toString(): string {
    const clocks = `server clock = its rotation − ${this.earlyMs} ms, signed ${this.leadMs} ms after it`;
    return `${this.endpoint}OnLaggingServer(${this.pairName()}, ${clocks})`;
  }
}

/**
 * The client uses its live pair (a verified authenticate: grace ends), the clock moves `afterMs`,
 * then a request on `endpoint` with the predecessor — a thief holding the old pair, or a delayed
 * request of the client's own: made before the rotation or reused, depending on when it was signed.
 */
class SuccessorUsedThenPredecessor extends PairCommand {
  constructor(
    readonly endpoint: Endpoint,
    familyIndex: number,
    readonly afterMs: number,
  ) {
    super(familyIndex, 1);
  }
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await signedCall(model, real, 'authenticate', family, index + 1, { variant: 'successor used' });
    model.clock += this.afterMs;
    await signedCall(model, real, this.endpoint, family, index, { variant: 'successor used' });
  }
  toString(): string {
    return `successorUsedThen(${this.endpoint} with ${this.pairName()}, ${this.afterMs} ms after the use)`;
  }
}

/** A refresh while the family's user is gone from the repository (put back afterwards). */
class RefreshUserGone extends PairCommand {
  async run(model: Model, real: Real): Promise<void> {
    const { family, index } = this.target(model);
    await signedCall(model, real, 'refresh', family, index, { userGone: true, variant: 'user gone' });
  }
  toString(): string {
    return `refreshWhileUserGone(${this.pairName()})`;
  }
}

/**
 * N concurrent refreshes of the live pair, each with a timestamp of its own, request i reaching a
 * server whose clock reads `offsets[i]` ms past the model's (all 0: one clock). Whichever wins,
 * every caller gets its one successor — the losers whose clock read before the winner's too.
 */
class ConcurrentRefresh implements RotationCommand {
  constructor(
    readonly familyIndex: number,
    readonly offsets: readonly number[],
  ) {}
  /** Every request must come to the same judgement: no burst straddles the live pair's expiry. */
  check(model: Readonly<Model>): boolean {
    const family = familyAt(model, this.familyIndex);
    if (family === undefined) return false;
    const expireIn = livePair(family).expireIn;
    const nows = this.offsets.map((offset) => model.clock + offset);
    return nows.every((now) => now < expireIn) || nows.every((now) => now >= expireIn);
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    const index = liveIndex(family);
    const nows = this.offsets.map((offset) => model.clock + offset);
    const stamps = nows.map((now) => takeStamp(model, now));
    const expectations = nows.map((now, i) =>
      judge({ endpoint: 'refresh', family, index, now, signedAt: stamps[i] ?? now, userGone: false, replay: false }),
    );
    const expectation = expectations[0];
    if (expectation === undefined) throw new Error('no request');
    expect(expectations, 'model: one judgement for the whole burst').toStrictEqual(expectations.map(() => expectation));
    const clocks = nows.map((now) => at(now)).join(', ');
    const burst = `${nows.length} concurrent refreshes with ${label(family, index)}, server clocks ${clocks}`;
    const context = `${burst}; model: ${expectation.why}; ${describeFamily(family)}`;
    const requests = stamps.map((stamp) => signedRequest(pairAt(family, index), ACTION.refresh, stamp));
    const results = await Promise.allSettled(requests.map((request, i) => send(real, 'refresh', request, nows[i] ?? model.clock)));
    const observed = results.map(observeSettled);
    const first = observed[0];
    if (first === undefined) throw new Error('no request');
    // One successor whatever the concurrency: every caller gets exactly the first caller's answer.
    expect(observed, `${context}: every caller gets the same answer`).toStrictEqual(observed.map(() => first));
    expectOutcome(context, first, 'refresh', family, expectation);
    const shape = this.offsets.every((offset) => offset === 0) ? 'one clock' : 'skewed clocks';
    if (expectation.outcome.kind === 'new pair' && 'resolved' in first) {
      // The winner rotated at its own clock: the successor's issuedAt says which caller won (its
      // expireIn cannot, once it is capped at the absolute lifetime).
      const body = first.resolved as CredentialsResponse;
      const { record } = await real.store.lookup(body.apiKey, model.clock);
      const wonAt = record?.issuedAt ?? Number.NaN;
      expect(nows, `${context}: the successor was issued at the winner's now`).toContain(wonAt);
      if (nows.some((now) => now < wonAt)) count(model.tally, 'refresh (concurrent): a loser read its clock before the winner');
      adoptSuccessor(model, family, wonAt, context, first);
    } else {
      apply(model, family, index, model.clock, context, expectation, first);
    }
    if (expectation.outcome.kind !== 'error') {
      requests.forEach((request, i) => model.accepted.push({ request, stamp: stamps[i] ?? model.clock, family, index }));
    }
    model.clock = Math.max(model.clock, ...nows);
    count(model.tally, `refresh (concurrent, ${shape}): ${expectation.why}`);
  }
  toString(): string {
    const clocks = this.offsets.every((offset) => offset === 0) ? '' : `, server clocks +${this.offsets.join('/+')} ms`;
    return `concurrentRefresh(F${this.familyIndex} live pair ×${this.offsets.length}${clocks})`;
  }
}

/** The identical header of an accepted refresh, sent again (`pick` counts back from the latest). */
class Replay implements RotationCommand {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.accepted.length > 0;
  }
  async run(model: Model, real: Real): Promise<void> {
    const chosen = model.accepted[model.accepted.length - 1 - (this.pick % model.accepted.length)];
    if (chosen === undefined) throw new Error('model: nothing to replay');
    const { family, index, request, stamp } = chosen;
    const now = model.clock;
    const expectation = judge({ endpoint: 'refresh', family, index, now, signedAt: stamp, userGone: false, replay: true });
    const replay = `replay of the refresh header of ${label(family, index)} signed at ${at(stamp)}, at ${at(now)}`;
    const context = `${replay}; model: ${expectation.why}; ${describeFamily(family)}`;
    const observed = await observe(send(real, 'refresh', request, now));
    expectOutcome(context, observed, 'refresh', family, expectation);
    apply(model, family, index, now, context, expectation, observed);
    count(model.tally, `refresh (replay): ${expectation.why}`);
  }
  toString(): string {
    return `replayAcceptedRefresh(${this.pick} back)`;
  }
}

/** A request signed with a pair no store ever issued. */
class UnknownKey implements RotationCommand {
  constructor(readonly endpoint: Endpoint) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const now = model.clock;
    const pair = { apiKey: generateKey(), secretKey: generateKey() };
    const request = signedRequest(pair, ACTION[this.endpoint], takeStamp(model, now));
    const observed = await observe(send(real, this.endpoint, request, now));
    expect(observed, `${this.endpoint} with an unknown pair at ${at(now)}`).toStrictEqual(rejectionOf('APIKEY_NOT_FOUND'));
    count(model.tally, `${this.endpoint}: unknown pair`);
  }
  toString(): string {
    return `${this.endpoint}(unknown pair)`;
  }
}

/**
 * The clock moves to `offsetMs` from F`familyIndex`'s absolute deadline (its login plus
 * MAX_LIFETIME_MS), then a request with its live pair. With `keepAlive`, the client first refreshes
 * 1 ms before each expiry until its pair is capped at the deadline: such a family works up to the
 * last ms before the deadline and is SESSION_EXPIRED from it on.
 */
class AtAbsoluteLifetime implements RotationCommand {
  constructor(
    readonly endpoint: Endpoint,
    readonly familyIndex: number,
    readonly offsetMs: number,
    readonly keepAlive: boolean,
  ) {}
  check(model: Readonly<Model>): boolean {
    return familyAt(model, this.familyIndex) !== undefined;
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    const deadline = deadlineOf(family);
    // At most MAX_LIFETIME_MS / (TTL_MS − 1) refreshes reach the cap; the bound only guards the loop.
    for (let step = 0; this.keepAlive && step < 20 && isListed(family, model.clock) && livePair(family).expireIn < deadline; step++) {
      model.clock = Math.max(model.clock, livePair(family).expireIn - 1);
      await signedCall(model, real, 'refresh', family, liveIndex(family), { variant: 'keep alive' });
    }
    model.clock = Math.max(model.clock, deadline + this.offsetMs);
    const capped = !family.revoked && livePair(family).expireIn === deadline;
    if (capped) count(model.tally, `absolute lifetime: a capped pair used ${model.clock < deadline ? 'before' : 'at or after'} its deadline`);
    await signedCall(model, real, this.endpoint, family, liveIndex(family), { variant: 'at absolute lifetime' });
  }
  toString(): string {
    const sign = this.offsetMs < 0 ? '−' : '+';
    const kept = this.keepAlive ? 'kept alive, then ' : '';
    return `${this.endpoint}AtAbsoluteLifetime(F${this.familyIndex} live pair, ${kept}clock ≥ its login + ${MAX_LIFETIME_MS} ${sign} ${Math.abs(this.offsetMs)} ms)`;
  }
}

/**
 * The client keeps its session alive: `steps` times, the clock moves `stepMs` (under a pair's
 * lifetime) and the live pair is refreshed. Chains that run into the absolute lifetime.
 */
class KeepAlive implements RotationCommand {
  constructor(
    readonly familyIndex: number,
    readonly steps: number,
    readonly stepMs: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    return familyAt(model, this.familyIndex) !== undefined;
  }
  async run(model: Model, real: Real): Promise<void> {
    const family = requireFamily(model, this.familyIndex);
    for (let step = 0; step < this.steps; step++) {
      model.clock += this.stepMs;
      await signedCall(model, real, 'refresh', family, liveIndex(family), { variant: 'keep alive' });
    }
  }
  toString(): string {
    return `keepAlive(F${this.familyIndex}, ${this.steps} × refresh ${this.stepMs} ms apart)`;
  }
}

/** The family F`index` names, if the sequence has one (a command may name one not logged in yet). */
function optionalFamily(model: Readonly<Model>, index: number | undefined): ModelFamily | undefined {
  return index === undefined ? undefined : familyAt(model, index);
}

function requireUser(index: number): User {
  const user = USERS[index];
  if (user === undefined) throw new Error(`no user ${index}`);
  return user;
}

/** Compares a listing with the model's: oldest login first, logins of one ms in either order. */
function expectListing(context: string, actual: readonly SessionInfo[], expected: SessionInfo[]): void {
  const logins = actual.map((info) => info.createdAt);
  expect(logins, `${context}: oldest login first`).toStrictEqual([...logins].sort((a, b) => a - b));
  expect(byLogin([...actual]), context).toStrictEqual(expected);
}

function describeUser(model: Readonly<Model>, user: User): string {
  const families = model.families.filter((family) => family.user === user);
  return families.length === 0 ? 'no families' : families.map(describeFamily).join(' | ');
}

/** listSessions of user #userIndex, the caller's session F`currentIndex` (any user's, or none). */
class ListSessions implements RotationCommand {
  constructor(
    readonly userIndex: number,
    readonly currentIndex: number | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const user = requireUser(this.userIndex);
    const now = model.clock;
    const current = optionalFamily(model, this.currentIndex);
    const expected = expectedListing(model, user, now, current);
    const actual = await listSessions(real.store, user._id, { now: () => now, maxLifetimeMs: MAX_LIFETIME_MS, current: current?.familyId });
    expectListing(`listSessions(user ${this.userIndex}) at ${at(now)}; ${describeUser(model, user)}`, actual, expected);
    const hidden = model.families.filter((family) => family.user === user && !family.revoked && !isListed(family, now)).length;
    count(model.tally, `listSessions: ${expected.length === 0 ? 'none' : 'some'} listed`);
    if (hidden > 0) count(model.tally, 'listSessions: an expired family left out');
    if (expected.some((info) => info.current)) count(model.tally, 'listSessions: the current one marked');
  }
  toString(): string {
    return `listSessions(user ${this.userIndex}${this.currentIndex === undefined ? '' : `, current F${this.currentIndex}`})`;
  }
}

/**
 * revokeUserSessions of user #userIndex: all ("log out everywhere"), or all but F`exceptIndex`
 * ("log out other devices"; any user's family). The count is what was listed; afterwards those
 * families are revoked, the kept one untouched.
 */
class RevokeUserSessions implements RotationCommand {
  constructor(
    readonly userIndex: number,
    readonly exceptIndex: number | undefined,
    /** Name the kept session by its Session (what authenticate returns) rather than its id. */
    readonly exceptAsSession: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const user = requireUser(this.userIndex);
    const now = model.clock;
    const except = optionalFamily(model, this.exceptIndex);
    const targets = model.families.filter((family) => family.user === user && family !== except && isListed(family, now));
    const context = `revokeUserSessions(user ${this.userIndex}${except === undefined ? '' : `, except ${except.name}`}) at ${at(now)}; ${describeUser(model, user)}`;
    const ref = except === undefined ? undefined : this.exceptAsSession ? { familyId: except.familyId } : except.familyId;
    const count_ = await observe(revokeUserSessions(real.store, user._id, { now: () => now, except: ref }));
    expect(count_, context).toStrictEqual({ resolved: targets.length });
    for (const family of targets) {
      family.revoked = true;
      family.revokedBy = 'user sessions';
    }
    const scope = except === undefined ? 'all' : 'except';
    count(model.tally, `revokeUserSessions (${scope}): ${targets.length === 0 ? 'none' : 'some'} revoked`);
    if (except !== undefined && except.user === user && isListed(except, now)) count(model.tally, 'revokeUserSessions: the kept one left live');
  }
  toString(): string {
    const kept = this.exceptIndex === undefined ? '' : `, except F${this.exceptIndex}${this.exceptAsSession ? ' (as a Session)' : ''}`;
    return `revokeUserSessions(user ${this.userIndex}${kept})`;
  }
}

/** revokeUserSession of user #userIndex and F`targetIndex`'s id (any user's), or an id no store issued. */
class RevokeUserSession implements RotationCommand {
  constructor(
    readonly userIndex: number,
    readonly targetIndex: number | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const user = requireUser(this.userIndex);
    const now = model.clock;
    const target = optionalFamily(model, this.targetIndex);
    const sessionId = target?.familyId ?? generateKey();
    const mine = target !== undefined && target.user === user;
    const revokes = mine && isListed(target, now);
    const context = `revokeUserSession(user ${this.userIndex}, ${target?.name ?? 'an unknown id'}) at ${at(now)}; ${target === undefined ? '' : describeFamily(target)}`;
    const observed = await observe(revokeUserSession(real.store, user._id, sessionId, { now: () => now }));
    expect(observed, context).toStrictEqual({ resolved: revokes });
    if (revokes) {
      target.revoked = true;
      target.revokedBy = 'user sessions';
    }
    const why = revokes ? 'revoked' : target === undefined ? 'unknown id: false' : mine ? 'not live: false' : "another user's session: false";
    count(model.tally, `revokeUserSession: ${why}`);
  }
  toString(): string {
    return `revokeUserSession(user ${this.userIndex}, ${this.targetIndex === undefined ? 'unknown id' : `F${this.targetIndex}`})`;
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
 * What the store really holds, read behind the use cases' back: every family neither revoked nor
 * expired has exactly one live session, its live pair, and no other live unexpired session exists;
 * and `lookup` of every pair the model knows answers exactly its record (live, with `used` once
 * used; rotated, with its successor and rotation time; null once revoked or forgotten).
 */
class CheckStore implements RotationCommand {
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
    for (const family of model.families) {
      for (let index = 0; index < family.chain.length; index++) {
        const found = await real.store.lookup(pairAt(family, index).apiKey, now);
        // `used` is documented for live records only; what a store keeps of it on a tombstone is its own affair.
        const record = found.record?.state === 'rotated' ? withoutUsed(found.record) : found.record;
        expect({ ...found, record }, `lookup of ${label(family, index)} at ${at(now)}; ${describeFamily(family)}`).toStrictEqual({
          record: expectedRecord(family, index, now),
        });
      }
    }
    // Every user's listing: exactly the families neither revoked nor expired (the index lost none).
    for (const [userIndex, user] of USERS.entries()) {
      const actual = await listSessions(real.store, user._id, { now: () => now, maxLifetimeMs: MAX_LIFETIME_MS });
      expectListing(`listing of user ${userIndex} at ${at(now)}; ${describeUser(model, user)}`, actual, expectedListing(model, user, now, undefined));
    }
    count(model.tally, 'checkStore');
  }
  toString(): string {
    return 'checkStore()';
  }
}

function withoutUsed(record: SessionRecord): SessionRecord {
  const { used: _used, ...rest } = record;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

/** Mostly F0 (every sequence has it), so that few commands are skipped for want of a family. */
const familyIndex = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.constant(1) },
  { weight: 1, arbitrary: fc.constant(2) },
);
/** Mostly user 0 (F0's): logins and listings find one user with several sessions. */
const userIndex = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: USERS.length - 1 }) },
);
/** Any user alike: revocations of user 0's sessions end F0, which most commands use. */
const anyUser = fc.nat({ max: USERS.length - 1 });
/** A family a session-management command names (the caller's, the kept one, the target), or none. */
const namedFamily = fc.option(familyIndex, { nil: undefined, freq: 4 });
const endpoint = fc.constantFrom(...ENDPOINTS);

/** The longest advance: past a pair's expiry. */
const MAX_ADVANCE_MS = TTL_MS + 30_000;
/** Refreshes of one keepAlive, each at most a pair lifetime after the last. */
const MAX_KEEP_ALIVE_STEPS = 4;
/**
 * The most one command moves the clock: an advance, a keepAlive, or a jump to a family's absolute
 * deadline (at most MAX_LIFETIME_MS past a login in this sequence, plus 5 s).
 */
const MAX_STEP_MS = Math.max(MAX_ADVANCE_MS, MAX_KEEP_ALIVE_STEPS * TTL_MS, MAX_LIFETIME_MS + 5_000);

/** Small steps, the tolerance and grace boundaries, past grace, the expiry boundary, past expiry. */
const advanceMs = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3_000 }) },
  { weight: 2, arbitrary: fc.constantFrom(TOLERANCE_MS - 1, TOLERANCE_MS, TOLERANCE_MS + 1) },
  { weight: 2, arbitrary: fc.constantFrom(GRACE_MS - 1, GRACE_MS, GRACE_MS + 1) },
  { weight: 2, arbitrary: fc.integer({ min: GRACE_MS + 1, max: 30_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(TTL_MS - 1, TTL_MS, TTL_MS + 1) },
  { weight: 1, arbitrary: fc.integer({ min: TTL_MS, max: MAX_ADVANCE_MS }) },
);

/** How long a delayed request was in flight: short, around the tolerance, long, at the window's edge. */
const delayMs = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 3_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 3_000, max: 60_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(DEFAULT_SKEW_MS, DEFAULT_SKEW_MS + 1) },
);

/** Around the end of the tolerance: its edges, and a few seconds either side (mostly before). */
const toleranceOffsetMs = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(-1, 0, 1) },
  { weight: 3, arbitrary: fc.integer({ min: -8_000, max: 3_000 }) },
);

/** One command, weighted towards what makes long chains and hits the rotation rules. */
const command: fc.Arbitrary<RotationCommand> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(userIndex, fc.nat({ max: METADATA.length - 1 }))
      .map(([user, metadata]): RotationCommand => new Issue(user, metadata)),
  },
  { weight: 1, arbitrary: fc.tuple(userIndex, namedFamily).map(([user, current]) => new ListSessions(user, current)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(anyUser, namedFamily, fc.boolean())
      .map(([user, except, asSession]) => new RevokeUserSessions(user, except, asSession)),
  },
  { weight: 1, arbitrary: fc.tuple(anyUser, namedFamily).map(([user, target]) => new RevokeUserSession(user, target)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        endpoint,
        familyIndex,
        fc.oneof({ weight: 3, arbitrary: fc.constantFrom(-1, 0, 1) }, { weight: 1, arbitrary: fc.integer({ min: -TTL_MS, max: 5_000 }) }),
        fc.boolean(),
      )
      .map(([what, family, ms, keepAlive]) => new AtAbsoluteLifetime(what, family, ms, keepAlive)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(familyIndex, fc.integer({ min: 1, max: MAX_KEEP_ALIVE_STEPS }), fc.integer({ min: 20_000, max: TTL_MS - 1 }))
      .map(([family, steps, ms]) => new KeepAlive(family, steps, ms)),
  },
  { weight: 7, arbitrary: familyIndex.map((family) => new Call('refresh', family, 0)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(familyIndex, fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) }))
      .map(([family, back]) => new Call('refresh', family, back)),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(familyIndex, fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) }))
      .map(([family, back]) => new Call('authenticate', family, back)),
  },
  { weight: 1, arbitrary: fc.tuple(familyIndex, fc.integer({ min: 0, max: 2 })).map(([family, back]) => new Call('logout', family, back)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(endpoint, familyIndex, fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 20_000 })))
      .map(([what, family, ms]) => new AfterGrace(what, family, ms)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(endpoint, familyIndex, fc.integer({ min: 0, max: 2 }), fc.constantFrom(-1, 0, 1))
      .map(([what, family, back, ms]) => new AtLifetimeEnd(what, family, back, ms)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(endpoint, familyIndex, fc.integer({ min: 0, max: 2 }), delayMs)
      .map(([what, family, back, ms]) => new Delayed(what, family, back, ms)),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(endpoint, familyIndex, fc.integer({ min: 1, max: 2 }), toleranceOffsetMs)
      .map(([what, family, back, ms]) => new AroundTolerance(what, family, back, ms)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(endpoint, familyIndex, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 10_000 }))
      .map(([what, family, back, early, lead]) => new LaggingServer(what, family, back, early, lead)),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        endpoint,
        familyIndex,
        fc.oneof(fc.constantFrom(0, TOLERANCE_MS - 1, TOLERANCE_MS, TOLERANCE_MS + 1), fc.integer({ min: 0, max: 6_000 })),
      )
      .map(([what, family, ms]) => new SuccessorUsedThenPredecessor(what, family, ms)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(familyIndex, fc.integer({ min: 0, max: 1 })).map(([family, back]) => new RefreshUserGone(family, back)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        familyIndex,
        fc.oneof(
          fc.integer({ min: 2, max: 8 }).map((n) => Array.from({ length: n }, () => 0)),
          fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 2, maxLength: 6 }),
        ),
      )
      .map(([family, offsets]) => new ConcurrentRefresh(family, offsets)),
  },
  { weight: 2, arbitrary: fc.nat({ max: 3 }).map((pick) => new Replay(pick)) },
  { weight: 1, arbitrary: endpoint.map((what) => new UnknownKey(what)) },
  { weight: 5, arbitrary: advanceMs.map((ms) => new AdvanceClock(ms)) },
  { weight: 1, arbitrary: fc.constant(null).map(() => new CheckStore()) },
);

/** Up to MAX_COMMANDS commands, the whole range used (not fast-check's small default size). */
const commandSequences = fc.commands([command], { maxCommands: MAX_COMMANDS, size: 'max' });

/** The outcomes a run of NUM_RUNS sequences must reach, or the generator has stopped testing the rules. */
const MUST_SEE: readonly string[] = [
  'refresh: live: rotated',
  'refresh: a loser read its clock before the winner',
  'refresh: predecessor in grace: the same successor',
  'refresh: predecessor (successor used) made before its rotation',
  'refresh: predecessor (successor used) reused',
  'refresh: predecessor (past grace) reused',
  'refresh: ancestor (successor rotated) made before its rotation',
  'refresh: rotated, successor expired: forgotten',
  'refresh: replayed header',
  'refresh: user gone',
  'authenticate: live, first use',
  'authenticate: predecessor in grace: grace ends',
  'authenticate: predecessor (successor used) made before its rotation',
  'authenticate: predecessor (successor used) reused',
  'authenticate: predecessor (past grace) reused',
  'logout: live: logged out',
  'logout: predecessor in grace: logged out',
  'logout: predecessor (successor used) made before its rotation: logged out',
  'logout: predecessor (past grace) reused: revoked',
  'refresh: rotated, capped at the absolute lifetime',
  'absolute lifetime: a capped pair used before its deadline',
  'absolute lifetime: a capped pair used at or after its deadline',
  'refresh: live, at its absolute lifetime',
  'authenticate: live, at its absolute lifetime',
  'refresh: family revoked (user sessions)',
  'authenticate: family revoked (user sessions)',
  'listSessions: some listed',
  'listSessions: an expired family left out',
  'listSessions: the current one marked',
  'revokeUserSessions: some revoked',
  'revokeUserSessions: the kept one left live',
  'revokeUserSession: revoked',
  'revokeUserSession: not live: false',
  "revokeUserSession: another user's session: false",
  'revokeUserSession: unknown id: false',
];

/** Runs the command sequences against the stores `makeReal` makes, one fresh store per sequence. */
async function checkAgainstModel(storeName: string, makeReal: () => Promise<Real>): Promise<void> {
  // The model relies on these: a successor outlives its grace, and no sequence outlasts the retention.
  expect(TTL_MS).toBeGreaterThan(GRACE_MS);
  expect(GRACE_MS).toBeGreaterThan(TOLERANCE_MS);
  expect(MAX_COMMANDS * MAX_STEP_MS).toBeLessThan(EXPIRED_SESSION_RETENTION_MS);
  const tally: Tally = new Map();
  await fc.assert(
    fc.asyncProperty(commandSequences, async (commands) => {
      const real = await makeReal();
      // Every sequence starts with a login (so that no command waits for one) and ends with the
      // check of the store, whatever it did in between.
      await fc.asyncModelRun(async () => ({ model: newModel(tally), real }), [new Issue(0), ...commands, new CheckStore()]);
    }),
    { numRuns: NUM_RUNS },
  );
  if (process.env.ROTATION_MODEL_STATS !== undefined) {
    const rows = [...tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => `${String(n).padStart(6)}  ${key}`);
    const coarse = new Map<string, number>();
    for (const [key, n] of tally) count(coarse, key.replace(/^(\w+) \([^)]*\): /, '$1: '), n);
    const coarseRows = [...coarse].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => `${String(n).padStart(6)}  ${key}`);
    console.log(
      `rotation model, ${storeName}, ${NUM_RUNS} sequences:\n${rows.join('\n')}\nby endpoint and rule:\n${coarseRows.join('\n')}`,
    );
  }
  // The variant of a command (delayed, concurrent, …) aside: which rule answered, per endpoint.
  const seen = new Set([...tally.keys()].map((key) => key.replace(/^(\w+) \([^)]*\): /, '$1: ')));
  expect(MUST_SEE.filter((key) => !seen.has(key)), 'outcomes the generated sequences never reached').toStrictEqual([]);
}

// ---------------------------------------------------------------------------------------------
// The stores
// ---------------------------------------------------------------------------------------------

describe('rotation model: MemoryStore', () => {
  it(
    `agrees with the reference model over ${NUM_RUNS} random command sequences`,
    async () => {
      await checkAgainstModel('MemoryStore', async () => {
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
      await checkAgainstModel('RedisStore', async () => {
        await redis.flushall();
        // The model moves time by hand: the store judges by the use cases' `now`, not Redis TIME.
        return { store: new RedisStore({ client: redis, clock: 'caller' }), users: new MemoryUserRepository(USERS), liveSessions };
      });
    },
    PROPERTY_TIMEOUT_MS,
  );
});
