/**
 * `caa-auth/client`: the universal client helper. It signs `Authorization: Caa …` headers, or RFC
 * 9421 signatures of the `caa-v2` profile, with Web Crypto and talks to a Caa API through `fetch`,
 * so it runs in Node 20+, browsers and edge runtimes; nothing on this path imports a Node built-in.
 *
 * @example
 * ```ts
 * import { createCaaClient } from 'caa-auth/client';
 *
 * const client = createCaaClient({ baseUrl: 'https://api.example.com' });
 * await client.login('13000000000', 'secret');
 * const me = await client.profile();
 * ```
 *
 * @module caa-auth/client
 */

export { CAA_PATHS, DEFAULT_REFRESH_AHEAD_MS, createCaaClient } from './client.js';
export type { CaaClient, CaaClientCredentials, CaaClientOptions, CaaClientScheme, CaaLoginOptions, CaaRequestOptions, FetchLike, SessionInfo } from './client.js';
export { CLOCK_SKEW_TOLERANCE_MS, CaaClock, DATE_HEADER_RESOLUTION_MS, MAX_CLOCK_OFFSET_MS, parseHttpDate } from './clock.js';
export type { ClockSample } from './clock.js';
export { CaaClientError, isCaaClientError } from './errors.js';
export type { CaaClientErrorCode, CaaClientErrorOptions } from './errors.js';
export { CAA_V2_ALG, CAA_V2_KEY_INFO, CAA_V2_LABEL, CAA_V2_NONCE_BYTES, CAA_V2_TAG, signCaaV2Async } from './http-signatures.js';
export type { CaaV2Headers, SignCaaV2Input } from './http-signatures.js';
export { computeSignatureAsync, signCaaHeaderAsync } from './sign.js';
export type { SignHeaderAsyncInput } from './sign.js';
export { CAA_ACTIONS } from '../protocol/actions.js';
export type { CaaAction } from '../protocol/actions.js';
export type { SignatureInput } from '../protocol/string-to-sign.js';
export type { CredentialsResponse, PublicUser, User, UserLike } from '../models.js';
