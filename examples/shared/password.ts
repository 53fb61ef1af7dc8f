/**
 * Password hashing for the example servers: salted scrypt from `node:crypto`, compared in constant
 * time. Checking passwords is the application's business, not caa-auth's; this is the smallest
 * honest version of it.
 *
 * Stored format: `scrypt$<salt base64>$<key base64>`.
 */

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PREFIX = 'scrypt';

/** Longer inputs are refused before hashing, so a huge "password" cannot make scrypt a DoS lever. */
export const MAX_PASSWORD_LENGTH = 256;

function deriveKey(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/** Hashes a password with a fresh random 16-byte salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(password, salt);
  return `${PREFIX}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches `stored` (a {@link hashPassword} result); false for anything malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [prefix, saltText, keyText, ...rest] = stored.split('$');
  if (prefix !== PREFIX || saltText === undefined || keyText === undefined || rest.length > 0) return false;
  const expected = Buffer.from(keyText, 'base64');
  if (expected.length !== KEY_BYTES) return false;
  const actual = await deriveKey(password, Buffer.from(saltText, 'base64'));
  return timingSafeEqual(actual, expected);
}
