/**
 * Named limits of the protocol. They are exported so that applications can read them, and so that
 * nothing in the code carries a bare literal.
 *
 * @module protocol/limits
 */

/** Longest `Authorization` value accepted, in characters; longer values are refused before any decoding. */
export const MAX_HEADER_LENGTH = 1024;

/** Default accepted clock difference between client and server, in ms, either way (spec §3: 5 minutes). */
export const DEFAULT_SKEW_MS = 300_000;

/** A timestamp is epoch milliseconds written with exactly this many decimal digits. */
export const TIMESTAMP_DIGITS = 13;

/** A signature is base64 of a SHA-1 digest: 20 raw bytes, 28 characters. */
export const SIGNATURE_BYTES = 20;
