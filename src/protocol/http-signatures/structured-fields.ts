/**
 * A strict RFC 8941 parser for Dictionary fields (`Signature-Input`, `Signature`,
 * `Content-Digest`), hand-written: one pass over the characters, no regular expressions, no
 * backtracking, so its time is linear in the input, which callers bound before calling it.
 *
 * It parses the whole field as RFC 8941 §4.2 says (every member, of every type), so that a field
 * that is not a valid Dictionary is refused as a whole, as the RFC asks; members the caller does not
 * use are parsed and skipped. RFC 9651 additions (dates, display strings) are not RFC 8941 and fail.
 * Duplicate keys are kept in order rather than overwritten, so that a caller can refuse a duplicate
 * of a member or parameter it uses (two values of one name are read differently by different
 * parsers).
 *
 * @internal
 * @module protocol/http-signatures/structured-fields
 */

/**
 * An RFC 8941 bare item. A byte sequence keeps its base64 text (checked, not decoded): most are
 * members nobody reads, and the one the caller reads it decodes itself.
 * @internal
 */
export type SfBareItem =
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'decimal'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'token'; readonly value: string }
  | { readonly type: 'binary'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean };

/** One parameter, in the order received. @internal */
export interface SfParameter {
  readonly key: string;
  readonly value: SfBareItem;
}

/** An item with its parameters. @internal */
export interface SfItem {
  readonly kind: 'item';
  readonly value: SfBareItem;
  readonly params: readonly SfParameter[];
}

/** An inner list with its parameters. @internal */
export interface SfInnerList {
  readonly kind: 'inner-list';
  readonly items: readonly SfItem[];
  readonly params: readonly SfParameter[];
}

/** One member of a Dictionary, in the order received. @internal */
export interface SfMember {
  readonly key: string;
  readonly value: SfItem | SfInnerList;
}

/**
 * How many times a parse started: tests read it to prove that an oversized field was refused
 * before any parsing ran.
 * @internal
 */
export const parseCounter = { dictionaries: 0 };

// Character classes, one bit each, for the printable ASCII range (a table of 128 entries: any
// higher code reads `undefined`, which is in no class).
const LCALPHA = 1;
const DIGIT = 2;
const KEY_REST = 4; // lcalpha / DIGIT / "_" / "-" / "." / "*"
const TOKEN_REST = 8; // tchar / ":" / "/"
const BASE64 = 16; // ALPHA / DIGIT / "+" / "/"
const ALPHA = 32;

const CLASSES = new Uint8Array(128);
function mark(chars: string, bit: number): void {
  for (let i = 0; i < chars.length; i++) {
    const c = chars.charCodeAt(i);
    CLASSES[c] = (CLASSES[c] ?? 0) | bit;
  }
}
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
mark(LOWER, LCALPHA | KEY_REST | TOKEN_REST | BASE64 | ALPHA);
mark(UPPER, TOKEN_REST | BASE64 | ALPHA);
mark(DIGITS, DIGIT | KEY_REST | TOKEN_REST | BASE64);
mark('_-.*', KEY_REST);
mark("!#$%&'*+-.^_`|~:/", TOKEN_REST);
mark('+/', BASE64);

/** True when character code `c` is in class `bit`; false for {@link END} and anything past ASCII. */
function has(c: number, bit: number): boolean {
  return c >= 0 && c < 128 && ((CLASSES[c] ?? 0) & bit) !== 0;
}

const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;
const STAR = 0x2a;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const ZERO = 0x30;
const ONE = 0x31;
const DEL = 0x7f;

/** RFC 8941 §4.2.4: at most 15 digits in an integer, 12 before the point and 3 after in a decimal. */
const MAX_INTEGER_DIGITS = 15;
const MAX_DECIMAL_DIGITS = 16;
const MAX_DECIMAL_INTEGER_DIGITS = 12;
const MAX_DECIMAL_FRACTION_DIGITS = 3;

/** Thrown inside the parser and caught at its top: a plain object, so no stack trace is captured. */
const FAIL = Object.freeze({ failed: true });

const NO_PARAMETERS: readonly SfParameter[] = Object.freeze([]);

/** What {@link Parser.peek} reads past the end: in no class, equal to no character. */
const END = -1;

