/**
 * The HMAC key of a session (spec §2): HKDF-SHA256 of its secretKey, never the secretKey itself,
 * so that a key leaked from this scheme does not sign legacy headers, and the other way round.
 *
 * @module protocol/http-signatures/key
 */

import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { CAA_V2_SIGNATURE_BYTES } from './limits.js';
import { CAA_V2_KEY_INFO } from './profile.js';

/**
 * HKDF-Extract's salt (RFC 5869 §2.2): a zero-length salt is HashLen zero bytes, the same HMAC key
 * once padded to the block.
 */
const SALT = Buffer.alloc(CAA_V2_SIGNATURE_BYTES);
/** HKDF-Expand's first (and, for 32 bytes out, only) block input: info ‖ 0x01 (RFC 5869 §2.3). */
const INFO_AND_COUNTER = Buffer.concat([Buffer.from(CAA_V2_KEY_INFO, 'latin1'), Buffer.of(1)]);

/**
 * Derives the `caa-v2` HMAC key of a session: HKDF-SHA256 with the UTF-8 bytes of `secretKey` as
 * input keying material, an empty salt, `info` {@link CAA_V2_KEY_INFO}, 32 bytes out.
 *
 * Written as RFC 5869's two HMACs (Extract, then one block of Expand) rather than `hkdfSync`:
 * the same bytes (the tests compare both on arbitrary secrets) for less than half the time, and
 * the server derives once per request.
 *
 * @param secretKey - The session's secretKey, as issued (base64 text).
 * @returns The 32-byte key.
 *
 * @example
 * ```ts
 * import { deriveCaaV2Key } from 'caa-auth';
 *
 * // Spec vector S1.
 * deriveCaaV2Key('VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=').toString('base64');
 * // 'faTw7uRBgogJJuK1Q2xJUfbJv3RpxWSFHNuGMXpF+9o='
 * ```
 *
 * @category Protocol
 */
export function deriveCaaV2Key(secretKey: string): Buffer {
  const prk = createHmac('sha256', SALT).update(secretKey, 'utf8').digest();
  return createHmac('sha256', prk).update(INFO_AND_COUNTER).digest();
}
