/**
 * Content-Digest (RFC 9530, sha-256): making it, checking it (other algorithms ignored, anything
 * malformed or repeated not a match, the length cap first), and when a request must carry it.
 */

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CONTENT_DIGEST_LENGTH, checkContentDigest, makeContentDigest, requiresContentDigest } from '../../../src/index.js';
import { parseCounter } from '../../../src/protocol/http-signatures/structured-fields.js';

const BODY = new TextEncoder().encode('{"name":"PeckZeg892"}');
const DIGEST = 'sha-256=:HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg=:';
const SHA_512 = `sha-512=:${createHash('sha512').update(BODY).digest('base64')}:`;

describe('makeContentDigest', () => {
  it('is sha-256 of the body bytes as an RFC 8941 byte sequence', () => {
    expect(makeContentDigest(BODY)).toBe(DIGEST);
    expect(makeContentDigest(new Uint8Array(0))).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
  });

  it('is checked by checkContentDigest for any body, and no other body matches it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), (body, other) => {
        const digest = makeContentDigest(body);
        expect(checkContentDigest(digest, body)).toBe(true);
        expect(checkContentDigest(digest, other)).toBe(Buffer.from(body).equals(Buffer.from(other)));
      }),
    );
  });
});

describe('checkContentDigest', () => {
  it('finds sha-256 among other algorithms, in any order, with spaces', () => {
    expect(checkContentDigest(`${SHA_512}, ${DIGEST}`, BODY)).toBe(true);
    expect(checkContentDigest(`${DIGEST},${SHA_512}`, BODY)).toBe(true);
    expect(checkContentDigest(` ${DIGEST} `, BODY)).toBe(true);
    expect(checkContentDigest(`unixsum=:AAAA:, ${DIGEST}`, BODY)).toBe(true);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['sha-512 only (the profile needs sha-256)', SHA_512],
    ['the digest of another body', makeContentDigest(new TextEncoder().encode('{"name":"other"}'))],
    ['sha-256 twice, even both matching', `${DIGEST}, ${DIGEST}`],
    ['sha-256 as a string', 'sha-256="HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg="'],
    ['sha-256 as an inner list', 'sha-256=(:HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg=:)'],
    ['sha-256 of 31 bytes', `sha-256=:${Buffer.alloc(31).toString('base64')}:`],
    ['SHA-256 in uppercase (not an RFC 8941 key)', DIGEST.toUpperCase()],
    ['the legacy Digest syntax', 'SHA-256=HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg='],
    ['a dictionary that does not parse', `${DIGEST},`],
    ['over MAX_CONTENT_DIGEST_LENGTH', `${DIGEST}, x="${'a'.repeat(MAX_CONTENT_DIGEST_LENGTH)}"`],
  ])('does not match when %s', (_, header) => {
    expect(checkContentDigest(header, BODY)).toBe(false);
  });

  it('refuses an oversized value without parsing it', () => {
    const before = parseCounter.dictionaries;
    expect(checkContentDigest(`${DIGEST}, x="${'a'.repeat(1024 * 1024)}"`, BODY)).toBe(false);
    expect(parseCounter.dictionaries).toBe(before);
  });

  it('accepts a value exactly at the cap', () => {
    const header = `${DIGEST}, x="${'a'.repeat(MAX_CONTENT_DIGEST_LENGTH - DIGEST.length - 6)}"`;
    expect(header).toHaveLength(MAX_CONTENT_DIGEST_LENGTH);
    expect(checkContentDigest(header, BODY)).toBe(true);
  });
});

describe('requiresContentDigest', () => {
  const request = (headers: Record<string, string>) => ({
    header: (name: string) => (Object.hasOwn(headers, name) ? headers[name] : undefined),
  });

  it.each([
    ['Content-Length above 0', { 'content-length': '21' }, true],
    ['any Transfer-Encoding', { 'transfer-encoding': 'chunked' }, true],
    ['Transfer-Encoding with Content-Length 0', { 'transfer-encoding': 'chunked', 'content-length': '0' }, true],
    ['a Content-Length that is not a number', { 'content-length': 'abc' }, true],
    ['an empty Content-Length', { 'content-length': '' }, true],
    ['two Content-Length values combined', { 'content-length': '0, 0' }, true],
    ['Content-Length 0', { 'content-length': '0' }, false],
    ['Content-Length 00', { 'content-length': '00' }, false],
    ['no Content-Length, no Transfer-Encoding', {}, false],
  ])('%s: %s', (_, headers, expected) => {
    expect(requiresContentDigest(request(headers))).toBe(expected);
  });
});
