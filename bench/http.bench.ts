/**
 * Throughput at the HTTP edge: autocannon against the Fastify example app.
 *
 * 1. **Authentication cost** — `GET /api/my` (a `Caa` header checked by `authenticate` on a
 *    `MemoryStore`) against its unauthenticated twin (`bench/http-server.ts`: same handler body,
 *    same `{ user }` answer, no preHandler). Both get the same freshly signed header on every
 *    request, so the client does the same work and the requests have the same size; the twin
 *    ignores it. Medians of {@link ROUNDS} rounds of {@link ROUND_S} s, the order alternating each
 *    round; the ratio is the median of the rounds' ratios (the two runs of a round see about the
 *    same machine load), the ratio of the median req/s is reported beside it. Target:
 *    authenticated ≥ 90 % of unauthenticated. On a shared machine req/s swing with the load of
 *    other processes, so the server's CPU time per request (read from the server before and after
 *    each run) is reported too: its ratio is the same comparison, far less disturbed.
 *    The same for the `caa-v2` profile (issue 13): `GET /api/my` signed with RFC 9421 headers
 *    (`Signature-Input`, `Signature`; the plugin takes either scheme per request) against the same
 *    twin sent the same headers, its own sessions (a family that verified caa-v2 refuses the legacy
 *    header), in the same rounds. Signing caa-v2 derives a key and formats two fields, so rather
 *    than sign on every send, each connection gets a pool of {@link V2_POOL_PER_CONNECTION}
 *    requests pre-signed for its session, each with its own nonce, replayed in turn (the profile
 *    route asks for no replay protection, as for the legacy header). Target: caa-v2 authenticated
 *    ≥ 85 % of its twin.
 * 2. **Refresh** — `POST /api/my/refresh-token`, every connection holding its own session and
 *    signing each refresh with the pair the previous one returned, on `RedisStore` (a real
 *    `redis-server` this script starts) and, as the baseline, on `MemoryStore`. Every answer that
 *    is not 200 is counted and reported with its message; there must be none.
 *
 * Each server is a child process (`node <tsx cli> bench/http-server.ts`), not an app inside this
 * process: autocannon then does not share an event loop with the server it measures, so the
 * client's own work (signing, parsing) never counts as the server's. On a 2-core machine the
 * server gets one core and autocannon the other.
 *
 * Run: `npm run bench:http` (about 120 s). Writes bench/results/http.json; exits 1 if any answer
 * was not 2xx (the throughput target is reported, not enforced: the machine is shared).
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonOptions, type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { Redis } from 'ioredis';
import { CAA_ACTIONS, signCaaHeader, signCaaV2Request } from 'caa-auth';
import { DEMO_MOBILE, DEMO_PASSWORD } from '../examples/shared/users.js';
import { CapturedProcess, TSX_CLI } from '../test/examples/example-process.js';
import { RedisServer, freePort } from '../test/support/redis-server.js';
import { CPU_USAGE, LISTENING, UNAUTHENTICATED_TWIN } from './http-server.js';
import { runMain, writeJson } from './report.js';

/** Concurrent connections of every run; each refresh connection holds one session. */
const CONNECTIONS = 32;
/**
 * Rounds of the authentication comparison (each: both routes back to back, order alternating).
 * Many short rounds rather than a few long ones: on a shared machine the load changes from second
 * to second, and the two runs of one round see nearly the same load.
 */
const ROUNDS = 10;
/** Rounds of the refresh comparison (each: both stores, order alternating). */
const REFRESH_ROUNDS = 4;
/** Seconds per run. */
const ROUND_S = 2;
/** Seconds of warm-up per route before its rounds (JIT, connection setup). */
const WARMUP_S = 3;
/** Authenticated req/s must be at least this share of unauthenticated. */
const TARGET_RATIO = 0.9;
/** caa-v2 authenticated req/s must be at least this share of unauthenticated (issue 13). */
const V2_TARGET_RATIO = 0.85;
/** Pre-signed caa-v2 requests per connection, each with its own nonce, sent in turn. */
const V2_POOL_PER_CONNECTION = 1024;
/** caa-v2's window (spec §3, the default skew), s: the pools are signed once, so the run must end inside it. */
const V2_WINDOW_S = 300;
const START_TIMEOUT_MS = 60_000;
const RESULTS_FILE = fileURLToPath(new URL('./results/http.json', import.meta.url));

