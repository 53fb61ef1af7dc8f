/**
 * The `Authorization: Caa …` header (spec §2): round trips, exact rejections, robustness against
 * arbitrary input, the length bound; and the error and user-model helpers the protocol relies on.
 */

import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CAA_MESSAGES,
  CaaError,
  type CaaCredentials,
  type CaaErrorCode,
  MAX_HEADER_LENGTH,
  type User,
  formatCaaHeader,
  isCaaError,
  parseCaaHeader,
  toPublicUser,
} from '../../src/index.js';
import { INVALID_AUTHORIZATION, assertCaaError, expectThrowsCaaError, thrownBy } from '../support/expect-caa-error.js';

// Parts of spec vector V3, to build headers that are valid but for one thing.
const API_KEY = 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=';
const SIGNATURE = 'RjBz0Ulof2RoRnxnCuMht2bz8AQ=';
const TIMESTAMP = '1510213872070';
const TOKEN = Buffer.from(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`, 'latin1').toString('base64');

const base64 = (bytes: Uint8Array | string): string =>
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes)).toString('base64');

/** A header whose token is the base64 of `inner`, as a client would build it. */
const caa = (inner: string): string => `Caa ${base64(inner)}`;

/** Every input must either parse or be refused with exactly 400 `invalid authorization`. */
function parsesOrIsRejectedExactly(value: string | null | undefined): void {
  let parsed: CaaCredentials;
  try {
    parsed = parseCaaHeader(value);
  } catch (err) {
    assertCaaError(err, INVALID_AUTHORIZATION);
    return;
  }
  // What parses is well formed, and is written back to a header that parses to the same.
  expect(parsed.signature).toHaveLength(28);
  expect(Number.isInteger(parsed.timestamp) && parsed.timestamp >= 1e12 && parsed.timestamp < 1e13).toBe(true);
  expect(parseCaaHeader(formatCaaHeader(parsed))).toStrictEqual(parsed);
}

// A reference grammar written independently of the parser (regular expressions, not a scanner).
const B64 = '(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)';
const OUTER = new RegExp(`^[Cc][Aa][Aa][ \\t]+(${B64})$`);
const INNER = new RegExp(`^(${B64}):([A-Za-z0-9+/]{27}=)[ \\t\\n\\v\\f\\r]+([1-9][0-9]{12})$`);

/** What the spec grammar says `value` parses to, or `undefined` when it must be refused. */
function referenceParse(value: string): CaaCredentials | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  const token = OUTER.exec(value)?.[1];
  if (token === undefined) return undefined;
  const inner = INNER.exec(Buffer.from(token, 'base64').toString('latin1'));
  if (inner === null) return undefined;
  const [, apiKey = '', signature = '', timestamp = ''] = inner;
  return { apiKey, signature, timestamp: Number(timestamp) };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A non-canonical spelling of a padded base64 token: a spare bit of its last character set. */
function withSpareBitSet(token: string): string {
  if (!token.endsWith('=')) return token;
  const last = token.replace(/=+$/, '').length - 1;
  const sibling = ALPHABET[ALPHABET.indexOf(token.charAt(last)) | 1] ?? '';
  return token.slice(0, last) + sibling + token.slice(last + 1);
}

const bytes = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength, maxLength }).map(base64);

const validCredentials: fc.Arbitrary<CaaCredentials> = fc
  .record({
    apiKey: bytes(1, 64),
    signature: bytes(20, 20),
    timestamp: fc.integer({ min: 1e12, max: 1e13 - 1 }),
  })
  .map((credentials) => ({ ...credentials })); // a plain object, like parseCaaHeader returns

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Inner strings near the grammar: each part mostly right, sometimes slightly wrong (about a third parse). */
const nearlyValidInner: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof({ weight: 8, arbitrary: bytes(1, 48) }, { weight: 1, arbitrary: bytes(0, 0) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }),
    fc.oneof({ weight: 12, arbitrary: fc.constant(':') }, { weight: 1, arbitrary: fc.constantFrom('', '::', ';') }),
    fc.oneof({ weight: 8, arbitrary: bytes(20, 20) }, { weight: 1, arbitrary: bytes(18, 22) }, { weight: 1, arbitrary: fc.string({ minLength: 26, maxLength: 30 }) }),
    fc.oneof(
      { weight: 8, arbitrary: fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f'), minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(' ', '\u00a0', 'x', '\u0085'), maxLength: 2 }) },
    ),
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 1e12, max: 1e13 - 1 }).map(String) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2e13 }).map(String) },
      { weight: 1, arbitrary: fc.stringMatching(/^[0-9]{0,15}$/) },
      { weight: 1, arbitrary: fc.string({ maxLength: 14 }) },
    ),
    fc.oneof({ weight: 12, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '\n', '0', 'x') }),
  )
  .map((parts) => parts.join(''));

const schemes = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('Caa ', 'caa ', 'CAA\t', 'cAa  \t') },
  { weight: 1, arbitrary: fc.constantFrom('Caa', 'Ca ', 'Caax ', 'Bearer ', ' Caa ', 'Caa\n') },
);

describe('formatCaaHeader and parseCaaHeader', () => {
  it('round-trips every valid credential: parse(format(c)) equals c', () => {
    fc.assert(
      fc.property(validCredentials, (credentials) => {
        const header = formatCaaHeader(credentials);
        expect(header.startsWith('Caa ')).toBe(true);
        expect(parseCaaHeader(header)).toStrictEqual(credentials);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a token spelled with the spare bits of its last character set like the canonical one', () => {
    // The header of own vector O4 (vectors.test.ts); its token ends in 'MA=', and 'A' carries 2 spare bits.
    const canonical = 'Caa UVE9PTpxNlRSOUh1OTNwQ0Rja0JneWJrRVZ6RzNUZEk9IDEwMDAwMDAwMDAwMDA=';
    const expected = { apiKey: 'QQ==', signature: 'q6TR9Hu93pCDckBgybkEVzG3TdI=', timestamp: 1000000000000 };
    expect(parseCaaHeader(canonical)).toStrictEqual(expected);
    for (const last of ['B', 'C', 'D']) {
      expect(parseCaaHeader(`${canonical.slice(0, -2)}${last}=`)).toStrictEqual(expected);
    }
  });

  it('format(parse(h)) gives h back for every canonical header', () => {
    fc.assert(
      fc.property(validCredentials, (credentials) => {
        const header = formatCaaHeader(credentials);
        expect(formatCaaHeader(parseCaaHeader(header))).toBe(header);
      }),
    );
  });
});

describe('parseCaaHeader on arbitrary input: returns, or throws exactly 400 invalid authorization', () => {
  it('arbitrary ASCII strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), parsesOrIsRejectedExactly), { numRuns: 2000 });
  });

  it('arbitrary Unicode strings (every code point)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), parsesOrIsRejectedExactly), { numRuns: 2000 });
  });

  it('arbitrary UTF-16 strings, lone surrogates included', () => {
    fc.assert(fc.property(fc.string({ unit: codeUnit, maxLength: 200 }), parsesOrIsRejectedExactly), { numRuns: 1000 });
  });

  it("'Caa ' followed by the base64 of arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => parsesOrIsRejectedExactly(`Caa ${base64(raw)}`)),
      { numRuns: 2000 },
    );
  });

  it('agrees with a reference grammar on near-valid headers, and parses to the same fields', () => {
    fc.assert(
      fc.property(schemes, nearlyValidInner, fc.boolean(), (scheme, inner, respell) => {
        const token = Buffer.from(inner, 'latin1').toString('base64'); // inner strings are Latin-1 here
        const header = scheme + (respell ? withSpareBitSet(token) : token);
        const expected = referenceParse(header);
        if (expected === undefined) expectThrowsCaaError(() => parseCaaHeader(header), INVALID_AUTHORIZATION);
        else expect(parseCaaHeader(header)).toStrictEqual(expected);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('parseCaaHeader rejects each malformed header with 400 invalid authorization', () => {
  const cases: readonly (readonly [string, string | null | undefined])[] = [
    ['a missing header (undefined)', undefined],
    ['a missing header (null)', null],
    ['an empty header', ''],
    ['the Bearer scheme with a valid token', `Bearer ${base64(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`)}`],
    ['a scheme that only starts with Caa', `Caax ${base64(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`)}`],
    ['Caa with no token', 'Caa'],
    ['Caa and one space', 'Caa '],
    ['Caa and spaces only', 'Caa      '],
    ['Caa and tabs only', 'Caa\t\t'],
    ['a token with no space after the scheme', `Caa${base64(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`)}`],
    ['a token with characters outside base64', 'Caa !!!!'],
    ['a token with the base64url characters - and _', `Caa -_${base64(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`).slice(2)}`],
    ['a token whose length is not a multiple of 4', `Caa ${base64(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`).slice(0, -1)}`],
    ['a token of padding only', 'Caa ===='],
    // Node's lenient decoder would skip these characters and still find a valid inner string.
    ['a valid token with characters outside base64 inside', `Caa ${TOKEN.slice(0, 8)}!!!!${TOKEN.slice(8)}`],
    ['a valid token with spaces inside', `Caa ${TOKEN.slice(0, 8)}    ${TOKEN.slice(8)}`],
    ['a valid token with line breaks inside', `Caa ${TOKEN.slice(0, 8)}\r\n\r\n${TOKEN.slice(8)}`],
    ['a valid token followed by padding', `Caa ${TOKEN}====`],
    ['a valid token followed by a second one', `Caa ${TOKEN}${TOKEN}`],
    ['a token with padding in the middle', `Caa QQ==${base64(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`)}`],
    ['the base64 of text without a colon', caa(`${API_KEY}${SIGNATURE} ${TIMESTAMP}`)],
    ['the base64 of plain words', caa('hello world')],
    ['an empty apiKey', caa(`:${SIGNATURE} ${TIMESTAMP}`)],
    ['an apiKey outside base64', caa(`api-key!:${SIGNATURE} ${TIMESTAMP}`)],
    ['a base64url apiKey', caa(`a-_b:${SIGNATURE} ${TIMESTAMP}`)],
    ['an apiKey whose length is not a multiple of 4', caa(`${API_KEY.slice(0, -1)}:${SIGNATURE} ${TIMESTAMP}`)],
    ['a signature of 27 base64 characters', caa(`${API_KEY}:${SIGNATURE.slice(0, 27)} ${TIMESTAMP}`)],
    ['a signature of 32 base64 characters', caa(`${API_KEY}:${base64(Buffer.alloc(24, 7))} ${TIMESTAMP}`)],
    ['a signature that is base64 of 19 bytes', caa(`${API_KEY}:${base64(Buffer.alloc(19, 7))} ${TIMESTAMP}`)],
    ['a signature that is base64 of 21 bytes', caa(`${API_KEY}:${base64(Buffer.alloc(21, 7))} ${TIMESTAMP}`)],
    ['a signature outside base64', caa(`${API_KEY}:${SIGNATURE.replace('R', '-')} ${TIMESTAMP}`)],
    ['no whitespace between signature and timestamp', caa(`${API_KEY}:${SIGNATURE}${TIMESTAMP}`)],
    ['a non-breaking space between signature and timestamp', caa(`${API_KEY}:${SIGNATURE}\u00a0${TIMESTAMP}`)],
    ['no timestamp', caa(`${API_KEY}:${SIGNATURE} `)],
    ['a 10-digit timestamp (seconds)', caa(`${API_KEY}:${SIGNATURE} 1510213872`)],
    ['a 12-digit timestamp', caa(`${API_KEY}:${SIGNATURE} 151021387207`)],
    ['a 14-digit timestamp', caa(`${API_KEY}:${SIGNATURE} 15102138720700`)],
    ['a 13-digit timestamp with a leading zero', caa(`${API_KEY}:${SIGNATURE} 0510213872070`)],
    ['a timestamp with a letter', caa(`${API_KEY}:${SIGNATURE} 151021387207a`)],
    ['a negative timestamp', caa(`${API_KEY}:${SIGNATURE} -151021387207`)],
    ['a decimal timestamp', caa(`${API_KEY}:${SIGNATURE} 1510213872.07`)],
    ['a timestamp in exponent notation', caa(`${API_KEY}:${SIGNATURE} 1.5102138e+12`)],
    ['trailing garbage after the timestamp', caa(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}x`)],
    ['trailing whitespace after the timestamp', caa(`${API_KEY}:${SIGNATURE} ${TIMESTAMP} `)],
    ['a second timestamp', caa(`${API_KEY}:${SIGNATURE} ${TIMESTAMP} ${TIMESTAMP}`)],
    ['trailing garbage after the token', `${caa(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`)} x`],
    ['leading whitespace before the scheme', ` ${caa(`${API_KEY}:${SIGNATURE} ${TIMESTAMP}`)}`],
  ];

  it.each(cases)('%s', (_name, header) => {
    expectThrowsCaaError(() => parseCaaHeader(header), INVALID_AUTHORIZATION);
  });
});

describe('the strict decoding: what atob forgives is still refused with 400 invalid authorization', () => {
  // The parser decodes with atob, which skips ASCII whitespace and accepts missing padding; these
  // headers would decode to a valid inner string, so only the parser's own length checks stop them.
  const parses = (header: string): void => {
    expect(() => parseCaaHeader(header)).not.toThrow();
  };
  // An inner string of 88 characters (two spaces before the timestamp): its token ends in '=='.
  const PADDED = base64(`${API_KEY}:${SIGNATURE}  ${TIMESTAMP}`);

  it('parses the tokens these cases start from', () => {
    parses(`Caa ${TOKEN}`);
    parses(`Caa ${PADDED}`);
    expect(PADDED.endsWith('==')).toBe(true);
    expect(atob(`${TOKEN.slice(0, 8)}    ${TOKEN.slice(8)}`)).toBe(atob(TOKEN)); // what atob would let through
  });

  const whitespace: readonly (readonly [string, string])[] = [
    ['spaces', ' '],
    ['tabs', '\t'],
    ['line feeds', '\n'],
    ['form feeds', '\f'],
    ['carriage returns', '\r'],
  ];
  it.each(whitespace)('refuses four %s inside the token, which keep its length a multiple of 4', (_name, c) => {
    // Not at the start: spaces and tabs there separate the scheme from the token.
    for (const at of [1, 8, TOKEN.length - 4, TOKEN.length]) {
      expectThrowsCaaError(() => parseCaaHeader(`Caa ${TOKEN.slice(0, at)}${c.repeat(4)}${TOKEN.slice(at)}`), INVALID_AUTHORIZATION);
    }
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -2)}${c.repeat(4)}==`), INVALID_AUTHORIZATION);
  });

  it.each(whitespace)('refuses %s in place of padding or of a character', (_name, c) => {
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -1)}${c}`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -2)}${c}${c}`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -2)}=${c}`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${TOKEN.slice(0, 8)}${c}${TOKEN.slice(9)}`), INVALID_AUTHORIZATION);
  });

  it('refuses a token without its padding, or with part of it', () => {
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -2)}`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -1)}`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED}=`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${PADDED.slice(0, -2)}A=`), INVALID_AUTHORIZATION);
  });

  it('refuses a character outside ASCII inside the token, even one whose low byte is a base64 character', () => {
    for (const at of [0, 8, TOKEN.length - 1]) {
      const original = TOKEN.charCodeAt(at);
      for (const c of ['\u00e9', '\u0100', String.fromCharCode(0x100 + original), String.fromCharCode(0xff00 + original), '\ud800', '\uff21']) {
        expectThrowsCaaError(() => parseCaaHeader(`Caa ${TOKEN.slice(0, at)}${c}${TOKEN.slice(at + 1)}`), INVALID_AUTHORIZATION);
      }
    }
  });

  it('refuses a character outside ASCII inside the inner string, in every part', () => {
    const latin1 = ['\u0080', '\u00a0', '\u00b2', '\u00c3', '\u00e9', '\u00ff'];
    for (const c of latin1) {
      const inners = [
        `${c}${API_KEY.slice(1)}:${SIGNATURE} ${TIMESTAMP}`, // apiKey
        `${API_KEY.slice(0, -1)}${c}:${SIGNATURE} ${TIMESTAMP}`, // apiKey padding
        `${API_KEY}${c}:${SIGNATURE} ${TIMESTAMP}`, // before the colon
        `${API_KEY}:${c}${SIGNATURE.slice(1)} ${TIMESTAMP}`, // signature
        `${API_KEY}:${SIGNATURE.slice(0, -1)}${c} ${TIMESTAMP}`, // signature padding
        `${API_KEY}:${SIGNATURE}${c}${TIMESTAMP}`, // whitespace
        `${API_KEY}:${SIGNATURE} ${c} ${TIMESTAMP}`, // inside the whitespace
        `${API_KEY}:${SIGNATURE} ${TIMESTAMP.slice(0, -1)}${c}`, // timestamp
      ];
      for (const inner of inners) expectThrowsCaaError(() => parseCaaHeader(caa(inner)), INVALID_AUTHORIZATION);
    }
  });

  it('accepts a non-canonical token spelling only when it is otherwise exact', () => {
    const respelled = withSpareBitSet(PADDED);
    expect(respelled).not.toBe(PADDED);
    parses(`Caa ${respelled}`);
    expect(parseCaaHeader(`Caa ${respelled}`)).toStrictEqual(parseCaaHeader(`Caa ${PADDED}`));
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${respelled.slice(0, -2)}`), INVALID_AUTHORIZATION);
    expectThrowsCaaError(() => parseCaaHeader(`Caa ${respelled.slice(0, 8)}    ${respelled.slice(8)}`), INVALID_AUTHORIZATION);
  });

  it('reads a non-canonical signature spelling as it is written (verification refuses it, see verify.test.ts)', () => {
    const signature = `${SIGNATURE.slice(0, 26)}R=`; // 'Q' with a spare bit set: the same 20 bytes
    expect(parseCaaHeader(caa(`${API_KEY}:${signature} ${TIMESTAMP}`)).signature).toBe(signature);
  });

  it('refuses an apiKey or signature with padding in the wrong place', () => {
    const cases = [
      `${API_KEY.slice(0, -2)}==:${SIGNATURE} ${TIMESTAMP}`.replace(/^./, '='), // '=' first
      `QQ=A:${SIGNATURE} ${TIMESTAMP}`,
      `Q===:${SIGNATURE} ${TIMESTAMP}`,
      `====:${SIGNATURE} ${TIMESTAMP}`,
      `${API_KEY}:${SIGNATURE.slice(0, 26)}==  ${TIMESTAMP}`,
      `${API_KEY}:=${SIGNATURE.slice(1)} ${TIMESTAMP}`,
      `${API_KEY}:${SIGNATURE.slice(0, 27)}A ${TIMESTAMP}`,
    ];
    for (const inner of cases) expectThrowsCaaError(() => parseCaaHeader(caa(inner)), INVALID_AUTHORIZATION);
  });
});

describe('the header length bound', () => {
  // 'Caa' + spaces + base64 of (720-char apiKey ':' signature ' ' timestamp) = 3 + spaces + 1020.
  const longApiKey = base64(Buffer.alloc(540, 0xa5));
  const longToken = base64(`${longApiKey}:${SIGNATURE} ${TIMESTAMP}`);

  it('accepts a valid header of exactly MAX_HEADER_LENGTH (1024) characters', () => {
    const header = `Caa ${longToken}`;
    expect(longApiKey).toHaveLength(720);
    expect(header).toHaveLength(MAX_HEADER_LENGTH);
    expect(parseCaaHeader(header).apiKey).toBe(longApiKey);
  });

  it('accepts a valid header of MAX_HEADER_LENGTH - 1 (1023) characters', () => {
    // A 716-character apiKey and two spaces before the timestamp: an inner string of 760, a token of 1016.
    const token = base64(`${base64(Buffer.alloc(537, 0x5a))}:${SIGNATURE}  ${TIMESTAMP}`);
    const header = `Caa    ${token}`;
    expect(header).toHaveLength(MAX_HEADER_LENGTH - 1);
    expect(parseCaaHeader(header).timestamp).toBe(Number(TIMESTAMP));
  });

  it('rejects the same header one character longer (1025 characters)', () => {
    const header = `Caa  ${longToken}`;
    expect(header).toHaveLength(1025);
    expectThrowsCaaError(() => parseCaaHeader(header), INVALID_AUTHORIZATION);
  });

  describe('checks the length before any decoding', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('decodes nothing of a header of MAX_HEADER_LENGTH + 1 characters', () => {
      const decode = vi.spyOn(globalThis, 'atob');
      const header = `Caa  ${longToken}`;
      expectThrowsCaaError(() => parseCaaHeader(header), INVALID_AUTHORIZATION);
      expect(decode).not.toHaveBeenCalled();
      expect(parseCaaHeader(`Caa ${longToken}`).apiKey).toBe(longApiKey); // 1024 characters: decoded
      expect(decode).toHaveBeenCalledTimes(1);
    });
  });

  it('rejects a 1 MiB header at once (median of 1000 calls under 0.1 ms)', () => {
    const header = `Caa ${'QUFB'.repeat((1 << 20) / 4 - 1)}`;
    expect(header).toHaveLength(1 << 20);
    expectThrowsCaaError(() => parseCaaHeader(header), INVALID_AUTHORIZATION);

    const durations: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const start = performance.now();
      try {
        parseCaaHeader(header);
      } catch {
        // expected: asserted above
      }
      durations.push(performance.now() - start);
    }
    durations.sort((a, b) => a - b);
    const median = durations[durations.length >> 1] ?? Number.POSITIVE_INFINITY;
    // A bound, not a performance claim: decoding 1 MiB would take far longer than this.
    expect(median).toBeLessThan(0.1);
  });
});

describe('formatCaaHeader refuses what could not be parsed back (RangeError)', () => {
  const good: CaaCredentials = { apiKey: API_KEY, signature: SIGNATURE, timestamp: Number(TIMESTAMP) };
  const cases: readonly (readonly [string, Partial<CaaCredentials>])[] = [
    ['an empty apiKey', { apiKey: '' }],
    ['an apiKey outside base64', { apiKey: 'api-key!' }],
    ['an apiKey with a colon', { apiKey: 'ab:c' }],
    ['an apiKey whose length is not a multiple of 4', { apiKey: API_KEY.slice(0, -1) }],
    ['an apiKey that makes the header longer than MAX_HEADER_LENGTH', { apiKey: base64(Buffer.alloc(543, 1)) }],
    ['a signature of 27 characters', { signature: SIGNATURE.slice(0, 27) }],
    ['a signature of 32 characters', { signature: base64(Buffer.alloc(24)) }],
    ['a signature that is base64 of 19 bytes', { signature: base64(Buffer.alloc(19)) }],
    ['a signature that is base64 of 21 bytes', { signature: base64(Buffer.alloc(21)) }],
    ['a signature outside base64', { signature: SIGNATURE.replace('R', '-') }],
    ['a 10-digit timestamp (seconds)', { timestamp: 1510213872 }],
    ['a 14-digit timestamp', { timestamp: 15102138720700 }],
    ['a fractional timestamp', { timestamp: 1510213872070.5 }],
    ['a negative timestamp', { timestamp: -1510213872070 }],
    ['NaN', { timestamp: Number.NaN }],
    ['Infinity', { timestamp: Number.POSITIVE_INFINITY }],
  ];

  it.each(cases)('%s', (_name, change) => {
    const err = thrownBy(() => formatCaaHeader({ ...good, ...change }));
    expect(err).toBeInstanceOf(RangeError);
    expect(isCaaError(err)).toBe(false);
  });

  it('accepts the longest apiKey whose header still fits (720 characters)', () => {
    const apiKey = base64(Buffer.alloc(540, 1));
    expect(formatCaaHeader({ ...good, apiKey })).toHaveLength(MAX_HEADER_LENGTH);
  });
});

/** Every code with its status and wire message: a Record, so that a code added to CaaErrorCode must be listed here. */
const CODE_TABLE: { readonly [C in CaaErrorCode]: readonly [number, string] } = {
  INVALID_AUTHORIZATION: [400, 'invalid authorization'],
  AMBIGUOUS_CREDENTIALS: [400, 'invalid authorization'],
  SIGNATURE_MISMATCH: [400, 'invalid signature'],
  TIMESTAMP_OUT_OF_WINDOW: [400, 'invalid signature'],
  REPLAYED: [400, 'invalid signature'],
  DIGEST_MISMATCH: [400, 'invalid signature'],
  SCHEME_DOWNGRADE: [400, 'invalid signature'],
  APIKEY_NOT_FOUND: [404, 'apiKey not found'],
  SESSION_EXPIRED: [404, 'apiKey not found'],
  TOKEN_REUSED: [404, 'apiKey not found'],
  USER_NOT_FOUND: [404, 'user not found'],
  STORE_UNAVAILABLE: [503, 'service unavailable'],
};
const ALL_CODES: readonly (readonly [CaaErrorCode, number, string])[] = Object.entries(CODE_TABLE).map(
  ([code, [status, message]]) => [code as CaaErrorCode, status, message] as const,
);

describe('CaaError', () => {
  it.each(ALL_CODES)('%s is %i %s, and its body is exactly { message }', (code, status, message) => {
    const err = new CaaError(code, { cause: new Error('secret detail: redis://user:pass@host') });
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, status: err.status, message: err.message, code: err.code }).toStrictEqual({
      name: 'CaaError',
      status,
      message,
      code,
    });
    expect(err.toJSON()).toStrictEqual({ message });
    expect(Object.keys(err.toJSON())).toStrictEqual(['message']);
    expect(JSON.stringify(err)).toBe(JSON.stringify({ message }));
    expect(JSON.stringify(err)).not.toContain('secret detail');
  });

  it('carries the cause for server logs, and no cause when none is given', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new CaaError('STORE_UNAVAILABLE', { cause }).cause).toBe(cause);
    expect('cause' in new CaaError('STORE_UNAVAILABLE')).toBe(false);
  });

  it('uses only the wire messages of the contract', () => {
    const wire = new Set<string>(Object.values(CAA_MESSAGES));
    for (const [code] of ALL_CODES) expect(wire.has(new CaaError(code).message)).toBe(true);
  });
});

describe('isCaaError', () => {
  it.each(ALL_CODES)('is true for a CaaError of code %s', (code) => {
    expect(isCaaError(new CaaError(code))).toBe(true);
  });

  it('is true for a CaaError from another copy of the module (the registered brand), and so is instanceof', () => {
    const foreign = Object.assign(new Error('invalid authorization'), {
      name: 'CaaError',
      code: 'INVALID_AUTHORIZATION',
      status: 400,
    });
    // Another copy (the CJS build beside the ESM one) brands its errors with the same registered symbol.
    Object.defineProperty(foreign, Symbol.for('caa-auth.CaaError'), { value: true });
    expect(isCaaError(foreign)).toBe(true);
    expect(foreign instanceof CaaError).toBe(true);
  });

  it('is false for an Error shaped like a CaaError (name, code, status) without the brand', () => {
    const lookalike = Object.assign(new Error('invalid authorization'), { name: 'CaaError', code: 'INVALID_AUTHORIZATION', status: 400 });
    expect(isCaaError(lookalike)).toBe(false);
    expect(lookalike instanceof CaaError).toBe(false);
  });

  it.each([
    ['a plain Error', new Error('invalid authorization')],
    ['a RangeError', new RangeError('x')],
    ['an Error named CaaError without code and status', Object.assign(new Error('x'), { name: 'CaaError' })],
    ['an Error named CaaError with a numeric code', Object.assign(new Error('x'), { name: 'CaaError', code: 400, status: 400 })],
    ['a plain object shaped like a CaaError', { name: 'CaaError', message: 'invalid authorization', code: 'INVALID_AUTHORIZATION', status: 400 }],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'CaaError'],
  ])('is false for %s', (_name, value) => {
    expect(isCaaError(value)).toBe(false);
  });
});

describe('toPublicUser', () => {
  const baseUser: fc.Arbitrary<User> = fc.record(
    {
      _id: fc.stringMatching(/^[0-9a-f]{24}$/),
      registerAt: fc.integer({ min: 0, max: 1e13 }),
      createAt: fc.integer({ min: 0, max: 1e13 }),
      thirdParty: fc.record({ weixin: fc.record({ unionid: fc.string(), openid: fc.string() }) }, { requiredKeys: [] }),
      avatar: fc.option(fc.webUrl(), { nil: null }),
      gender: fc.constantFrom('unknown', 'secret', 'male', 'female'),
      name: fc.string(),
      mobile: fc.stringMatching(/^1[0-9]{10}$/),
      password: fc.string({ minLength: 1 }),
    },
    { requiredKeys: ['_id', 'registerAt', 'createAt', 'avatar', 'gender', 'name'] },
  );
  /** Any field an application may add, the usual private ones among them. */
  const extraFields = fc.dictionary(
    fc
      .oneof(fc.string(), fc.constantFrom('password', 'mobile', 'email', 'passwordHash', 'totpSecret', 'resetToken'))
      .filter((key) => key !== '__proto__'),
    fc.jsonValue(),
  );

  /** The public fields of spec §6, written out (not read from PUBLIC_USER_FIELDS). */
  const PUBLIC = ['_id', 'registerAt', 'createAt', 'thirdParty', 'avatar', 'gender', 'name'];

  it('passes exactly the public fields of spec §6 the user has, and no other field of any name', () => {
    fc.assert(
      fc.property(baseUser, extraFields, (base, extra) => {
        const user: User = { ...extra, ...base };
        const before = structuredClone(user);
        const publicUser = toPublicUser(user);

        const expected = PUBLIC.filter((key) => Object.hasOwn(user, key)).map((key) => [key, (user as unknown as Record<string, unknown>)[key]]);
        expect(Object.entries(publicUser)).toStrictEqual(expected);
        expect(structuredClone(user)).toStrictEqual(before); // the stored record is not touched
      }),
      { numRuns: 500 },
    );
  });

  it('keeps out the private fields an application adds (passwordHash, email, totpSecret, resetToken)', () => {
    const user = {
      _id: '59573c395c2960da1aa83a08',
      name: 'Ann',
      email: 'ann@example.test',
      passwordHash: 'argon2id$not-a-real-hash',
      totpSecret: 'JBSWY3DPEHPK3PXP',
      resetToken: 'reset-1',
      password: 'x',
      mobile: '13000000000',
    };
    expect(toPublicUser(user)).toStrictEqual({ _id: '59573c395c2960da1aa83a08', name: 'Ann' });
  });

  it('sends an ObjectId-like _id as its hex string, and a number _id as a string', () => {
    const objectId = { toHexString: () => '65f1c2a9e4b0a1b2c3d4e5f6', toString: () => 'ObjectId("65f1c2a9e4b0a1b2c3d4e5f6")' };
    expect(toPublicUser({ _id: objectId, name: 'Ann' })).toStrictEqual({ _id: '65f1c2a9e4b0a1b2c3d4e5f6', name: 'Ann' });
    expect(toPublicUser({ _id: 42 })).toStrictEqual({ _id: '42' });
  });
});
