/**
 * Refresh on Redis, two ways.
 *
 * 1. **Redis server CPU per refresh** (the target): `refreshToken` on `RedisStore` beside a naive
 *    port of the original flow (below), both on ONE ioredis connection to one redis-server that
 *    this script starts, in rounds of 2 000 refreshes per variant, the variants taking turns every
 *    100 refreshes (order rotated), so that bursts of other load land on all of them alike. A third
 *    variant, two bare round trips (PING, PING), is the floor of any design with two round trips:
 *    what the store costs beyond it is its scripts. Server CPU is read three ways around each batch:
 *    - `/proc/<pid>/task/<tid>/schedstat`, summed over the server's threads: its on-CPU time in ns
 *      (the same quantity as utime + stime, at full resolution). The figure quoted for the target:
 *      the ratio naive ÷ store is taken per round, and its median over the rounds;
 *    - `/proc/<pid>/stat` utime + stime (what `top` shows). Its 10 ms ticks are longer than a
 *      batch, so only its total over all rounds is reported (about ±10 %);
 *    - `INFO commandstats`, usec summed over the commands a refresh sends (EVALSHA + EVAL for the
 *      store; GET + SET + DEL for the naive port; PING), read around each batch because the scripts
 *      call SET and GET inside: command execution only, without reading, parsing and answering the
 *      request, which is most of what a round trip costs the server.
 *    Target: the store costs at most 1/1.4 of the naive port's server CPU per refresh.
 * 2. **Throughput** (kept from before): `refreshToken` in a chain on MemoryStore (the baseline) and
 *    on RedisStore through ioredis and node-redis, medians of interleaved rounds.
 * 3. **Round trips per refresh**, counted by a wrapping client and by `INFO commandstats`
 *    (EVALSHA + EVAL): fails (exit 1) when a refresh takes more than two.
 *
 * The naive port of the original flow (`POST /api/my/refresh-token` as the original endpoint
 * document describes it: look the apiKey up, check the signature, mint a new pair, the old one is
 * dead): one JSON string per session, `naive:s:<apiKey>` = { secretKey, userId, familyId,
 * issuedAt, expireIn }, and `naive:f:<familyId>` = the family's current apiKey. Four round trips,
 * each awaited: GET the session; (in Node: parse, window, signature, expiry, user, new keys) SET the
 * new session PX ttl; SET the family's head PX ttl; DEL the old session. It has none of the store's
 * guarantees (no atomicity, grace, reuse detection or replay protection), which is the point: it
 * is what the straightforward version costs Redis.
 *
 * Run: `npx tsx bench/refresh.bench.ts` (part of `npm run bench`). Writes bench/results/refresh.json.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import {
  CAA_ACTIONS,
  CaaError,
  DEFAULT_SESSION_TTL_MS,
  MemoryStore,
  MemoryUserRepository,
  RedisStore,
  generateKey,
  ioredisAdapter,
  issueSession,
  nodeRedisAdapter,
  parseCaaHeader,
  refreshToken,
  signCaaHeader,
  verifyCaaSignature,
  type RedisScriptClient,
  type SessionStore,
  type User,
} from '../src/index.js';
import { RedisServer } from '../test/support/redis-server.js';
import { printGroup, runGroup, runMain, writeJson } from './report.js';

/** Interleaved rounds of the server-CPU comparison. */
const CPU_ROUNDS = 9;
/** Batches per variant and round, and refreshes per batch: 2 000 refreshes per variant and round. */
const CPU_BATCHES = 20;
const CPU_BATCH = 100;
const CPU_REFRESHES = CPU_BATCHES * CPU_BATCH;
/** Target: the store's server CPU per refresh ≤ 1/1.4 of the naive port's. */
const CPU_TARGET_FACTOR = 1.4;
/** Rounds and time per task of the throughput group. */
const THROUGHPUT_ROUNDS = 5;
const THROUGHPUT_TIME_MS = 400;
/** Refreshes in the round-trip measurement. */
const ROUND_TRIP_SAMPLE = 200;
const MAX_ROUND_TRIPS = 2;
const RESULTS = new URL('./results/refresh.json', import.meta.url);
const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

const STORE = 'RedisStore';
const NAIVE = 'naive port (4 round trips)';
const FLOOR = 'floor: 2 bare round trips (PING)';

