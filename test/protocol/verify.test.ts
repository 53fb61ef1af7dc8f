/**
 * Server-side verification (spec §3): the ±5 minute window and the signature check. Every test
 * injects `now`; none depends on the real clock.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_SKEW_MS,
  assertTimestampInWindow,
  computeSignature,
  formatCaaHeader,
  parseCaaHeader,
  signCaaHeader,
  verifyCaaSignature,
} from '../../src/index.js';
import { SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_WINDOW, expectThrowsCaaError } from '../support/expect-caa-error.js';

// Spec vectors V1, V3, V4 and V5.
const VECTORS = [
  {
    name: 'V1',
    action: 'user:personal-profile',
    secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
    header:
      'Caa U3pnZ1U4ZGoyeGNlZ1hmWlZ4MXVjbS9oS2dyZThESWNrSFBveGtrbituMD06VkhUbllqc2NPTnJHWE11bWFHQ2h2VitRK1hvPSAxNDk0OTA4MjYxNTk5',
  },
  {
    name: 'V3',
    action: 'client:my:refresh-token',
    secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
    header:
      'Caa YldGa1pTMTFjQzFoY0drdGEyVjVMV1p2Y2kxMFpYTjBjeTB3TURBd01ERT06UmpCejBVbG9mMlJvUm54bkN1TWh0MmJ6OEFRPSAxNTEwMjEzODcyMDcw',
  },
  {
    name: 'V4',
    action: 'client:my:fetch-my-profile',
    secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=',
    header:
      'Caa UjFhOXQ0VWh2ZFpOQ2xXTVZBcitBYm5xUkd2MnV5UWt6VWYxS0l1WUlQST06aUF4aVVxZU1CTklIMzI4VzJOV2N1TlhTcDVBPSAxNzAwMDAwMDAwMDAw',
  },
  {
    name: 'V5',
    action: 'client:my:logout',
    secretKey: 'zWKcqNvD4x/CAIu14t5HztROyx4g9BUnrn2+RnOJxdY=',
    header:
      'Caa NXJVbHdkeTd1S2c0ZVlOMkM0MWd1VHRCS25xRzRFd1BNZWJtTkoxWUdldz06a0pJUlBUOVFQbGRLT3QzUDB3OUs1WjhXakhZPSAxNzY0MTE1MjAwMDAw',
  },
] as const;

const [, V3] = VECTORS;
const v3 = parseCaaHeader(V3.header);
const v3Options = { action: V3.action, secretKey: V3.secretKey };

/** The signature with bit `bit` (0 = most significant of the first byte) of its 20 bytes flipped. */
function flipBit(signature: string, bit: number): string {
  const raw = Buffer.from(signature, 'base64');
  raw[bit >> 3] = (raw[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7));
  return raw.toString('base64');
}

describe('verifyCaaSignature on the spec vectors', () => {
  it.each(VECTORS)('accepts $name with now = its timestamp', ({ action, secretKey, header }) => {
    const credentials = parseCaaHeader(header);
    expect(() => verifyCaaSignature(credentials, { action, secretKey, now: credentials.timestamp })).not.toThrow();
  });
});

describe('the timestamp window (default ±300 000 ms, both edges included)', () => {
  it('is 5 minutes', () => {
    expect(DEFAULT_SKEW_MS).toBe(300_000);
  });

  it('accepts a timestamp exactly 300 000 ms old', () => {
    expect(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp + 300_000 })).not.toThrow();
  });

  it('accepts a timestamp exactly 300 000 ms in the future', () => {
    expect(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp - 300_000 })).not.toThrow();
  });

  it('rejects a stale timestamp one ms outside the window (300 001 ms old)', () => {
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp + 300_001 }), TIMESTAMP_OUT_OF_WINDOW);
  });

  it('rejects a future timestamp one ms outside the window (300 001 ms ahead)', () => {
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp - 300_001 }), TIMESTAMP_OUT_OF_WINDOW);
  });

  it('checks the window before the signature: a stale request with a wrong secret is TIMESTAMP_OUT_OF_WINDOW', () => {
    expectThrowsCaaError(
      () => verifyCaaSignature(v3, { action: V3.action, secretKey: 'wrong', now: v3.timestamp + 3_600_000 }),
      TIMESTAMP_OUT_OF_WINDOW,
    );
  });

  it('rejects every timestamp outside the window and accepts every one inside', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2 * DEFAULT_SKEW_MS, max: 2 * DEFAULT_SKEW_MS }), (offset) => {
        const run = (): void => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp + offset });
        if (Math.abs(offset) <= DEFAULT_SKEW_MS) expect(run).not.toThrow();
        else expectThrowsCaaError(run, TIMESTAMP_OUT_OF_WINDOW);
      }),
    );
  });

  it('rejects a now that is not a number (NaN) rather than accepting it', () => {
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, now: Number.NaN }), TIMESTAMP_OUT_OF_WINDOW);
  });
});

