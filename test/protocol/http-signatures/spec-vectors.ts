/**
 * The test vectors of `caa-http-signatures.md` §5, byte for byte, for every test that checks
 * `caa-v2` signing or verifying against them (the protocol here; the client may import them too).
 */

/** One signed request of the spec. */
export interface CaaV2Vector {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  /** The body bytes as UTF-8 text, when the request has one. */
  readonly body?: string;
  /** Fields the request carries besides the signature ones (not covered unless listed in the input). */
  readonly headers: Readonly<Record<string, string>>;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly created: number;
  readonly nonce: string;
  /** base64 of the derived key K. */
  readonly key: string;
  readonly contentDigest?: string;
  readonly signatureBase: string;
  readonly signatureInput: string;
  readonly signature: string;
}

export const S1: CaaV2Vector = {
  name: 'S1 GET, no body (the session of V4)',
  method: 'GET',
  url: 'https://api.example.com/api/my',
  headers: {},
  apiKey: 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=',
  secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=',
  created: 1700000000,
  nonce: 'bm9uY2UtZm9yLXZlY3Rvci1h',
  key: 'faTw7uRBgogJJuK1Q2xJUfbJv3RpxWSFHNuGMXpF+9o=',
  signatureBase: [
    '"@method": GET',
    '"@authority": api.example.com',
    '"@path": /api/my',
    '"@query": ?',
    '"@signature-params": ("@method" "@authority" "@path" "@query");created=1700000000;nonce="bm9uY2UtZm9yLXZlY3Rvci1h";keyid="R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=";alg="hmac-sha256";tag="caa-v2"',
  ].join('\n'),
  signatureInput:
    'caa=("@method" "@authority" "@path" "@query");created=1700000000;nonce="bm9uY2UtZm9yLXZlY3Rvci1h";keyid="R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=";alg="hmac-sha256";tag="caa-v2"',
  signature: 'caa=:kSlditwE6HcTx7yCKC/TtJLfvuXgO3+KPtHjBdyKLjA=:',
};

export const S2: CaaV2Vector = {
  name: 'S2 PUT with a JSON body and a query (the session of V3)',
  method: 'PUT',
  url: 'https://api.example.com/api/my?lang=zh-CN',
  body: '{"name":"PeckZeg892"}',
  headers: { 'content-type': 'application/json', 'content-length': '21' },
  apiKey: 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=',
  secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
  created: 1764115200,
  nonce: 'bm9uY2UtZm9yLXZlY3Rvci1i',
  key: '7VmpJ353L9/lTeJtVau7HLciikjpMEothNIzr9VGHj4=',
  contentDigest: 'sha-256=:HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg=:',
  signatureBase: [
    '"@method": PUT',
    '"@authority": api.example.com',
    '"@path": /api/my',
    '"@query": ?lang=zh-CN',
    '"content-digest": sha-256=:HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg=:',
    '"@signature-params": ("@method" "@authority" "@path" "@query" "content-digest");created=1764115200;nonce="bm9uY2UtZm9yLXZlY3Rvci1i";keyid="bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=";alg="hmac-sha256";tag="caa-v2"',
  ].join('\n'),
  signatureInput:
    'caa=("@method" "@authority" "@path" "@query" "content-digest");created=1764115200;nonce="bm9uY2UtZm9yLXZlY3Rvci1i";keyid="bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=";alg="hmac-sha256";tag="caa-v2"',
  signature: 'caa=:XCgsoQ/oSlRb85iJeWMTX7BgustT7TTTuZNWfM4yNcI=:',
};

export const CAA_V2_VECTORS: readonly CaaV2Vector[] = [S1, S2];

/** The fields a server receives for a vector: its own headers, the signature ones, its digest. */
export function receivedHeaders(v: CaaV2Vector): Record<string, string> {
  return {
    ...v.headers,
    'signature-input': v.signatureInput,
    signature: v.signature,
    ...(v.contentDigest === undefined ? {} : { 'content-digest': v.contentDigest }),
  };
}
