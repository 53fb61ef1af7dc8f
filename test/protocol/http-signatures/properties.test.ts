/**
 * Properties of the caa-v2 protocol layer (issue 13, "Done when"): for arbitrary input the parser
 * returns or throws CaaError 400; sign → verify round-trips for arbitrary methods, authorities,
 * paths, queries and bodies; any change to a covered component, the body (through content-digest)
 * or a parameter (created, nonce, keyid, expires, the component list) fails verification.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CAA_V2_REQUIRED_COMPONENTS,
  CAA_V2_SIGNATURE_BYTES,
  CaaError,
  checkContentDigest,
  deriveCaaV2Key,
  makeContentDigest,
  parseCaaV2Signature,
  requestPartsFromTarget,
  requestPartsFromUrl,
  signCaaV2Request,
  verifyCaaV2Signature,
  type CaaV2Signature,
  type SignCaaV2RequestInput,
} from '../../../src/index.js';
import { INVALID_AUTHORIZATION, assertCaaError } from '../../support/expect-caa-error.js';
import { S1, S2 } from './spec-vectors.js';

/** Every input must parse to a well-formed signature or be refused with exactly 400 invalid authorization. */
function parsesOrIsRefusedExactly(signatureInput: string | undefined, signature: string | undefined): void {
  let sig: CaaV2Signature;
  try {
    sig = parseCaaV2Signature(signatureInput, signature);
  } catch (err) {
    assertCaaError(err, INVALID_AUTHORIZATION);
    return;
  }
  for (const required of CAA_V2_REQUIRED_COMPONENTS) expect(sig.components).toContain(required);
  expect(new Set(sig.components).size).toBe(sig.components.length);
  expect(sig.signature).toHaveLength(CAA_V2_SIGNATURE_BYTES);
  expect(sig.keyid.length).toBeGreaterThan(0);
  expect(Number.isInteger(sig.created) && sig.created >= 0).toBe(true);
  // What parses is serialized canonically: the serialization parses back to the same signature.
  expect(parseCaaV2Signature(`caa=${sig.signatureParams}`, signature)).toStrictEqual(sig);
}

/** One edit of a string: a character deleted, replaced or inserted, or a slice repeated. */
const edit = (text: string): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.nat({ max: text.length }),
      fc.constantFrom('delete', 'replace', 'insert', 'repeat'),
      fc.oneof(fc.constantFrom('"', '(', ')', ';', '=', ',', ' ', ':', '\\', '@', '?', '-', '1', 'a', '\t', '\n', '\u00e9'), fc.string({ maxLength: 2 })),
      fc.nat({ max: 20 }),
    )
    .map(([at, kind, insert, length]) => {
      switch (kind) {
        case 'delete':
          return text.slice(0, at) + text.slice(at + 1);
        case 'replace':
          return text.slice(0, at) + insert + text.slice(at + 1);
        case 'insert':
          return text.slice(0, at) + insert + text.slice(at);
        default:
          return text.slice(0, at + length) + text.slice(at, at + length) + text.slice(at + length);
      }
    });

/** A few edits in a row. */
const edits = (text: string): fc.Arbitrary<string> =>
  fc.integer({ min: 1, max: 4 }).chain((n) => {
    let arb = fc.constant(text);
    for (let i = 0; i < n; i++) arb = arb.chain(edit);
    return arb;
  });