describe('a custom skewMs', () => {
  it('accepts exactly skewMs either way', () => {
    for (const now of [v3.timestamp + 1_000, v3.timestamp - 1_000]) {
      expect(() => verifyCaaSignature(v3, { ...v3Options, now, skewMs: 1_000 })).not.toThrow();
    }
  });

  it('rejects skewMs + 1 either way', () => {
    for (const now of [v3.timestamp + 1_001, v3.timestamp - 1_001]) {
      expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, now, skewMs: 1_000 }), TIMESTAMP_OUT_OF_WINDOW);
    }
  });

  it('can widen the window beyond 5 minutes', () => {
    expect(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp + 600_000, skewMs: 600_000 })).not.toThrow();
  });

  it('with skewMs 0 accepts only now = timestamp', () => {
    expect(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp, skewMs: 0 })).not.toThrow();
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp + 1, skewMs: 0 }), TIMESTAMP_OUT_OF_WINDOW);
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, now: v3.timestamp - 1, skewMs: 0 }), TIMESTAMP_OUT_OF_WINDOW);
  });
});

describe('assertTimestampInWindow', () => {
  it('shares the edges of verifyCaaSignature', () => {
    const timestamp = 1_700_000_000_000;
    expect(() => assertTimestampInWindow(timestamp, { now: timestamp + 300_000 })).not.toThrow();
    expect(() => assertTimestampInWindow(timestamp, { now: timestamp - 300_000 })).not.toThrow();
    expectThrowsCaaError(() => assertTimestampInWindow(timestamp, { now: timestamp + 300_001 }), TIMESTAMP_OUT_OF_WINDOW);
    expectThrowsCaaError(() => assertTimestampInWindow(timestamp, { now: timestamp - 300_001 }), TIMESTAMP_OUT_OF_WINDOW);
  });
});

