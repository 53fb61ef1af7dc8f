/**
 * Checks for standard base64 (alphabet `A-Z a-z 0-9 + /`, `=` padding) that run in one pass over
 * the characters, without regular expressions.
 *
 * @internal
 * @module protocol/base64
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `IS_BASE64[c]` is 1 when char code `c` is in the standard base64 alphabet (not `=`). */
const IS_BASE64 = new Uint8Array(128);
for (let i = 0; i < ALPHABET.length; i++) IS_BASE64[ALPHABET.charCodeAt(i)] = 1;

const EQUALS = 0x3d;

/**
 * True when `text[start, end)` is non-empty, padded standard base64: a multiple of 4 characters,
 * alphabet characters, then at most two `=` at the very end.
 */
export function isBase64(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length <= 0 || length % 4 !== 0) return false;
  let padding = 0;
  if (text.charCodeAt(end - 1) === EQUALS) padding = text.charCodeAt(end - 2) === EQUALS ? 2 : 1;
  const dataEnd = end - padding;
  for (let i = start; i < dataEnd; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || IS_BASE64[c] !== 1) return false;
  }
  return true;
}

/** Number of bytes that the valid base64 text `text[start, end)` decodes to. */
export function decodedLength(text: string, start = 0, end = text.length): number {
  let padding = 0;
  if (text.charCodeAt(end - 1) === EQUALS) padding = text.charCodeAt(end - 2) === EQUALS ? 2 : 1;
  return ((end - start) / 4) * 3 - padding;
}