describe('parseCaaV2Signature, for arbitrary input, returns or throws CaaError 400 invalid authorization', () => {
  it('arbitrary strings, either field, or both missing', () => {
    const field = fc.option(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), { nil: undefined });
    fc.assert(fc.property(field, field, parsesOrIsRefusedExactly), { numRuns: 3000 });
    fc.assert(fc.property(field, (signature) => parsesOrIsRefusedExactly(S2.signatureInput, signature)), { numRuns: 1000 });
    fc.assert(fc.property(field, (signatureInput) => parsesOrIsRefusedExactly(signatureInput, S2.signature)), { numRuns: 1000 });
  });

  it('the vectors edited a few characters at a time', () => {
    fc.assert(fc.property(edits(S2.signatureInput), (signatureInput) => parsesOrIsRefusedExactly(signatureInput, S2.signature)), {
      numRuns: 5000,
    });
    fc.assert(fc.property(edits(S1.signature), (signature) => parsesOrIsRefusedExactly(S1.signatureInput, signature)), { numRuns: 2000 });
  });

  it('dictionaries assembled from the grammar\u2019s pieces', () => {
    const piece = fc.constantFrom(
      'caa=',
      'sig=',
      '(',
      ')',
      '"@method"',
      '"@authority"',
      '"@path"',
      '"@query"',
      '"content-digest"',
      '"@target-uri"',
      ';created=1700000000',
      ';expires=1700000300',
      ';expires',
      `;nonce="${S1.nonce}"`,
      ';nonce="short"',
      `;keyid="${S1.apiKey}"`,
      ';keyid=""',
      ';alg="hmac-sha256"',
      ';alg=hmac-sha256',
      ';tag="caa-v2"',
      ';tag="x"',
      ';x=1.5',
      ', ',
      ' ',
      ':AAAA:',
    );
    const field = fc.array(piece, { maxLength: 16 }).map((pieces) => pieces.join(''));
    fc.assert(fc.property(field, (signatureInput) => parsesOrIsRefusedExactly(signatureInput, S1.signature)), { numRuns: 5000 });
  });

  it('never throws anything but a CaaError, whatever the types (a JavaScript caller)', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (signatureInput, signature) => {
        try {
          parseCaaV2Signature(signatureInput as string, signature as string);
        } catch (err) {
          expect(err).toBeInstanceOf(CaaError);
          assertCaaError(err, INVALID_AUTHORIZATION);
        }
      }),
      { numRuns: 500 },
    );
  });
});

// Requests: a token method, a domain (and maybe a port), a path and a query as URL writes them, a body.
const methodArb = fc.oneof(
  fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,11}$/),
);
const authorityArb = fc.tuple(fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([host, port]) => (port === undefined ? host : `${host}:${port}`));
const pathArb = fc.webPath();
const queryArb = fc.option(fc.webQueryParameters(), { nil: undefined });
const bodyArb = fc.option(fc.uint8Array({ maxLength: 256 }), { nil: undefined });

interface Case {
  readonly method: string;
  readonly url: string;
  readonly body?: Uint8Array;
}
const caseArb: fc.Arbitrary<Case> = fc.record({ method: methodArb, authority: authorityArb, path: pathArb, query: queryArb, body: bodyArb }).map((c) => {
  const url = `https://${c.authority}${c.path}${c.query === undefined ? '' : `?${c.query}`}`;
  return c.body === undefined ? { method: c.method, url } : { method: c.method, url, body: c.body };
});

const SESSION = { apiKey: S2.apiKey, secretKey: S2.secretKey };
const KEY = deriveCaaV2Key(S2.secretKey);
const NOW_S = 1_764_115_200;

function sign(c: Case, extra: Partial<SignCaaV2RequestInput> = {}) {
  return signCaaV2Request({ method: c.method, url: c.url, ...(c.body === undefined ? {} : { body: c.body }), ...SESSION, created: NOW_S, nonce: S2.nonce, ...extra });
}

/** True when the server, receiving these headers for this method and URL, verifies the signature. */
function verifies(method: string, url: string, headers: Record<string, string>, key: Uint8Array = KEY): boolean {
  const sig = parseCaaV2Signature(headers['signature-input'], headers.signature);
  try {
    return verifyCaaV2Signature(sig, requestPartsFromUrl(method, url, headers), key);
  } catch (err) {
    // A covered field the changed request lacks is a failure too, as 400 invalid authorization.
    assertCaaError(err, INVALID_AUTHORIZATION);
    return false;
  }
}

