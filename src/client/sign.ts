/**
 * Signing on any runtime (spec §3, §2): the same signatures and headers as the server side's
 * `computeSignature` and `signCaaHeader`, made with Web Crypto (`crypto.subtle.digest('SHA-1', …)`),
 * `TextEncoder` and `btoa` instead of `node:crypto` and `Buffer`, so they run in Node 20+, browsers
 * and edge runtimes alike. Web Crypto is asynchronous, hence the `Async` names.
 *
 * @module client/sign
 */

import { isBase64 } from '../protocol/base64.js';
import { TIMESTAMP_DIGITS } from '../protocol/limits.js';
import { buildStringToSign, type SignatureInput } from '../protocol/string-to-sign.js';

const MIN_TIMESTAMP = 10 ** (TIMESTAMP_DIGITS - 1);
const MAX_TIMESTAMP = 10 ** TIMESTAMP_DIGITS - 1;

const encoder = new TextEncoder();

/** Standard base64 (`=`-padded) of raw bytes, through `btoa` (a global in every target runtime). */
function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function subtleCrypto(): SubtleCrypto {
  const webCrypto: Crypto | undefined = globalThis.crypto;
  if (webCrypto?.subtle === undefined) {
    // Browsers hide crypto.subtle outside secure contexts (plain http:// other than localhost).
    throw new Error('caa-auth/client needs Web Crypto (globalThis.crypto.subtle): use https, or Node 20+');
  }
  return webCrypto.subtle;
}

/**
 * Computes the signature of a request with Web Crypto: base64 of SHA-1 over the UTF-8 bytes of
 * `?action=…&apiKey=…&secretKey=…&timestamp=…`. Byte for byte the same as the server side's
 * `computeSignature`.
 *
 * @param input - The action, the apiKey, the secretKey and the timestamp to sign.
 *
 * @example
 * ```ts
 * import { computeSignatureAsync } from 'caa-auth/client';
 *
 * await computeSignatureAsync({
 *   action: 'user:personal-profile',
 *   apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
 *   secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
 *   timestamp: 1494908261599,
 * }); // 'VHTnYjscONrGXMumaGChvV+Q+Xo='
 * ```
 *
 * @category Client
 */
export async function computeSignatureAsync(input: SignatureInput): Promise<string> {
  const digest = await subtleCrypto().digest('SHA-1', encoder.encode(buildStringToSign(input)));
  return bytesToBase64(new Uint8Array(digest));
}

/**
 * What {@link signCaaHeaderAsync} needs; `timestamp` defaults to `Date.now()`.
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, type SignHeaderAsyncInput } from 'caa-auth/client';
 *
 * const input: SignHeaderAsyncInput = { action: CAA_ACTIONS.logout, apiKey, secretKey, timestamp: clock.nextTimestamp() };
 * ```
 *
 * @category Client
 */
export interface SignHeaderAsyncInput {
  /** The action of the endpoint that will be called, e.g. `client:my:fetch-my-profile`. */
  readonly action: string;
  readonly apiKey: string;
  readonly secretKey: string;
  /**
   * Epoch milliseconds (13 digits); defaults to `Date.now()`. Pass a server-corrected, strictly
   * increasing one (see `CaaClock.nextTimestamp`) when the local clock may be off.
   */
  readonly timestamp?: number;
}

/**
 * Signs a request and returns the whole `Authorization` header value,
 * `Caa <base64(apiKey ":" signature " " timestamp)>`, on any runtime. Byte for byte the same as the
 * server side's `signCaaHeader`.
 *
 * @param input - The action, the apiKey and the secretKey; `timestamp` defaults to now.
 *
 * @throws RangeError when `apiKey` is not standard base64 or `timestamp` is not a 13-digit integer
 *   (the server would refuse the header as `invalid authorization`).
 *
 * @example
 * ```ts
 * import { CAA_ACTIONS, signCaaHeaderAsync } from 'caa-auth/client';
 *
 * const res = await fetch('https://api.example.com/api/my', {
 *   headers: { authorization: await signCaaHeaderAsync({ action: CAA_ACTIONS.fetchMyProfile, apiKey, secretKey }) },
 * });
 * ```
 *
 * @category Client
 */
export async function signCaaHeaderAsync(input: SignHeaderAsyncInput): Promise<string> {
  const { action, apiKey, secretKey } = input;
  const timestamp = input.timestamp ?? Date.now();
  if (!isBase64(apiKey)) throw new RangeError('apiKey must be standard base64');
  if (!Number.isInteger(timestamp) || timestamp < MIN_TIMESTAMP || timestamp > MAX_TIMESTAMP) {
    throw new RangeError('timestamp must be epoch milliseconds of 13 digits');
  }
  const signature = await computeSignatureAsync({ action, apiKey, secretKey, timestamp });
  return `Caa ${bytesToBase64(encoder.encode(`${apiKey}:${signature} ${timestamp}`))}`;
}