const user: User = { _id: 'bench-user', name: 'bench', gender: 'secret', avatar: null, registerAt: 0, createAt: 0 };
const users = new MemoryUserRepository([user]);

/**
 * A clock that advances 1 ms per request, shared by client and server: every signed request gets a
 * distinct timestamp (replay protection) that stays inside the ±5 min window however many
 * refreshes per second the store does.
 */
let clock = Date.now();
const now = (): number => clock;

interface Chain {
  refresh(): Promise<void>;
}

/** A chain of refreshes: each call refreshes the pair the previous call returned. */
async function refreshChain(store: SessionStore): Promise<Chain> {
  let { apiKey, secretKey } = await issueSession(store, user, { now });
  return {
    async refresh() {
      const timestamp = ++clock;
      const authorization = signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey, secretKey, timestamp });
      ({ apiKey, secretKey } = await refreshToken(store, users, { headers: { authorization } }, { now }));
    },
  };
}

interface NaiveSession {
  secretKey: string;
  userId: string;
  familyId: string;
  issuedAt: number;
  expireIn: number;
}

/** The naive port of the original flow (see the top of this file), as a chain of refreshes. */
async function naiveChain(redis: Redis): Promise<Chain> {
  const issuedAt = clock;
  let apiKey = generateKey();
  let secretKey = generateKey();
  const familyId = generateKey();
  const first: NaiveSession = { secretKey, userId: user._id, familyId, issuedAt, expireIn: issuedAt + DEFAULT_SESSION_TTL_MS };
  await redis.set(`naive:s:${apiKey}`, JSON.stringify(first), 'PX', DEFAULT_SESSION_TTL_MS);
  await redis.set(`naive:f:${familyId}`, apiKey, 'PX', DEFAULT_SESSION_TTL_MS);

  async function naiveRefresh(authorization: string): Promise<{ apiKey: string; secretKey: string }> {
    const credentials = parseCaaHeader(authorization);
    const raw = await redis.get(`naive:s:${credentials.apiKey}`);
    if (raw === null) throw new CaaError('APIKEY_NOT_FOUND');
    const session = JSON.parse(raw) as NaiveSession;
    const time = now();
    verifyCaaSignature(credentials, { action: CAA_ACTIONS.refreshToken, secretKey: session.secretKey, now: time });
    if (session.expireIn <= time) throw new CaaError('SESSION_EXPIRED');
    if ((await users.findById(session.userId)) === null) throw new CaaError('USER_NOT_FOUND');
    const next = { apiKey: generateKey(), secretKey: generateKey() };
    const stored: NaiveSession = { ...session, secretKey: next.secretKey, issuedAt: time, expireIn: time + DEFAULT_SESSION_TTL_MS };
    await redis.set(`naive:s:${next.apiKey}`, JSON.stringify(stored), 'PX', DEFAULT_SESSION_TTL_MS);
    await redis.set(`naive:f:${session.familyId}`, next.apiKey, 'PX', DEFAULT_SESSION_TTL_MS);
    await redis.del(`naive:s:${credentials.apiKey}`);
    return next;
  }

  return {
    async refresh() {
      const timestamp = ++clock;
      const authorization = signCaaHeader({ action: CAA_ACTIONS.refreshToken, apiKey, secretKey, timestamp });
      ({ apiKey, secretKey } = await naiveRefresh(authorization));
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

/** `INFO commandstats` as { command: { calls, usec } }; `calls` includes `rejected_calls`. */
async function commandStats(admin: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):(.*)$/.exec(line.trim());
    if (match === null) continue;
    const entry = { calls: 0, usec: 0 };
    for (const field of (match[2] ?? '').split(',')) {
      const [name, value] = field.split('=');
      if (name === 'calls' || name === 'rejected_calls') entry.calls += Number(value);
      if (name === 'usec') entry.usec = Number(value);
    }
    stats.set(match[1] ?? '', entry);
  }
  return stats;
}

function commandDelta(
  before: Map<string, { calls: number; usec: number }>,
  after: Map<string, { calls: number; usec: number }>,
  commands: readonly string[],
): { calls: number; usec: number } {
  let calls = 0;
  let usec = 0;
  for (const command of commands) {
    calls += (after.get(command)?.calls ?? 0) - (before.get(command)?.calls ?? 0);
    usec += (after.get(command)?.usec ?? 0) - (before.get(command)?.usec ?? 0);
  }
  return { calls, usec };
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function statTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** On-CPU time of all threads of a process, ns (first field of each /proc/<pid>/task/<tid>/schedstat). */
function schedNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return total;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
};

interface CpuVariant {
  readonly name: string;
  readonly chain: Chain;
  /** The commands its refresh sends, as INFO commandstats names them. */
  readonly commands: readonly string[];
}

interface CpuRun {
  /** Server CPU µs per refresh by schedstat (on-CPU ns of all threads). */
  readonly schedUs: number;
  /** utime + stime ticks of /proc/<pid>/stat over the round's batches. */
  readonly statTicks: number;
  /** INFO commandstats usec per refresh, summed over the variant's commands, and their count. */
  readonly commandUs: number;
  readonly commandsPerRefresh: number;
  readonly wallUs: number;
}

/**
 * One round: {@link CPU_BATCHES} batches of {@link CPU_BATCH} refreshes per variant, the variants
 * taking turns batch by batch (order rotated), so that a burst of other load on the shared machine
 * lands on all of them alike. Server CPU is read around each batch and summed per variant; so is
 * INFO commandstats (the scripts call SET and GET inside, so the variants' commands overlap by
 * name), which is sent outside the CPU windows.
 */
async function cpuRound(variants: readonly CpuVariant[], round: number, pid: number, admin: Redis): Promise<CpuRun[]> {
  const sums = variants.map(() => ({ schedNs: 0, ticks: 0, wallNs: 0, usec: 0, calls: 0 }));
  let stats = await commandStats(admin);
  for (let batch = 0; batch < CPU_BATCHES; batch++) {
    for (let i = 0; i < variants.length; i++) {
      const index = (i + batch + round) % variants.length;
      const variant = variants[index];
      const sum = sums[index];
      if (variant === undefined || sum === undefined) continue;
      const ticksBefore = statTicks(pid);
      const schedBefore = schedNs(pid);
      const started = process.hrtime.bigint();
      for (let j = 0; j < CPU_BATCH; j++) await variant.chain.refresh();
      sum.wallNs += Number(process.hrtime.bigint() - started);
      sum.schedNs += schedNs(pid) - schedBefore;
      sum.ticks += statTicks(pid) - ticksBefore;
      const after = await commandStats(admin);
      const commands = commandDelta(stats, after, variant.commands);
      sum.usec += commands.usec;
      sum.calls += commands.calls;
      stats = after;
    }
  }
  return sums.map((sum) => ({
    schedUs: sum.schedNs / 1e3 / CPU_REFRESHES,
    statTicks: sum.ticks,
    commandUs: sum.usec / CPU_REFRESHES,
    commandsPerRefresh: sum.calls / CPU_REFRESHES,
    wallUs: sum.wallNs / 1e3 / CPU_REFRESHES,
  }));
}

interface CpuSummary {
  readonly task: string;
  /** Medians over rounds. */
  readonly schedUs: number;
  readonly commandUs: number;
  readonly commandsPerRefresh: number;
  readonly wallUs: number;
  /**
   * By /proc/<pid>/stat: all ticks of all rounds ÷ all refreshes. One batch is a few ms of server
   * CPU, below the 10 ms tick, so only the total over many batches means anything (about ±10 %).
   */
  readonly statUs: number;
  readonly rounds: readonly CpuRun[];
}

function summarize(task: string, rounds: readonly CpuRun[]): CpuSummary {
  const ticks = rounds.reduce((sum, run) => sum + run.statTicks, 0);
  return {
    task,
    schedUs: median(rounds.map((r) => r.schedUs)),
    commandUs: median(rounds.map((r) => r.commandUs)),
    commandsPerRefresh: median(rounds.map((r) => r.commandsPerRefresh)),
    wallUs: median(rounds.map((r) => r.wallUs)),
    statUs: (ticks * 1e6) / CLOCK_TICKS_PER_SECOND / (rounds.length * CPU_REFRESHES),
    rounds,
  };
}

interface Ratio {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Per-round ratio naive ÷ store of one measure: its median, lowest and highest round. */
function perRoundRatio(naive: readonly CpuRun[], store: readonly CpuRun[], pick: (run: CpuRun) => number): Ratio {
  const each = store.map((run, i) => {
    const base = naive[i];
    return base === undefined ? Number.NaN : pick(base) / pick(run);
  });
  return { median: median(each), min: Math.min(...each), max: Math.max(...each) };
}

interface ServerCpu {
  readonly rounds: number;
  readonly refreshesPerRound: number;
  readonly batch: number;
  readonly tasks: readonly CpuSummary[];
  readonly ratio: { readonly schedstat: Ratio; readonly commandstats: Ratio; readonly procStatAllRounds: number };
  readonly targetFactor: number;
  readonly met: boolean;
}

async function measureServerCpu(redis: Redis, admin: Redis, pid: number): Promise<ServerCpu> {
  const variants: CpuVariant[] = [
    { name: STORE, chain: await refreshChain(new RedisStore({ client: redis })), commands: ['evalsha', 'eval'] },
    { name: NAIVE, chain: await naiveChain(redis), commands: ['get', 'set', 'del'] },
    {
      name: FLOOR,
      chain: {
        async refresh() {
          await redis.ping();
          await redis.ping();
        },
      },
      commands: ['ping'],
    },
  ];
  // Warm up every variant (and load the scripts) before the first round.
  for (const variant of variants) for (let i = 0; i < 500; i++) await variant.chain.refresh();
  const runs: CpuRun[][] = variants.map(() => []);
  for (let round = 0; round < CPU_ROUNDS; round++) {
    (await cpuRound(variants, round, pid, admin)).forEach((run, i) => runs[i]?.push(run));
  }
  const tasks = variants.map((v, i) => summarize(v.name, runs[i] ?? []));
  const [storeRuns = [], naiveRuns = []] = runs;
  const [store, naive] = tasks;
  const schedstat = perRoundRatio(naiveRuns, storeRuns, (r) => r.schedUs);
  return {
    rounds: CPU_ROUNDS,
    refreshesPerRound: CPU_REFRESHES,
    batch: CPU_BATCH,
    tasks,
    ratio: {
      schedstat,
      commandstats: perRoundRatio(naiveRuns, storeRuns, (r) => r.commandUs),
      procStatAllRounds: (naive?.statUs ?? Number.NaN) / (store?.statUs ?? Number.NaN),
    },
    targetFactor: CPU_TARGET_FACTOR,
    met: schedstat.median >= CPU_TARGET_FACTOR,
  };
}

function printServerCpu(cpu: ServerCpu, redisVersion: string): void {
  console.log(
    `\nRedis server CPU per refresh (redis-server ${redisVersion}, one ioredis connection; ` +
      `${cpu.rounds} rounds × ${cpu.refreshesPerRound} refreshes per variant, taking turns every ${cpu.batch})`,
  );
  console.table(
    cpu.tasks.map((t) => ({
      task: t.task,
      'µs schedstat (median)': t.schedUs.toFixed(2),
      'µs /proc stat (all rounds)': t.statUs.toFixed(2),
      'µs commandstats (median)': t.commandUs.toFixed(2),
      'commands/refresh': t.commandsPerRefresh,
      'wall µs/refresh': t.wallUs.toFixed(1),
    })),
  );
  const [store, naive, floor] = cpu.tasks;
  if (store !== undefined && naive !== undefined && floor !== undefined) {
    console.log(
      `by schedstat: a round trip of the naive port costs the server ${(naive.schedUs / 4).toFixed(1)} µs; the store ` +
        `${store.schedUs.toFixed(1)} µs per refresh, of which two bare round trips (the floor) ${floor.schedUs.toFixed(1)} µs ` +
        `and its scripts beyond that ${(store.schedUs - floor.schedUs).toFixed(1)} µs`,
    );
  }
  const show = (r: Ratio): string => `${r.median.toFixed(2)}× [rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)}]`;
  console.log('server CPU per refresh, naive port ÷ RedisStore:');
  console.log(`  schedstat, median of the rounds' ratios (quoted): ${show(cpu.ratio.schedstat)}`);
  console.log(`  /proc/<pid>/stat utime+stime, all rounds:         ${cpu.ratio.procStatAllRounds.toFixed(2)}×`);
  console.log(`  INFO commandstats (command execution only):       ${show(cpu.ratio.commandstats)}`);
  console.log(
    `target: RedisStore ≤ 1/${cpu.targetFactor} of the naive port's server CPU per refresh (ratio ≥ ${cpu.targetFactor}×): ` +
      `${cpu.ratio.schedstat.median.toFixed(2)}× — ${cpu.met ? 'MET' : 'NOT MET'}`,
  );
}

interface RoundTrips {
  client: string;
  counted: number;
  commandstats: number;
}

/** Round trips per refresh over {@link ROUND_TRIP_SAMPLE} refreshes, with the scripts already cached. */
async function measureRoundTrips(name: string, counter: CountingScriptClient, admin: Redis): Promise<RoundTrips> {
  const chain = await refreshChain(new RedisStore({ client: counter }));
  await chain.refresh(); // loads any script the server does not have yet
  const countedBefore = counter.calls;
  const serverBefore = await commandStats(admin);
  for (let i = 0; i < ROUND_TRIP_SAMPLE; i++) await chain.refresh();
  const counted = (counter.calls - countedBefore) / ROUND_TRIP_SAMPLE;
  const commandstats = commandDelta(serverBefore, await commandStats(admin), ['evalsha', 'eval']).calls / ROUND_TRIP_SAMPLE;
  return { client: name, counted, commandstats };
}

async function main(): Promise<number> {
  const server = await RedisServer.start();
  const pid = server.pid;
  if (pid === undefined) throw new Error('redis-server has no pid');
  const admin = new Redis(server.url);
  const redis = new Redis(server.url);
  const nodeRedis = createClient({ url: server.url });
  nodeRedis.on('error', (err: unknown) => console.error('node-redis:', err));
  try {
    await nodeRedis.connect();
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';

    const cpu = await measureServerCpu(redis, admin, pid);
    printServerCpu(cpu, redisVersion);

    const memory = await refreshChain(new MemoryStore());
    const viaIoredis = await refreshChain(new RedisStore({ client: redis }));
    const viaNodeRedis = await refreshChain(new RedisStore({ client: nodeRedis }));
    const throughput = await runGroup(
      'refreshToken throughput, one chain (each refresh waits for the last)',
      [
        { name: 'MemoryStore', fn: memory.refresh, async: true },
        { name: 'RedisStore (ioredis)', fn: viaIoredis.refresh, async: true },
        { name: 'RedisStore (node-redis)', fn: viaNodeRedis.refresh, async: true },
      ],
      { baselines: ['MemoryStore'], rounds: THROUGHPUT_ROUNDS, timeMs: THROUGHPUT_TIME_MS },
    );
    printGroup(throughput);

    const roundTrips = [
      await measureRoundTrips('ioredis', new CountingScriptClient(ioredisAdapter(redis)), admin),
      await measureRoundTrips('node-redis', new CountingScriptClient(nodeRedisAdapter(nodeRedis)), admin),
    ];
    let ok = true;
    for (const { client, counted, commandstats } of roundTrips) {
      const worst = Math.max(counted, commandstats);
      console.log(
        `Redis round trips per refresh: ${worst} (must be ≤ ${MAX_ROUND_TRIPS}) ` +
          `[${client}: ${counted} counted by the client, ${commandstats} by INFO commandstats]`,
      );
      if (!(worst <= MAX_ROUND_TRIPS) || counted !== commandstats) ok = false;
    }

    writeJson(fileURLToPath(RESULTS), {
      bench: 'refreshToken',
      date: new Date().toISOString(),
      node: process.version,
      redisServer: redisVersion,
      serverCpu: { ...cpu, quoted: 'schedstat' },
      throughput,
      // The shape scripts/bench-chart.ts reads.
      results: throughput.tasks.map((task) => ({
        task: task.name,
        opsPerSecondMedian: Math.round(task.opsPerSec),
        ratioToMemoryStore: Number((1 / (task.costRatios.MemoryStore?.median ?? Number.NaN)).toFixed(3)),
        samples: task.samples,
      })),
      roundTripsPerRefresh: roundTrips,
      maxRoundTrips: MAX_ROUND_TRIPS,
      ok,
    });
    console.log(`results: ${RESULTS.pathname}`);
    if (!ok) console.error(`FAIL: a refresh takes more than ${MAX_ROUND_TRIPS} Redis round trips (or the two counts disagree)`);
    return ok ? 0 : 1;
  } finally {
    redis.disconnect();
    admin.disconnect();
    await nodeRedis.destroy();
    await server.stop();
  }
}

runMain(main);