describe('the signature check', () => {
  const now = v3.timestamp;

  it('rejects a signature made for another action (replay on another endpoint)', () => {
    for (const action of Object.values(CAA_ACTIONS).filter((a) => a !== V3.action)) {
      const signature = computeSignature({ action, apiKey: v3.apiKey, secretKey: V3.secretKey, timestamp: v3.timestamp });
      expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature }, { ...v3Options, now }), SIGNATURE_MISMATCH);
    }
  });

  it('rejects a correctly signed header verified for another endpoint', () => {
    const header = signCaaHeader({ action: CAA_ACTIONS.logout, apiKey: v3.apiKey, secretKey: V3.secretKey, timestamp: now });
    expectThrowsCaaError(
      () => verifyCaaSignature(parseCaaHeader(header), { action: CAA_ACTIONS.refreshToken, secretKey: V3.secretKey, now }),
      SIGNATURE_MISMATCH,
    );
  });

  it('rejects the wrong secret', () => {
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, secretKey: VECTORS[0].secretKey, now }), SIGNATURE_MISMATCH);
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, secretKey: `${V3.secretKey} `, now }), SIGNATURE_MISMATCH);
    expectThrowsCaaError(() => verifyCaaSignature(v3, { ...v3Options, secretKey: '', now }), SIGNATURE_MISMATCH);
  });

  it('rejects a signature bound to another apiKey', () => {
    const otherApiKey = parseCaaHeader(VECTORS[2].header).apiKey;
    expectThrowsCaaError(() => verifyCaaSignature({ ...v3, apiKey: otherApiKey }, { ...v3Options, now }), SIGNATURE_MISMATCH);
  });

  it('rejects a signature bound to another timestamp, even inside the window', () => {
    expectThrowsCaaError(() => verifyCaaSignature({ ...v3, timestamp: v3.timestamp + 1 }, { ...v3Options, now }), SIGNATURE_MISMATCH);
  });

  it('rejects the signature with any one of its 160 bits flipped', () => {
    for (let bit = 0; bit < 160; bit++) {
      const signature = flipBit(v3.signature, bit);
      expect(signature).not.toBe(v3.signature);
      expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature }, { ...v3Options, now }), SIGNATURE_MISMATCH);
    }
  });

  it('rejects the other three base64 spellings of the right 20 bytes (spare bits set), which would dodge replay keys', () => {
    const spellings = ['R', 'S', 'T'].map((last) => `${v3.signature.slice(0, 26)}${last}=`);
    expect(v3.signature.slice(26)).toBe('Q=');
    for (const signature of spellings) {
      expect(Buffer.from(signature, 'base64').equals(Buffer.from(v3.signature, 'base64'))).toBe(true);
      expect(parseCaaHeader(formatCaaHeader({ ...v3, signature })).signature).toBe(signature);
      expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature }, { ...v3Options, now }), SIGNATURE_MISMATCH);
    }
  });

  it('rejects the right signature followed by anything, or without its padding', () => {
    for (const signature of [`${v3.signature}AAAA`, `${v3.signature} `, `${v3.signature.slice(0, 27)}`]) {
      expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature }, { ...v3Options, now }), SIGNATURE_MISMATCH);
    }
  });

  it('rejects a forged signature of 28 characters outside ASCII whose low bytes spell the right one', () => {
    // A comparison of truncated code units would take these for the expected text.
    for (const offset of [0x100, 0xff00]) {
      const signature = Array.from(v3.signature, (c) => String.fromCharCode(offset + c.charCodeAt(0))).join('');
      expect(signature).toHaveLength(28);
      expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature }, { ...v3Options, now }), SIGNATURE_MISMATCH);
    }
    const latin1 = `${v3.signature.slice(0, 27)}\u00bd`; // '=' (0x3d) with the high bit set
    expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature: latin1 }, { ...v3Options, now }), SIGNATURE_MISMATCH);
  });

  it('signs over the timestamp of the credentials it is given, parsed or not', () => {
    // The verifier reuses the digits of recently parsed headers; these timestamps were never parsed,
    // or belong to another parsed header, and must be written out like String() does.
    const apiKey = v3.apiKey;
    const other = parseCaaHeader(signCaaHeader({ action: V3.action, apiKey, secretKey: V3.secretKey, timestamp: v3.timestamp + 60_000 }));
    for (const timestamp of [0, 1, 1.5, v3.timestamp + 0.5, other.timestamp, v3.timestamp + 256, v3.timestamp - 256]) {
      const signature = computeSignature({ action: V3.action, apiKey, secretKey: V3.secretKey, timestamp });
      expect(() => verifyCaaSignature({ apiKey, signature, timestamp }, { ...v3Options, now: timestamp })).not.toThrow();
      expectThrowsCaaError(
        () => verifyCaaSignature({ apiKey, signature: v3.signature, timestamp }, { ...v3Options, now: timestamp }),
        SIGNATURE_MISMATCH,
      );
    }
    expect(() => verifyCaaSignature(other, { ...v3Options, now: other.timestamp })).not.toThrow();
  });

  it('rejects signatures that do not decode to 20 bytes instead of throwing anything else', () => {
    const wrongLength = ['', 'AAAA', v3.signature.slice(0, 24), Buffer.alloc(19).toString('base64'), Buffer.alloc(21).toString('base64')];
    for (const signature of wrongLength) {
      expectThrowsCaaError(() => verifyCaaSignature({ ...v3, signature }, { ...v3Options, now }), SIGNATURE_MISMATCH);
    }
  });

  it('accepts exactly the signature computed for the action, apiKey, secret and timestamp', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
        fc.integer({ min: 1e12, max: 1e13 - 1 }),
        (action, apiKey, secretKey, timestamp) => {
          const credentials = parseCaaHeader(signCaaHeader({ action, apiKey, secretKey, timestamp }));
          expect(() => verifyCaaSignature(credentials, { action, secretKey, now: timestamp })).not.toThrow();
          expectThrowsCaaError(
            () => verifyCaaSignature(credentials, { action: `${action}x`, secretKey, now: timestamp }),
            SIGNATURE_MISMATCH,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
