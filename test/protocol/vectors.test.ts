/**
 * The test vectors of spec §4 (from test/support/spec-vectors.ts), plus vectors of our own made
 * with an independent tool (OpenSSL and coreutils, see {@link OWN_VECTORS}), run against the source
 * and against both built files (`dist/index.js` loaded by Node's own ESM loader, `dist/index.cjs`
 * by `require`).
 */

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import * as source from '../../src/index.js';
import { SPEC_V2, SPEC_VECTORS, type SpecVector } from '../support/spec-vectors.js';

type Api = typeof source;

/** A signed vector; ours may add non-canonical headers to the spec's fields. */
interface SignedVector extends SpecVector {
  /** Non-canonical headers a client may send for the same credentials; they must parse the same. */
  readonly alsoAccepted?: readonly string[];
}

/** Spec §4, V1 and V3–V5, named with their origin where the spec gives one. */
const SPEC_SIGNED: readonly SignedVector[] = SPEC_VECTORS.map((v) => ({
  ...v,
  name: v.origin === undefined ? v.name : `${v.name} (${v.origin})`,
}));

/** A non-ASCII action (CJK, Latin-1 letters and an astral emoji): 2-, 3- and 4-byte UTF-8 sequences. */
const UTF8_ACTION = 'client:\u6211\u7684:\u5237\u65b0\u4ee4\u724c-\u00fcn\u00efc\u00f6d\u00e9-\u{1f511}';

/**
 * Our own vectors, computed outside this library with OpenSSL 3.0 and coreutils:
 *
 * ```sh
 * STRING="?action=$ACTION&apiKey=$API_KEY&secretKey=$SECRET_KEY&timestamp=$TS"
 * printf '%s' "$STRING" | openssl dgst -sha1 -binary | base64            # signature
 * printf '%s' "$API_KEY:$SIG$SEP$TS" | base64 -w0                        # header token
 * ```
 *
 * Keys are `openssl rand -base64 32` (one of 48 bytes) or short hand-made values; `$SEP` is one
 * space for the canonical header, and the whitespace named in the vector for `alsoAccepted`.
 */
