/**
 * Refresh throughput: `refreshToken` in a loop, each iteration refreshing the pair the previous one
 * returned (signed afresh, with a distinct timestamp), on MemoryStore (the baseline) and on
 * RedisStore over a real redis-server that this script starts and stops, through ioredis and
 * node-redis. Also counts the Redis round trips per refresh twice: client side (a counting
 * RedisScriptClient) and server side (`INFO commandstats`, EVALSHA + EVAL only: the commands a
 * script runs inside are counted under their own names but cost no round trip). Fails (exit 1)
 * when a refresh takes more than two.
 *
 * Run: `npx tsx bench/refresh.bench.ts` (part of `npm run bench`). Writes bench/results/refresh.json.
 */

import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Bench } from 'tinybench';
import {
  CAA_ACTIONS,
  MemoryStore,
  MemoryUserRepository,
  RedisStore,
  ioredisAdapter,
  issueSession,
  nodeRedisAdapter,
  refreshToken,
  signCaaHeader,
  type RedisScriptClient,
  type SessionStore,
  type User,
} from '../src/index.js';
import { RedisServer } from '../test/support/redis-server.js';
import { runMain, writeJson } from './report.js';

/** Time budget per task, ms (plus warmup): four tasks keep the whole run well under a minute. */
const TASK_TIME_MS = 2_000;
const WARMUP_TIME_MS = 300;
/** Refreshes in the round-trip measurement. */
const ROUND_TRIP_SAMPLE = 200;
const MAX_ROUND_TRIPS = 2;
const RESULTS = new URL('./results/refresh.json', import.meta.url);

const user: User = { _id: 'bench-user', name: 'bench', gender: 'secret', avatar: null, registerAt: 0, createAt: 0 };
const users = new MemoryUserRepository([user]);

/**
 * A clock that advances 1 ms per request, shared by client and server: every signed request gets a
 * distinct timestamp (replay protection) that stays inside the ±5 min window however many
 * refreshes per second the store does.
 */
let clock = Date.now();
const now = (): number => clock;

/** A chain of refreshes: each call refreshes the pair the previous call returned. */
async function refreshChain(store: SessionStore): Promise<{ refresh: () => Promise<void> }> {
  let { apiKey, secretKey } = await issueSession(store, user, { now });
  return {
    async refresh() {
      const timestamp = ++clock;
      const authorization = signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey, secretKey, timestamp });
      ({ apiKey, secretKey } = await refreshToken(store, users, { headers: { authorization } }, { now }));
    },
  };
}

/** Counts the script calls (round trips) the store sends. */
class CountingScriptClient implements RedisScriptClient {
  calls = 0;
  readonly #inner: RedisScriptClient;

  constructor(inner: RedisScriptClient) {
    this.#inner = inner;
  }

  evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    this.calls++;
    return this.#inner.evalshaScript(sha1, keys, args);
  }

  evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    this.calls++;
    return this.#inner.evalScript(source, keys, args);
  }
}

/** EVALSHA + EVAL executions the server has seen (`calls` + `rejected_calls` of INFO commandstats). */
async function scriptCommandsOnServer(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const line of info.split('\n')) {
    const match = /^cmdstat_(evalsha|eval):(.*)$/.exec(line.trim());
    if (match === null) continue;
    for (const field of (match[2] ?? '').split(',')) {
      const [name, value] = field.split('=');
      if (name === 'calls' || name === 'rejected_calls') total += Number(value);
    }
  }
  return total;
}

interface RedisVariant {
  readonly name: string;
  readonly counter: CountingScriptClient;
  readonly store: RedisStore;
  close(): Promise<void>;
}

async function connectIoredis(url: string): Promise<RedisVariant> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  const counter = new CountingScriptClient(ioredisAdapter(redis));
  return { name: 'ioredis', counter, store: new RedisStore({ client: counter }), close: async () => redis.disconnect() };
}

async function connectNodeRedis(url: string): Promise<RedisVariant> {
  const client = createClient({ url });
  client.on('error', (err: unknown) => console.error('node-redis:', err));
  await client.connect();
  const counter = new CountingScriptClient(nodeRedisAdapter(client));
  return { name: 'node-redis', counter, store: new RedisStore({ client: counter }), close: async () => client.destroy() };
}

interface RoundTrips {
  client: string;
  counted: number;
  commandstats: number;
}

