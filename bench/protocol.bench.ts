/**
 * The cost of the protocol layer next to its two baselines, measured in the same run:
 *
 * - A, the bare hash: `crypto.hash('sha1', s, 'base64')` of a string to sign, the one SHA-1 a
 *   verification cannot avoid;
 * - B, the floor of any strict verifier: one base64 decode of the header's token (`atob`), the
 *   decoded parts sliced out and put into the string to sign, and its hash. It checks nothing.
 *
 * Tasks: `parseCaaHeader`, and `parseCaaHeader + verifyCaaSignature` (the public pair that
 * `authenticate` runs). Target: parse + verify ≤ 1.5× the floor.
 *
 * Every parse reads the next header of a pool of 1 024, signed for spec vector V3's session with
 * distinct timestamps, so that no per-value cache of V8's (number-to-string, for one) makes a
 * repeated header look cheaper than a fresh one; the baselines read the same pool.
 *
 * The `caa-v2` profile (issue 13) beside it, over a pool of 1 024 requests `GET
 * https://api.example.com/api/my` (spec vector S1's request) signed by `signCaaV2Request` for the
 * same session (vector S2's, which is V3's), each with its own nonce and a `created` among 256
 * seconds, as Node hands them over (`method`, raw target, a header record with `host`):
 *
 * - C, the floor of any `caa-v2` verifier as the issue defines it: one HKDF-SHA256 (`hkdfSync`) of
 *   the secretKey and one HMAC-SHA256 of the request's signature base, prebuilt (no parsing, no
 *   base, no compare). `hkdfSync` costs more than `deriveCaaV2Key`'s two HMACs, so a verifier that
 *   derives the key can come out below it; D is the tight one;
 * - D, the floor once the key is cached: the HMAC-SHA256 alone;
 * - `caa-v2 parse`: `parseCaaV2Signature` of the two fields;
 * - `caa-v2 parse + verify`: the request parts (`requestPartsFromTarget`), the parse, the window,
 *   `deriveCaaV2Key` and `verifyCaaV2Signature` — everything the pure layer does for a request,
 *   which has no cache: it derives the key every time;
 * - `caa-v2 parse + verify (key cached)`: the same with the key derived beforehand, which is what
 *   the use cases pay (they cache derived keys per secretKey).
 *
 * Each task is also related to the legacy `parseCaaHeader + verifyCaaSignature` (E). No target in
 * this group: the target is on `authenticate` (bench/authenticate.bench.ts).
 *
 * Run: `npm run bench`, or `npx tsx bench/protocol.bench.ts`. Writes bench/results/protocol.json.
 * Import {@link runProtocolBench} to run this group from another file.
 */

import * as crypto from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CAA_V2_KEY_INFO,
  CaaError,
  assertCaaV2Window,
  buildCaaV2SignatureBase,
  buildStringToSign,
  deriveCaaV2Key,
  parseCaaHeader,
  parseCaaV2Signature,
  requestPartsFromTarget,
  signCaaHeader,
  signCaaV2Request,
  verifyCaaSignature,
  verifyCaaV2Signature,
} from '../src/index.js';
import { type BenchGroupResult, type RoundsOptions, printGroup, runGroup, writeJson } from './report.js';

/** Spec vector V3's session. */
const V3 = {
  action: 'client:my:refresh-token',
  apiKey: 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=',
  secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
  timestamp: 1510213872070,
} as const;

export const BARE_HASH = "crypto.hash('sha1', s, 'base64')";
export const FLOOR = 'floor: atob + slices + template + hash';
export const PARSE = 'parseCaaHeader';
export const PARSE_AND_VERIFY = 'parseCaaHeader + verifyCaaSignature';
export const V2_FLOOR = 'caa-v2 floor: hkdfSync + HMAC-SHA256 of the base';
export const V2_HMAC = 'caa-v2 floor, key cached: HMAC-SHA256 of the base';
export const V2_PARSE = 'caa-v2 parse';
export const V2_PARSE_AND_VERIFY = 'caa-v2 parse + verify';
export const V2_PARSE_AND_VERIFY_CACHED = 'caa-v2 parse + verify (key cached)';
/** parse + verify may cost at most this many times the floor. */
export const MAX_RATIO_TO_FLOOR = 1.5;