const OWN_VECTORS: readonly SignedVector[] = [
  {
    name: 'O1 non-ASCII action, hashed as UTF-8',
    action: UTF8_ACTION,
    apiKey: 'U5PRlzqZZU1fPQo6fOND/Ai0VYoV++ibS0ptx5tBud8=',
    secretKey: 'aUgOuhLzPMgqApmb2rxCYw8uJoCqJKDlxs90r4EdjiE=',
    timestamp: 1732579200123,
    stringToSign: `?action=${UTF8_ACTION}&apiKey=U5PRlzqZZU1fPQo6fOND/Ai0VYoV++ibS0ptx5tBud8=&secretKey=aUgOuhLzPMgqApmb2rxCYw8uJoCqJKDlxs90r4EdjiE=&timestamp=1732579200123`,
    signature: 'gsIQc8tCeg4ke4i7SB9Vfiyt6OI=',
    header:
      'Caa VTVQUmx6cVpaVTFmUFFvNmZPTkQvQWkwVllvVisraWJTMHB0eDV0QnVkOD06Z3NJUWM4dENlZzRrZTRpN1NCOVZmaXl0Nk9JPSAxNzMyNTc5MjAwMTIz',
  },
  {
    name: 'O2 space, tab and two spaces between signature and timestamp',
    action: 'client:my:update-my-profile',
    apiKey: 'OUIqUCNzaBVN4YD+JX8o+yF9uEy9qg3olc6nL4JPfA4=',
    secretKey: '5ojrgYBq/RgRLcAyuwF6/UalXdGRmMBRU0MEA/qTutM=',
    timestamp: 1600000000000,
    signature: '07xU84BSLkQN4zFxALLsWeNUCRY=',
    header:
      'Caa T1VJcVVDTnphQlZONFlEK0pYOG8reUY5dUV5OXFnM29sYzZuTDRKUGZBND06MDd4VTg0QlNMa1FONHpGeEFMTHNXZU5VQ1JZPSAxNjAwMDAwMDAwMDAw',
    alsoAccepted: [
      // inner: '…CRY=' + ' \t  ' + '1600000000000'
      'Caa T1VJcVVDTnphQlZONFlEK0pYOG8reUY5dUV5OXFnM29sYzZuTDRKUGZBND06MDd4VTg0QlNMa1FONHpGeEFMTHNXZU5VQ1JZPSAJICAxNjAwMDAwMDAwMDAw',
    ],
  },
  {
    name: 'O3 scheme in lower and upper case',
    action: 'client:my:fetch-my-profile',
    apiKey: 'Fls7/R++lwDfUT9/VbPjQ3odJAeNl2b1MXYBjkVOOhw=',
    secretKey: 'zv8FS0k4QEuDZBP49u4y12w/VZUP5qO3CyvKjxFivnU=',
    timestamp: 1234567890123,
    stringToSign:
      '?action=client:my:fetch-my-profile&apiKey=Fls7/R++lwDfUT9/VbPjQ3odJAeNl2b1MXYBjkVOOhw=&secretKey=zv8FS0k4QEuDZBP49u4y12w/VZUP5qO3CyvKjxFivnU=&timestamp=1234567890123',
    signature: '/IyqpWeJxOt57mVsiPXPKwK7UsY=',
    header:
      'Caa RmxzNy9SKytsd0RmVVQ5L1ZiUGpRM29kSkFlTmwyYjFNWFlCamtWT09odz06L0l5cXBXZUp4T3Q1N21Wc2lQWFBLd0s3VXNZPSAxMjM0NTY3ODkwMTIz',
    alsoAccepted: [
      'caa RmxzNy9SKytsd0RmVVQ5L1ZiUGpRM29kSkFlTmwyYjFNWFlCamtWT09odz06L0l5cXBXZUp4T3Q1N21Wc2lQWFBLd0s3VXNZPSAxMjM0NTY3ODkwMTIz',
      'CAA RmxzNy9SKytsd0RmVVQ5L1ZiUGpRM29kSkFlTmwyYjFNWFlCamtWT09odz06L0l5cXBXZUp4T3Q1N21Wc2lQWFBLd0s3VXNZPSAxMjM0NTY3ODkwMTIz',
      'cAa  \tRmxzNy9SKytsd0RmVVQ5L1ZiUGpRM29kSkFlTmwyYjFNWFlCamtWT09odz06L0l5cXBXZUp4T3Q1N21Wc2lQWFBLd0s3VXNZPSAxMjM0NTY3ODkwMTIz',
    ],
  },
  {
    name: 'O4 one-byte apiKey, smallest 13-digit timestamp',
    action: 'client:my:refresh-token',
    apiKey: 'QQ==',
    secretKey: 'c2VjcmV0',
    timestamp: 1000000000000,
    stringToSign: '?action=client:my:refresh-token&apiKey=QQ==&secretKey=c2VjcmV0&timestamp=1000000000000',
    signature: 'q6TR9Hu93pCDckBgybkEVzG3TdI=',
    header: 'Caa UVE9PTpxNlRSOUh1OTNwQ0Rja0JneWJrRVZ6RzNUZEk9IDEwMDAwMDAwMDAwMDA=',
  },
  {
    name: 'O5 largest 13-digit timestamp, secret with + and /',
    action: 'client:my:logout',
    apiKey: 'YWJjZGVmZ2hpams=',
    secretKey: '+/+/AAAA',
    timestamp: 9999999999999,
    stringToSign: '?action=client:my:logout&apiKey=YWJjZGVmZ2hpams=&secretKey=+/+/AAAA&timestamp=9999999999999',
    signature: 'btnfWDh+h3KmZtN3fnJLnKJHqoA=',
    header: 'Caa WVdKalpHVm1aMmhwYW1zPTpidG5mV0RoK2gzS21adE4zZm5KTG5LSkhxb0E9IDk5OTk5OTk5OTk5OTk=',
  },
  {
    name: 'O6 unpadded 48-byte apiKey, LF CR VT FF SP before the timestamp',
    action: 'client:my:login',
    apiKey: 'HoiQ3BFaMLz8W8ClS/8aybCvGatycCnLJICNw9RWrynASlNQ3a1SyXoJ738ln6o/',
    secretKey: 'aUgOuhLzPMgqApmb2rxCYw8uJoCqJKDlxs90r4EdjiE=',
    timestamp: 1510213872071,
    signature: 'IcF8EYGHghGiiG2eza/AmtN+uUY=',
    header:
      'Caa SG9pUTNCRmFNTHo4VzhDbFMvOGF5YkN2R2F0eWNDbkxKSUNOdzlSV3J5bkFTbE5RM2ExU3lYb0o3MzhsbjZvLzpJY0Y4RVlHSGdoR2lpRzJlemEvQW10Tit1VVk9IDE1MTAyMTM4NzIwNzE=',
    alsoAccepted: [
      // inner: '…uUY=' + '\n\r\v\f ' + '1510213872071'
      'Caa SG9pUTNCRmFNTHo4VzhDbFMvOGF5YkN2R2F0eWNDbkxKSUNOdzlSV3J5bkFTbE5RM2ExU3lYb0o3MzhsbjZvLzpJY0Y4RVlHSGdoR2lpRzJlemEvQW10Tit1VVk9Cg0LDCAxNTEwMjEzODcyMDcx',
    ],
  },
];

