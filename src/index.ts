/**
 * caa-auth: parse, sign and verify `Authorization: Caa …` headers, and rotate the session
 * credentials behind them atomically over a memory or Redis store.
 *
 * @module caa-auth
 */

export { CAA_MESSAGES, CaaError, isCaaError } from './errors.js';
export type { CaaErrorCode, CaaMessage } from './errors.js';
export { PRIVATE_USER_FIELDS, toPublicUser } from './models.js';
export type { CredentialsResponse, Gender, PublicUser, RefreshTokenResponse, Session, User } from './models.js';
export {
  CAA_ACTIONS,
  DEFAULT_SKEW_MS,
  MAX_HEADER_LENGTH,
  SIGNATURE_BYTES,
  TIMESTAMP_DIGITS,
  assertTimestampInWindow,
  buildStringToSign,
  computeSignature,
  formatCaaHeader,
  parseCaaHeader,
  signCaaHeader,
  verifyCaaSignature,
} from './protocol/index.js';
export type { CaaAction, CaaCredentials, SignHeaderInput, SignatureInput, VerifyOptions } from './protocol/index.js';
