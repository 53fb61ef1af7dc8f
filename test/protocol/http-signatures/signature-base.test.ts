/**
 * buildCaaV2SignatureBase (RFC 9421 §2.5): the lines, the normalizations RFC 9421 asks for, and the
 * refusals (a covered field the request lacks, an unknown derived component, a value that would
 * break a line).
 */

import { describe, expect, it } from 'vitest';
import { buildCaaV2SignatureBase, type CaaV2RequestParts } from '../../../src/index.js';
import { INVALID_AUTHORIZATION, expectThrowsCaaError } from '../../support/expect-caa-error.js';

const PARAMS = '("@method" "@authority" "@path" "@query");created=1;nonce="x";keyid="k";alg="hmac-sha256";tag="caa-v2"';

function parts(overrides: Partial<Omit<CaaV2RequestParts, 'header'>> = {}, headers: Record<string, string> = {}): CaaV2RequestParts {
  return {
    method: 'GET',
    authority: 'api.example.com',
    path: '/api/my',
    query: '?',
    header: (name) => (Object.hasOwn(headers, name) ? headers[name] : undefined),
    ...overrides,
  };
}

const base = (components: readonly string[], request: CaaV2RequestParts): string =>
  buildCaaV2SignatureBase({ components, signatureParams: PARAMS }, request);

const REQUIRED = ['@method', '@authority', '@path', '@query'];

describe('buildCaaV2SignatureBase', () => {
  it('writes one line per component in the order given, then the @signature-params line, no final LF', () => {
    expect(base(['@query', '@method', 'x-a', '@path', '@authority'], parts({}, { 'x-a': 'v' }))).toBe(
      [
        '"@query": ?',
        '"@method": GET',
        '"x-a": v',
        '"@path": /api/my',
        '"@authority": api.example.com',
        `"@signature-params": ${PARAMS}`,
      ].join('\n'),
    );
  });

  it('keeps the method as sent (RFC 9421 §2.2.1: not normalized)', () => {
    expect(base(REQUIRED, parts({ method: 'get' }))).toContain('"@method": get\n');
  });

  it('lowercases the authority (RFC 9421 §2.2.3) and keeps its port', () => {
    expect(base(REQUIRED, parts({ authority: 'API.Example.COM:8443' }))).toContain('"@authority": api.example.com:8443\n');
  });

  it('reads an empty path as / (RFC 9421 §2.2.6) and keeps percent-encoding as sent', () => {
    expect(base(REQUIRED, parts({ path: '' }))).toContain('"@path": /\n');
    expect(base(REQUIRED, parts({ path: '/a%2Fb/%7E' }))).toContain('"@path": /a%2Fb/%7E\n');
  });

  it('reads an empty query as ? and adds a missing leading ? (RFC 9421 §2.2.7)', () => {
    expect(base(REQUIRED, parts({ query: '' }))).toContain('"@query": ?\n');
    expect(base(REQUIRED, parts({ query: 'a=1' }))).toContain('"@query": ?a=1\n');
    expect(base(REQUIRED, parts({ query: '?a=1&b=%20' }))).toContain('"@query": ?a=1&b=%20\n');
  });

  it('trims leading and trailing spaces and tabs of a field, not inner ones (RFC 9421 §2.1)', () => {
    expect(base([...REQUIRED, 'x-a'], parts({}, { 'x-a': ' \t a ,  b\t ' }))).toContain('"x-a": a ,  b\n');
  });

  it('covers an empty field as an empty value', () => {
    expect(base([...REQUIRED, 'x-a'], parts({}, { 'x-a': '' }))).toContain('"x-a": \n');
  });

  it.each([
    ['a covered field the request lacks', [...REQUIRED, 'content-digest'], parts()],
    ['an unknown derived component', [...REQUIRED, '@target-uri'], parts()],
    ['@signature-params as a component', [...REQUIRED, '@signature-params'], parts()],
    ['a field name in uppercase', [...REQUIRED, 'X-A'], parts({}, { 'X-A': 'v' })],
    ['a field name with a quote', [...REQUIRED, 'x"a'], parts({}, { 'x"a': 'v' })],
    ['a line feed in a field', [...REQUIRED, 'x-a'], parts({}, { 'x-a': 'a\n"@method": POST' })],
    ['a carriage return in the path', REQUIRED, parts({ path: '/a\r' })],
    ['a NUL in the query', REQUIRED, parts({ query: '?a\u0000' })],
    ['DEL in the method', REQUIRED, parts({ method: 'GE\u007fT' })],
    ['a non-ASCII character in the authority', REQUIRED, parts({ authority: 'b\u00fccher.example' })],
    ['a non-ASCII character in a field', [...REQUIRED, 'x-a'], parts({}, { 'x-a': 'caf\u00e9' })],
  ] as const)('refuses %s with 400 invalid authorization', (_, components, request) => {
    expectThrowsCaaError(() => base(components, request), INVALID_AUTHORIZATION);
  });

  it('refuses signature parameters holding a line break', () => {
    expectThrowsCaaError(
      () => buildCaaV2SignatureBase({ components: REQUIRED, signatureParams: `${PARAMS}\n"@method": POST` }, parts()),
      INVALID_AUTHORIZATION,
    );
  });
});
