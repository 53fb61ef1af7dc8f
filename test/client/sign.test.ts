/**
 * The client's Web Crypto signing against the spec §4 vectors, byte for byte, and against the
 * server side's `node:crypto` signing on generated inputs.
 */

import { describe, expect, it } from 'vitest';
import { computeSignatureAsync, signCaaHeaderAsync } from '../../src/client/index.js';
import { computeSignature, parseCaaHeader, signCaaHeader } from '../../src/index.js';

interface Vector {
  readonly name: string;
  readonly action: string;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly timestamp: number;
  readonly signature: string;
  readonly header: string;
}

/** Spec §4, V1 and V3–V5, copied from the spec. */
const SPEC_VECTORS: readonly Vector[] = [
  {
    name: 'V1',
    action: 'user:personal-profile',
    apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
    secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
    timestamp: 1494908261599,
    signature: 'VHTnYjscONrGXMumaGChvV+Q+Xo=',
    header:
      'Caa U3pnZ1U4ZGoyeGNlZ1hmWlZ4MXVjbS9oS2dyZThESWNrSFBveGtrbituMD06VkhUbllqc2NPTnJHWE11bWFHQ2h2VitRK1hvPSAxNDk0OTA4MjYxNTk5',
  },
  {
    name: 'V3',
    action: 'client:my:refresh-token',
    apiKey: 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=',
    secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
    timestamp: 1510213872070,
    signature: 'RjBz0Ulof2RoRnxnCuMht2bz8AQ=',
    header:
      'Caa YldGa1pTMTFjQzFoY0drdGEyVjVMV1p2Y2kxMFpYTjBjeTB3TURBd01ERT06UmpCejBVbG9mMlJvUm54bkN1TWh0MmJ6OEFRPSAxNTEwMjEzODcyMDcw',
  },
  {
    name: 'V4',
    action: 'client:my:fetch-my-profile',
    apiKey: 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=',
    secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=',
    timestamp: 1700000000000,
    signature: 'iAxiUqeMBNIH328W2NWcuNXSp5A=',
    header:
      'Caa UjFhOXQ0VWh2ZFpOQ2xXTVZBcitBYm5xUkd2MnV5UWt6VWYxS0l1WUlQST06aUF4aVVxZU1CTklIMzI4VzJOV2N1TlhTcDVBPSAxNzAwMDAwMDAwMDAw',
  },
  {
    name: 'V5',
    action: 'client:my:logout',
    apiKey: '5rUlwdy7uKg4eYN2C41guTtBKnqG4EwPMebmNJ1YGew=',
    secretKey: 'zWKcqNvD4x/CAIu14t5HztROyx4g9BUnrn2+RnOJxdY=',
    timestamp: 1764115200000,
    signature: 'kJIRPT9QPldKOt3P0w9K5Z8WjHY=',
    header:
      'Caa NXJVbHdkeTd1S2c0ZVlOMkM0MWd1VHRCS25xRzRFd1BNZWJtTkoxWUdldz06a0pJUlBUOVFQbGRLT3QzUDB3OUs1WjhXakhZPSAxNzY0MTE1MjAwMDAw',
  },
];

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
