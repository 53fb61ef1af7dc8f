/**
 * The pure, synchronous protocol layer: header, string to sign, signature, verification, actions;
 * beside them, the `caa-v2` profile of RFC 9421 (http-signatures/). It imports nothing from the use
 * cases, stores or client.
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
export {
  CAA_V2_ACCEPT_SIGNATURE,
  CAA_V2_ALG,
  CAA_V2_KEY_INFO,
  CAA_V2_LABEL,
  CAA_V2_REQUIRED_COMPONENTS,
  CAA_V2_SIGNATURE_BYTES,
  CAA_V2_TAG,
  MAX_CONTENT_DIGEST_LENGTH,
  MAX_COVERED_COMPONENTS,
  MAX_NONCE_LENGTH,
  MAX_SIGNATURE_INPUT_LENGTH,
  MAX_SIGNATURE_LENGTH,
  MIN_NONCE_LENGTH,
  assertCaaV2Window,
  buildCaaV2SignatureBase,
  checkContentDigest,
  deriveCaaV2Key,
  makeContentDigest,
  parseCaaV2Signature,
  requestPartsFromFetch,
  requestPartsFromTarget,
  requestPartsFromUrl,
  requiresContentDigest,
  signCaaV2Request,
  verifyCaaV2Signature,
} from './http-signatures/index.js';
export type {
  CaaV2HeaderSource,
  CaaV2RequestParts,
  CaaV2Signature,
  CaaV2SignedHeaders,
  SignCaaV2RequestInput,
} from './http-signatures/index.js';
