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
 * Run: `npm run bench`, or `npx tsx bench/protocol.bench.ts`. Writes bench/results/protocol.json.
 * Import {@link runProtocolBench} to run this group from another file.
 */

import * as crypto from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildStringToSign, parseCaaHeader, signCaaHeader, verifyCaaSignature } from '../src/index.js';
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
/** parse + verify may cost at most this many times the floor. */
export const MAX_RATIO_TO_FLOOR = 1.5;

const POOL_SIZE = 1024;
/** Timestamps of the pool are this many ms apart: all of them inside the window of `now`. */
const TIMESTAMP_STEP_MS = 7;

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

  // Every result flows into `sink`, so that no call can be optimized away. Each task keeps its own
  // position in the pool (`next & mask`), and each is its own function literal: one shared loop
  // would make its call sites polymorphic and slow every task down alike.
  const mask = POOL_SIZE - 1;
  let sink = 0;
  let bareNext = 0;
  let floorNext = 0;
  let parseNext = 0;
  let verifyNext = 0;
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
    ],
    {
      ...options,
      operationsPerCall,
      baselines: [BARE_HASH, FLOOR],
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
