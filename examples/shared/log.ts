/**
 * What the example servers log about caa-auth: a store fault always (an operator must know of an
 * outage), every other event only at debug level, and an error the app did not expect. One line
 * each, never the error object (a Redis error can carry the command's arguments, which include
 * secret keys), never request data, ids or metadata.
 */

import { isCaaError, toErrorResponse, type CaaEvent, type CaaEventHandler } from 'caa-auth';

/** An event as one log line: its type and what kind of event it was. */
export function describeEvent(event: CaaEvent): string {
  switch (event.type) {
    case 'session.revoked':
      return `${event.type} (${event.reason}, ${event.sessionIds.length})`;
    case 'auth.failed':
      return `${event.type} (${event.code}, ${event.action})`;
    case 'session.reused':
      return `${event.type} (${event.action})`;
    case 'store.unavailable':
      return `${event.type} (${event.operation})`;
    case 'store.condition':
      return `${event.type} (${event.condition})`;
    default:
      return event.type;
  }
}

/** Where the lines go: `warn` for store faults, `debug` (when given) for every event. */
export interface EventLog {
  warn(line: string): void;
  debug?: ((line: string) => void) | undefined;
}

/**
 * The `onEvent` of the examples' `createCaaAuth`. A store fault (answered 503) is logged with what
 * the event carries of its cause: the error's name, code and first line, already redacted by
 * caa-auth.
 */
export function logEvents(log: EventLog): CaaEventHandler {
  return (event) => {
    if (event.type === 'store.unavailable') {
      const { name, code, message } = event.error;
      log.warn(`[caa-example] STORE_UNAVAILABLE during ${event.operation}: ${name}${code === undefined ? '' : ` ${code}`}: ${message}`);
    }
    log.debug?.(`[caa-example] event ${describeEvent(event)}`);
  };
}

/**
 * The line for an error the app answers 500 (a bug): its name and message, cut to 200 characters;
 * `undefined` for any other error (caa-auth's own, a 503 store fault among them, is logged from
 * its event; a client's bad request is no fault of the server).
 */
export function unexpectedErrorLine(err: unknown): string | undefined {
  if (isCaaError(err) || toErrorResponse(err).status < 500) return undefined;
  const what = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : typeof err;
  return `[caa-example] internal error: ${what}`;
}