const POOL_SIZE = 1024;
/** Timestamps of the pool are this many ms apart: all of them inside the window of `now`. */
const TIMESTAMP_STEP_MS = 7;
/** `created` of the caa-v2 pool: spec vector S2's, plus 0 to 255 s (all inside the window of `v2Now`). */
const V2_CREATED = 1764115200;
const V2_CREATED_SPREAD = 256;
const V2_METHOD = 'GET';
const V2_HOST = 'api.example.com';
const V2_TARGET = '/api/my';

export const RESULTS_FILE = fileURLToPath(new URL('./results/protocol.json', import.meta.url));

/** A string with the same characters, stored flat, as an HTTP parser hands header values over. */
const flat = (text: string): string => Buffer.from(text, 'latin1').toString('latin1');

/**
 * Runs the protocol group and returns its results; prints and writes nothing. One operation takes
 * well under a microsecond, so each timed call runs `operationsPerCall` (default 100) of them: one
 * per sample would mostly measure the timer.
 */
export async function runProtocolBench(options: RoundsOptions = {}): Promise<BenchGroupResult> {
  const operationsPerCall = options.operationsPerCall ?? 100;
  const timestamps = Array.from({ length: POOL_SIZE }, (_, i) => V3.timestamp + i * TIMESTAMP_STEP_MS);
  const headers = timestamps.map((timestamp) => flat(signCaaHeader({ ...V3, timestamp })));
  const stringsToSign = timestamps.map((timestamp) => flat(buildStringToSign({ ...V3, timestamp })));
  const verifyOptions = { action: V3.action, secretKey: V3.secretKey, now: V3.timestamp + (POOL_SIZE / 2) * TIMESTAMP_STEP_MS };
  const { action, secretKey } = V3;

  // Fail loudly rather than measure a path that throws, or a floor that hashes something else.
  for (const [i, header] of headers.entries()) {
    verifyCaaSignature(parseCaaHeader(header), verifyOptions);
    const inner = atob(header.slice(4));
    const floorString = `?action=${action}&apiKey=${inner.slice(0, inner.indexOf(':'))}&secretKey=${secretKey}&timestamp=${inner.slice(-13)}`;
    if (floorString !== stringsToSign[i]) throw new Error('the floor does not rebuild the string to sign');
  }

  // The caa-v2 pool: Node-style requests (method, raw target, header record), their bases prebuilt for the floors.
  const v2Requests = Array.from({ length: POOL_SIZE }, (_, i) => {
    const signed = signCaaV2Request({
      method: V2_METHOD,
      url: `https://${V2_HOST}${V2_TARGET}`,
      apiKey: V3.apiKey,
      secretKey,
      created: V2_CREATED + (i % V2_CREATED_SPREAD),
    });
    return {
      method: V2_METHOD,
      url: V2_TARGET,
      headers: { host: V2_HOST, 'signature-input': flat(signed['signature-input']), signature: flat(signed.signature) },
    };
  });
  const v2Now = (V2_CREATED + V2_CREATED_SPREAD / 2) * 1000;
  const v2WindowOptions = { now: v2Now };
  const v2Bases = v2Requests.map((req) =>
    flat(
      buildCaaV2SignatureBase(
        parseCaaV2Signature(req.headers['signature-input'], req.headers.signature),
        requestPartsFromTarget(req.method, req.headers.host, req.url, req.headers),
      ),
    ),
  );
  const v2CachedKey = deriveCaaV2Key(secretKey);
  const hkdfKey = (): Uint8Array => new Uint8Array(crypto.hkdfSync('sha256', secretKey, '', CAA_V2_KEY_INFO, 32));
  if (!v2CachedKey.equals(hkdfKey())) throw new Error('the floor does not derive the key deriveCaaV2Key derives');
  const v2Nonces = new Set<string>();
  for (const [i, req] of v2Requests.entries()) {
    const sig = parseCaaV2Signature(req.headers['signature-input'], req.headers.signature);
    v2Nonces.add(sig.nonce);
    assertCaaV2Window(sig, v2WindowOptions);
    const parts = requestPartsFromTarget(req.method, req.headers.host, req.url, req.headers);
    if (!verifyCaaV2Signature(sig, parts, deriveCaaV2Key(secretKey))) throw new Error('a caa-v2 request of the pool does not verify');
    const floorMac = crypto.createHmac('sha256', hkdfKey()).update(v2Bases[i] ?? '', 'latin1').digest();
    if (!floorMac.equals(sig.signature)) throw new Error('the caa-v2 floor does not compute the signature');
  }
  if (v2Nonces.size !== POOL_SIZE) throw new Error('the caa-v2 pool repeats a nonce');

  // Every result flows into `sink`, so that no call can be optimized away. Each task keeps its own
  // position in the pool (`next & mask`), and each is its own function literal: one shared loop
  // would make its call sites polymorphic and slow every task down alike.
  const mask = POOL_SIZE - 1;
  let sink = 0;
  let bareNext = 0;
  let floorNext = 0;
  let parseNext = 0;
  let verifyNext = 0;
  let v2FloorNext = 0;
  let v2HmacNext = 0;
  let v2ParseNext = 0;
  let v2VerifyNext = 0;
  let v2CachedNext = 0;
  const emptyRequest = { method: '', url: '', headers: { host: '', 'signature-input': '', signature: '' } };
  const result = await runGroup(
    'protocol',
    [
      {
        name: BARE_HASH,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            sink ^= crypto.hash('sha1', stringsToSign[bareNext++ & mask] ?? '', 'base64').length;
          }
        },
      },
      {
        name: FLOOR,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const inner = atob((headers[floorNext++ & mask] ?? '').slice(4));
            const apiKey = inner.slice(0, inner.indexOf(':'));
            const stringToSign = `?action=${action}&apiKey=${apiKey}&secretKey=${secretKey}&timestamp=${inner.slice(-13)}`;
            sink ^= crypto.hash('sha1', stringToSign, 'base64').length;
          }
        },
      },
      {
        name: PARSE,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) sink ^= parseCaaHeader(headers[parseNext++ & mask]).signature.length;
        },
      },
      {
        name: PARSE_AND_VERIFY,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const credentials = parseCaaHeader(headers[verifyNext++ & mask]);
            verifyCaaSignature(credentials, verifyOptions);
            sink ^= credentials.signature.length;
          }
        },
      },
      {
        name: V2_FLOOR,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const key = new Uint8Array(crypto.hkdfSync('sha256', secretKey, '', CAA_V2_KEY_INFO, 32));
            sink ^= crypto.createHmac('sha256', key).update(v2Bases[v2FloorNext++ & mask] ?? '', 'latin1').digest().length;
          }
        },
      },
      {
        name: V2_HMAC,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            sink ^= crypto.createHmac('sha256', v2CachedKey).update(v2Bases[v2HmacNext++ & mask] ?? '', 'latin1').digest().length;
          }
        },
      },
      {
        name: V2_PARSE,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const { headers } = v2Requests[v2ParseNext++ & mask] ?? emptyRequest;
            sink ^= parseCaaV2Signature(headers['signature-input'], headers.signature).created;
          }
        },
      },
      {
        name: V2_PARSE_AND_VERIFY,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const req = v2Requests[v2VerifyNext++ & mask] ?? emptyRequest;
            const { headers } = req;
            const parts = requestPartsFromTarget(req.method, headers.host, req.url, headers);
            const sig = parseCaaV2Signature(headers['signature-input'], headers.signature);
            assertCaaV2Window(sig, v2WindowOptions);
            if (!verifyCaaV2Signature(sig, parts, deriveCaaV2Key(secretKey))) throw new CaaError('SIGNATURE_MISMATCH');
            sink ^= sig.created;
          }
        },
      },
      {
        name: V2_PARSE_AND_VERIFY_CACHED,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const req = v2Requests[v2CachedNext++ & mask] ?? emptyRequest;
            const { headers } = req;
            const parts = requestPartsFromTarget(req.method, headers.host, req.url, headers);
            const sig = parseCaaV2Signature(headers['signature-input'], headers.signature);
            assertCaaV2Window(sig, v2WindowOptions);
            if (!verifyCaaV2Signature(sig, parts, v2CachedKey)) throw new CaaError('SIGNATURE_MISMATCH');
            sink ^= sig.created;
          }
        },
      },
    ],
    {
      ...options,
      operationsPerCall,
      baselines: [BARE_HASH, FLOOR, V2_FLOOR, V2_HMAC, PARSE_AND_VERIFY],
      targets: [
        {
          description: `parse+verify ≤ ${MAX_RATIO_TO_FLOOR}× the floor (B)`,
          task: PARSE_AND_VERIFY,
          baseline: FLOOR,
          maxRatio: MAX_RATIO_TO_FLOOR,
        },
      ],
    },
  );
  if (sink === -1) console.log(sink); // never true; keeps `sink` observable
  return result;
}

function isMain(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href;
}

if (isMain()) {
  const result = await runProtocolBench();
  printGroup(result);
  writeJson(RESULTS_FILE, result);
  console.log(`\nwrote ${RESULTS_FILE}`);
}
