/**
 * `signCaaV2Async` (the client's `caa-v2` signer, Web Crypto) against the spec: vectors S1 and S2 byte
 * for byte, and signatures checked by the test's own node:crypto verifier with signature bases
 * written out by hand.
 */

import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CAA_V2_ALG,
  CAA_V2_KEY_INFO,
  CAA_V2_LABEL,
  CAA_V2_NONCE_BYTES,
  CAA_V2_TAG,
  signCaaV2Async,
  type SignCaaV2Input,
} from '../../src/client/index.js';
import { deriveKey, verifyCaaV2 } from './caa-v2-verifier.js';
import { CAA_V2_VECTORS } from './caa-v2-vectors.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Base64 of HMAC-SHA256 over `base` with the key derived from `secretKey`, by node:crypto. */
function hmacOf(base: string, secretKey: string): string {
  return createHmac('sha256', deriveKey(secretKey)).update(base, 'utf8').digest('base64');
}

describe('caa-v2 vectors (spec §5)', () => {
  for (const v of CAA_V2_VECTORS) {
    it(`${v.name}: Signature-Input, Signature and Content-Digest byte for byte`, async () => {
      const headers = await signCaaV2Async({
        method: v.method,
        url: v.url,
        body: v.body,
        apiKey: v.apiKey,
        secretKey: v.secretKey,
        created: v.created,
        nonce: v.nonce,
      });
      const expected: Record<string, string> = { 'signature-input': v.signatureInput, signature: v.signature };
      if (v.contentDigest !== undefined) expected['content-digest'] = v.contentDigest;
      expect(headers).toStrictEqual(expected);
    });

    it(`${v.name}: the test's own verifier agrees with the vector (K, base, HMAC)`, () => {
      expect(deriveKey(v.secretKey).toString('base64')).toBe(v.key);
      expect(`${CAA_V2_LABEL}=:${hmacOf(v.signatureBase, v.secretKey)}:`).toBe(v.signature);
    });

    it(`${v.name}: the same headers from the body as bytes`, async () => {
      const body = v.body === undefined ? undefined : new TextEncoder().encode(v.body);
      const { apiKey, secretKey, created, nonce } = v;
      const headers = await signCaaV2Async({ method: v.method, url: new URL(v.url), body, apiKey, secretKey, created, nonce });
      expect(headers.signature).toBe(v.signature);
      expect(headers['content-digest']).toBe(v.contentDigest);
    });
  }

  it('the constants are the spec’s', () => {
    expect([CAA_V2_LABEL, CAA_V2_TAG, CAA_V2_ALG, CAA_V2_KEY_INFO, CAA_V2_NONCE_BYTES]).toEqual([
      'caa',
      'caa-v2',
      'hmac-sha256',
      'caa-auth http-signatures hmac-sha256 v1',
      18,
    ]);
  });
});

const PAIR = { apiKey: 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=', secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=' } as const;
const CREATED = 1_764_115_200;
const NONCE = 'AAAAAAAAAAAAAAAAAAAAAAAA';

function paramsOf(covered: string, extra = ''): string {
  return `(${covered});created=${CREATED}${extra};nonce="${NONCE}";keyid="${PAIR.apiKey}";alg="hmac-sha256";tag="caa-v2"`;
}

