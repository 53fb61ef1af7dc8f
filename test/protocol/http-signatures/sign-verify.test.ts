/**
 * signCaaV2Request (defaults, options, what it refuses to sign), verifyCaaV2Signature (the key,
 * the bytes compared) and assertCaaV2Window (spec §3: both edges included, expires).
 */

import { describe, expect, it, vi } from 'vitest';
import {
  CAA_V2_REQUIRED_COMPONENTS,
  MAX_COVERED_COMPONENTS,
  assertCaaV2Window,
  deriveCaaV2Key,
  parseCaaV2Signature,
  requestPartsFromUrl,
  signCaaV2Request,
  verifyCaaV2Signature,
  type SignCaaV2RequestInput,
} from '../../../src/index.js';
import { TIMESTAMP_OUT_OF_WINDOW, expectThrowsCaaError } from '../../support/expect-caa-error.js';
import { S1, S2 } from './spec-vectors.js';

const SESSION = { apiKey: S1.apiKey, secretKey: S1.secretKey };
const URL_ = 'https://api.example.com/api/my?lang=zh-CN';

/** Signs, then verifies as a server receiving exactly the signed request would. */
function signAndVerify(input: SignCaaV2RequestInput, extraHeaders: Record<string, string> = {}): boolean {
  const signed = signCaaV2Request(input);
  const sig = parseCaaV2Signature(signed['signature-input'], signed.signature);
  return verifyCaaV2Signature(sig, requestPartsFromUrl(input.method, input.url, { ...extraHeaders, ...signed }), deriveCaaV2Key(input.secretKey));
}

describe('signCaaV2Request', () => {
  it('stamps created with the current second and a fresh 24-character base64url nonce by default', () => {
    vi.useFakeTimers({ now: 1_700_000_000_999 });
    try {
      const a = parseCaaV2Signature(...values(signCaaV2Request({ method: 'GET', url: URL_, ...SESSION })));
      const b = parseCaaV2Signature(...values(signCaaV2Request({ method: 'GET', url: URL_, ...SESSION })));
      expect(a.created).toBe(1_700_000_000);
      expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(a.nonce).not.toBe(b.nonce);
    } finally {
      vi.useRealTimers();
    }
  });

  it('covers content-digest only when there is a non-empty body', () => {
    expect(signCaaV2Request({ method: 'POST', url: URL_, ...SESSION })['content-digest']).toBeUndefined();
    expect(signCaaV2Request({ method: 'POST', url: URL_, body: '', ...SESSION })['content-digest']).toBeUndefined();
    const signed = signCaaV2Request({ method: 'POST', url: URL_, body: S2.body ?? '', ...SESSION });
    expect(signed['content-digest']).toBe(S2.contentDigest);
    expect(parseCaaV2Signature(signed['signature-input'], signed.signature).components).toStrictEqual([
      ...CAA_V2_REQUIRED_COMPONENTS,
      'content-digest',
    ]);
  });

  it('signs a string body as its UTF-8 bytes', () => {
    const text = 'caf\u00e9 \u{1f511}';
    expect(signCaaV2Request({ method: 'PUT', url: URL_, body: text, ...SESSION, created: 1, nonce: S1.nonce })).toStrictEqual(
      signCaaV2Request({ method: 'PUT', url: URL_, body: new TextEncoder().encode(text), ...SESSION, created: 1, nonce: S1.nonce }),
    );
  });

  it('writes expires after created, and the server reads it', () => {
    const signed = signCaaV2Request({ method: 'GET', url: URL_, ...SESSION, created: 1700000000, expires: 1700000060, nonce: S1.nonce });
    expect(signed['signature-input']).toBe(
      `caa=("@method" "@authority" "@path" "@query");created=1700000000;expires=1700000060;nonce="${S1.nonce}";keyid="${S1.apiKey}";alg="hmac-sha256";tag="caa-v2"`,
    );
    expect(parseCaaV2Signature(signed['signature-input'], signed.signature).expires).toBe(1700000060);
  });

  it('covers other fields given in headers, in the order of components', () => {
    const input: SignCaaV2RequestInput = {
      method: 'PUT',
      url: URL_,
      body: '{}',
      ...SESSION,
      components: ['content-type', ...CAA_V2_REQUIRED_COMPONENTS, 'content-digest'],
      headers: { 'content-type': 'application/json' },
    };
    expect(signAndVerify(input, { 'content-type': 'application/json' })).toBe(true);
    expect(signAndVerify(input, { 'content-type': 'text/plain' })).toBe(false);
  });

  it('covers content-digest of an empty body when asked to', () => {
    const signed = signCaaV2Request({ method: 'POST', url: URL_, ...SESSION, components: [...CAA_V2_REQUIRED_COMPONENTS, 'content-digest'] });
    expect(signed['content-digest']).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
  });

  it.each<[string, Partial<SignCaaV2RequestInput>]>([
    ['a required component left out', { components: ['@method', '@authority', '@path'] }],
    ['a component twice', { components: [...CAA_V2_REQUIRED_COMPONENTS, '@path'] }],
    ['an unknown derived component', { components: [...CAA_V2_REQUIRED_COMPONENTS, '@target-uri'] }],
    ['a field name in uppercase', { components: [...CAA_V2_REQUIRED_COMPONENTS, 'Content-Type'], headers: { 'Content-Type': 'x' } }],
    ['too many components', { components: [...CAA_V2_REQUIRED_COMPONENTS, ...Array.from({ length: MAX_COVERED_COMPONENTS - 3 }, (_, i) => `h${i}`)] }],
    ['a body not covered by content-digest', { body: 'x', components: CAA_V2_REQUIRED_COMPONENTS }],
    ['a covered field missing from headers', { components: [...CAA_V2_REQUIRED_COMPONENTS, 'content-type'] }],
    ['a covered field holding a line feed', { components: [...CAA_V2_REQUIRED_COMPONENTS, 'x-a'], headers: { 'x-a': 'a\nb' } }],
    ['a non-ASCII method', { method: 'G\u00c9T' }],
    ['created in milliseconds past 15 digits', { created: 1e15 }],
    ['created not an integer', { created: 1.5 }],
    ['created negative', { created: -1 }],
    ['expires not an integer', { expires: 1.5 }],
    ['a short nonce', { nonce: 'abc' }],
    ['a nonce outside the alphabets', { nonce: 'abcdefghijklmnop!' }],
    ['an empty apiKey', { apiKey: '' }],
    ['an apiKey with a line feed', { apiKey: 'a\nb' }],
    ['a Signature-Input over the cap', { apiKey: 'k'.repeat(2048) }],
  ])('throws a RangeError for %s', (_, overrides) => {
    expect(() => signCaaV2Request({ method: 'GET', url: URL_, ...SESSION, ...overrides })).toThrow(RangeError);
  });
});

