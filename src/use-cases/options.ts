/**
 * Options shared by the use cases, their defaults, and the key generator.
 *
 * @module use-cases/options
 */

import { randomBytes } from 'node:crypto';
import { CaaError, isCaaError } from '../errors.js';

/** Session lifetime of the original service: 3 days, in ms. */
export const DEFAULT_SESSION_TTL_MS = 259_200_000;

/** How long after a rotation the predecessor still obtains the same successor, ms. */
export const DEFAULT_GRACE_MS = 10_000;

/** Bytes of randomness in an apiKey or secretKey. */
export const KEY_BYTES = 32;

/** Options every use case takes. */
export interface ClockOptions {
  /** The server clock, epoch ms; default `Date.now`. Inject one in tests. */
  now?: () => number;
  /** Accepted clock difference either way, ms; default 300 000 (spec §3). */
  skewMs?: number;
}

/** Options of the use cases that mint credentials. */
export interface IssueOptions extends ClockOptions {
  /** Session lifetime, ms; default {@link DEFAULT_SESSION_TTL_MS} (3 days). */
  ttlMs?: number;
  /** Makes a new apiKey or secretKey; default 32 bytes from the CSPRNG as standard base64 (44 chars). */
  generateKey?: () => string;
}

/**
 * 32 bytes from the CSPRNG as standard base64 (44 characters), as the original service issued.
 *
 * @example
 * ```ts
 * import { generateKey } from 'caa-auth';
 *
 * generateKey(); // 'Lq3M…=' (44 characters)
 * ```
 */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** A family id: 16 bytes from the CSPRNG, base64url. @internal */
export function generateFamilyId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Awaits a store or repository call; anything but a {@link CaaError} it throws is a fault of the
 * store and becomes 503 `STORE_UNAVAILABLE` (never a 4xx). @internal
 */
export function fromStore<T>(call: Promise<T>): Promise<T> {
  return call.catch((cause: unknown) => {
    throw isCaaError(cause) ? cause : new CaaError('STORE_UNAVAILABLE', { cause });
  });
}