/** Round trips per refresh over {@link ROUND_TRIP_SAMPLE} refreshes, with the scripts already cached. */
async function measureRoundTrips(variant: RedisVariant, admin: Redis): Promise<RoundTrips> {
  const chain = await refreshChain(variant.store);
  await chain.refresh(); // loads any script the server does not have yet
  const countedBefore = variant.counter.calls;
  const serverBefore = await scriptCommandsOnServer(admin);
  for (let i = 0; i < ROUND_TRIP_SAMPLE; i++) await chain.refresh();
  const counted = (variant.counter.calls - countedBefore) / ROUND_TRIP_SAMPLE;
  const commandstats = ((await scriptCommandsOnServer(admin)) - serverBefore) / ROUND_TRIP_SAMPLE;
  return { client: variant.name, counted, commandstats };
}

function median(task: Bench['tasks'][number]): number {
  const result = task.result;
  if (result.state !== 'completed') {
    throw new Error(`${task.name}: ${result.state}${result.state === 'errored' ? `: ${result.error.message}` : ''}`);
  }
  return result.throughput.p50;
}

/** Runs per second over the whole task (1000 / mean latency): lower than the median when a few calls are slow. */
function meanOpsPerSecond(task: Bench['tasks'][number]): number {
  const result = task.result;
  return result.state === 'completed' ? 1000 / result.period : 0;
}

async function main(): Promise<number> {
  const server = await RedisServer.start();
  const admin = new Redis(server.url);
  const variants: RedisVariant[] = [];
  try {
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    variants.push(await connectIoredis(server.url), await connectNodeRedis(server.url));

    const bench = new Bench({ name: 'refreshToken', time: TASK_TIME_MS, warmupTime: WARMUP_TIME_MS, throws: true });
    const memory = await refreshChain(new MemoryStore());
    bench.add('MemoryStore', memory.refresh);
    for (const variant of variants) {
      const chain = await refreshChain(variant.store);
      bench.add(`RedisStore (${variant.name})`, chain.refresh);
    }
    await bench.run();

    const [memoryTask] = bench.tasks;
    if (memoryTask === undefined) throw new Error('no MemoryStore task');
    const baseline = median(memoryTask);
    const rows = bench.tasks.map((task) => {
      const opsPerSecond = median(task);
      return {
        task: task.name,
        'ops/s (median)': Math.round(opsPerSecond),
        'ops/s (mean)': Math.round(meanOpsPerSecond(task)),
        'ratio to MemoryStore': Number((opsPerSecond / baseline).toFixed(3)),
        samples: task.runs,
      };
    });
    console.log(`refreshToken throughput (Node ${process.version}, redis-server ${redisVersion} on loopback)`);
    console.table(rows);

    const roundTrips: RoundTrips[] = [];
    for (const variant of variants) roundTrips.push(await measureRoundTrips(variant, admin));
    let ok = true;
    for (const { client, counted, commandstats } of roundTrips) {
      const worst = Math.max(counted, commandstats);
      console.log(
        `Redis round trips per refresh: ${worst} (must be ≤ ${MAX_ROUND_TRIPS}) ` +
          `[${client}: ${counted} counted by the client, ${commandstats} by INFO commandstats]`,
      );
      if (!(worst <= MAX_ROUND_TRIPS) || counted !== commandstats) ok = false;
    }

    writeJson(
      fileURLToPath(RESULTS),
      {
        bench: 'refreshToken',
        date: new Date().toISOString(),
        node: process.version,
        redisServer: redisVersion,
        taskTimeMs: TASK_TIME_MS,
        results: rows.map((row) => ({
          task: row.task,
          opsPerSecondMedian: row['ops/s (median)'],
          opsPerSecondMean: row['ops/s (mean)'],
          ratioToMemoryStore: row['ratio to MemoryStore'],
          samples: row.samples,
        })),
        roundTripsPerRefresh: roundTrips,
        maxRoundTrips: MAX_ROUND_TRIPS,
        ok,
      },
    );
    console.log(`results: ${RESULTS.pathname}`);
    if (!ok) console.error(`FAIL: a refresh takes more than ${MAX_ROUND_TRIPS} Redis round trips (or the two counts disagree)`);
    return ok ? 0 : 1;
  } finally {
    for (const variant of variants) await variant.close();
    admin.disconnect();
    await server.stop();
  }
}

runMain(main);
