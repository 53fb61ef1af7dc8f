/**
 * Authenticating a signed request: the checks every signed endpoint shares, in the order of the
 * spec: parse → timestamp window → session lookup → signature, and only then anything the store
 * writes (first use, replay marker, reuse of a rotated key).
 *
 * @module use-cases/authenticate
 */

import { randomUUID } from 'node:crypto';
import { CaaError } from '../errors.js';
import { type Session } from '../models.js';
import { parseCaaHeader, type CaaCredentials } from '../protocol/header.js';
import { DEFAULT_SKEW_MS } from '../protocol/limits.js';
import { assertSignature, assertTimestampInWindow } from '../protocol/verify.js';
import {
  toSession,
  type LookupResult,
  type ReplayMarker,
  type SessionRecord,
  type SessionStore,
  type UseResult,
  type VerifiedUse,
} from '../stores/session-store.js';
import type { CaaV2RequestParts } from '../protocol/http-signatures/signature-base.js';
import { parseCaaV2Signature, type CaaV2Signature } from '../protocol/http-signatures/signature-input.js';
import { assertCaaV2Window } from '../protocol/http-signatures/verify.js';
import { accepts, assertCaaV2Signature, assertContentDigest, caaV2Headers, caaV2Parts, carriesAuthorization, carriesCaaV2, needsContentDigest, type CaaScheme, type SchemeOptions } from './caa-v2.js';
import { emit, reportFailure, type EventOptions } from './events.js';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  fromStore,
  maxLifetimeOf,
  type ClockOptions,
  type LifetimeOptions,
  type RotationOptions,
} from './options.js';
import { readAuthorization, type RequestLike } from './request.js';

/**
 * Options of {@link authenticate}.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate, type AuthenticateOptions } from 'caa-auth';
 *
 * // A write must not run twice: the same header sent again answers 400 invalid signature (REPLAYED).
 * const once: AuthenticateOptions = { replayProtection: true };
 * const session = await authenticate(store, req, CAA_ACTIONS.updateMyProfile, once);
 * ```
 *
 * @category Use cases
 */
export interface AuthenticateOptions extends ClockOptions, RotationOptions, LifetimeOptions, EventOptions, SchemeOptions {
  /** Accept each exact header only once within the window (400 `REPLAYED` the second time). Default `false`. */
  replayProtection?: boolean;
}

/** A verified request: its credentials, the record they matched, and the clocks. @internal */
export interface VerifiedRequest {
  /** For `caa-v2`: the keyid as apiKey, `created` as the timestamp (ms), no legacy signature. */
  credentials: CaaCredentials;
  record: SessionRecord;
  /** The use case's clock. */
  now: number;
  /** The scheme it was signed with. */
  scheme: CaaScheme;
  /** For `caa-v2`: its nonce, which keys its replay marker. */
  nonce?: string;
}

/** What the store needs to judge a verified request (rotate, use); built only when a store call follows. @internal */
export function verifiedUse(verifiedRequest: VerifiedRequest, options: RotationOptions): VerifiedUse {
  const { credentials, record, now } = verifiedRequest;
  return {
    apiKey: credentials.apiKey,
    familyId: record.familyId,
    now,
    signedAt: credentials.timestamp,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    toleranceMs: options.rotationToleranceMs ?? DEFAULT_ROTATION_TOLERANCE_MS,
    ...(verifiedRequest.scheme === 'caa-v2' ? { scheme: 'caa-v2' as const } : {}),
  };
}

/** The store's answer, its faults turned into 503 (a synchronous capability when the store has one). */
function lookupIn(store: SessionStore, apiKey: string, now: number): LookupResult | Promise<LookupResult> {
  if (store.lookupSync === undefined) return fromStore(store.lookup(apiKey, now));
  try {
    return store.lookupSync(apiKey, now);
  } catch (cause) {
    throw new CaaError('STORE_UNAVAILABLE', { cause });
  }
}

/**
 * The replay marker of a verified request: it outlives the request on every server within the
 * window. Keyed on the exact header (legacy), or on apiKey and nonce (`caa-v2`).
 */
export function replayMarker(verifiedRequest: VerifiedRequest, skewMs: number, id: string): ReplayMarker {
  const { credentials, nonce } = verifiedRequest;
  return {
    key: nonce === undefined ? `${credentials.apiKey}:${credentials.timestamp}:${credentials.signature}` : `${credentials.apiKey}:n:${nonce}`,
    expiresAt: credentials.timestamp + 2 * skewMs,
    id,
  };
}