const PROFILE = '/api/my';
const REFRESH = '/api/my/refresh-token';

/** A session's current pair; refresh runs replace it in place. */
interface Pair {
  apiKey: string;
  secretKey: string;
}

interface BenchServer {
  readonly name: string;
  readonly url: string;
  readonly process: CapturedProcess;
}

/** One autocannon run, summarised. */
interface RunSummary {
  reqPerSec: number;
  /** Server CPU time (user + system) per completed request, µs. */
  cpuMicrosPerRequest: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

function summarise(result: AutocannonResult, cpuMicros: number): RunSummary {
  return {
    reqPerSec: result.requests.total / result.duration,
    cpuMicrosPerRequest: cpuMicros / result.requests.total,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** The server's CPU time so far, µs. */
async function serverCpuMicros(server: BenchServer): Promise<number> {
  const res = await fetch(`${server.url}${CPU_USAGE}`);
  const { micros } = (await res.json()) as { micros?: unknown };
  if (typeof micros !== 'number') throw new Error(`${server.name}: no CPU usage`);
  return micros;
}

/** One autocannon run against `server`, with the server CPU time it cost. */
async function run(server: BenchServer, options: Omit<AutocannonOptions, 'url'>): Promise<RunSummary> {
  const cpuBefore = await serverCpuMicros(server);
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    autocannon({ ...options, url: server.url }, (err, answer) => (err ? reject(err) : resolve(answer)));
  });
  return summarise(result, (await serverCpuMicros(server)) - cpuBefore);
}

/** Starts `bench/http-server.ts` on a free port and waits for its listening line. */
async function startServer(name: string, redisUrl?: string): Promise<BenchServer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: String(port) };
  delete env.REDIS_URL;
  if (redisUrl !== undefined) env.REDIS_URL = redisUrl;
  const child = new CapturedProcess(process.execPath, [TSX_CLI, 'bench/http-server.ts'], env);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!child.output.includes(`${LISTENING} ${url}`)) {
    if (child.exited || Date.now() > deadline) {
      await child.stop();
      throw new Error(`bench server (${name}) did not start:\n${child.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { name, url, process: child };
}

/** `count` sessions of the demo user, logged in over HTTP. */
async function login(server: BenchServer, count: number): Promise<Pair[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const res = await fetch(`${server.url}/api/my/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mobile: DEMO_MOBILE, password: DEMO_PASSWORD }),
      });
      const body: unknown = await res.json();
      const { apiKey, secretKey } = (body ?? {}) as { apiKey?: unknown; secretKey?: unknown };
      if (res.status !== 200 || typeof apiKey !== 'string' || typeof secretKey !== 'string') {
        throw new Error(`login on ${server.name} failed: ${res.status}`);
      }
      return { apiKey, secretKey };
    }),
  );
}

/** Hands each new connection the next session of `pairs`. */
function sessionPerConnection(pairs: readonly Pair[]): () => Pair {
  let next = 0;
  return () => {
    const pair = pairs[next++ % pairs.length];
    if (pair === undefined) throw new Error('no sessions');
    return pair;
  };
}

/** What one connection sends: a request signed afresh, with the connection's own pair, every time. */
interface SignedRoute {
  method: 'GET' | 'POST';
  path: string;
  action: string;
  /** Sees every answer; may move the connection's pair on (a refresh chain). */
  onResponse?: (pair: Pair, status: number, body: string) => void;
}

async function signedRun(server: BenchServer, route: SignedRoute, pairs: readonly Pair[], seconds: number): Promise<RunSummary> {
  const take = sessionPerConnection(pairs);
  return run(server, {
    connections: CONNECTIONS,
    duration: seconds,
    setupClient(client) {
      const pair = take();
      const { onResponse } = route;
      const request: AutocannonRequest = {
        method: route.method,
        path: route.path,
        setupRequest: (req) => ({
          ...req,
          headers: { ...req.headers, authorization: signCaaHeader({ action: route.action, ...pair }) },
        }),
        ...(onResponse === undefined ? {} : { onResponse: (status: number, body: string) => onResponse(pair, status, body) }),
      };
      client.setRequests([request]);
    },
  });
}

