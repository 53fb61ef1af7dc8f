/**
 * Spec vectors S1 and S2 (`caa-http-signatures.md` §5), byte for byte: key, Content-Digest,
 * signature base, Signature-Input and Signature, signed and verified, against the source and both
 * built files (`dist/index.js` by Node's own ESM loader, `dist/index.cjs` by `require`).
 */

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import * as source from '../../../src/index.js';
import { CAA_V2_VECTORS, receivedHeaders } from './spec-vectors.js';

type Api = typeof source;

const distBuildError = inject('distBuildError');

function assertBuilt(): void {
  if (distBuildError !== null) throw new Error(distBuildError);
}

/** `import()` by Node's own ESM loader, not Vite's module runner (see native-import.cjs). */
const nativeImport = createRequire(import.meta.url)('../../support/native-import.cjs') as (specifier: string) => Promise<unknown>;

const distUrl = (file: string): URL => new URL(`../../../dist/${file}`, import.meta.url);

const IMPLEMENTATIONS: readonly { readonly name: string; readonly load: () => Promise<Api> }[] = [
  { name: 'src/index.ts', load: () => Promise.resolve(source) },
  {
    name: 'dist/index.js (ESM)',
    load: async () => {
      assertBuilt();
      return (await nativeImport(distUrl('index.js').href)) as Api;
    },
  },
  {
    name: 'dist/index.cjs (CJS)',
    load: () => {
      assertBuilt();
      const require = createRequire(import.meta.url);
      return Promise.resolve(require(fileURLToPath(distUrl('index.cjs'))) as Api);
    },
  },
];

describe.each(IMPLEMENTATIONS)('$name', ({ load }) => {
  let api: Api;
  beforeAll(async () => {
    api = await load();
  });

  it('advertises the Accept-Signature of spec §4 exactly', () => {
    expect(api.CAA_V2_ACCEPT_SIGNATURE).toBe(
      'caa=("@method" "@authority" "@path" "@query" "content-digest");keyid;alg="hmac-sha256";created;nonce;tag="caa-v2"',
    );
  });

  describe.each(CAA_V2_VECTORS)('$name', (v) => {
    const received = receivedHeaders(v);
    const parts = (): ReturnType<Api['requestPartsFromUrl']> => api.requestPartsFromUrl(v.method, v.url, received);

    it('derives the key K', () => {
      expect(api.deriveCaaV2Key(v.secretKey).toString('base64')).toBe(v.key);
    });

    if (v.contentDigest !== undefined) {
      const digest = v.contentDigest;
      it('makes the Content-Digest of the body and checks it', () => {
        const body = new TextEncoder().encode(v.body ?? '');
        expect(api.makeContentDigest(body)).toBe(digest);
        expect(api.checkContentDigest(digest, body)).toBe(true);
      });
    }

    it('signs the request to the Signature-Input, Signature (and Content-Digest) of the vector', () => {
      const signed = api.signCaaV2Request({
        method: v.method,
        url: v.url,
        ...(v.body === undefined ? {} : { body: v.body }),
        apiKey: v.apiKey,
        secretKey: v.secretKey,
        created: v.created,
        nonce: v.nonce,
      });
      expect(signed).toStrictEqual({
        'signature-input': v.signatureInput,
        signature: v.signature,
        ...(v.contentDigest === undefined ? {} : { 'content-digest': v.contentDigest }),
      });
    });

    it('parses the received signature and builds the signature base byte for byte', () => {
      const sig = api.parseCaaV2Signature(v.signatureInput, v.signature);
      expect(sig.keyid).toBe(v.apiKey);
      expect(sig.created).toBe(v.created);
      expect(sig.nonce).toBe(v.nonce);
      expect(sig.expires).toBeUndefined();
      expect(`caa=${sig.signatureParams}`).toBe(v.signatureInput);
      expect(Buffer.from(sig.signature).toString('base64')).toBe(v.signature.slice('caa=:'.length, -1));
      expect(api.buildCaaV2SignatureBase(sig, parts())).toBe(v.signatureBase);
    });

    it('verifies the received request with K, and refuses it with the legacy secretKey as key', () => {
      const sig = api.parseCaaV2Signature(v.signatureInput, v.signature);
      expect(api.verifyCaaV2Signature(sig, parts(), Buffer.from(v.key, 'base64'))).toBe(true);
      expect(api.verifyCaaV2Signature(sig, parts(), Buffer.from(v.secretKey, 'utf8'))).toBe(false);
    });

    it('accepts the request inside its window', () => {
      const sig = api.parseCaaV2Signature(v.signatureInput, v.signature);
      expect(() => api.assertCaaV2Window(sig, { now: v.created * 1000 })).not.toThrow();
    });
  });
});
