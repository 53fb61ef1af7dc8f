/**
 * caa-auth: parse, sign and verify `Authorization: Caa …` headers, and rotate the session
 * credentials behind them atomically over a memory or Redis store.
 *
 * @module caa-auth
 */

export { CAA_MESSAGES, CaaError, isCaaError, toErrorResponse, toFetchErrorResponse } from './errors.js';
export type { CaaErrorCode, CaaMessage, ErrorResponse } from './errors.js';
export { MAX_USER_ID_LENGTH, PRIVATE_USER_FIELDS, PUBLIC_USER_FIELDS, toPublicUser, userIdOf } from './models.js';
export type { CredentialsResponse, Gender, PublicUser, RefreshTokenResponse, Session, User, UserId, UserLike } from './models.js';
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
} from './protocol/index.js';
export type {
  CaaV2HeaderSource,
  CaaV2RequestParts,
  CaaV2Signature,
  CaaV2SignedHeaders,
  SignCaaV2RequestInput,
} from './protocol/index.js';
export {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_LIFETIME_MS,
  DEFAULT_MAX_SESSIONS_PER_USER,
  DEFAULT_ROTATION_TOLERANCE_MS,
  DEFAULT_SESSION_TTL_MS,
  KEY_BYTES,
  generateKey,
} from './use-cases/options.js';
export type { ClockOptions, IssueOptions, LifetimeOptions, ProjectionOptions, RotationOptions } from './use-cases/options.js';
export type {
  CaaEvent,
  CaaEventHandler,
  CaaOperation,
  EventOptions,
  RevokeReason,
  StoreFault,
} from './use-cases/events.js';
export { createCaaAuth } from './use-cases/create-caa-auth.js';
export type { CaaAuth, CaaAuthConfig } from './use-cases/create-caa-auth.js';
export { listSessions, revokeUserSession, revokeUserSessions } from './use-cases/sessions.js';
export type { ListSessionsOptions, RevokeUserSessionsOptions, SessionInfo, SessionRef } from './use-cases/sessions.js';
export { readAuthorization } from './use-cases/request.js';
export type { CaaScheme, CaaV2RequestLike, SchemeOptions } from './use-cases/caa-v2.js';
export type { HeaderRecord, HeadersLike, RequestLike } from './use-cases/request.js';
export { authenticate } from './use-cases/authenticate.js';
export type { AuthenticateOptions } from './use-cases/authenticate.js';
export { issueSession } from './use-cases/issue-session.js';
export type { IssueSessionOptions } from './use-cases/issue-session.js';
export { refreshToken } from './use-cases/refresh-token.js';
export type { RefreshTokenOptions } from './use-cases/refresh-token.js';
export { revokeSession } from './use-cases/revoke-session.js';
export type { RevokeSessionOptions } from './use-cases/revoke-session.js';
export {
  EXPIRED_SESSION_RETENTION_MS,
  FAMILY_TAG_LENGTH,
  MAX_METADATA_KEYS,
  MAX_METADATA_VALUE_LENGTH,
} from './stores/session-store.js';
export type {
  CreateOptions,
  CreateResult,
  LookupResult,
  ReplayMarker,
  RotateRequest,
  RevokeUserSessionsFilter,
  RotateResult,
  SessionMetadata,
  SessionRecord,
  SessionStore,
  StoreCondition,
  StoredSessionInfo,
  UseRequest,
  UseResult,
  VerifiedUse,
} from './stores/session-store.js';
export { MemoryStore } from './stores/memory-store.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';
export { DEFAULT_REDIS_TIMEOUT_MS, MIN_REDIS_VERSION, RedisStore } from './stores/redis/redis-store.js';
export type { RedisCheckReport, RedisServerCheck, RedisStoreLogger, RedisStoreOptions } from './stores/redis/redis-store.js';
export { ioredisAdapter, nodeRedisAdapter } from './stores/redis/client.js';
export type { AnyRedisClient, IoredisLike, IoredisPipelineLike, NodeRedisLike, RedisScriptClient } from './stores/redis/client.js';
export { MemoryUserRepository } from './users/user-repository.js';
export type { UserRepository } from './users/user-repository.js';
export { createSecretCipher } from './stores/secret-cipher.js';
export type { SecretCipher, SecretCipherOptions } from './stores/secret-cipher.js';