describe('sign → verify', () => {
  it('round-trips for arbitrary methods, authorities, paths, queries and bodies', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const signed = sign(c);
        const headers = { ...signed };
        expect(verifies(c.method, c.url, headers)).toBe(true);
        // The raw target of the same request (what a Node server sees) verifies alike.
        const url = new URL(c.url);
        const parts = requestPartsFromTarget(c.method, url.host, `${url.pathname}${url.search}`, headers);
        expect(verifyCaaV2Signature(parseCaaV2Signature(signed['signature-input'], signed.signature), parts, KEY)).toBe(true);
        const body = c.body ?? new Uint8Array(0);
        if (body.length > 0) expect(checkContentDigest(signed['content-digest'], body)).toBe(true);
        else expect(signed['content-digest']).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('fails when any covered derived component changes', () => {
    const change = fc.constantFrom('method', 'authority', 'path', 'query');
    fc.assert(
      fc.property(caseArb, change, methodArb, authorityArb, pathArb, fc.webQueryParameters(), (c, which, method, authority, path, query) => {
        const signed = sign(c);
        const url = new URL(c.url);
        let changedMethod = c.method;
        if (which === 'method') changedMethod = method;
        if (which === 'authority') url.host = authority;
        if (which === 'path') url.pathname = path;
        if (which === 'query') url.search = query;
        const changed = url.href;
        fc.pre(changedMethod !== c.method || requestPartsFromUrl('GET', changed).authority !== requestPartsFromUrl('GET', c.url).authority || new URL(changed).pathname !== new URL(c.url).pathname || new URL(changed).search !== new URL(c.url).search);
        expect(verifies(changedMethod, changed, { ...signed })).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('fails when the body changes: its digest no longer matches, and a recomputed digest breaks the signature', () => {
    const withBody = caseArb.chain((c) => fc.uint8Array({ minLength: 1, maxLength: 256 }).map((body) => ({ ...c, body })));
    fc.assert(
      fc.property(withBody, fc.uint8Array({ maxLength: 256 }), (c, other) => {
        fc.pre(!Buffer.from(other).equals(Buffer.from(c.body)));
        const signed = sign(c);
        expect(checkContentDigest(signed['content-digest'], other)).toBe(false);
        expect(verifies(c.method, c.url, { ...signed, 'content-digest': makeContentDigest(other) })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('fails when any parameter changes: created, nonce, keyid, expires, or the component list', () => {
    const change: fc.Arbitrary<Partial<SignCaaV2RequestInput>> = fc.oneof(
      fc.integer({ min: 0, max: 2 * NOW_S }).filter((t) => t !== NOW_S).map((created) => ({ created })),
      fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/).filter((n) => n !== S2.nonce).map((nonce) => ({ nonce })),
      fc.stringMatching(/^[A-Za-z0-9+/=]{1,44}$/).filter((k) => k !== S2.apiKey).map((apiKey) => ({ apiKey })),
      fc.integer({ min: NOW_S, max: NOW_S + 3600 }).map((expires) => ({ expires })),
      fc.shuffledSubarray([...CAA_V2_REQUIRED_COMPONENTS], { minLength: 4 }).map((components) => ({ components: [...components, 'content-digest'] })),
      fc.constant({ components: [...CAA_V2_REQUIRED_COMPONENTS, 'content-digest', 'content-type'], headers: { 'content-type': 'application/json' } }),
    );
    fc.assert(
      fc.property(caseArb, change, (c, extra) => {
        const original = sign(c);
        const changed = sign(c, extra);
        fc.pre(changed['signature-input'] !== original['signature-input']);
        // The changed parameters with the original signature: the base differs, so the HMAC does.
        const headers = { ...original, 'content-type': 'application/json', 'signature-input': changed['signature-input'], ...(changed['content-digest'] === undefined ? {} : { 'content-digest': changed['content-digest'] }) };
        expect(verifies(c.method, c.url, headers)).toBe(false);
        // And the changed request, signed by the session, verifies: the refusal is the change's alone.
        expect(verifies(c.method, c.url, { ...changed, 'content-type': 'application/json' })).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('fails under the key of another secretKey', () => {
    fc.assert(
      fc.property(caseArb, fc.string({ minLength: 1, maxLength: 64 }), (c, secretKey) => {
        fc.pre(secretKey !== S2.secretKey);
        expect(verifies(c.method, c.url, { ...sign(c) }, deriveCaaV2Key(secretKey))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
