/**
 * The `caa-v2` profile of RFC 9421 HTTP Message Signatures (spec `caa-http-signatures.md`): parse
 * `Signature-Input`/`Signature`, build the signature base, derive the key, sign and verify, make
 * and check `Content-Digest`. Pure and synchronous, `node:crypto` only, like the Caa core beside it.
 *
 * @module protocol/http-signatures
 */

export { checkContentDigest, makeContentDigest, requiresContentDigest } from './content-digest.js';
export { deriveCaaV2Key } from './key.js';
export {
  CAA_V2_SIGNATURE_BYTES,
  MAX_CONTENT_DIGEST_LENGTH,
  MAX_COVERED_COMPONENTS,
  MAX_NONCE_LENGTH,
  MAX_SIGNATURE_INPUT_LENGTH,
  MAX_SIGNATURE_LENGTH,
  MIN_NONCE_LENGTH,
} from './limits.js';
export {
  CAA_V2_ACCEPT_SIGNATURE,
  CAA_V2_ALG,
  CAA_V2_KEY_INFO,
  CAA_V2_LABEL,
  CAA_V2_REQUIRED_COMPONENTS,
  CAA_V2_TAG,
} from './profile.js';
export { requestPartsFromFetch, requestPartsFromTarget, requestPartsFromUrl } from './request-parts.js';
export type { CaaV2HeaderSource } from './request-parts.js';
export { signCaaV2Request } from './sign.js';
export type { CaaV2SignedHeaders, SignCaaV2RequestInput } from './sign.js';
export { buildCaaV2SignatureBase } from './signature-base.js';
export type { CaaV2RequestParts } from './signature-base.js';
export { parseCaaV2Signature } from './signature-input.js';
export type { CaaV2Signature } from './signature-input.js';
export { assertCaaV2Window, verifyCaaV2Signature } from './verify.js';
