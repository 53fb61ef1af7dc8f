/**
 * Interoperability with other people's RFC 9421 code (issue 13): requests signed by
 * `http-message-signatures` (dhensby) and by Cloudflare's `http-message-sig`, with the derived key
 * and the profile's parameters, verify with verifyCaaV2Signature; requests signed by
 * signCaaV2Request verify with both. Both libraries reproduce vectors S1 and S2 byte for byte.
 *
 * Both libraries can express every parameter of the profile (`tag` and `nonce` included) and the
 * `caa` label. Limits of theirs that shape the tests: `http-message-signatures` uppercases
 * `@method` (RFC 9421 says not to normalize it), so its cases use uppercase methods; it reads
 * `@path` and `@query` through WHATWG URL, and `http-message-sig` from the raw target URI, so the
 * URLs here are in the form URL writes them (what a client that builds requests with URL sends).
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { createSigner, createVerifier, httpbis } from 'http-message-signatures';
import { createSignatureSync, isSignatureError, verifySignature, type RequestDescriptor, type Verifier } from 'http-message-sig';
import { describe, expect, it } from 'vitest';
import {
  CAA_V2_ALG,
  CAA_V2_LABEL,
  CAA_V2_REQUIRED_COMPONENTS,
  CAA_V2_TAG,
  checkContentDigest,
  deriveCaaV2Key,
  makeContentDigest,
  parseCaaV2Signature,
  requestPartsFromUrl,
  signCaaV2Request,
  verifyCaaV2Signature,
} from '../../../src/index.js';
import { CAA_V2_VECTORS, S2, type CaaV2Vector } from './spec-vectors.js';

const PARAMS = ['created', 'nonce', 'keyid', 'alg', 'tag'];

/** A request as these tests describe it: everything the three implementations need. */
interface Req {
  readonly method: string;
  readonly url: string;
  readonly body?: Uint8Array;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly created: number;
  readonly nonce: string;
}

const componentsOf = (r: Req): string[] =>
  r.body === undefined ? [...CAA_V2_REQUIRED_COMPONENTS] : [...CAA_V2_REQUIRED_COMPONENTS, 'content-digest'];

const digestHeaders = (r: Req): Record<string, string> => (r.body === undefined ? {} : { 'content-digest': makeContentDigest(r.body) });

const fromVector = (v: CaaV2Vector): Req => ({
  method: v.method,
  url: v.url,
  ...(v.body === undefined ? {} : { body: new TextEncoder().encode(v.body) }),
  apiKey: v.apiKey,
  secretKey: v.secretKey,
  created: v.created,
  nonce: v.nonce,
});

/** Lowercases the names of a header record (http-message-signatures writes `Signature-Input`). */
const lowercased = (headers: Record<string, string | string[]>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value]));

/** Our server side: parse, verify the HMAC, check the digest. */
function caaVerifies(r: Req, headers: Record<string, string>): boolean {
  const sig = parseCaaV2Signature(headers['signature-input'], headers.signature);
  if (sig.keyid !== r.apiKey || sig.created !== r.created || sig.nonce !== r.nonce) return false;
  const parts = requestPartsFromUrl(r.method, r.url, headers);
  const digestOk = r.body === undefined || checkContentDigest(headers['content-digest'], r.body);
  return digestOk && verifyCaaV2Signature(sig, parts, deriveCaaV2Key(r.secretKey));
}

const ourSignature = (r: Req): Record<string, string> => ({
  ...signCaaV2Request({
    method: r.method,
    url: r.url,
    ...(r.body === undefined ? {} : { body: r.body }),
    apiKey: r.apiKey,
    secretKey: r.secretKey,
    created: r.created,
    nonce: r.nonce,
  }),
});

// http-message-signatures (dhensby), httpbis API.
async function dhensbySign(r: Req): Promise<Record<string, string>> {
  const signed = await httpbis.signMessage(
    {
      key: createSigner(deriveCaaV2Key(r.secretKey), CAA_V2_ALG, r.apiKey),
      name: CAA_V2_LABEL,
      fields: componentsOf(r),
      params: PARAMS,
      paramValues: { created: new Date(r.created * 1000), nonce: r.nonce, tag: CAA_V2_TAG },
    },
    { method: r.method, url: r.url, headers: digestHeaders(r) },
  );
  return lowercased(signed.headers);
}

async function dhensbyVerifies(r: Req, headers: Record<string, string>): Promise<boolean> {
  const key = deriveCaaV2Key(r.secretKey);
  const verified = await httpbis.verifyMessage(
    {
      keyLookup: (params) =>
        Promise.resolve(params.keyid === r.apiKey ? { id: r.apiKey, algs: [CAA_V2_ALG], verify: createVerifier(key, CAA_V2_ALG) } : null),
      requiredFields: componentsOf(r),
      requiredParams: PARAMS,
      notAfter: r.created,
    },
    { method: r.method, url: r.url, headers },
  );
  return verified === true;
}

// http-message-sig (Cloudflare), over a request descriptor.
const descriptor = (r: Req, headers: Record<string, string>): RequestDescriptor => ({
  kind: 'request',
  method: r.method,
  targetUri: r.url,
  fields: Object.entries(headers).map(([name, value]) => ({ name, value })),
});

const hmac = (key: Uint8Array, data: Uint8Array): Uint8Array => new Uint8Array(createHmac('sha256', key).update(data).digest());