class Parser {
  pos = 0;
  readonly length: number;

  constructor(readonly text: string) {
    this.length = text.length;
  }

  peek(): number {
    // Bounds checked here: charCodeAt past the end is a slow path for the engine.
    return this.pos < this.length ? this.text.charCodeAt(this.pos) : END;
  }

  skipSpaces(): void {
    while (this.peek() === SP) this.pos++;
  }

  skipOws(): void {
    for (let c = this.peek(); c === SP || c === HTAB; c = this.peek()) this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.length;
  }

  /** RFC 8941 §4.2.2. */
  dictionary(): SfMember[] {
    const members: SfMember[] = [];
    while (!this.atEnd()) {
      const key = this.key();
      let value: SfItem | SfInnerList;
      if (this.peek() === EQUALS) {
        this.pos++;
        value = this.itemOrInnerList();
      } else {
        value = { kind: 'item', value: { type: 'boolean', value: true }, params: this.parameters() };
      }
      members.push({ key, value });
      this.skipOws();
      if (this.atEnd()) return members;
      if (this.peek() !== COMMA) throw FAIL;
      this.pos++;
      this.skipOws();
      if (this.atEnd()) throw FAIL; // a trailing comma
    }
    return members;
  }

  itemOrInnerList(): SfItem | SfInnerList {
    return this.peek() === OPEN_PAREN ? this.innerList() : this.item();
  }

  /** RFC 8941 §4.2.1.2. */
  innerList(): SfInnerList {
    this.pos++; // "("
    const items: SfItem[] = [];
    while (!this.atEnd()) {
      this.skipSpaces();
      if (this.peek() === CLOSE_PAREN) {
        this.pos++;
        return { kind: 'inner-list', items, params: this.parameters() };
      }
      items.push(this.item());
      const c = this.peek();
      if (c !== SP && c !== CLOSE_PAREN) throw FAIL;
    }
    throw FAIL; // no ")"
  }

  /** RFC 8941 §4.2.3. */
  item(): SfItem {
    const value = this.bareItem();
    return { kind: 'item', value, params: this.parameters() };
  }

  /** RFC 8941 §4.2.3.2. Most items have none: they share one empty list. */
  parameters(): readonly SfParameter[] {
    if (this.peek() !== SEMICOLON) return NO_PARAMETERS;
    const params: SfParameter[] = [];
    while (this.peek() === SEMICOLON) {
      this.pos++;
      this.skipSpaces();
      const key = this.key();
      let value: SfBareItem = { type: 'boolean', value: true };
      if (this.peek() === EQUALS) {
        this.pos++;
        value = this.bareItem();
      }
      params.push({ key, value });
    }
    return params;
  }

