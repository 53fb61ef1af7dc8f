/**
 * Named limits of the `caa-v2` profile. Every length cap is checked before any parsing, so that
 * the work spent on a hostile header is bounded by the cap, not by what was sent.
 *
 * @module protocol/http-signatures/limits
 */

/**
 * Longest `Signature-Input` value accepted, in characters; a longer one is refused before any
 * parsing. A `caa` member is about 250 characters: the rest leaves room for a few other labels.
 *
 * @example
 * ```ts
 * import { MAX_SIGNATURE_INPUT_LENGTH } from 'caa-auth';
 *
 * // A gateway can drop what the origin would refuse anyway.
 * if ((request.headers.get('signature-input') ?? '').length > MAX_SIGNATURE_INPUT_LENGTH) return new Response(null, { status: 400 });
 * ```
 *
 * @category Protocol
 */
export const MAX_SIGNATURE_INPUT_LENGTH = 2048;

/**
 * Longest `Signature` value accepted, in characters; a longer one is refused before any parsing.
 * The `caa` member is 50 characters; the rest leaves room for one RSA-4096 signature (684) of
 * another label beside it.
 *
 * @example
 * ```ts
 * import { MAX_SIGNATURE_LENGTH } from 'caa-auth';
 *
 * console.log(`Signature values over ${MAX_SIGNATURE_LENGTH} characters are answered 400 invalid authorization`);
 * ```
 *
 * @category Protocol
 */
export const MAX_SIGNATURE_LENGTH = 1024;

/**
 * Most components one `caa` signature may cover (the profile needs 5). More is refused: each one
 * costs a header look-up and a line of the signature base.
 *
 * @example
 * ```ts
 * import { CAA_V2_REQUIRED_COMPONENTS, MAX_COVERED_COMPONENTS } from 'caa-auth';
 *
 * // Room for extra covered headers beside the required components and content-digest.
 * const spare = MAX_COVERED_COMPONENTS - CAA_V2_REQUIRED_COMPONENTS.length - 1; // 11
 * ```
 *
 * @category Protocol
 */
export const MAX_COVERED_COMPONENTS = 16;

/**
 * Shortest `nonce` accepted, in characters of the base64 or base64url alphabet (padding not
 * counted): 16 characters carry the 96 random bits the profile asks for.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { MIN_NONCE_LENGTH } from 'caa-auth';
 *
 * const nonce = randomBytes(18).toString('base64url'); // 24 characters, 144 bits
 * console.log(nonce.length >= MIN_NONCE_LENGTH); // true
 * ```
 *
 * @category Protocol
 */
export const MIN_NONCE_LENGTH = 16;

/**
 * Longest `nonce` accepted, in characters (padding included). It is a replay key in the store, so
 * its size is bounded.
 *
 * @example
 * ```ts
 * import { MAX_NONCE_LENGTH } from 'caa-auth';
 *
 * if (nonce.length > MAX_NONCE_LENGTH) throw new RangeError('nonce too long for caa-v2');
 * ```
 *
 * @category Protocol
 */
export const MAX_NONCE_LENGTH = 128;

/**
 * Longest `Content-Digest` value read, in characters; a longer one does not match. A `sha-256`
 * member is 52 characters, a `sha-512` one 96.
 *
 * @example
 * ```ts
 * import { MAX_CONTENT_DIGEST_LENGTH } from 'caa-auth';
 *
 * console.log(`Content-Digest values over ${MAX_CONTENT_DIGEST_LENGTH} characters never match`);
 * ```
 *
 * @category Protocol
 */
export const MAX_CONTENT_DIGEST_LENGTH = 512;

/**
 * Length of an HMAC-SHA256 signature and of the derived key, in bytes.
 *
 * @example
 * ```ts
 * import { CAA_V2_SIGNATURE_BYTES, parseCaaV2Signature } from 'caa-auth';
 *
 * const sig = parseCaaV2Signature(signatureInput, signature);
 * console.log(sig.signature.length === CAA_V2_SIGNATURE_BYTES); // true: anything else was refused
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_SIGNATURE_BYTES = 32;
