/**
 * The RFC 8941 Dictionary parser behind Signature-Input, Signature and Content-Digest: the RFC's
 * own examples, each failure rule of §4.2, a round trip of arbitrary dictionaries serialized by an
 * independent serializer written here, and arbitrary input that never makes it throw.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseDictionary,
  serializeString,
  type SfBareItem,
  type SfInnerList,
  type SfItem,
  type SfMember,
  type SfParameter,
} from '../../../src/protocol/http-signatures/structured-fields.js';

const int = (value: number): SfBareItem => ({ type: 'integer', value });
const str = (value: string): SfBareItem => ({ type: 'string', value });
const tok = (value: string): SfBareItem => ({ type: 'token', value });
const TRUE: SfBareItem = { type: 'boolean', value: true };
const item = (value: SfBareItem, params: SfParameter[] = []): SfItem => ({ kind: 'item', value, params });

describe('parseDictionary reads', () => {
  it('the RFC 8941 §3.2 examples', () => {
    expect(parseDictionary('en="Applepie", da=:w4ZibGV0w6ZydGU=:')).toStrictEqual([
      { key: 'en', value: item(str('Applepie')) },
      { key: 'da', value: item({ type: 'binary', value: 'w4ZibGV0w6ZydGU=' }) },
    ]);
    expect(parseDictionary('a=?0, b, c; foo=bar')).toStrictEqual([
      { key: 'a', value: item({ type: 'boolean', value: false }) },
      { key: 'b', value: item(TRUE) },
      { key: 'c', value: item(TRUE, [{ key: 'foo', value: tok('bar') }]) },
    ]);
    expect(parseDictionary('rating=1.5, feelings=(joy sadness)')).toStrictEqual([
      { key: 'rating', value: item({ type: 'decimal', value: 1.5 }) },
      { key: 'feelings', value: { kind: 'inner-list', items: [item(tok('joy')), item(tok('sadness'))], params: [] } },
    ]);
  });

  it('an empty field as an empty dictionary, and spaces around it', () => {
    expect(parseDictionary('')).toStrictEqual([]);
    expect(parseDictionary('   ')).toStrictEqual([]);
    expect(parseDictionary('  a=1  ')).toStrictEqual([{ key: 'a', value: item(int(1)) }]);
  });

  it('OWS (spaces and tabs) around commas', () => {
    expect(parseDictionary('a=1 \t,\t b=2')?.map((m) => m.key)).toStrictEqual(['a', 'b']);
  });

  it('repeated keys kept in order, for the caller to refuse', () => {
    expect(parseDictionary('a=1, a=2')).toStrictEqual([
      { key: 'a', value: item(int(1)) },
      { key: 'a', value: item(int(2)) },
    ]);
  });

  it('inner lists with spaces inside the parentheses, parameters on items and on the list', () => {
    const expected: SfInnerList = {
      kind: 'inner-list',
      items: [item(str('a'), [{ key: 'x', value: TRUE }]), item(int(-3))],
      params: [{ key: 'p', value: int(5) }],
    };
    expect(parseDictionary('k=(  "a";x  -3 );p=5')).toStrictEqual([{ key: 'k', value: expected }]);
    expect(parseDictionary('k=()')).toStrictEqual([{ key: 'k', value: { kind: 'inner-list', items: [], params: [] } }]);
  });

  it('escapes in strings, and the limits of integers and decimals', () => {
    expect(parseDictionary('a="x\\"y\\\\z"')?.[0]?.value).toStrictEqual(item(str('x"y\\z')));
    expect(parseDictionary('a=999999999999999')?.[0]?.value).toStrictEqual(item(int(999999999999999)));
    expect(parseDictionary('a=-999999999999999')?.[0]?.value).toStrictEqual(item(int(-999999999999999)));
    expect(parseDictionary('a=123456789012.123')?.[0]?.value).toStrictEqual(item({ type: 'decimal', value: 123456789012.123 }));
  });

  it('tokens with the characters RFC 8941 allows after the first', () => {
    expect(parseDictionary("a=*foo:/!#$%&'*+-.^_`|~9Z")?.[0]?.value).toStrictEqual(item(tok("*foo:/!#$%&'*+-.^_`|~9Z")));
  });

  it('byte sequences padded, unpadded and empty, keeping their base64 text', () => {
    expect(parseDictionary('a=:AQID:, b=:AQ:, c=:AQ==:, d=::')?.map((m) => m.value)).toStrictEqual([
      item({ type: 'binary', value: 'AQID' }),
      item({ type: 'binary', value: 'AQ' }),
      item({ type: 'binary', value: 'AQ==' }),
      item({ type: 'binary', value: '' }),
    ]);
  });
});

describe('parseDictionary refuses', () => {
  it.each([
    ['a trailing comma', 'a=1,'],
    ['a leading comma', ',a=1'],
    ['two commas', 'a=1,,b=2'],
    ['a key in uppercase', 'A=1'],
    ['a key starting with a digit', '1a=1'],
    ['no separator between members', 'a=1 b=2'],
    ['a tab before the dictionary', '\ta=1'],
    ['a value missing after =', 'a='],
    ['an unterminated string', 'a="abc'],
    ['a control character in a string', 'a="a\u0001b"'],
    ['a non-ASCII character in a string', 'a="\u00e9"'],
    ['an escape other than \\" and \\\\', 'a="\\n"'],
    ['16 digits in an integer', 'a=1000000000000000'],
    ['13 digits before the point of a decimal', 'a=1234567890123.1'],
    ['4 digits after the point', 'a=1.1234'],
    ['a decimal ending in a point', 'a=1.'],
    ['a lone minus', 'a=-'],
    ['two points', 'a=1.2.3'],
    ['a boolean other than ?0 and ?1', 'a=?2'],
    ['an unterminated byte sequence', 'a=:AQID'],
    ['a byte sequence with a character outside base64', 'a=:AQ-D:'],
    ['a byte sequence with padding inside', 'a=:AQ==AQ==:'],
    ['a byte sequence padded to the wrong length', 'a=:AQI==:'],
    ['a byte sequence of an impossible unpadded length', 'a=:AQIDB:'],
    ['an unterminated inner list', 'a=(1 2'],
    ['items of an inner list without a space', 'a=(1"x")'],
    ['a parameter key in uppercase', 'a=1;X=2'],
    ['an RFC 9651 date', 'a=@1659578233'],
    ['an RFC 9651 display string', 'a=%"caf%c3%a9"'],
    ['a nested inner list', 'a=((1))'],
    ['an item that starts with a character of no type', 'a=!x'],
  ])('%s', (_, field) => {
    expect(parseDictionary(field)).toBeUndefined();
  });
});

// An independent serializer (RFC 8941 §4.1), written from the RFC for this test only.
function serializeBare(value: SfBareItem): string {
  switch (value.type) {
    case 'integer':
      return String(value.value);
    case 'decimal': {
      const text = value.value.toFixed(3).replace(/0+$/, '');
      return text.endsWith('.') ? `${text}0` : text;
    }
    case 'string':
      return `"${value.value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
    case 'token':
      return value.value;
    case 'binary':
      return `:${value.value}:`;
    case 'boolean':
      return value.value ? '?1' : '?0';
  }
}

const serializeParams = (params: readonly SfParameter[]): string =>
  params.map((p) => (p.value.type === 'boolean' && p.value.value ? `;${p.key}` : `;${p.key}=${serializeBare(p.value)}`)).join('');

const serializeItem = (i: SfItem): string => `${serializeBare(i.value)}${serializeParams(i.params)}`;

function serializeMember(m: SfMember): string {
  const v = m.value;
  if (v.kind === 'inner-list') return `${m.key}=(${v.items.map(serializeItem).join(' ')})${serializeParams(v.params)}`;
  if (v.value.type === 'boolean' && v.value.value) return `${m.key}${serializeParams(v.params)}`;
  return `${m.key}=${serializeItem(v)}`;
}

const keyArb = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,6}$/);
const bareArb: fc.Arbitrary<SfBareItem> = fc.oneof(
  fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }).map(int),
  fc.integer({ min: -999_999_999, max: 999_999_999 }).map((n): SfBareItem => ({ type: 'decimal', value: n / 1000 })),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 }).map(str),
  fc.stringMatching(/^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]{0,8}$/).map(tok),
  fc.uint8Array({ maxLength: 12 }).map((b): SfBareItem => ({ type: 'binary', value: Buffer.from(b).toString('base64') })),
  fc.boolean().map((value): SfBareItem => ({ type: 'boolean', value })),
);
// Distinct keys: the serializer's output for repeated keys would be the same, but keeping them apart
// keeps the expected value simple.
const paramsArb = fc.uniqueArray(fc.record({ key: keyArb, value: bareArb }), { maxLength: 3, selector: (p) => p.key });
const itemArb: fc.Arbitrary<SfItem> = fc.record({ kind: fc.constant('item' as const), value: bareArb, params: paramsArb });
const innerListArb: fc.Arbitrary<SfInnerList> = fc.record({
  kind: fc.constant('inner-list' as const),
  items: fc.array(itemArb, { maxLength: 4 }),
  params: paramsArb,
});
const dictionaryArb = fc.uniqueArray(fc.record({ key: keyArb, value: fc.oneof(itemArb, innerListArb) }), {
  maxLength: 5,
  selector: (m) => m.key,
});
const separatorArb = fc.constantFrom(',', ', ', ' ,\t', '\t, ');

describe('parseDictionary, for arbitrary input', () => {
  it('reads back any dictionary an independent serializer writes, whatever the OWS between members', () => {
    fc.assert(
      fc.property(dictionaryArb, fc.array(separatorArb, { minLength: 5, maxLength: 5 }), (members, separators) => {
        const field = members.map((m, i) => `${i === 0 ? '' : (separators[i] ?? ',')}${serializeMember(m)}`).join('');
        // toEqual: fast-check builds records without a prototype.
        expect(parseDictionary(field)).toEqual(members);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws: it returns a dictionary or undefined', () => {
    const nearField = fc
      .array(fc.oneof(fc.constantFrom('a', '=', ',', ' ', '(', ')', ';', '"', '\\', ':', '?', '-', '1', '.', '*', 'A', '\t', '='), fc.string({ maxLength: 3 })), {
        maxLength: 40,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 100 }), nearField), (field) => {
        const parsed = parseDictionary(field);
        expect(parsed === undefined || Array.isArray(parsed)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('serializeString', () => {
  it('quotes and escapes " and \\ only', () => {
    expect(serializeString('a"b\\c d')).toBe('"a\\"b\\\\c d"');
    expect(serializeString('')).toBe('""');
  });

  it('is read back by the parser for any printable ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }), (value) => {
        expect(parseDictionary(`a=${serializeString(value)}`)?.[0]?.value).toStrictEqual(item(str(value)));
      }),
    );
  });
});
