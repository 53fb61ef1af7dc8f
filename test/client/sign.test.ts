/**
 * The client's Web Crypto signing against the spec §4 vectors (test/support/spec-vectors.ts), byte
 * for byte, and against the server side's `node:crypto` signing on generated inputs.
 */

import { describe, expect, it } from 'vitest';
import { computeSignatureAsync, signCaaHeaderAsync } from '../../src/client/index.js';
import { computeSignature, parseCaaHeader, signCaaHeader } from '../../src/index.js';
import { SPEC_VECTORS } from '../support/spec-vectors.js';

describe('client web signing: spec §4 vectors', () => {
  for (const vector of SPEC_VECTORS) {
    it(`${vector.name}: reproduces the signature and the header byte for byte`, async () => {
      const { action, apiKey, secretKey, timestamp } = vector;
      await expect(computeSignatureAsync({ action, apiKey, secretKey, timestamp })).resolves.toBe(vector.signature);
      await expect(signCaaHeaderAsync({ action, apiKey, secretKey, timestamp })).resolves.toBe(vector.header);
    });
  }
});

/** A deterministic generator, so that a failure can be reproduced. */
function* generatedInputs(count: number): Generator<{ action: string; apiKey: string; secretKey: string; timestamp: number }> {
  let seed = 0x2545f491;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
  const base64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b));
  // 1-, 2-, 3- and 4-byte UTF-8 characters in the action.
  const alphabet = ['a', 'Z', ':', '-', '\u00fc', '\u6211', '\u{1f511}', '&', '='];
  for (let i = 0; i < count; i++) {
    const action = Array.from({ length: 1 + Math.floor(next() * 30) }, () => alphabet[Math.floor(next() * alphabet.length)] ?? 'a').join('');
    yield {
      action,
      apiKey: base64(bytes(1 + Math.floor(next() * 48))),
      secretKey: base64(bytes(1 + Math.floor(next() * 48))),
      timestamp: 1_000_000_000_000 + Math.floor(next() * 8_999_999_999_999),
    };
  }
}

describe('client web signing agrees with the server side', () => {
  it('matches computeSignature and signCaaHeader (node:crypto) on 300 generated inputs, UTF-8 actions included', async () => {
    for (const input of generatedInputs(300)) {
      expect(await computeSignatureAsync(input)).toBe(computeSignature(input));
      const header = await signCaaHeaderAsync(input);
      expect(header).toBe(signCaaHeader(input));
      expect(parseCaaHeader(header)).toEqual({ apiKey: input.apiKey, signature: computeSignature(input), timestamp: input.timestamp });
    }
  });

  it('defaults the timestamp to Date.now()', async () => {
    const before = Date.now();
    const header = await signCaaHeaderAsync({ action: 'a', apiKey: 'QQ==', secretKey: 's' });
    const { timestamp } = parseCaaHeader(header);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('refuses what the server would refuse as invalid authorization: a 12-digit timestamp, a non-base64 apiKey', async () => {
    await expect(signCaaHeaderAsync({ action: 'a', apiKey: 'QQ==', secretKey: 's', timestamp: 999_999_999_999 })).rejects.toThrow(RangeError);
    await expect(signCaaHeaderAsync({ action: 'a', apiKey: 'QQ==', secretKey: 's', timestamp: 1.5e12 + 0.5 })).rejects.toThrow(RangeError);
    await expect(signCaaHeaderAsync({ action: 'a', apiKey: 'not base64', secretKey: 's', timestamp: 1.5e12 })).rejects.toThrow(RangeError);
  });
});