/**
 * Per connection (one session each), {@link V2_POOL_PER_CONNECTION} caa-v2 signatures of `GET
 * /api/my` addressed to `server` (the `Host` autocannon sends is the one signed), each with its own
 * nonce. Signed once: `created` is now, and the run must end within {@link V2_WINDOW_S}.
 */
function signV2Pools(server: BenchServer, pairs: readonly Pair[]): Record<string, string>[][] {
  const host = new URL(server.url).host;
  return pairs.map((pair) =>
    Array.from({ length: V2_POOL_PER_CONNECTION }, () => {
      const signed = signCaaV2Request({ method: 'GET', url: `${server.url}${PROFILE}`, apiKey: pair.apiKey, secretKey: pair.secretKey });
      return { host, 'signature-input': signed['signature-input'], signature: signed.signature };
    }),
  );
}

/** GET `path` with each connection's pool of pre-signed caa-v2 headers (signed for `GET /api/my`), in turn. */
function v2ProfileRun(server: BenchServer, path: string, pools: readonly Record<string, string>[][], seconds: number): Promise<RunSummary> {
  let next = 0;
  return run(server, {
    connections: CONNECTIONS,
    duration: seconds,
    setupClient(client) {
      const pool = pools[next++ % pools.length];
      if (pool === undefined) throw new Error('no caa-v2 pools');
      // No setupRequest: autocannon builds each request's bytes once and replays them.
      client.setRequests(pool.map((headers) => ({ method: 'GET', path, headers })));
    },
  });
}

/** GET `path` with a header freshly signed for `GET /api/my` on every request. */
function profileRun(server: BenchServer, path: string, pairs: readonly Pair[], seconds: number): Promise<RunSummary> {
  return signedRun(server, { method: 'GET', path, action: CAA_ACTIONS.fetchMyProfile }, pairs, seconds);
}

