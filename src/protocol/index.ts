/**
 * The pure, synchronous protocol layer: header, string to sign, signature, verification, actions.
 * It imports nothing from the use cases, stores or client.
 *
 * @module protocol
 */

export { CAA_ACTIONS } from './actions.js';
export type { CaaAction } from './actions.js';
export { formatCaaHeader, parseCaaHeader } from './header.js';
export type { CaaCredentials } from './header.js';
export { DEFAULT_SKEW_MS, MAX_HEADER_LENGTH, SIGNATURE_BYTES, TIMESTAMP_DIGITS } from './limits.js';
export { computeSignature, signCaaHeader } from './sign.js';
export type { SignHeaderInput } from './sign.js';
export { buildStringToSign } from './string-to-sign.js';
export type { SignatureInput } from './string-to-sign.js';
export { assertTimestampInWindow, verifyCaaSignature } from './verify.js';
export type { VerifyOptions } from './verify.js';
