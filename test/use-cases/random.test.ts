/**
 * The pooled CSPRNG behind generateKey and generateFamilyId: keys keep their shape and contract,
 * no byte is ever handed out twice, and the pool keeps no copy of a byte it handed out.
 */

import { describe, expect, it, vi } from 'vitest';
import { KEY_BYTES, generateKey } from '../../src/index.js';
import { generateFamilyId } from '../../src/use-cases/options.js';
import { RANDOM_POOL_BYTES, inspectRandomPool, randomString } from '../../src/use-cases/random.js';

// Counts the CSPRNG calls the pool makes; each still fills from the real CSPRNG.
const csprng = vi.hoisted(() => ({ fills: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    randomFillSync: <T extends NodeJS.ArrayBufferView>(buffer: T): T => {
      csprng.fills++;
      return real.randomFillSync(buffer);
    },
  };
});

const STANDARD_BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

describe('generateKey from the pooled CSPRNG', () => {
  it('makes 100 000 keys, all distinct, each 44 characters of standard base64 that decode to 32 bytes', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const key = generateKey();
      expect(key).toMatch(STANDARD_BASE64_KEY);
      const bytes = Buffer.from(key, 'base64');
      expect(bytes.length).toBe(KEY_BYTES);
      expect(bytes.toString('base64')).toBe(key);
      keys.add(key);
    }
    expect(keys.size).toBe(100_000);
  });

  it('makes family ids of 16 bytes as base64url (22 characters), distinct from each other', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateFamilyId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url').length).toBe(16);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
  });

  it('hands out the bytes the pool held at its read position, then zeroes exactly those bytes', () => {
    // Start from a freshly filled pool with room for at least one more key.
    while (inspectRandomPool().position + KEY_BYTES > RANDOM_POOL_BYTES - KEY_BYTES) generateKey();
    generateKey();
    const { bytes, position } = inspectRandomPool();
    const ahead = Buffer.from(bytes.subarray(position, position + KEY_BYTES));
    const rest = Buffer.from(bytes.subarray(position + KEY_BYTES));

    const key = generateKey();

    expect(Buffer.from(key, 'base64').equals(ahead)).toBe(true);
    expect(inspectRandomPool().position).toBe(position + KEY_BYTES);
    expect(bytes.subarray(0, position + KEY_BYTES).every((byte) => byte === 0)).toBe(true);
    // The bytes not yet handed out are untouched.
    expect(Buffer.from(bytes.subarray(position + KEY_BYTES)).equals(rest)).toBe(true);
  });

  it('calls the CSPRNG once per 64 keys', () => {
    // Empty the pool, so that the next key refills it.
    while (inspectRandomPool().position + KEY_BYTES <= RANDOM_POOL_BYTES) generateKey();
    const before = csprng.fills;
    for (let i = 0; i < 64 * 10; i++) generateKey();
    expect(csprng.fills - before).toBe(10);
  });

  it('never hands out a byte twice, nor the rest of a pool too short for the next request', () => {
    const seen = new Set<string>();
    let refills = 0;
    let last = inspectRandomPool().position;
    for (let i = 0; i < 3_000; i++) {
      // Mixed sizes leave a rest shorter than a key at the end of a pool.
      const text = i % 3 === 0 ? randomString(16, 'hex') : randomString(KEY_BYTES, 'hex');
      const { bytes, position } = inspectRandomPool();
      if (position < last) {
        refills++;
        // After a refill the request was served from the start of the new pool.
        expect(position).toBe(text.length / 2);
      }
      last = position;
      expect(seen.has(text)).toBe(false);
      seen.add(text);
      // Every byte up to the read position has been handed out, and is zero.
      expect(bytes.subarray(0, position).every((byte) => byte === 0)).toBe(true);
    }
    expect(refills).toBeGreaterThan(30);
  });

  it('refuses sizes it cannot serve from one pool with a RangeError', () => {
    for (const size of [0, -1, 1.5, RANDOM_POOL_BYTES + 1, Number.NaN]) {
      expect(() => randomString(size, 'base64')).toThrow(RangeError);
    }
  });
});