/** Refreshes in a chain per connection; every answer but 200 lands in `failures` by status and message. */
function refreshRun(server: BenchServer, pairs: readonly Pair[], seconds: number, failures: Map<string, number>): Promise<RunSummary> {
  return signedRun(
    server,
    {
      method: 'POST',
      path: REFRESH,
      action: CAA_ACTIONS.refreshToken,
      onResponse: (pair, status, body) => {
        const parsed: unknown = JSON.parse(body);
        const { apiKey, secretKey, message } = (parsed ?? {}) as { apiKey?: unknown; secretKey?: unknown; message?: unknown };
        if (status === 200 && typeof apiKey === 'string' && typeof secretKey === 'string') {
          pair.apiKey = apiKey;
          pair.secretKey = secretKey;
          return;
        }
        const key = `${status} ${typeof message === 'string' ? message : body.slice(0, 60)}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
      },
    },
    pairs,
    seconds,
  );
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** MET, or MISSED with the shortfall in points of the target. */
function verdict(ratio: number, target: number): string {
  return ratio >= target ? 'MET' : `MISSED by ${((target - ratio) * 100).toFixed(1)} points`;
}

/** The lowest and highest round, as percentages. */
function rangeText(ratios: readonly number[]): string {
  return `rounds ${(Math.min(...ratios) * 100).toFixed(1)}–${(Math.max(...ratios) * 100).toFixed(1)} %`;
}

async function main(): Promise<number> {
  const loadBefore = loadavg();
  const started = Date.now();
  const redis = await RedisServer.start();
  const servers: BenchServer[] = [];
  try {
    const admin = new Redis(redis.url);
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    admin.disconnect();
    const [memory, onRedis] = await Promise.all([startServer('MemoryStore'), startServer('RedisStore', redis.url)]);
    servers.push(memory, onRedis);
    const [memoryPairs, redisPairs, v2Pairs] = await Promise.all([
      login(memory, CONNECTIONS),
      login(onRedis, CONNECTIONS),
      login(memory, CONNECTIONS),
    ]);
    console.log(`servers up and ${3 * CONNECTIONS} sessions logged in after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // 1. Authentication cost: the legacy header and caa-v2, each against the twin sent the same headers.
    const routes = [
      { name: 'GET /api/my (Caa authenticated)', path: PROFILE },
      { name: `GET ${UNAUTHENTICATED_TWIN} (unauthenticated twin)`, path: UNAUTHENTICATED_TWIN },
    ] as const;
    const v2Routes = [
      { name: 'GET /api/my (caa-v2 authenticated)', path: PROFILE },
      { name: `GET ${UNAUTHENTICATED_TWIN} (unauthenticated twin, caa-v2 headers)`, path: UNAUTHENTICATED_TWIN },
    ] as const;
    const v2Signed = Date.now();
    const v2Pools = signV2Pools(memory, v2Pairs);
    console.log(`${CONNECTIONS} × ${V2_POOL_PER_CONNECTION} caa-v2 requests signed in ${((Date.now() - v2Signed) / 1000).toFixed(1)} s`);
    for (const route of routes) await profileRun(memory, route.path, memoryPairs, WARMUP_S);
    // The first caa-v2 request of each session records its use and marks its family as caa-v2.
    for (const route of v2Routes) await v2ProfileRun(memory, route.path, v2Pools, WARMUP_S);
    const profileRounds: RunSummary[][] = [[], []];
    const v2Rounds: RunSummary[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      // Each pair back to back (its ratio is taken within the round), the order turning every round.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      const pairs = [
        async () => {
          for (const i of order) profileRounds[i]?.push(await profileRun(memory, routes[i === 0 ? 0 : 1].path, memoryPairs, ROUND_S));
        },
        async () => {
          for (const i of order) v2Rounds[i]?.push(await v2ProfileRun(memory, v2Routes[i === 0 ? 0 : 1].path, v2Pools, ROUND_S));
        },
      ];
      for (const pair of round % 2 === 0 ? pairs : [...pairs].reverse()) await pair();
    }
    const v2WindowUsed = (Date.now() - v2Signed) / 1000;
    if (v2WindowUsed > V2_WINDOW_S) throw new Error(`the caa-v2 pools outlived their window (${v2WindowUsed.toFixed(0)} s)`);

    // 2. Refresh, one session per connection, each refresh signed with the pair the last returned.
    const stores = [
      { name: 'MemoryStore', server: memory, pairs: memoryPairs },
      { name: `RedisStore (ioredis, redis-server ${redisVersion})`, server: onRedis, pairs: redisPairs },
    ] as const;
    const refreshFailures = [new Map<string, number>(), new Map<string, number>()] as const;
    for (const [i, store] of stores.entries()) await refreshRun(store.server, store.pairs, WARMUP_S, refreshFailures[i === 0 ? 0 : 1]);
    const refreshRounds: RunSummary[][] = [[], []];
    for (let round = 0; round < REFRESH_ROUNDS; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const store = stores[i === 0 ? 0 : 1];
        refreshRounds[i]?.push(await refreshRun(store.server, store.pairs, ROUND_S, refreshFailures[i === 0 ? 0 : 1]));
      }
    }

    const describe = (name: string, rounds: readonly RunSummary[]) => ({
      name,
      reqPerSecMedian: median(rounds.map((r) => r.reqPerSec)),
      reqPerSecRounds: rounds.map((r) => Math.round(r.reqPerSec)),
      cpuMicrosPerRequestMedian: median(rounds.map((r) => r.cpuMicrosPerRequest)),
      latencyP50MsMedian: median(rounds.map((r) => r.latencyP50Ms)),
      latencyP99MsMedian: median(rounds.map((r) => r.latencyP99Ms)),
      requests: rounds.reduce((sum, r) => sum + r.requests, 0),
      non2xx: rounds.reduce((sum, r) => sum + r.non2xx, 0),
      errors: rounds.reduce((sum, r) => sum + r.errors, 0),
      timeouts: rounds.reduce((sum, r) => sum + r.timeouts, 0),
    });
    const authenticated = describe(routes[0].name, profileRounds[0] ?? []);
    const unauthenticated = describe(routes[1].name, profileRounds[1] ?? []);
    const pairedRatios = (a: readonly RunSummary[] = [], b: readonly RunSummary[] = []): number[] =>
      a.map((r, i) => r.reqPerSec / (b[i]?.reqPerSec ?? Number.NaN));
    const perRoundRatios = pairedRatios(profileRounds[0], profileRounds[1]);
    // Capacity from CPU time: unauthenticated CPU per request ÷ authenticated CPU per request.
    const cpuRatios = (profileRounds[0] ?? []).map(
      (r, i) => (profileRounds[1]?.[i]?.cpuMicrosPerRequest ?? Number.NaN) / r.cpuMicrosPerRequest,
    );
    const cpuRatio = median(cpuRatios);
    const ratio = median(perRoundRatios);
    const ratioOfMedians = authenticated.reqPerSecMedian / unauthenticated.reqPerSecMedian;
    const v2Authenticated = describe(v2Routes[0].name, v2Rounds[0] ?? []);
    const v2Unauthenticated = describe(v2Routes[1].name, v2Rounds[1] ?? []);
    const v2PerRoundRatios = pairedRatios(v2Rounds[0], v2Rounds[1]);
    const v2CpuRatios = (v2Rounds[0] ?? []).map((r, i) => (v2Rounds[1]?.[i]?.cpuMicrosPerRequest ?? Number.NaN) / r.cpuMicrosPerRequest);
    const v2Ratio = median(v2PerRoundRatios);
    const v2CpuRatio = median(v2CpuRatios);
    const v2RatioOfMedians = v2Authenticated.reqPerSecMedian / v2Unauthenticated.reqPerSecMedian;
    // Stricter: against the twin sent the legacy header (the caa-v2 headers cost the server a body hook and more bytes).
    const v2CpuRatiosToLegacyTwin = (v2Rounds[0] ?? []).map(
      (r, i) => (profileRounds[1]?.[i]?.cpuMicrosPerRequest ?? Number.NaN) / r.cpuMicrosPerRequest,
    );
    // caa-v2 against the legacy route, by server CPU per request.
    const v2CpuRatiosToLegacy = (v2Rounds[0] ?? []).map(
      (r, i) => (profileRounds[0]?.[i]?.cpuMicrosPerRequest ?? Number.NaN) / r.cpuMicrosPerRequest,
    );
    const refreshMemory = describe(stores[0].name, refreshRounds[0] ?? []);
    const refreshRedis = describe(stores[1].name, refreshRounds[1] ?? []);
    const refreshPerRoundRatios = pairedRatios(refreshRounds[1], refreshRounds[0]);
    const refreshRatio = median(refreshPerRoundRatios);

    console.log(
      `\nhttp: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ` +
        `autocannon, ${CONNECTIONS} connections, pipelining 1; medians of ${ROUNDS} (refresh: ${REFRESH_ROUNDS}) rounds × ${ROUND_S} s, ` +
        `order alternating; load average before ${loadBefore.map((l) => l.toFixed(1)).join(' ')}`,
    );
    const row = (group: string, d: ReturnType<typeof describe>, ratioText: string) => ({
      group,
      scenario: d.name,
      'req/s (median)': integer.format(d.reqPerSecMedian),
      rounds: d.reqPerSecRounds.map((n) => integer.format(n)).join(' '),
      'server CPU µs/req': d.cpuMicrosPerRequestMedian.toFixed(0),
      'p50 ms': d.latencyP50MsMedian,
      'p99 ms': d.latencyP99MsMedian,
      ratio: ratioText,
      'non-2xx': d.non2xx,
    });
    console.table([
      row('auth', authenticated, `${ratio.toFixed(3)} of unauthenticated`),
      row('auth', unauthenticated, 'baseline'),
      row('caa-v2', v2Authenticated, `${v2Ratio.toFixed(3)} of unauthenticated`),
      row('caa-v2', v2Unauthenticated, 'baseline'),
      row('refresh', refreshMemory, 'baseline'),
      row('refresh', refreshRedis, `${refreshRatio.toFixed(3)} of MemoryStore`),
    ]);
    const met = ratio >= TARGET_RATIO;
    const cpuMet = cpuRatio >= TARGET_RATIO;
    console.log(
      `authenticated / unauthenticated = ${(ratio * 100).toFixed(1)} % (median of the rounds: ` +
        `${perRoundRatios.map((r) => (r * 100).toFixed(1)).join(', ')} %; ratio of the median req/s: ${(ratioOfMedians * 100).toFixed(1)} %); ` +
        `target ≥ ${TARGET_RATIO * 100} %: ${verdict(ratio, TARGET_RATIO)}`,
    );
    console.log(
      `by server CPU time per request (less disturbed by other load): authenticated = ${(cpuRatio * 100).toFixed(1)} % of ` +
        `unauthenticated capacity (rounds: ${cpuRatios.map((r) => (r * 100).toFixed(1)).join(', ')} %); ` +
        `target ≥ ${TARGET_RATIO * 100} %: ${verdict(cpuRatio, TARGET_RATIO)}`,
    );
    const v2Met = v2Ratio >= V2_TARGET_RATIO;
    const v2CpuMet = v2CpuRatio >= V2_TARGET_RATIO;
    console.log(
      `caa-v2 authenticated / unauthenticated (same headers) = ${(v2Ratio * 100).toFixed(1)} % (median of the rounds, ` +
        `${rangeText(v2PerRoundRatios)}; ratio of the median req/s: ${(v2RatioOfMedians * 100).toFixed(1)} %); ` +
        `target ≥ ${V2_TARGET_RATIO * 100} %: ${verdict(v2Ratio, V2_TARGET_RATIO)}`,
    );
    console.log(
      `caa-v2 by server CPU time per request: ${(v2CpuRatio * 100).toFixed(1)} % of unauthenticated capacity (${rangeText(v2CpuRatios)}); ` +
        `target ≥ ${V2_TARGET_RATIO * 100} %: ${verdict(v2CpuRatio, V2_TARGET_RATIO)}; against the twin sent the legacy header ` +
        `${(median(v2CpuRatiosToLegacyTwin) * 100).toFixed(1)} % (${rangeText(v2CpuRatiosToLegacyTwin)}); against the legacy route ` +
        `${(median(v2CpuRatiosToLegacy) * 100).toFixed(1)} % (${rangeText(v2CpuRatiosToLegacy)})`,
    );
    const failures = {
      MemoryStore: Object.fromEntries(refreshFailures[0]),
      RedisStore: Object.fromEntries(refreshFailures[1]),
    };
    const unexpected =
      [authenticated, unauthenticated, v2Authenticated, v2Unauthenticated, refreshMemory, refreshRedis].reduce((sum, d) => sum + d.non2xx + d.errors, 0) +
      refreshFailures[0].size +
      refreshFailures[1].size;
    console.log(`refresh answers other than 200 (warm-up included): ${JSON.stringify(failures)}`);

    writeJson(RESULTS_FILE, {
      bench: 'http',
      date: new Date().toISOString(),
      node: process.version,
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)) },
      loadAverage: { before: loadBefore, after: loadavg() },
      redisServer: redisVersion,
      settings: { connections: CONNECTIONS, pipelining: 1, rounds: ROUNDS, refreshRounds: REFRESH_ROUNDS, roundSeconds: ROUND_S, warmupSeconds: WARMUP_S },
      authentication: {
        authenticated,
        unauthenticated,
        ratio,
        perRoundRatios,
        ratioOfMedians,
        target: TARGET_RATIO,
        met,
        cpuRatio,
        cpuPerRoundRatios: cpuRatios,
        cpuMet,
      },
      authenticationV2: {
        authenticated: v2Authenticated,
        unauthenticated: v2Unauthenticated,
        ratio: v2Ratio,
        perRoundRatios: v2PerRoundRatios,
        ratioOfMedians: v2RatioOfMedians,
        target: V2_TARGET_RATIO,
        met: v2Met,
        cpuRatio: v2CpuRatio,
        cpuPerRoundRatios: v2CpuRatios,
        cpuMet: v2CpuMet,
        cpuRatioToLegacyTwin: median(v2CpuRatiosToLegacyTwin),
        cpuPerRoundRatiosToLegacyTwin: v2CpuRatiosToLegacyTwin,
        cpuRatioToLegacyRoute: median(v2CpuRatiosToLegacy),
        cpuPerRoundRatiosToLegacyRoute: v2CpuRatiosToLegacy,
        poolPerConnection: V2_POOL_PER_CONNECTION,
      },
      refresh: {
        memory: refreshMemory,
        redis: refreshRedis,
        ratioRedisToMemory: refreshRatio,
        perRoundRatios: refreshPerRoundRatios,
        ratioOfMedians: refreshRedis.reqPerSecMedian / refreshMemory.reqPerSecMedian,
        failures,
      },
      ok: unexpected === 0,
      wallSeconds: (Date.now() - started) / 1000,
    });
    console.log(`\nwrote ${RESULTS_FILE} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    if (unexpected !== 0) console.error('FAIL: some answers were not 2xx (see above)');
    return unexpected === 0 ? 0 : 1;
  } finally {
    for (const server of servers) await server.process.stop();
    await redis.stop();
  }
}

runMain(main);
