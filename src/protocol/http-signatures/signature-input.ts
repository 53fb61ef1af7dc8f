/**
 * Reading the `caa` signature of a request (spec §1): its `Signature-Input` member (covered
 * components and parameters) and its `Signature` member (32 bytes), strictly. Length caps are
 * checked before anything else; the rest is one linear pass of the structured-field parser.
 *
 * @module protocol/http-signatures/signature-input
 */

import { Buffer } from 'node:buffer';
import { CaaError } from '../../errors.js';
import { isCoverable } from './components.js';
import {
  CAA_V2_SIGNATURE_BYTES,
  MAX_COVERED_COMPONENTS,
  MAX_NONCE_LENGTH,
  MAX_SIGNATURE_INPUT_LENGTH,
  MAX_SIGNATURE_LENGTH,
  MIN_NONCE_LENGTH,
} from './limits.js';
import { CAA_V2_ALG, CAA_V2_LABEL, CAA_V2_REQUIRED_COMPONENTS, CAA_V2_TAG } from './profile.js';
import { parseDictionary, serializeString, soleMember, type SfBareItem } from './structured-fields.js';

/**
 * A parsed `caa` signature: what {@link parseCaaV2Signature} returns and what
 * {@link buildCaaV2SignatureBase} and {@link verifyCaaV2Signature} take.
 *
 * @example
 * ```ts
 * import { parseCaaV2Signature, type CaaV2Signature } from 'caa-auth';
 *
 * const sig: CaaV2Signature = parseCaaV2Signature(req.headers['signature-input'], req.headers.signature);
 * const session = await store.get(sig.keyid); // keyid is the session's apiKey
 * ```
 *
 * @category Protocol
 */
export interface CaaV2Signature {
  /** Covered component identifiers, in the order of `Signature-Input`, e.g. `['@method', …, 'content-digest']`. */
  readonly components: readonly string[];
  /** `created`: seconds since the epoch. */
  readonly created: number;
  /** `expires`, when sent: seconds since the epoch. */
  readonly expires?: number;
  /** `nonce`: 16 to 128 characters of the base64 or base64url alphabet. */
  readonly nonce: string;
  /** `keyid`: the session's apiKey. */
  readonly keyid: string;
  /**
   * The inner list and its parameters, serialized (RFC 8941 §4.1) in the order received: the value
   * of the signature base's `"@signature-params"` line.
   */
  readonly signatureParams: string;
  /** The HMAC-SHA256 the request carries: 32 bytes. */
  readonly signature: Uint8Array;
}

function invalid(): never {
  throw new CaaError('INVALID_AUTHORIZATION');
}

/** base64 and base64url characters (padding apart). */
const NONCE_CHARS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') NONCE_CHARS[c.charCodeAt(0)] = 1;
const EQUALS = 0x3d;

/**
 * A nonce of the profile: {@link MIN_NONCE_LENGTH} to {@link MAX_NONCE_LENGTH} characters of the
 * base64 or base64url alphabet, with at most two `=` of padding at the end (not counted toward the
 * minimum: they carry no randomness).
 *
 * @internal
 */
