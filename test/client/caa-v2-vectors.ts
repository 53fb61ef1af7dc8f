/** The `caa-v2` vectors S1 and S2 of `caa-http-signatures.md` §5, as the spec gives them. */

export interface CaaV2Vector {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly body: string | undefined;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly created: number;
  readonly nonce: string;
  /** The derived key, base64. */
  readonly key: string;
  readonly contentDigest: string | undefined;
  readonly base: string;
  readonly signatureInput: string;
  readonly signature: string;
}

export const CAA_V2_VECTORS: readonly CaaV2Vector[] = [
  {
    name: 'S1',
    method: 'GET',
    url: 'https://api.example.com/api/my',
    body: undefined,
    apiKey: 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=',
    secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=',
    created: 1700000000,
    nonce: 'bm9uY2UtZm9yLXZlY3Rvci1h',
    key: 'faTw7uRBgogJJuK1Q2xJUfbJv3RpxWSFHNuGMXpF+9o=',
    contentDigest: undefined,
    base: [
      '"@method": GET',
      '"@authority": api.example.com',
      '"@path": /api/my',
      '"@query": ?',
      '"@signature-params": ("@method" "@authority" "@path" "@query");created=1700000000;nonce="bm9uY2UtZm9yLXZlY3Rvci1h";keyid="R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=";alg="hmac-sha256";tag="caa-v2"',
    ].join('\n'),
    signatureInput:
      'caa=("@method" "@authority" "@path" "@query");created=1700000000;nonce="bm9uY2UtZm9yLXZlY3Rvci1h";keyid="R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=";alg="hmac-sha256";tag="caa-v2"',
    signature: 'caa=:kSlditwE6HcTx7yCKC/TtJLfvuXgO3+KPtHjBdyKLjA=:',
  },
  {
    name: 'S2',
    method: 'PUT',
    url: 'https://api.example.com/api/my?lang=zh-CN',
    body: '{"name":"PeckZeg892"}',
    apiKey: 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=',
    secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
    created: 1764115200,
    nonce: 'bm9uY2UtZm9yLXZlY3Rvci1i',
    key: '7VmpJ353L9/lTeJtVau7HLciikjpMEothNIzr9VGHj4=',
    contentDigest: 'sha-256=:HiCwUT0vdbAfb5uyltb/f9P884Lf3aFlOTgAcS0ZRVg=:',
    base: [
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
  },
];
