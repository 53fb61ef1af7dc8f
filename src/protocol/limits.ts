/**
 * Named limits of the protocol. They are exported so that applications can read them, and so that
 * nothing in the code carries a bare literal.
 *
 * @module protocol/limits
 */

/**
 * Longest `Authorization` value accepted, in characters; longer values are refused before any decoding.
 *
 * @example
 * ```ts
 * import { CAA_MESSAGES, MAX_HEADER_LENGTH } from 'caa-auth';
 *
 * // A gateway can refuse early what the origin would refuse anyway, with the same answer.
 * if ((request.headers.get('authorization') ?? '').length > MAX_HEADER_LENGTH) {
 *   return Response.json({ message: CAA_MESSAGES.invalidAuthorization }, { status: 400 });
 * }
 * ```
 *
 * @category Protocol
 */
export const MAX_HEADER_LENGTH = 1024;

/**
 * Default accepted clock difference between client and server, in ms, either way (spec §3: 5 minutes).
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, DEFAULT_SKEW_MS, authenticate } from 'caa-auth';
 *
 * // A narrower window for profile updates: a captured header stays usable for less time.
 * await authenticate(store, req, CAA_ACTIONS.updateMyProfile, { skewMs: DEFAULT_SKEW_MS / 5 });
 * ```
 *
 * @category Protocol
 */
export const DEFAULT_SKEW_MS = 300_000;

/**
 * A timestamp is epoch milliseconds written with exactly this many decimal digits.
 *
 * @example
 * ```ts
 * import { TIMESTAMP_DIGITS } from 'caa-auth';
 *
 * // A clock that counts seconds gives 10 digits, which the server answers 400 invalid authorization.
 * if (String(timestamp).length !== TIMESTAMP_DIGITS) throw new RangeError('timestamp must be epoch milliseconds');
 * ```
 *
 * @category Protocol
 */
export const TIMESTAMP_DIGITS = 13;

/**
 * A signature is base64 of a SHA-1 digest: 20 raw bytes, 28 characters.
 *
 * @example
 * ```ts
 * import { SIGNATURE_BYTES } from 'caa-auth';
 *
 * // Testing a signer ported to another language: its output must decode to one SHA-1 digest.
 * expect(Buffer.from(portedSignature, 'base64')).toHaveLength(SIGNATURE_BYTES);
 * ```
 *
 * @category Protocol
 */
export const SIGNATURE_BYTES = 20;

/**
 * A signature's length in characters: padded base64 of {@link SIGNATURE_BYTES} bytes.
 * @internal
 */
export const SIGNATURE_LENGTH = 4 * Math.ceil(SIGNATURE_BYTES / 3);
