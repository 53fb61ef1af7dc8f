/**
 * What both example servers share about sessions: the metadata recorded at login, the app-level
 * answer to revoking a session that is not the caller's, and the line an event is logged as.
 */

import type { CaaAuthConfig, CaaEvent, SessionMetadata } from 'caa-auth';
import type { DemoUser } from './users.js';

/**
 * The options the apps pass to `createCaaAuth` besides `store` and `users` (ttlMs, graceMs, a clock,
 * onEvent, publicUser, …).
 */
export type ExampleAuthOptions = Omit<CaaAuthConfig<DemoUser>, 'store' | 'users'>;

/** The longest device name a login keeps (the examples' choice; the library itself cuts at 512). */
export const MAX_DEVICE_NAME_LENGTH = 64;

/**
 * What a user's device list shows about a session: the user agent and the IP address of the login
 * request, and the device name the client sent as `device` in the login body, if any (a non-empty
 * string; anything else is ignored, as the password check ignores unknown fields).
 */
export function loginMetadata(userAgent: string | undefined, ip: string | undefined, body: unknown): SessionMetadata {
  const metadata: Record<string, string | null> = { userAgent: userAgent ?? null, ip: ip ?? null };
  const device = typeof body === 'object' && body !== null ? (body as { device?: unknown }).device : undefined;
  if (typeof device === 'string' && device.trim() !== '') metadata.device = device.trim().slice(0, MAX_DEVICE_NAME_LENGTH);
  return metadata;
}

/**
 * The answer to `DELETE /api/my/sessions/:id` when the caller has no live session of that id (an
 * unknown id, one already signed out, or another user's). It is the examples' own answer, not one
 * of the four Caa wire messages: the request itself was authenticated.
 */
export const SESSION_NOT_FOUND = { status: 404, body: { message: 'session not found' } } as const;

/**
 * An event as one log line: its type and what kind of event it was, never who or which session
 * (user ids and session ids are not secrets, but a debug log needs neither) and never metadata.
 */
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