  /** RFC 8941 §4.2.3.3. */
  key(): string {
    const start = this.pos;
    const first = this.peek();
    if (!has(first, LCALPHA) && first !== STAR) throw FAIL;
    this.pos++;
    while (has(this.peek(), KEY_REST)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** RFC 8941 §4.2.3.1. */
  bareItem(): SfBareItem {
    const c = this.peek();
    if (c === MINUS || has(c, DIGIT)) return this.number();
    if (c === DQUOTE) return this.string();
    if (c === STAR || has(c, ALPHA)) return this.token();
    if (c === COLON) return this.byteSequence();
    if (c === QUESTION) return this.boolean();
    throw FAIL;
  }

  /** RFC 8941 §4.2.4. */
  number(): SfBareItem {
    const start = this.pos;
    if (this.peek() === MINUS) this.pos++;
    if (!has(this.peek(), DIGIT)) throw FAIL;
    const digitsStart = this.pos;
    let point = -1;
    for (;;) {
      const c = this.peek();
      if (has(c, DIGIT)) {
        this.pos++;
      } else if (c === DOT && point < 0) {
        if (this.pos - digitsStart > MAX_DECIMAL_INTEGER_DIGITS) throw FAIL;
        point = this.pos;
        this.pos++;
      } else {
        break;
      }
      const length = this.pos - digitsStart;
      if (point < 0 ? length > MAX_INTEGER_DIGITS : length > MAX_DECIMAL_DIGITS) throw FAIL;
    }
    const text = this.text.slice(start, this.pos);
    if (point < 0) return { type: 'integer', value: Number(text) };
    const fraction = this.pos - point - 1;
    if (fraction === 0 || fraction > MAX_DECIMAL_FRACTION_DIGITS) throw FAIL;
    return { type: 'decimal', value: Number(text) };
  }

  /** RFC 8941 §4.2.5: printable ASCII, with `\"` and `\\` the only escapes. */
  string(): SfBareItem {
    this.pos++; // DQUOTE
    let value = '';
    let chunk = this.pos;
    while (!this.atEnd()) {
      const c = this.peek();
      if (c === BACKSLASH) {
        value += this.text.slice(chunk, this.pos);
        this.pos++;
        const escaped = this.peek();
        if (escaped !== DQUOTE && escaped !== BACKSLASH) throw FAIL;
        chunk = this.pos; // the escaped character starts the next chunk
        this.pos++;
      } else if (c === DQUOTE) {
        value += this.text.slice(chunk, this.pos);
        this.pos++;
        return { type: 'string', value };
      } else if (c < SP || c >= DEL) {
        throw FAIL;
      } else {
        this.pos++;
      }
    }
    throw FAIL; // no closing DQUOTE
  }

  /** RFC 8941 §4.2.6. */
  token(): SfBareItem {
    const start = this.pos;
    this.pos++;
    while (has(this.peek(), TOKEN_REST)) this.pos++;
    return { type: 'token', value: this.text.slice(start, this.pos) };
  }

  /**
   * RFC 8941 §4.2.7: base64 between colons. Padding may be absent (the RFC asks parsers not to
   * fail on that); when present it ends the content and makes its length a multiple of 4.
   */
  byteSequence(): SfBareItem {
    this.pos++; // ":"
    const start = this.pos;
    while (has(this.peek(), BASE64)) this.pos++;
    const alphabetEnd = this.pos;
    while (this.peek() === EQUALS && this.pos - alphabetEnd < 2) this.pos++;
    if (this.peek() !== COLON) throw FAIL;
    const length = this.pos - start;
    if (this.pos > alphabetEnd ? length % 4 !== 0 : length % 4 === 1) throw FAIL;
    const value = this.text.slice(start, this.pos);
    this.pos++;
    return { type: 'binary', value };
  }

  /** RFC 8941 §4.2.8. */
  boolean(): SfBareItem {
    this.pos++; // "?"
    const c = this.peek();
    if (c !== ZERO && c !== ONE) throw FAIL;
    this.pos++;
    return { type: 'boolean', value: c === ONE };
  }
}

/**
 * Parses `text` as an RFC 8941 Dictionary (§4.2 with §4.2.2), or returns `undefined` when it is
 * not one. An empty field is an empty Dictionary. The caller bounds `text`'s length first.
 *
 * @param text - The field value, its lines already combined with `, `.
 * @internal
 */
export function parseDictionary(text: string): SfMember[] | undefined {
  parseCounter.dictionaries++;
  const parser = new Parser(text);
  try {
    parser.skipSpaces();
    const members = parser.dictionary();
    parser.skipSpaces();
    return parser.atEnd() ? members : undefined;
  } catch (err) {
    if (err === FAIL) return undefined;
    throw err;
  }
}

/**
 * The value of the one member named `key`; `undefined` when there is none, `null` when the field
 * repeats it (two values of one name are read differently by different parsers, so neither counts).
 * @internal
 */
export function soleMember(members: readonly SfMember[], key: string): SfItem | SfInnerList | undefined | null {
  let found: SfItem | SfInnerList | undefined;
  for (const member of members) {
    if (member.key !== key) continue;
    if (found !== undefined) return null;
    found = member.value;
  }
  return found;
}

/**
 * RFC 8941 §4.1.6: a String, quoted, with `"` and `\` escaped. The caller has checked that every
 * character is printable ASCII.
 * @internal
 */
export function serializeString(value: string): string {
  let out = '"';
  let chunk = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === DQUOTE || c === BACKSLASH) {
      out += `${value.slice(chunk, i)}\\`;
      chunk = i;
    }
  }
  return `${out}${value.slice(chunk)}"`;
}

/**
 * True when `value` can be an RFC 8941 String: printable ASCII and space only.
 * @internal
 */
export function isSfString(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < SP || c >= DEL) return false;
  }
  return true;
}
