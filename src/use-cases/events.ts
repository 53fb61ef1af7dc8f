/**
 * Events: what the use cases report for logs, metrics and an audit trail. A handler runs after the
 * answer is on its way (a later turn of the event loop); whatever it throws or however long its
 * promise takes changes and delays no answer. No event holds a secretKey, a full apiKey, a
 * signature or a header: sessions are named by their `sessionId` (the family id, not a credential).
 *
 * @module use-cases/events
 */

import { isCaaError, type CaaErrorCode } from '../errors.js';
import type { SessionMetadata, StoreCondition } from '../stores/session-store.js';

/**
 * Why sessions were revoked:
 * - `logout`: a signed logout (the family of the key that signed);
 * - `session`: one session of a user, by id (`revokeUserSession`);
 * - `user`: all of a user's sessions ("log out everywhere");
 * - `others`: all but the caller's ("log out other devices");
 * - `limit`: the oldest beyond `maxSessionsPerUser`, at a login;
 * - `user-not-found`: a refresh for a user that no longer exists (an orphaned session).
 *
 * @example
 * ```ts
 * import type { RevokeReason } from 'caa-auth';
 *
 * const byUser: readonly RevokeReason[] = ['logout', 'session', 'user', 'others'];
 * ```
 *
 * @category Sessions
 */
export type RevokeReason = 'logout' | 'session' | 'user' | 'others' | 'limit' | 'user-not-found';

/**
 * What a use case was doing when its store failed.
 *
 * @example
 * ```ts
 * import type { CaaOperation } from 'caa-auth';
 *
 * const writes: readonly CaaOperation[] = ['issue', 'refresh', 'revoke', 'revoke-sessions'];
 * ```
 *
 * @category Sessions
 */
export type CaaOperation = 'issue' | 'authenticate' | 'refresh' | 'revoke' | 'list-sessions' | 'revoke-sessions';

/**
 * One event, told apart by `type`; `at` is the use case's clock (epoch ms).
 *
 * @example
 * ```ts
 * import type { CaaEvent } from 'caa-auth';
 *
 * function onEvent(event: CaaEvent): void {
 *   switch (event.type) {
 *     case 'session.reused':
 *       alerts.page(`stolen session ${event.sessionId} of user ${event.userId} revoked`);
 *       break;
 *     case 'auth.failed':
 *       metrics.increment('caa.auth_failed', { code: event.code });
 *       break;
 *   }
 * }
 * ```
 *
 * @category Sessions
 */
export type CaaEvent =
  /** A login: a new family. */
  | { type: 'session.created'; at: number; userId: string; sessionId: string; metadata: SessionMetadata }
  /** A refresh that rotated the pair. */
  | { type: 'session.rotated'; at: number; userId: string; sessionId: string }
  /** A refresh answered with the existing successor (a retry within grace). */
  | { type: 'session.grace'; at: number; userId: string; sessionId: string }
  /** A rotated key came back after its grace: the family (the session) was revoked. */
  | { type: 'session.reused'; at: number; userId: string; sessionId: string; action: string }
  /** Sessions revoked, for `reason`. */
  | { type: 'session.revoked'; at: number; userId: string; sessionIds: string[]; reason: RevokeReason }
  /** A signed request refused (any code but `STORE_UNAVAILABLE`). */
  | { type: 'auth.failed'; at: number; action: string; status: number; code: CaaErrorCode }
  /** A store or user repository fault: the request was answered 503. */
  | { type: 'store.unavailable'; at: number; operation: CaaOperation; error: StoreFault }
  /** A condition of the store an operator must know of (once per condition). */
  | { type: 'store.condition'; at: number; condition: StoreCondition['condition']; message: string };

/**
 * A store fault as an event carries it: the error's name, its `code` when it has one, and the first
 * line of its message (at most 200 characters, long base64 runs redacted).
 *
 * @example
 * ```ts
 * import type { StoreFault } from 'caa-auth';
 *
 * const fault: StoreFault = { name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:6379' };
 * ```
 *
 * @category Sessions
 */
export interface StoreFault {
  name: string;
  code?: string;
  message: string;
}

/**
 * Receives events. It may be async; its promise is not awaited and its rejection is ignored.
 *
 * @param event - What happened (told apart by `type`).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { createCaaAuth, type CaaEventHandler } from 'caa-auth';
 *
 * const log = pino();
 * const onEvent: CaaEventHandler = (event) => log.info(event, event.type);
 * const auth = createCaaAuth({ store, users, onEvent });
 * ```
 *
 * @category Sessions
 */
export type CaaEventHandler = (event: CaaEvent) => void | Promise<void>;

/**
 * The option every use case takes for events.
 *
 * @example
 * ```ts
 * import { refreshToken, type EventOptions } from 'caa-auth';
 *
 * const events: EventOptions = { onEvent: (event) => console.log(event.type) };
 * await refreshToken(store, users, req, events);
 * ```
 *
 * @category Sessions
 */
export interface EventOptions {
  /** Receives every event; default none. */
  onEvent?: CaaEventHandler | undefined;
}

/** Runs a handler on a later turn: after the answer, isolated from what it throws or returns. */
function deliver(handler: CaaEventHandler, event: CaaEvent): void {
  try {
    const result = handler(event);
    if (result !== undefined && typeof (result as { then?: unknown }).then === 'function') {
      (result as Promise<void>).then(undefined, ignore);
    }
  } catch {
    // A handler that throws must not change an answer, nor crash the process from a timer.
  }
}

function ignore(): void {}

/** Hands an event to the handler, if any, on a later turn of the event loop. @internal */
export function emit(options: EventOptions, event: CaaEvent): void {
  const handler = options.onEvent;
  if (handler !== undefined) setImmediate(deliver, handler, event);
}

/** Base64 runs this long or longer read as possible keys or signatures, and are redacted. */
const LONG_BASE64_RUN = /[A-Za-z0-9+/_-]{20,}={0,2}/g;

/** A fault as an event may carry it. @internal */
export function storeFault(cause: unknown): StoreFault {
  const error = cause instanceof Error ? cause : new Error(typeof cause === 'string' ? cause : 'store fault');
  const message = (error.message.split('\n')[0] ?? '').slice(0, 200).replace(LONG_BASE64_RUN, '[redacted]');
  const fault: StoreFault = { name: error.name.slice(0, 100), message };
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'string') fault.code = code.slice(0, 100);
  return fault;
}

/**
 * Reports a refused request: `store.unavailable` for a 503, `auth.failed` for any other
 * {@link CaaError}; anything else (a programming error) is not an event. @internal
 */
export function reportFailure(options: EventOptions & { now?: () => number }, err: unknown, action: string, operation: CaaOperation): void {
  if (options.onEvent === undefined || !isCaaError(err)) return;
  const at = (options.now ?? Date.now)();
  if (err.code === 'STORE_UNAVAILABLE') emit(options, { type: 'store.unavailable', at, operation, error: storeFault(err.cause) });
  else emit(options, { type: 'auth.failed', at, action, status: err.status, code: err.code });
}