describe('the signature base the signer builds', () => {
  const cases: { name: string; method: string; url: string; lines: string[] }[] = [
    {
      name: 'authority lower-cased and the default port left out',
      method: 'GET',
      url: 'HTTPS://API.Example.COM:443/api/my',
      lines: ['"@method": GET', '"@authority": api.example.com', '"@path": /api/my', '"@query": ?'],
    },
    {
      name: 'a port other than the default kept; a trailing slash kept',
      method: 'GET',
      url: 'http://127.0.0.1:8080/v1/',
      lines: ['"@method": GET', '"@authority": 127.0.0.1:8080', '"@path": /v1/', '"@query": ?'],
    },
    {
      name: 'an empty query is "?"; the path of a bare origin is "/"',
      method: 'DELETE',
      url: 'https://api.example.com?',
      lines: ['"@method": DELETE', '"@authority": api.example.com', '"@path": /', '"@query": ?'],
    },
    {
      name: 'path and query as sent (percent-encoded, not decoded)',
      method: 'GET',
      url: 'https://api.example.com/caf%C3%A9/é?q=é&a=%2F',
      lines: ['"@method": GET', '"@authority": api.example.com', '"@path": /caf%C3%A9/%C3%A9', '"@query": ?q=%C3%A9&a=%2F'],
    },
    {
      name: 'a method fetch upper-cases is upper-cased',
      method: 'post',
      url: 'https://api.example.com/api/my/refresh-token',
      lines: ['"@method": POST', '"@authority": api.example.com', '"@path": /api/my/refresh-token', '"@query": ?'],
    },
    {
      name: 'a method fetch sends as given (PATCH is not normalized) is kept',
      method: 'patch',
      url: 'https://api.example.com/x',
      lines: ['"@method": patch', '"@authority": api.example.com', '"@path": /x', '"@query": ?'],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const headers = await signCaaV2Async({ method: c.method, url: c.url, ...PAIR, created: CREATED, nonce: NONCE });
      const params = paramsOf('"@method" "@authority" "@path" "@query"');
      expect(headers).toStrictEqual({
        'signature-input': `caa=${params}`,
        signature: `caa=:${hmacOf(`${c.lines.join('\n')}\n"@signature-params": ${params}`, PAIR.secretKey)}:`,
      });
    });
  }

  it('expires comes right after created, and the verifier accepts it', async () => {
    const headers = await signCaaV2Async({ method: 'GET', url: 'https://api.example.com/api/my', ...PAIR, created: CREATED, expires: CREATED + 60, nonce: NONCE });
    expect(headers['signature-input']).toBe(`caa=${paramsOf('"@method" "@authority" "@path" "@query"', `;expires=${CREATED + 60}`)}`);
    const verified = await verifyCaaV2(
      { method: 'GET', target: '/api/my', headers: { host: 'api.example.com', ...headers }, body: Buffer.alloc(0) },
      { now: CREATED * 1000, secretKeyOf: async () => PAIR.secretKey },
    );
    expect(verified).toEqual({ apiKey: PAIR.apiKey, created: CREATED, nonce: NONCE });
  });

  it('a body adds "content-digest": the SHA-256 of its UTF-8 bytes, covered last', async () => {
    const body = '{"name":"Ann 🔑 ü"}';
    const headers = await signCaaV2Async({ method: 'PUT', url: 'https://api.example.com/api/my', body, ...PAIR, created: CREATED, nonce: NONCE });
    const digest = `sha-256=:${createHash('sha256').update(Buffer.from(body, 'utf8')).digest('base64')}:`;
    const params = paramsOf('"@method" "@authority" "@path" "@query" "content-digest"');
    const base = ['"@method": PUT', '"@authority": api.example.com', '"@path": /api/my', '"@query": ?', `"content-digest": ${digest}`].join('\n');
    expect(headers).toStrictEqual({
      'signature-input': `caa=${params}`,
      signature: `caa=:${hmacOf(`${base}\n"@signature-params": ${params}`, PAIR.secretKey)}:`,
      'content-digest': digest,
    });
  });

  it('an empty body is no body (Content-Length 0): no content-digest', async () => {
    for (const body of ['', new Uint8Array(0)]) {
      const headers = await signCaaV2Async({ method: 'POST', url: 'https://api.example.com/x', body, ...PAIR, created: CREATED, nonce: NONCE });
      expect(Object.keys(headers).sort()).toEqual(['signature', 'signature-input']);
      expect(headers['signature-input']).toBe(`caa=${paramsOf('"@method" "@authority" "@path" "@query"')}`);
    }
  });
});

describe('defaults: a fresh nonce, created now', () => {
  it('makes a 24-character base64url nonce (18 random bytes), different every time', async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const headers = await signCaaV2Async({ method: 'GET', url: 'https://api.example.com/api/my', ...PAIR, created: CREATED });
      const nonce = /;nonce="([^"]*)";/.exec(headers['signature-input'])?.[1] ?? '';
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{24}$/);
      nonces.add(nonce);
    }
    expect(nonces.size).toBe(50);
  });

  it('takes the nonce bytes from crypto.getRandomValues', async () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      if (array instanceof Uint8Array) array.fill(0xfb);
      return array;
    });
    const headers = await signCaaV2Async({ method: 'GET', url: 'https://api.example.com/', ...PAIR, created: CREATED });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(headers['signature-input']).toContain(';nonce="-_v7-_v7-_v7-_v7-_v7-_v7";');
  });

  it('defaults created to Date.now() in whole seconds', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_999);
    const headers = await signCaaV2Async({ method: 'GET', url: 'https://api.example.com/', ...PAIR, nonce: NONCE });
    expect(headers['signature-input']).toContain(';created=1700000000;');
  });
});