function values(signed: { 'signature-input': string; signature: string }): [string, string] {
  return [signed['signature-input'], signed.signature];
}

describe('verifyCaaV2Signature', () => {
  const sig = parseCaaV2Signature(S1.signatureInput, S1.signature);
  const parts = requestPartsFromUrl(S1.method, S1.url);
  const key = deriveCaaV2Key(S1.secretKey);

  it('is false under another session key', () => {
    expect(verifyCaaV2Signature(sig, parts, deriveCaaV2Key(S2.secretKey))).toBe(false);
  });

  it('is false when any bit of the signature is flipped', () => {
    for (let bit = 0; bit < 256; bit++) {
      const flipped = new Uint8Array(sig.signature);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(verifyCaaV2Signature({ ...sig, signature: flipped }, parts, key)).toBe(false);
    }
  });

  it('is false, without throwing, for a signature that is not 32 bytes', () => {
    expect(verifyCaaV2Signature({ ...sig, signature: sig.signature.subarray(0, 31) }, parts, key)).toBe(false);
    expect(verifyCaaV2Signature({ ...sig, signature: new Uint8Array(0) }, parts, key)).toBe(false);
  });

  it('is true for the vector, as a control', () => {
    expect(verifyCaaV2Signature(sig, parts, key)).toBe(true);
  });
});

describe('assertCaaV2Window', () => {
  const created = 1_700_000_000;
  const skewMs = 300_000;

  it('accepts created exactly skewMs before or after now, and refuses one ms beyond either edge', () => {
    expect(() => assertCaaV2Window({ created }, { now: created * 1000 + skewMs, skewMs })).not.toThrow();
    expect(() => assertCaaV2Window({ created }, { now: created * 1000 - skewMs, skewMs })).not.toThrow();
    expectThrowsCaaError(() => assertCaaV2Window({ created }, { now: created * 1000 + skewMs + 1, skewMs }), TIMESTAMP_OUT_OF_WINDOW);
    expectThrowsCaaError(() => assertCaaV2Window({ created }, { now: created * 1000 - skewMs - 1, skewMs }), TIMESTAMP_OUT_OF_WINDOW);
  });

  it('defaults to a 5-minute window around Date.now()', () => {
    vi.useFakeTimers({ now: created * 1000 + 300_000 });
    try {
      expect(() => assertCaaV2Window({ created })).not.toThrow();
      vi.setSystemTime(created * 1000 + 300_001);
      expectThrowsCaaError(() => assertCaaV2Window({ created }), TIMESTAMP_OUT_OF_WINDOW);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a request after expires, and accepts it at expires exactly', () => {
    const expires = created + 60;
    expect(() => assertCaaV2Window({ created, expires }, { now: expires * 1000 })).not.toThrow();
    expectThrowsCaaError(() => assertCaaV2Window({ created, expires }, { now: expires * 1000 + 1 }), TIMESTAMP_OUT_OF_WINDOW);
  });

  it('refuses when now or skewMs is NaN', () => {
    expectThrowsCaaError(() => assertCaaV2Window({ created }, { now: Number.NaN }), TIMESTAMP_OUT_OF_WINDOW);
    expectThrowsCaaError(() => assertCaaV2Window({ created }, { now: created * 1000, skewMs: Number.NaN }), TIMESTAMP_OUT_OF_WINDOW);
  });
});