/**
 * The shared checks. Writes nothing: a rotated record is returned as is, for the caller to hand to
 * the store with the facts it judges it by. @internal
 */
export function verifyRequest(
  store: SessionStore,
  req: RequestLike,
  action: string,
  options: ClockOptions & LifetimeOptions & SchemeOptions,
): VerifiedRequest | Promise<VerifiedRequest> {
  const v2 = carriesCaaV2(req);
  if (v2 || options.schemes !== undefined) {
    if (v2 && accepts(options, 'caa-v2')) return verifyCaaV2Request(store, req, options);
    if (!accepts(options, 'caa')) throw new CaaError('INVALID_AUTHORIZATION');
  }
  const now = (options.now ?? Date.now)();
  const skewMs = options.skewMs ?? DEFAULT_SKEW_MS;
  const credentials = parseCaaHeader(readAuthorization(req));
  assertTimestampInWindow(credentials.timestamp, { now, skewMs });
  const maxLifetimeMs = maxLifetimeOf(options);
  const found = lookupIn(store, credentials.apiKey, now);
  if (found instanceof Promise) return found.then((result) => verified(result, credentials, action, now, maxLifetimeMs));
  return verified(found, credentials, action, now, maxLifetimeMs);
}

/** The session a lookup found, refused when there is none or it has expired (absolute lifetime too). */
function foundRecord(found: LookupResult, now: number, maxLifetimeMs: number): SessionRecord {
  const { record } = found;
  if (record === null) throw new CaaError('APIKEY_NOT_FOUND');
  if (record.state === 'live') {
    const storeNow = found.now ?? now;
    // The absolute lifetime too: pairs issued before it was shortened must not outlive it.
    if (record.expireIn <= storeNow || record.createdAt + maxLifetimeMs <= storeNow) throw new CaaError('SESSION_EXPIRED');
  }
  return record;
}

function verified(
  found: LookupResult,
  credentials: CaaCredentials,
  action: string,
  now: number,
  maxLifetimeMs: number,
): VerifiedRequest {
  const record = foundRecord(found, now, maxLifetimeMs);
  assertSignature(credentials, action, record.secretKey);
  // A family that verified a caa-v2 request no longer takes the weaker scheme (spec §4).
  if (record.v2 === true) throw new CaaError('SCHEME_DOWNGRADE');
  return { credentials, record, now, scheme: 'caa' };
}

/**
 * The checks of `caa-v2`, in the order of its spec (§3): parse → one scheme only → window →
 * session → body digest → HMAC; the replay marker and the downgrade mark go with the store call
 * that follows.
 */
function verifyCaaV2Request(
  store: SessionStore,
  req: RequestLike,
  options: ClockOptions & LifetimeOptions & SchemeOptions,
): VerifiedRequest | Promise<VerifiedRequest> {
  const now = (options.now ?? Date.now)();
  const { signatureInput, signature } = caaV2Headers(req);
  const sig = parseCaaV2Signature(signatureInput, signature);
  if (carriesAuthorization(req)) throw new CaaError('AMBIGUOUS_CREDENTIALS');
  assertCaaV2Window(sig, { now, skewMs: options.skewMs ?? DEFAULT_SKEW_MS });
  // Synchronous while it can be (a store with lookupSync, no body to digest), as the legacy path is.
  const found = lookupIn(store, sig.keyid, now);
  if (found instanceof Promise) return found.then((result) => verifiedCaaV2(result, sig, req, options, now));
  return verifiedCaaV2(found, sig, req, options, now);
}

function verifiedCaaV2(
  found: LookupResult,
  sig: CaaV2Signature,
  req: RequestLike,
  options: ClockOptions & LifetimeOptions & SchemeOptions,
  now: number,
): VerifiedRequest | Promise<VerifiedRequest> {
  const record = foundRecord(found, now, maxLifetimeOf(options));
  const parts = caaV2Parts(req, options);
  if (needsContentDigest(sig, parts)) return assertContentDigest(sig, parts, req).then(() => signedCaaV2(sig, parts, record, now));
  return signedCaaV2(sig, parts, record, now);
}

function signedCaaV2(sig: CaaV2Signature, parts: CaaV2RequestParts, record: SessionRecord, now: number): VerifiedRequest {
  assertCaaV2Signature(sig, parts, record.secretKey);
  return { credentials: { apiKey: sig.keyid, timestamp: sig.created * 1000, signature: '' }, record, now, scheme: 'caa-v2', nonce: sig.nonce };
}