function cloudflareSign(r: Req): Record<string, string> {
  const key = deriveCaaV2Key(r.secretKey);
  const fields = createSignatureSync(descriptor(r, digestHeaders(r)), {
    label: CAA_V2_LABEL,
    components: componentsOf(r),
    parameters: { created: r.created, nonce: r.nonce, keyid: r.apiKey, alg: CAA_V2_ALG, tag: CAA_V2_TAG },
    signer: { algorithm: CAA_V2_ALG, sign: (data) => hmac(key, data) },
  });
  return { ...digestHeaders(r), 'signature-input': fields.signatureInput, signature: fields.signature };
}

async function cloudflareVerifies(r: Req, headers: Record<string, string>): Promise<boolean> {
  const key = deriveCaaV2Key(r.secretKey);
  const verifier: Verifier = {
    algorithm: CAA_V2_ALG,
    verify: (data, signature) => signature.length === 32 && timingSafeEqual(hmac(key, data), signature),
  };
  try {
    const verified = await verifySignature(descriptor(r, headers), {
      label: CAA_V2_LABEL,
      policy: {
        algorithms: [CAA_V2_ALG],
        requiredComponents: componentsOf(r),
        requiredParameters: PARAMS,
        now: r.created,
        maxAge: 300,
      },
      resolveVerifier: (candidate) => {
        if (candidate.parameters.keyid !== r.apiKey || candidate.parameters.tag !== CAA_V2_TAG) throw new Error('unknown key');
        return verifier;
      },
    });
    return verified.label === CAA_V2_LABEL;
  } catch (err) {
    if (isSignatureError(err)) return false;
    throw err;
  }
}

describe.each(CAA_V2_VECTORS)('vector $name', (v) => {
  const r = fromVector(v);
  const expected = {
    'signature-input': v.signatureInput,
    signature: v.signature,
    ...(v.contentDigest === undefined ? {} : { 'content-digest': v.contentDigest }),
  };

  it('http-message-signatures signs it byte for byte, and verifyCaaV2Signature verifies that', async () => {
    const headers = await dhensbySign(r);
    expect(headers).toStrictEqual(expected);
    expect(caaVerifies(r, headers)).toBe(true);
  });

  it('http-message-sig signs it byte for byte, and verifyCaaV2Signature verifies that', () => {
    const headers = cloudflareSign(r);
    expect(headers).toStrictEqual(expected);
    expect(caaVerifies(r, headers)).toBe(true);
  });

  it('signCaaV2Request signs it, and both libraries verify that', async () => {
    const headers = ourSignature(r);
    expect(headers).toStrictEqual(expected);
    expect(await dhensbyVerifies(r, headers)).toBe(true);
    expect(await cloudflareVerifies(r, headers)).toBe(true);
  });

  it('both libraries refuse our signature of it once the request changes (a control)', async () => {
    const headers = ourSignature(r);
    const changed = { ...r, url: `${r.url}${r.url.includes('?') ? '&' : '?'}x=1` };
    expect(await dhensbyVerifies(changed, headers)).toBe(false);
    expect(await cloudflareVerifies(changed, headers)).toBe(false);
  });
});

it('http-message-sig signs a Fetch Request (Content-Digest set on it) that verifyCaaV2Signature verifies', () => {
  const r = fromVector(S2);
  const key = deriveCaaV2Key(r.secretKey);
  const request = new Request(r.url, { method: r.method, headers: digestHeaders(r), body: S2.body ?? '' });
  const fields = createSignatureSync(request, {
    label: CAA_V2_LABEL,
    components: componentsOf(r),
    parameters: { created: r.created, nonce: r.nonce, keyid: r.apiKey, alg: CAA_V2_ALG, tag: CAA_V2_TAG },
    signer: { algorithm: CAA_V2_ALG, sign: (data) => hmac(key, data) },
  });
  expect(caaVerifies(r, { ...digestHeaders(r), 'signature-input': fields.signatureInput, signature: fields.signature })).toBe(true);
});

// Arbitrary requests: uppercase token methods (see the module comment), URLs as URL writes them.
const reqArb: fc.Arbitrary<Req> = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), fc.stringMatching(/^[A-Z][A-Z0-9_-]{0,9}$/)),
    url: fc.webUrl({ validSchemes: ['https', 'http'], withQueryParameters: true }).map((u) => {
      const url = new URL(u);
      url.hash = '';
      return url.href;
    }),
    body: fc.option(fc.uint8Array({ minLength: 1, maxLength: 128 }), { nil: undefined }),
    apiKey: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
    secretKey: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
    created: fc.integer({ min: 1_500_000_000, max: 2_000_000_000 }),
    nonce: fc.uint8Array({ minLength: 12, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')),
  })
  .map((r) => {
    const { body, ...rest } = r;
    return body === undefined ? rest : { ...rest, body };
  });

describe('arbitrary requests', () => {
  it('signed by http-message-signatures verify with verifyCaaV2Signature, and ours with it', async () => {
    await fc.assert(
      fc.asyncProperty(reqArb, async (r) => {
        expect(caaVerifies(r, await dhensbySign(r))).toBe(true);
        expect(await dhensbyVerifies(r, ourSignature(r))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('signed by http-message-sig verify with verifyCaaV2Signature, and ours with it', async () => {
    await fc.assert(
      fc.asyncProperty(reqArb, async (r) => {
        expect(caaVerifies(r, cloudflareSign(r))).toBe(true);
        expect(await cloudflareVerifies(r, ourSignature(r))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('all three write the same Signature-Input and Signature', async () => {
    await fc.assert(
      fc.asyncProperty(reqArb, async (r) => {
        const ours = ourSignature(r);
        expect(await dhensbySign(r)).toStrictEqual(ours);
        expect(cloudflareSign(r)).toStrictEqual(ours);
      }),
      { numRuns: 200 },
    );
  });
});
