/**
 * The string a Caa signature is made over (spec §3). Pure, with no imports, so that the universal
 * client can share it.
 *
 * @module protocol/string-to-sign
 */

/**
 * What a signature covers.
 *
 * @example
 * ```ts
 * import { computeSignatureAsync, type SignatureInput } from 'caa-auth/client';
 *
 * // Vector V1 of spec §4: every implementation of the signer must reproduce it.
 * const input: SignatureInput = {
 *   action: 'user:personal-profile',
 *   apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
 *   secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
 *   timestamp: 1494908261599,
 * };
 * await computeSignatureAsync(input); // 'VHTnYjscONrGXMumaGChvV+Q+Xo='
 * ```
 *
 * @category Protocol
 */
export interface SignatureInput {
  /** The action of the endpoint, e.g. `client:my:refresh-token`. */
  readonly action: string;
  readonly apiKey: string;
  readonly secretKey: string;
  /** Epoch milliseconds, the same 13-digit number that travels in the header. */
  readonly timestamp: number;
}

/**
 * Builds `?action=…&apiKey=…&secretKey=…&timestamp=…`, values concatenated raw (no URL-escaping).
 *
 * @param input - The action, the apiKey, the secretKey and the timestamp.
 *
 * @example
 * ```ts
 * import { buildStringToSign } from 'caa-auth';
 *
 * buildStringToSign({ action: 'user:personal-profile', apiKey: 'Szgg…', secretKey: 'fz/T…', timestamp: 1494908261599 });
 * // '?action=user:personal-profile&apiKey=Szgg…&secretKey=fz/T…&timestamp=1494908261599'
 * ```
 *
 * @category Protocol
 */
export function buildStringToSign(input: SignatureInput): string {
  return stringToSign(input.action, input.apiKey, input.secretKey, input.timestamp);
}

/**
 * {@link buildStringToSign} from its four values, with the timestamp as a number or as its digits
 * (the verifier has the digits of the header, and converting the number again would cost more).
 * @internal
 */
export function stringToSign(action: string, apiKey: string, secretKey: string, timestamp: number | string): string {
  return `?action=${action}&apiKey=${apiKey}&secretKey=${secretKey}&timestamp=${timestamp}`;
}
