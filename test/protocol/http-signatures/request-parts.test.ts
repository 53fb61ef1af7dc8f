/**
 * requestPartsFromUrl, requestPartsFromTarget and requestPartsFromFetch: the four derived values
 * and the header look-up over records (any case, own properties, repeated lines) and Fetch Headers.
 */

import { describe, expect, it } from 'vitest';
import { requestPartsFromFetch, requestPartsFromTarget, requestPartsFromUrl } from '../../../src/index.js';
import { INVALID_AUTHORIZATION, expectThrowsCaaError } from '../../support/expect-caa-error.js';

const derived = (p: { method: string; authority: string; path: string; query: string }) => ({
  method: p.method,
  authority: p.authority,
  path: p.path,
  query: p.query,
});

describe('requestPartsFromUrl', () => {
  it('reads host, path and query of the URL, ? when there is no query', () => {
    expect(derived(requestPartsFromUrl('GET', 'https://api.example.com/api/my'))).toStrictEqual({
      method: 'GET',
      authority: 'api.example.com',
      path: '/api/my',
      query: '?',
    });
    expect(derived(requestPartsFromUrl('PUT', new URL('https://API.example.com:8443/a?lang=zh-CN')))).toStrictEqual({
      method: 'PUT',
      authority: 'api.example.com:8443',
      path: '/a',
      query: '?lang=zh-CN',
    });
  });

  it('leaves out a default port, as URL does, and reads an empty query (a lone ?) as ?', () => {
    expect(requestPartsFromUrl('GET', 'https://api.example.com:443/?').authority).toBe('api.example.com');
    expect(requestPartsFromUrl('GET', 'https://api.example.com/p?').query).toBe('?');
  });

  it('looks up a header record in any case, by own properties, with repeated lines combined', () => {
    const record = Object.assign(Object.create({ inherited: 'no' }) as Record<string, string | string[]>, {
      'Content-Type': 'application/json',
      'x-list': ['a', 'b'],
    });
    const { header } = requestPartsFromUrl('GET', 'https://h/', record);
    expect(header('content-type')).toBe('application/json');
    expect(header('x-list')).toBe('a, b');
    expect(header('inherited')).toBeUndefined();
    expect(header('missing')).toBeUndefined();
  });

  it('combines case variants of one name in a record', () => {
    const { header } = requestPartsFromUrl('GET', 'https://h/', { 'x-a': '1', 'X-A': '2' });
    expect(header('x-a')).toBe('1, 2');
  });

  it('uses get() of Fetch Headers', () => {
    const { header } = requestPartsFromUrl('GET', 'https://h/', new Headers([['X-A', '1'], ['x-a', '2']]));
    expect(header('x-a')).toBe('1, 2');
    expect(header('x-b')).toBeUndefined();
  });
});

describe('requestPartsFromTarget', () => {
  it('splits an origin-form target at its first ?, as sent (not decoded, not normalized)', () => {
    expect(derived(requestPartsFromTarget('GET', 'API.example.com', '/a/../b%2F?x=1?y'))).toStrictEqual({
      method: 'GET',
      authority: 'api.example.com',
      path: '/a/../b%2F',
      query: '?x=1?y',
    });
    expect(requestPartsFromTarget('GET', 'h', '/a').query).toBe('?');
    expect(requestPartsFromTarget('GET', 'h', '/a?').query).toBe('?');
  });

  it('reads an absolute-form target as a URL, keeping the authority given', () => {
    expect(derived(requestPartsFromTarget('GET', 'h', 'http://proxy.example/p?q'))).toStrictEqual({
      method: 'GET',
      authority: 'h',
      path: '/p',
      query: '?q',
    });
  });

  it('refuses a target that is neither a path nor a URL with 400 invalid authorization', () => {
    expectThrowsCaaError(() => requestPartsFromTarget('OPTIONS', 'h', '*'), INVALID_AUTHORIZATION);
  });
});

describe('requestPartsFromFetch', () => {
  it('reads a Fetch Request', () => {
    const request = new Request('https://api.example.com/api/my?lang=zh-CN', { method: 'PUT', headers: { 'Content-Digest': 'd' }, body: 'x' });
    const parts = requestPartsFromFetch(request);
    expect(derived(parts)).toStrictEqual({ method: 'PUT', authority: 'api.example.com', path: '/api/my', query: '?lang=zh-CN' });
    expect(parts.header('content-digest')).toBe('d');
  });
});
