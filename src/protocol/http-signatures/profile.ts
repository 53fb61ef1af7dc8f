/**
 * The fixed names of the `caa-v2` profile of RFC 9421 (spec `caa-http-signatures.md` §1, §2, §4):
 * the signature label, tag and algorithm, the HKDF info string, the components every signature
 * covers, and the `Accept-Signature` value a server advertises.
 *
 * @module protocol/http-signatures/profile
 */

/**
 * The label of the signature in `Signature-Input` and `Signature`; other labels are ignored.
 *
 * @example
 * ```ts
 * import { CAA_V2_LABEL } from 'caa-auth';
 *
 * // A request carries a caa-v2 signature when its Signature-Input names the label (a cheap pre-check).
 * const maybeCaaV2 = (req.headers['signature-input'] ?? '').includes(`${CAA_V2_LABEL}=`);
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_LABEL = 'caa';

/**
 * The value of the `tag` parameter: it names the profile, so a signature made for another
 * application of RFC 9421 with the same key is never taken for one of this profile.
 *
 * @example
 * ```ts
 * import { CAA_V2_TAG, parseCaaV2Signature } from 'caa-auth';
 *
 * // parseCaaV2Signature refuses any other tag; nothing to check after it.
 * const sig = parseCaaV2Signature(req.headers['signature-input'], req.headers.signature);
 * console.log(CAA_V2_TAG); // 'caa-v2'
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_TAG = 'caa-v2';

/**
 * The `alg` parameter: HMAC-SHA256 (RFC 9421 §3.3.3), with the key of {@link deriveCaaV2Key}.
 *
 * @example
 * ```ts
 * import { CAA_V2_ALG, deriveCaaV2Key } from 'caa-auth';
 * import { createSigner } from 'http-message-signatures';
 *
 * // Another RFC 9421 library signs caa-v2 requests with the derived key and this algorithm.
 * const signer = createSigner(deriveCaaV2Key(secretKey), CAA_V2_ALG, apiKey);
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_ALG = 'hmac-sha256';

/**
 * The HKDF `info` of the key derivation (spec §2): binds the derived key to this use, so that the
 * same secretKey never keys two different schemes alike.
 *
 * @example
 * ```ts
 * import { hkdfSync } from 'node:crypto';
 * import { CAA_V2_KEY_INFO } from 'caa-auth';
 *
 * // What deriveCaaV2Key computes, written out.
 * const key = Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), Buffer.alloc(0), CAA_V2_KEY_INFO, 32));
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_KEY_INFO = 'caa-auth http-signatures hmac-sha256 v1';

/**
 * The derived components every `caa-v2` signature covers (RFC 9421 §2.2): they bind the signature
 * to the endpoint, instead of the legacy scheme's action. `content-digest` is required on top
 * whenever the request has a body.
 *
 * @example
 * ```ts
 * import { CAA_V2_REQUIRED_COMPONENTS, signCaaV2Request } from 'caa-auth';
 *
 * // Also cover Content-Type: the list given must start from the required components.
 * const headers = signCaaV2Request({
 *   method: 'PUT', url, body, apiKey, secretKey,
 *   components: [...CAA_V2_REQUIRED_COMPONENTS, 'content-digest', 'content-type'],
 *   headers: { 'content-type': 'application/json' },
 * });
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_REQUIRED_COMPONENTS = ['@method', '@authority', '@path', '@query'] as const;

/**
 * The `Accept-Signature` value (RFC 9421 §5.1) a server sends on its login and refresh responses
 * when it accepts the profile (spec §4); a client that sees it moves over.
 *
 * @example
 * ```ts
 * import { CAA_V2_ACCEPT_SIGNATURE } from 'caa-auth';
 *
 * res.setHeader('accept-signature', CAA_V2_ACCEPT_SIGNATURE);
 * ```
 *
 * @category Protocol
 */
export const CAA_V2_ACCEPT_SIGNATURE =
  'caa=("@method" "@authority" "@path" "@query" "content-digest");keyid;alg="hmac-sha256";created;nonce;tag="caa-v2"';