const ALL_SIGNED = [...SPEC_SIGNED, ...OWN_VECTORS];

const distBuildError = inject('distBuildError');

function assertBuilt(): void {
  if (distBuildError !== null) throw new Error(distBuildError);
}

/** `import()` by Node's own ESM loader, not Vite's module runner (see native-import.cjs). */
const nativeImport = createRequire(import.meta.url)('../support/native-import.cjs') as (specifier: string) => Promise<unknown>;

const distUrl = (file: string): URL => new URL(`../../dist/${file}`, import.meta.url);

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

describe('own vectors are what they claim to be', () => {
  it('O1 action is multi-byte UTF-8 and its signature differs from a Latin-1 hash of the same string', () => {
    const o1 = OWN_VECTORS[0];
    if (o1?.stringToSign === undefined) throw new Error('O1 must give its stringToSign');
    expect(Buffer.from(UTF8_ACTION, 'utf8').toString('hex')).toBe(
      '636c69656e743ae68891e79a843ae588b7e696b0e4bba4e7898c2dc3bc6ec3af63c3b664c3a92df09f9491',
    );
    expect(Buffer.byteLength(o1.stringToSign, 'utf8')).toBe(182); // `wc -c` of the printf output
    expect(createHash('sha1').update(o1.stringToSign, 'latin1').digest('base64')).not.toBe(o1.signature);
  });
});

describe.each(IMPLEMENTATIONS)('$name', ({ load }) => {
  let api: Api;
  beforeAll(async () => {
    api = await load();
  });

  describe.each(ALL_SIGNED)('$name', (v) => {
    const credentials = { apiKey: v.apiKey, signature: v.signature, timestamp: v.timestamp };

    if (v.stringToSign !== undefined) {
      const stringToSign = v.stringToSign;
      it('builds the string to sign byte for byte', () => {
        expect(api.buildStringToSign(v)).toBe(stringToSign);
      });
    }

    it('computes the signature', () => {
      expect(api.computeSignature(v)).toBe(v.signature);
    });

    it('signs the whole header', () => {
      expect(api.signCaaHeader(v)).toBe(v.header);
    });

    it('formats the header from the credentials', () => {
      expect(api.formatCaaHeader(credentials)).toBe(v.header);
    });

    it('parses the header back to the credentials', () => {
      expect(api.parseCaaHeader(v.header)).toStrictEqual(credentials);
    });

    it('verifies the parsed header with the action and secret, at now = timestamp', () => {
      expect(() =>
        api.verifyCaaSignature(api.parseCaaHeader(v.header), { action: v.action, secretKey: v.secretKey, now: v.timestamp }),
      ).not.toThrow();
    });

    for (const header of v.alsoAccepted ?? []) {
      it(`accepts the variant ${JSON.stringify(header.slice(0, 8))}… and verifies it`, () => {
        const parsed = api.parseCaaHeader(header);
        expect(parsed).toStrictEqual(credentials);
        expect(api.formatCaaHeader(parsed)).toBe(v.header);
        expect(() => api.verifyCaaSignature(parsed, { action: v.action, secretKey: v.secretKey, now: v.timestamp })).not.toThrow();
      });
    }
  });

  describe('V2 (the refresh-token endpoint document, parse only)', () => {
    it('parses to the documented apiKey, signature and timestamp', () => {
      expect(api.parseCaaHeader(SPEC_V2.header)).toStrictEqual({
        apiKey: SPEC_V2.apiKey,
        signature: SPEC_V2.signature,
        timestamp: SPEC_V2.timestamp,
      });
    });

    it('formats the documented credentials to the documented header', () => {
      expect(api.formatCaaHeader({ apiKey: SPEC_V2.apiKey, signature: SPEC_V2.signature, timestamp: SPEC_V2.timestamp })).toBe(
        SPEC_V2.header,
      );
    });
  });

  it('throws an error that isCaaError and instanceof of the source recognize, with the wire body', () => {
    let thrown: unknown;
    try {
      api.parseCaaHeader('Bearer abc');
    } catch (err) {
      thrown = err;
    }
    // A built copy has its own CaaError class, with the same registered brand: instanceof holds across copies.
    expect(thrown).toBeInstanceOf(source.CaaError);
    expect(thrown).toBeInstanceOf(api.CaaError);
    expect(source.isCaaError(thrown)).toBe(true);
    expect(api.isCaaError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ status: 400, message: 'invalid authorization', code: 'INVALID_AUTHORIZATION' });
    expect(JSON.stringify(thrown)).toBe('{"message":"invalid authorization"}');
  });
});