export function isCaaV2Nonce(nonce: string): boolean {
  if (nonce.length > MAX_NONCE_LENGTH) return false;
  let end = nonce.length;
  if (nonce.charCodeAt(end - 1) === EQUALS) end--;
  if (nonce.charCodeAt(end - 1) === EQUALS) end--;
  if (end < MIN_NONCE_LENGTH) return false;
  for (let i = 0; i < end; i++) if (NONCE_CHARS[nonce.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * A parameter of seconds, given once: a non-negative sf-integer (RFC 8941 bounds it to 15 digits).
 * `previous` is what an earlier parameter of the same name gave.
 */
function seconds(value: SfBareItem, previous: number | undefined): number {
  if (previous !== undefined || value.type !== 'integer' || value.value < 0) invalid();
  return value.value;
}

/** A parameter of text, given once: an sf-string (a token or byte sequence is not one). */
function text(value: SfBareItem, previous: string | undefined): string {
  if (previous !== undefined || value.type !== 'string') invalid();
  return value.value;
}

/**
 * The `"@signature-params"` value (RFC 9421 §2.3): the inner list of component identifiers and its
 * parameters, serialized as RFC 8941 §4.1 does, in the order given. Integers are written as
 * digits, strings quoted with `"` and `\` escaped.
 *
 * @internal
 */
export function serializeSignatureParams(
  components: readonly string[],
  params: readonly (readonly [string, string | number])[],
): string {
  let out = '(';
  for (let i = 0; i < components.length; i++) out += `${i === 0 ? '' : ' '}${serializeString(components[i] ?? '')}`;
  out += ')';
  for (const [key, value] of params) out += `;${key}=${typeof value === 'number' ? String(value) : serializeString(value)}`;
  return out;
}

/*
 * The fast path: the `caa` member exactly as the profile's signers write it (caa-auth/client,
 * signCaaV2Request: the four required components, content-digest optional, then created, nonce,
 * keyid, alg, tag, nothing else, and a lone 32-byte signature) is read by a few fixed-string
 * compares and one byte scan. Anything else — another order, another label beside it, spaces,
 * `expires` — goes to the general RFC 8941 parser below, which accepts exactly what this does
 * and more; this path only refuses by handing over.
 */
const FP_PREFIX = 'caa=("@method" "@authority" "@path" "@query"';
const FP_DIGEST = ' "content-digest"';
const FP_REQUIRED: readonly string[] = Object.freeze(['@method', '@authority', '@path', '@query']);
const FP_WITH_DIGEST: readonly string[] = Object.freeze(['@method', '@authority', '@path', '@query', 'content-digest']);
const FP_TAIL = '";alg="hmac-sha256";tag="caa-v2"';
const FP_CLASS = new Uint8Array(256);
for (let c = 0x20; c < 0x7f; c++) if (c !== 0x22 && c !== 0x5c) FP_CLASS[c] = (FP_CLASS[c] ?? 0) | 2;
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') FP_CLASS[c.charCodeAt(0)] = (FP_CLASS[c.charCodeAt(0)] ?? 0) | 1;
const FP_SIG = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') FP_SIG[c.charCodeAt(0)] = 1;
const FP_BYTES = new Uint8Array(MAX_SIGNATURE_INPUT_LENGTH * 3);
const FP_ENCODER = new TextEncoder();
function fastPath(input: string, signature: string): CaaV2Signature | undefined {
  if (input.slice(0, FP_PREFIX.length) !== FP_PREFIX) return undefined;
  let pos = FP_PREFIX.length;
  let components = FP_REQUIRED;
  if (input.slice(pos, pos + FP_DIGEST.length) === FP_DIGEST) { pos += FP_DIGEST.length; components = FP_WITH_DIGEST; }
  if (input.slice(pos, pos + 10) !== ');created=') return undefined;
  const { written } = FP_ENCODER.encodeInto(input, FP_BYTES);
  if (written !== input.length) return undefined;
  pos += 10;
  let created = 0;
  const d0 = pos;
  while (pos < written && (FP_BYTES[pos] ?? 0) >= 48 && (FP_BYTES[pos] ?? 0) <= 57) created = created * 10 + ((FP_BYTES[pos++] ?? 0) - 48);
  if (pos === d0 || pos - d0 > 15 || (FP_BYTES[d0] === 48 && pos - d0 > 1)) return undefined;
  if (input.slice(pos, pos + 8) !== ';nonce="') return undefined;
  pos += 8;
  const n0 = pos;
  while (pos < written && ((FP_CLASS[FP_BYTES[pos] ?? 0] ?? 0) & 1) !== 0) pos++;
  const n1 = pos;
  if (pos < written && FP_BYTES[pos] === EQUALS) { pos++; if (pos < written && FP_BYTES[pos] === EQUALS) pos++; }
  if (pos - n0 > MAX_NONCE_LENGTH || n1 - n0 < MIN_NONCE_LENGTH) return undefined;
  const nonce = input.slice(n0, pos);
  if (input.slice(pos, pos + 9) !== '";keyid="') return undefined;
  pos += 9;
  const k0 = pos;
  while (pos < written && ((FP_CLASS[FP_BYTES[pos] ?? 0] ?? 0) & 2) !== 0) pos++;
  if (pos === k0 || written !== pos + FP_TAIL.length || input.slice(pos) !== FP_TAIL) return undefined;
  const keyid = input.slice(k0, pos);
  if (signature.length !== 50 || signature.slice(0, 5) !== 'caa=:' || signature.slice(48) !== '=:') return undefined;
  if (FP_ENCODER.encodeInto(signature, FP_BYTES).written !== 50) return undefined;
  let bad = 0;
  for (let i = 5; i < 48; i++) bad |= (FP_SIG[FP_BYTES[i] ?? 0] ?? 0) ^ 1;
  if (bad !== 0) return undefined;
  const bytes = Buffer.from(signature.slice(5, 49), 'base64');
  if (bytes.length !== CAA_V2_SIGNATURE_BYTES) return undefined;
  return { components: [...components], created, nonce, keyid, signatureParams: input.slice(4), signature: new Uint8Array(bytes) };
}


/**
 * Parses the `caa` member of `Signature-Input` and of `Signature` (spec §1); members of other
 * labels are parsed as RFC 8941 asks, then ignored.
 *
 * Refused, all as 400 `invalid authorization` (code `INVALID_AUTHORIZATION`): a missing header or
 * label, a value over {@link MAX_SIGNATURE_INPUT_LENGTH} or {@link MAX_SIGNATURE_LENGTH} characters
 * (checked before any parsing), a field that is not an RFC 8941 Dictionary, a label given twice,
 * a `caa` input that is not an inner list of strings without parameters, a component repeated, a
 * required component ({@link CAA_V2_REQUIRED_COMPONENTS}) missing, a derived component other than
 * those, a field name not in lowercase, more than {@link MAX_COVERED_COMPONENTS} components, an
 * unknown or repeated parameter, `created` (required) or `expires` not a non-negative integer,
 * `nonce` not 16 to 128 base64/base64url characters, `keyid` not a non-empty string, `alg` not
 * exactly `"hmac-sha256"`, `tag` not exactly `"caa-v2"`, a `caa` signature that is not a byte
 * sequence of exactly 32 bytes without parameters.
 *
 * Nothing here checks time or the key: see {@link assertCaaV2Window} and {@link verifyCaaV2Signature}.
 *
 * @param signatureInput - The `Signature-Input` field value (lines combined with `, `); `undefined` when absent.
 * @param signature - The `Signature` field value; `undefined` when absent.
 *
 * @throws {@link CaaError} 400 `invalid authorization`, code `INVALID_AUTHORIZATION`.
 *
 * @example
 * ```ts
 * import { parseCaaV2Signature } from 'caa-auth';
 *
 * const sig = parseCaaV2Signature(
 *   'caa=("@method" "@authority" "@path" "@query");created=1700000000;nonce="bm9uY2UtZm9yLXZlY3Rvci1h";keyid="R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=";alg="hmac-sha256";tag="caa-v2"',
 *   'caa=:kSlditwE6HcTx7yCKC/TtJLfvuXgO3+KPtHjBdyKLjA=:',
 * );
 * sig.keyid; // 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI='
 * sig.created; // 1700000000
 * ```
 *
 * @category Protocol
 */

export function parseCaaV2Signature(signatureInput: string | undefined, signature: string | undefined): CaaV2Signature {
  // The caps first: nothing below runs on an oversized value.
  if (typeof signatureInput !== 'string' || signatureInput.length > MAX_SIGNATURE_INPUT_LENGTH) invalid();
  if (typeof signature !== 'string' || signature.length > MAX_SIGNATURE_LENGTH) invalid();
  const fast = fastPath(signatureInput, signature);
  if (fast !== undefined) return fast;

  const inputs = parseDictionary(signatureInput);
  if (inputs === undefined) invalid();
  const signatures = parseDictionary(signature);
  if (signatures === undefined) invalid();
  const input = soleMember(inputs, CAA_V2_LABEL);
  const value = soleMember(signatures, CAA_V2_LABEL);
  if (input === undefined || input === null || value === undefined || value === null) invalid(); // missing, or given twice

  // The signature: a byte sequence of 32 bytes, no parameters.
  if (value.kind !== 'item' || value.value.type !== 'binary' || value.params.length > 0) invalid();
  const bytes = Buffer.from(value.value.value, 'base64');
  if (bytes.length !== CAA_V2_SIGNATURE_BYTES) invalid();

  // The covered components: strings without parameters, each once, known derived ones or field
  // names. Serialized again as they are read (RFC 9421 §2.3), in the order received.
  if (input.kind !== 'inner-list' || input.items.length > MAX_COVERED_COMPONENTS) invalid();
  const components: string[] = [];
  let signatureParams = '(';
  for (const item of input.items) {
    if (item.value.type !== 'string' || item.params.length > 0) invalid();
    const name = item.value.value;
    // indexOf over at most MAX_COVERED_COMPONENTS names costs less than a Set.
    if (!isCoverable(name) || components.indexOf(name) >= 0) invalid();
    signatureParams += `${components.length === 0 ? '' : ' '}"${name}"`; // no " or \ in a coverable name
    components.push(name);
  }
  signatureParams += ')';
  for (const required of CAA_V2_REQUIRED_COMPONENTS) if (components.indexOf(required) < 0) invalid();

  // The parameters: each known one once, of its type; anything else refused.
  let created: number | undefined;
  let expires: number | undefined;
  let nonce: string | undefined;
  let keyid: string | undefined;
  let alg: string | undefined;
  let tag: string | undefined;
  for (const { key, value: param } of input.params) {
    switch (key) {
      case 'created':
        created = seconds(param, created);
        signatureParams += `;created=${created}`;
        break;
      case 'expires':
        expires = seconds(param, expires);
        signatureParams += `;expires=${expires}`;
        break;
      case 'nonce':
        nonce = text(param, nonce);
        signatureParams += `;nonce="${nonce}"`; // the alphabet checked below has no " or \
        break;
      case 'keyid':
        keyid = text(param, keyid);
        signatureParams += `;keyid=${serializeString(keyid)}`;
        break;
      case 'alg':
        alg = text(param, alg);
        signatureParams += `;alg="${CAA_V2_ALG}"`; // checked below
        break;
      case 'tag':
        tag = text(param, tag);
        signatureParams += `;tag="${CAA_V2_TAG}"`; // checked below
        break;
      default:
        invalid();
    }
  }
  if (created === undefined || nonce === undefined || keyid === undefined || alg !== CAA_V2_ALG || tag !== CAA_V2_TAG) invalid();
  if (!isCaaV2Nonce(nonce) || keyid.length === 0) invalid();

  const sig = new Uint8Array(bytes);
  return expires === undefined
    ? { components, created, nonce, keyid, signatureParams, signature: sig }
    : { components, created, expires, nonce, keyid, signatureParams, signature: sig };
}
