/**
 * Turning any error into the response both example servers send. caa-auth's `CaaError` carries its
 * status and body; a framework's own 4xx (bad JSON, wrong content type) keeps its status with a
 * generic message; anything else is a 500 that echoes nothing.
 *
 * What is logged is chosen here too: one line, never the error object (a Redis error can carry
 * the command's arguments, which include secret keys) and never request data.
 */

import { isCaaError } from 'caa-auth';

export interface ErrorResponse {
  status: number;
  body: { message: string };
  /** A line for the server log, for server faults only. */
  logLine?: string;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : typeof err;
}

/** The HTTP status a framework error asks for, when it is a client error (4xx). */
function clientErrorStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
  const value = typeof status === 'number' ? status : statusCode;
  return typeof value === 'number' && value >= 400 && value < 500 ? value : undefined;
}

export function toErrorResponse(err: unknown): ErrorResponse {
  if (isCaaError(err)) {
    if (err.status < 500) return { status: err.status, body: err.toJSON() };
    return { status: err.status, body: err.toJSON(), logLine: `[caa-example] ${err.code}: ${describe(err.cause)}` };
  }
  const status = clientErrorStatus(err);
  if (status !== undefined) return { status, body: { message: 'invalid request' } };
  return { status: 500, body: { message: 'internal error' }, logLine: `[caa-example] internal error: ${describe(err)}` };
}

/** The answer to an unknown route. */
export const NOT_FOUND = { status: 404, body: { message: 'not found' } } as const;
