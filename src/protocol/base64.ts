/**
 * Standard base64 (alphabet `A-Z a-z 0-9 + /`, `=` padding): checks that run in one pass over the
 * characters without regular expressions, and a strict decoder. Universal (no Node-only globals):
 * the client uses these checks too.
 *
 * @internal
 * @module protocol/base64
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * `IS_BASE64[c]` is 1 when char code `c` is in the standard base64 alphabet (not `=`), else 0. It
 * covers every Latin-1 code, so that a decoded string indexes it without a range check; a higher
 * code reads `undefined`, which is not 1 either.
 */
const IS_BASE64 = new Uint8Array(256);
for (let i = 0; i < ALPHABET.length; i++) IS_BASE64[ALPHABET.charCodeAt(i)] = 1;

const EQUALS = 0x3d;

/** Number of `=` (0, 1 or 2) that end `text[start, end)`, as padding counts them. */
function paddingOf(text: string, end: number): number {
  if (text.charCodeAt(end - 1) !== EQUALS) return 0;
  return text.charCodeAt(end - 2) === EQUALS ? 2 : 1;
}

/** True when every character of `text[start, end)` is in the alphabet (`=` is not). */
export function isAlphabet(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (IS_BASE64[text.charCodeAt(i)] !== 1) return false;
  return true;
}

const IS_BASE64_VIEW = new DataView(IS_BASE64.buffer);

/** 1 when byte `c` (0–255) is a character of the alphabet (not `=`), else 0: for loops that AND it up. */
export function base64Bit(c: number): number {
  return IS_BASE64_VIEW.getUint8(c);
}

/**
 * True when `text[start, end)` is non-empty, padded standard base64: a multiple of 4 characters,
 * alphabet characters, then at most two `=` at the very end.
 */
export function isBase64(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length <= 0 || length % 4 !== 0) return false;
  return isAlphabet(text, start, end - paddingOf(text, end));
}

/** Number of bytes that the valid base64 text `text[start, end)` decodes to. */
export function decodedLength(text: string, start = 0, end = text.length): number {
  return ((end - start) / 4) * 3 - paddingOf(text, end);
}

/**
 * Decodes `text` when it is non-empty, padded standard base64 (as {@link isBase64} defines it),
 * to a string of one Latin-1 character per byte; else `undefined`. The spare bits of the last
 * character are ignored, as every decoder does.
 *
 * `atob` checks the alphabet in native code but forgives two things this must refuse: ASCII
 * whitespace anywhere (skipped) and missing padding. Both are caught in O(1): the length must be a
 * multiple of 4, and a skipped character makes the decoded length fall short of ¾ · length − padding.
 */
export function decodeBase64(text: string): string | undefined {
  const length = text.length;
  if (length === 0 || length % 4 !== 0) return undefined;
  let decoded: string;
  try {
    decoded = atob(text);
  } catch {
    return undefined;
  }
  return decoded.length === decodedLength(text) ? decoded : undefined;
}