/** Reports a detected reuse: the family of the verified request was revoked. @internal */
export function reportReuse(options: EventOptions, verifiedRequest: VerifiedRequest, action: string): void {
  const { record, now } = verifiedRequest;
  emit(options, { type: 'session.reused', at: now, userId: record.userId, sessionId: record.familyId, action });
}

/** The error of a store outcome that refuses the request. @internal */
export function refusal(outcome: UseResult['outcome'] | 'replayed'): CaaError {
  switch (outcome) {
    case 'replayed':
      return new CaaError('REPLAYED');
    case 'reused':
      return new CaaError('TOKEN_REUSED');
    default:
      return new CaaError('APIKEY_NOT_FOUND');
  }
}

/**
 * Hands a verified request to the store (first use, replay marker, a rotated key judged; for a
 * logout, the family revoked) and returns its session, or throws the refusal. @internal
 */
export async function recordUse(
  store: SessionStore,
  verifiedRequest: VerifiedRequest,
  options: AuthenticateOptions,
  action: string,
  revoke: boolean,
): Promise<Session> {
  const { record } = verifiedRequest;
  const use = verifiedUse(verifiedRequest, options);
  const replay = options.replayProtection
    ? replayMarker(verifiedRequest, options.skewMs ?? DEFAULT_SKEW_MS, randomUUID())
    : undefined;
  const { outcome } = await fromStore(store.use({ ...use, replay, revoke }));
  if (outcome === 'reused') reportReuse(options, verifiedRequest, action);
  if (outcome !== (revoke ? 'revoked' : 'live')) throw refusal(outcome);
  return toSession(record);
}

function authenticated(
  store: SessionStore,
  verifiedRequest: VerifiedRequest,
  action: string,
  options: AuthenticateOptions,
): Session | Promise<Session> {
  const { record } = verifiedRequest;
  // The hot path: a live key used before, no marker asked for, no scheme to mark: nothing to write.
  if (record.state === 'live' && record.used === true && options.replayProtection !== true && (verifiedRequest.scheme === 'caa' || record.v2 === true)) {
    return toSession(record);
  }
  return recordUse(store, verifiedRequest, options, action, false);
}

/** {@link authenticate} with its refusal reported as an event. */
async function authenticateReporting(store: SessionStore, req: RequestLike, action: string, options: AuthenticateOptions): Promise<Session> {
  try {
    return await authenticated(store, await verifyRequest(store, req, action, options), action, options);
  } catch (err) {
    reportFailure(options, err, action, 'authenticate');
    throw err;
  }
}

/**
 * Authenticates a request signed with `action` and returns its live session.
 *
 * A key's first verified use is recorded (it ends its predecessor's grace); a rotated key is
 * refused, and once its grace is over — unless the request was signed before the rotation — its
 * whole family is revoked (`TOKEN_REUSED`): it came back after its successor was handed out.
 *
 * @param store - Where the sessions live.
 * @param req - The request: anything with headers (Node, Express, Fastify, a Fetch `Request` or `Headers`).
 * @param action - The action the request must be signed with (spec §3), e.g. `client:my:fetch-my-profile`.
 * @param options - The clock, the window, rotation judgement, the absolute lifetime, `replayProtection` and `onEvent`.
 *
 * @throws {@link CaaError} 400 `invalid authorization` | 400 `invalid signature` (codes
 *   `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_MISMATCH`, `REPLAYED`) | 404 `apiKey not found` (codes
 *   `APIKEY_NOT_FOUND`, `SESSION_EXPIRED`, `TOKEN_REUSED`) | 503 (`STORE_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, authenticate } from 'caa-auth';
 *
 * const session = await authenticate(store, req, CAA_ACTIONS.fetchMyProfile);
 * const user = await users.findById(session.userId);
 * ```
 *
 * @category Use cases
 */
export async function authenticate(
  store: SessionStore,
  req: RequestLike,
  action: string,
  options: AuthenticateOptions = {},
): Promise<Session> {
  if (options.onEvent !== undefined) return authenticateReporting(store, req, action, options);
  const verifiedRequest = verifyRequest(store, req, action, options);
  if (verifiedRequest instanceof Promise) return authenticated(store, await verifiedRequest, action, options);
  return authenticated(store, verifiedRequest, action, options);
}
