/**
 * deriveCaaV2Key (spec §2): the two HMACs of RFC 5869 give exactly what Node's own HKDF gives, for
 * any secretKey, and the key is not the secretKey's bytes.
 */

import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAA_V2_KEY_INFO, deriveCaaV2Key } from '../../../src/index.js';
import { CAA_V2_VECTORS } from './spec-vectors.js';

const nodeHkdf = (secretKey: string): Buffer =>
  Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), Buffer.alloc(0), CAA_V2_KEY_INFO, 32));

describe('deriveCaaV2Key', () => {
  it.each(CAA_V2_VECTORS)('gives K of $name', (v) => {
    expect(deriveCaaV2Key(v.secretKey).toString('base64')).toBe(v.key);
    expect(nodeHkdf(v.secretKey).toString('base64')).toBe(v.key);
  });

  it('equals hkdfSync (empty salt, the profile info, 32 bytes) for any secretKey, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.base64String({ maxLength: 88 })), (secretKey) => {
        expect(deriveCaaV2Key(secretKey)).toStrictEqual(nodeHkdf(secretKey));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives 32 bytes that differ from the secretKey and between secretKeys', () => {
    const a = deriveCaaV2Key('a');
    expect(a).toHaveLength(32);
    expect(a.equals(Buffer.from('a'))).toBe(false);
    expect(a.equals(deriveCaaV2Key('b'))).toBe(false);
  });
});
