/**
 * The cost of the protocol layer next to its floor, the one SHA-1 a verification cannot avoid, on
 * spec vector V3: the bare hash, `parseCaaHeader`, and `parseCaaHeader + verifyCaaSignature`.
 *
 * Baseline A is the bare hash as first specified, `crypto.hash('sha1', s, 'buffer')`. The library
 * now asks `crypto.hash` for base64 directly (see src/protocol/sign.ts), which skips allocating a
 * Buffer and is much cheaper, so baseline B, `crypto.hash('sha1', s, 'base64')`, is shown too: the
 * ratio to B is the stricter one. Target: parse + verify ≤ 2× the bare hash.
 *
 * Run: `npm run bench`, or `npx tsx bench/protocol.bench.ts`. Writes bench/results/protocol.json.
 * Import {@link runProtocolBench} to run this group from another file.
 */

import * as crypto from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildStringToSign, parseCaaHeader, verifyCaaSignature } from '../src/index.js';
import { type BenchGroupResult, type RoundsOptions, printGroup, runGroup, writeJson } from './report.js';

/** Spec vector V3. */
const V3 = {
  action: 'client:my:refresh-token',
  apiKey: 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=',
  secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
  timestamp: 1510213872070,
  header:
    'Caa YldGa1pTMTFjQzFoY0drdGEyVjVMV1p2Y2kxMFpYTjBjeTB3TURBd01ERT06UmpCejBVbG9mMlJvUm54bkN1TWh0MmJ6OEFRPSAxNTEwMjEzODcyMDcw',
} as const;

export const HASH_TO_BUFFER = "crypto.hash('sha1', s, 'buffer')";
export const HASH_TO_BASE64 = "crypto.hash('sha1', s, 'base64')";
export const PARSE = 'parseCaaHeader';
export const PARSE_AND_VERIFY = 'parseCaaHeader + verifyCaaSignature';

export const RESULTS_FILE = fileURLToPath(new URL('./results/protocol.json', import.meta.url));

/**
 * Runs the protocol group and returns its results; prints and writes nothing. One operation takes
 * about a microsecond, so each timed call runs `operationsPerCall` (default 100) of them: one per
 * sample would mostly measure the timer.
 */
export async function runProtocolBench(options: RoundsOptions = {}): Promise<BenchGroupResult> {
  const operationsPerCall = options.operationsPerCall ?? 100;
  const stringToSign = buildStringToSign(V3);
  const verifyOptions = { action: V3.action, secretKey: V3.secretKey, now: V3.timestamp };

  // Fail loudly rather than measure a path that throws.
  verifyCaaSignature(parseCaaHeader(V3.header), verifyOptions);

  // Every result flows into `sink`, so no call can be optimized away.
  let sink = 0;
  const result = await runGroup(
    'protocol',
    [
      {
        name: HASH_TO_BUFFER,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) sink ^= crypto.hash('sha1', stringToSign, 'buffer').length;
        },
      },
      {
        name: HASH_TO_BASE64,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) sink ^= crypto.hash('sha1', stringToSign, 'base64').length;
        },
      },
      {
        name: PARSE,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) sink ^= parseCaaHeader(V3.header).signature.length;
        },
      },
      {
        name: PARSE_AND_VERIFY,
        fn: () => {
          for (let i = 0; i < operationsPerCall; i++) {
            const credentials = parseCaaHeader(V3.header);
            verifyCaaSignature(credentials, verifyOptions);
            sink ^= credentials.signature.length;
          }
        },
      },
    ],
    {
      ...options,
      operationsPerCall,
      baselines: [HASH_TO_BUFFER, HASH_TO_BASE64],
      targets: [
        { description: 'parse+verify ≤ 2× bare hash (A, as specified)', task: PARSE_AND_VERIFY, baseline: HASH_TO_BUFFER, maxRatio: 2 },
        { description: 'parse+verify ≤ 2× bare hash (B, base64 digest)', task: PARSE_AND_VERIFY, baseline: HASH_TO_BASE64, maxRatio: 2 },
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
