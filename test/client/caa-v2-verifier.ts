/**
 * A `caa-v2` verifier for the client tests, written from the spec (`caa-http-signatures.md` §1–§3)
 * and nothing of the library: node:crypto's `hkdfSync`, `createHmac` and `createHash`, and a
 * signature base built by hand from the request as the server received it. It checks the one shape
 * the profile allows (label `caa`, its parameters, nothing else) in the order of spec §3, and answers
 * a refusal with the spec's status, wire message and code.
 */

import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const KEY_INFO = 'caa-auth http-signatures hmac-sha256 v1';
export const SKEW_MS = 300_000;

/** The `Accept-Signature` of spec §4, as a server that accepts the profile sends it. */
export const ACCEPT_SIGNATURE =
  'caa=("@method" "@authority" "@path" "@query" "content-digest");keyid;alg="hmac-sha256";created;nonce;tag="caa-v2"';

/** A refusal, with the wire message and the finer code of spec §3. */
export class V2Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const invalidAuthorization = (): V2Refusal => new V2Refusal(400, 'invalid authorization', 'INVALID_AUTHORIZATION');
const invalidSignature = (code: string): V2Refusal => new V2Refusal(400, 'invalid signature', code);

/** The derived HMAC key of spec §2. */
export function deriveKey(secretKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), Buffer.alloc(0), KEY_INFO, 32));
}

/** What the verifier reads of a `Signature-Input` member `caa`. */
export interface ParsedSignatureInput {
  readonly covered: string[];
  readonly params: Map<string, string | number>;
  /** The member's value after `caa=`, exactly as received: the `@signature-params` line. */
  readonly raw: string;
}

/** The `caa` member of `Signature-Input`: a list of quoted names, then `;key=value` parameters. */
export function parseSignatureInput(header: string): ParsedSignatureInput {
  const match = /^caa=(\(([^()]*)\)((?:;[a-z]+=(?:[0-9]+|"[^"\\]*"))*))$/.exec(header);
  if (match === null) throw invalidAuthorization();
  const [, raw = '', list = '', paramText = ''] = match;
  const covered = list === '' ? [] : list.split(' ').map((item) => {
    if (!/^"[a-z@-]+"$/.test(item)) throw invalidAuthorization();
    return item.slice(1, -1);
  });
  const params = new Map<string, string | number>();
  for (const param of paramText.split(';').slice(1)) {
    const eq = param.indexOf('=');
    const name = param.slice(0, eq);
    const value = param.slice(eq + 1);
    if (params.has(name)) throw invalidAuthorization();
    params.set(name, value.startsWith('"') ? value.slice(1, -1) : Number(value));
  }
  return { covered, params, raw };
}

/** The request as the server received it. */
export interface ReceivedRequest {
  readonly method: string;
  /** The request target, e.g. `/api/my?x=1`. */
  readonly target: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A verified request: its keyid, its parameters, and the secretKey it verified with. */
export interface VerifiedV2 {
  readonly apiKey: string;
  readonly created: number;
  readonly nonce: string;
}

export interface VerifyOptions {
  readonly now: number;
  /** The session's secretKey for an apiKey, `undefined` when there is none (404). */
  readonly secretKeyOf: (apiKey: string) => Promise<string | undefined>;
  /** True when this (apiKey, nonce) pair was seen before (and remembers it). */
  readonly replayed?: (apiKey: string, nonce: string) => boolean;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Spec §3, in order. */
export async function verifyCaaV2(req: ReceivedRequest, options: VerifyOptions): Promise<VerifiedV2> {
  const signatureInput = single(req.headers['signature-input']);
  const signatureHeader = single(req.headers['signature']);
  if (signatureInput === undefined || signatureHeader === undefined) throw invalidAuthorization();
  const parsed = parseSignatureInput(signatureInput);
  const signatureMatch = /^caa=:([A-Za-z0-9+/]+={0,2}):$/.exec(signatureHeader);
  if (signatureMatch === null) throw invalidAuthorization();
  const { covered, params } = parsed;
  for (const required of ['@method', '@authority', '@path', '@query']) if (!covered.includes(required)) throw invalidAuthorization();
  const created = params.get('created');
  const nonce = params.get('nonce');
  const keyid = params.get('keyid');
  const expires = params.get('expires');
  if (typeof created !== 'number' || typeof nonce !== 'string' || typeof keyid !== 'string') throw invalidAuthorization();
  if (!/^[A-Za-z0-9+/_=-]{16,128}$/.test(nonce)) throw invalidAuthorization();
  if (params.get('alg') !== 'hmac-sha256' || params.get('tag') !== 'caa-v2') throw invalidAuthorization();
  if (expires !== undefined && typeof expires !== 'number') throw invalidAuthorization();
  for (const name of params.keys()) {
    if (!['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'].includes(name)) throw invalidAuthorization();
  }
  if (single(req.headers.authorization) !== undefined) throw new V2Refusal(400, 'invalid authorization', 'AMBIGUOUS_CREDENTIALS');

  if (Math.abs(options.now - created * 1000) > SKEW_MS) throw invalidSignature('TIMESTAMP_OUT_OF_WINDOW');
  if (expires !== undefined && options.now > expires * 1000) throw invalidSignature('TIMESTAMP_OUT_OF_WINDOW');

  const secretKey = await options.secretKeyOf(keyid);
  if (secretKey === undefined) throw new V2Refusal(404, 'apiKey not found', 'APIKEY_NOT_FOUND');

  const contentDigest = single(req.headers['content-digest']);
  if (req.body.length > 0) {
    const expected = `sha-256=:${createHash('sha256').update(req.body).digest('base64')}:`;
    if (!covered.includes('content-digest') || contentDigest !== expected) throw invalidSignature('DIGEST_MISMATCH');
  }

  const queryAt = req.target.indexOf('?');
  const values: Record<string, string | undefined> = {
    '@method': req.method,
    '@authority': single(req.headers.host)?.toLowerCase(),
    '@path': queryAt === -1 ? req.target : req.target.slice(0, queryAt),
    '@query': queryAt === -1 ? '?' : req.target.slice(queryAt),
    'content-digest': contentDigest,
  };
  const lines = covered.map((name) => {
    const value = values[name];
    if (value === undefined) throw invalidAuthorization();
    return `"${name}": ${value}\n`;
  });
  const base = `${lines.join('')}"@signature-params": ${parsed.raw}`;
  const expected = createHmac('sha256', deriveKey(secretKey)).update(base, 'utf8').digest();
  const received = Buffer.from(signatureMatch[1] ?? '', 'base64');
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) throw invalidSignature('SIGNATURE_MISMATCH');

  if (options.replayed?.(keyid, nonce) === true) throw invalidSignature('REPLAYED');
  return { apiKey: keyid, created, nonce };
}