describe('the derived key is cached', () => {
  it('one HKDF per secretKey, one HMAC per request, the key a non-extractable HMAC CryptoKey', async () => {
    const subtle = globalThis.crypto.subtle;
    const derive = vi.spyOn(subtle, 'deriveKey');
    const sign = vi.spyOn(subtle, 'sign');
    const secretKey = `cache-test-${Math.random()}`;
    const input: SignCaaV2Input = { method: 'GET', url: 'https://api.example.com/', apiKey: PAIR.apiKey, secretKey };
    for (let i = 0; i < 5; i++) await signCaaV2Async(input);
    expect(derive).toHaveBeenCalledTimes(1);
    expect(sign).toHaveBeenCalledTimes(5);
    const key = await (derive.mock.results[0]?.value as Promise<CryptoKey>);
    expect({ extractable: key.extractable, algorithm: key.algorithm, usages: key.usages }).toEqual({
      extractable: false,
      algorithm: { name: 'HMAC', hash: { name: 'SHA-256' }, length: 256 },
      usages: ['sign'],
    });
    await signCaaV2Async({ ...input, secretKey: `${secretKey}-rotated` });
    expect(derive).toHaveBeenCalledTimes(2);
  });

  it('concurrent first requests with one secretKey share one derivation', async () => {
    const derive = vi.spyOn(globalThis.crypto.subtle, 'deriveKey');
    const secretKey = `concurrent-${Math.random()}`;
    await Promise.all(Array.from({ length: 10 }, () => signCaaV2Async({ method: 'GET', url: 'https://api.example.com/', apiKey: PAIR.apiKey, secretKey })));
    expect(derive).toHaveBeenCalledTimes(1);
  });
});

describe('refuses what no server would accept (RangeError, nothing signed)', () => {
  const valid: SignCaaV2Input = { method: 'GET', url: 'https://api.example.com/', ...PAIR, created: CREATED, nonce: NONCE };
  const cases: [string, Partial<SignCaaV2Input>, string][] = [
    ['a method that is not a token', { method: 'GET /' }, 'method must be an HTTP token'],
    ['an empty method', { method: '' }, 'method must be an HTTP token'],
    ['a relative URL', { url: '/api/my' }, 'url must be an absolute http(s) URL'],
    ['a URL other than http(s)', { url: 'ftp://api.example.com/' }, 'url must be an absolute http(s) URL'],
    ['an apiKey with a line break', { apiKey: 'a\nb' }, 'apiKey must be printable ASCII'],
    ['an apiKey beyond ASCII', { apiKey: 'clé' }, 'apiKey must be printable ASCII'],
    ['a fractional created', { created: 1.5 }, 'created must be a non-negative integer of seconds'],
    ['a negative created', { created: -1 }, 'created must be a non-negative integer of seconds'],
    ['created beyond an RFC 8941 integer', { created: 1e15 }, 'created must be a non-negative integer of seconds'],
    ['a fractional expires', { expires: CREATED + 0.5 }, 'expires must be a non-negative integer of seconds'],
    ['a 15-character nonce', { nonce: 'A'.repeat(15) }, 'nonce must be 16 to 128 characters of the base64 or base64url alphabet'],
    ['a 129-character nonce', { nonce: 'A'.repeat(129) }, 'nonce must be 16 to 128 characters of the base64 or base64url alphabet'],
    ['a nonce with a quote', { nonce: `${'A'.repeat(16)}"` }, 'nonce must be 16 to 128 characters of the base64 or base64url alphabet'],
  ];
  for (const [name, change, message] of cases) {
    it(name, async () => {
      const sign = vi.spyOn(globalThis.crypto.subtle, 'sign');
      await expect(signCaaV2Async({ ...valid, ...change })).rejects.toThrow(new RangeError(message));
      expect(sign).not.toHaveBeenCalled();
    });
  }

  it('a 128-character nonce of both alphabets is accepted', async () => {
    const nonce = `${'A+/_-'.repeat(25)}abc`;
    await expect(signCaaV2Async({ ...valid, nonce })).resolves.toMatchObject({ 'signature-input': expect.stringContaining(`;nonce="${nonce}";`) });
  });
});
