/**
 * Secrets at rest: a store can keep each `secretKey` sealed with AES-256-GCM under an application
 * key, so that a leaked dump of the store hands out no working credentials. Each sealed value
 * names its key id, so the application key can be rotated without logging anyone out: add the new
 * key as `current`, keep the old one for opening until every record sealed with it is gone — the
 * session lifetime plus the retention of expired sessions after the switch (`ttlMs` +
 * `expiredRetentionMs`, 3 + 1 days by default) — then drop it.
 *
 * @module stores/secret-cipher
 */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Seals and opens `secretKey` values; `context` (the apiKey) is bound in as associated data.
 *
 * @example
 * ```ts
 * import { createSecretCipher, type SecretCipher } from 'caa-auth';
 *
 * const cipher: SecretCipher = createSecretCipher({ keys: { k1: applicationKey }, current: 'k1' });
 * const sealed = cipher.seal(secretKey, apiKey); // 'g1.k1.…'
 * cipher.open(sealed, apiKey); // secretKey
 * // The apiKey is bound in, so a sealed secret copied into another session's record does not open.
 * cipher.open(sealed, otherApiKey); // throws
 * ```
 *
 * @category Stores
 */
export interface SecretCipher {
  /**
   * Seals a secretKey for storage under the current key.
   *
   * @param secretKey - The secret to seal.
   * @param context - What the sealed value is bound to (the record's apiKey, user, family and expiry); {@link SecretCipher.open} needs the same.
   */
  seal(secretKey: string, context: string): string;
  /**
   * Opens a sealed secretKey; throws when it was tampered with, sealed for another context or under an unknown key.
   *
   * @param sealed - What {@link SecretCipher.seal} returned.
   * @param context - The context it was sealed with.
   */
  open(sealed: string, context: string): string;
}

/**
 * Options of {@link createSecretCipher}.
 *
 * @example
 * ```ts
 * import { RedisStore, createSecretCipher, type SecretCipherOptions } from 'caa-auth';
 *
 * // New secrets are sealed with 2026-11; 2026-08 stays to open the records sealed before the switch.
 * const options: SecretCipherOptions = {
 *   keys: { '2026-11': process.env.CAA_KEY_2026_11, '2026-08': process.env.CAA_KEY_2026_08 },
 *   current: '2026-11',
 * };
 * const store = new RedisStore({ client, secretCipher: createSecretCipher(options) });
 * ```
 *
 * @category Stores
 */
export interface SecretCipherOptions {
  /** Application keys by key id: 32 bytes each (a Buffer, or base64 text of 32 bytes). */
  keys: Readonly<Record<string, Uint8Array | string>>;
  /** The key id that seals new values; every other key only opens. */
  current: string;
}

const VERSION = 'g1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/**
 * An AES-256-GCM {@link SecretCipher}. A sealed value reads `g1.<keyId>.<iv>.<ciphertext+tag>`
 * (base64url parts); the apiKey is the associated data, so a sealed secret moved to another
 * session's record does not open.
 *
 * @param options - The application keys by id (32 bytes each, base64) and which one seals (`current`).
 *
 * @example
 * ```ts
 * import { RedisStore, createSecretCipher } from 'caa-auth';
 *
 * const secretCipher = createSecretCipher({
 *   keys: { '2026-11': await vault.read('caa/2026-11'), '2026-08': await vault.read('caa/2026-08') },
 *   current: '2026-11',
 * });
 * const store = new RedisStore({ client, secretCipher });
 * ```
 *
 * @category Stores
 */
export function createSecretCipher(options: SecretCipherOptions): SecretCipher {
  const keys = new Map<string, Buffer>();
  for (const [id, key] of Object.entries(options.keys)) {
    if (id.length === 0 || id.includes('.')) throw new TypeError('secret cipher: a key id is non-empty and has no "."');
    const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
    if (bytes.length !== KEY_BYTES) throw new TypeError(`secret cipher: key "${id}" must be ${KEY_BYTES} bytes`);
    keys.set(id, bytes);
  }
  const currentKey = keys.get(options.current);
  if (currentKey === undefined) throw new TypeError('secret cipher: `current` must name one of `keys`');
  const current = options.current;

  return {
    seal(secretKey, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const sealed = Buffer.concat([cipher.update(secretKey, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${current}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, id, iv, body, extra] = sealed.split('.');
      const key = id === undefined ? undefined : keys.get(id);
      if (version !== VERSION || key === undefined || iv === undefined || body === undefined || extra !== undefined) {
        throw new Error('secret cipher: value is not sealed with a known key');
      }
      const bytes = Buffer.from(body, 'base64url');
      if (bytes.length < TAG_BYTES) throw new Error('secret cipher: value is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}
