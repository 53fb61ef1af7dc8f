/**
 * Replication and Sentinel failover (issue 10), against real processes: a primary, two replicas of
 * equal priority and three Sentinels (test/support/redis-sentinel.ts), through ioredis with Sentinel
 * configured as the README recommends.
 *
 * 100 simulated clients refresh in a loop, each holding its current pair: on success it adopts the
 * new pair, on 503 it keeps its pair and retries it later, re-signed. The replication stream reaches
 * the replicas 50 ms late. Ten clients log out; as soon as their logouts are answered (or 25 ms
 * after they were sent) the primary is cut off from its replicas, what is still on its way dropped,
 * and SIGKILLed. Sentinel elects a replica, ioredis asks Sentinel again and reconnects, and the
 * clients go on until each has refreshed on the new primary. Then we count:
 * - sessions lost: the pair a client holds does not authenticate;
 * - pairs that work again: a rotated-away pair, or the pair of a client that logged out, is live.
 *
 * Without `waitReplicas` the finding reproduces (both counts above 0; the figures are printed).
 * With `waitReplicas: { replicas: 1, timeoutMs: 200 }` both are 0: a write the primary answered
 * before a replica had it is answered 503, and the client's retry with the pair it holds is served
 * through grace (the successor was never used) or rotates afresh. That needs the failover to be
 * shorter than `graceMs` (asserted: 30 s here, the failover takes about 2 s with
 * `down-after-milliseconds` 1 000); a retry after grace is reuse by design.
 *
 * On a healthy replica set: WAIT blocks its connection, so the adapters send one WAIT for all the
 * writes that came while the previous one was out (group commit), each write keeping its own reply;
 * what `waitReplicas` costs in refreshes per second (printed); and, deterministically, a refresh
 * answered 503 because its WAIT timed out while the rotation did reach the replicas: after the
 * failover its retry gets the same successor through grace, and with a `graceMs` below the
 * failover time the same retry is `TOKEN_REUSED`.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  generateKey as generateCaaKey,
  ioredisAdapter,
  isCaaError,
  issueSession,
  nodeRedisAdapter,
  refreshToken,
  revokeSession,
  signCaaHeader,
  type CredentialsResponse,
  type IoredisPipelineLike,
  type RequestLike,
  type RotateResult,
  type SessionStore,
  type User,
} from '../../src/index.js';
import { assertCaaError, expectCaaError } from '../support/expect-caa-error.js';
import { RedisSentinelSet } from '../support/redis-sentinel.js';
import { makeUser } from '../support/use-case-fixtures.js';

const SESSIONS = 100;
/** Every this-many-th client logs out just before the primary dies. */
const LOGOUT_EVERY = 10;
/** How late the replication stream reaches the replicas during the run, ms. */
const LAG_MS = 50;
/** Far above the failover time, as the README asks: a retry after grace would be reuse. */
const GRACE_MS = 30_000;
const STORE_TIMEOUT_MS = 1_000;
const WAIT_REPLICAS = { replicas: 1, timeoutMs: 200 } as const;
/** Refreshing before the logouts and the kill, so that every client is mid-loop. */
const WARMUP_MS = 600;
const PAUSE_AFTER_SUCCESS_MS = 50;
const PAUSE_AFTER_FAILURE_MS = 50;
const FAILOVER_DEADLINE_MS = 15_000;
/** After the failover, every client must have refreshed on the new primary this soon. */
const RECOVERY_DEADLINE_MS = 10_000;

const alice = makeUser('59573c395c2960da1aa83a0d');
const eve = makeUser('59573c395c2960da1aa83a0e', 'Eve');
const users = new MemoryUserRepository([alice, eve]);
const rotation = { graceMs: GRACE_MS };

/**
 * ioredis through Sentinel, for an outage and a failover:
 * - `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` (as for a single server): while there is
 *   no primary, calls fail at once (503) instead of running late, and nothing is resent;
 * - `retryStrategy`/`sentinelRetryStrategy`: ask Sentinel again quickly (50 ms steps, at most 500 ms);
 * - `failoverDetector: true`: leave a primary as soon as Sentinel announces `+switch-master` (a primary
 *   cut off but alive keeps accepting writes that the failover then discards);
 * - `reconnectOnError` on `READONLY`: a demoted primary makes the client ask Sentinel again.
 */
function sentinelClient(set: RedisSentinelSet): Redis {
  const options = {
    sentinels: set.sentinels,
    name: set.name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
    sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
    failoverDetector: true,
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
  } satisfies RedisOptions;
  const client = new Redis(options);
  client.on('error', () => {}); // refused connections while there is no primary
  return client;
}

// ---------------------------------------------------------------------------------------------
// Simulated clients.
// ---------------------------------------------------------------------------------------------

interface Pair {
  readonly apiKey: string;
  readonly secretKey: string;
}

interface SimulatedClient {
  readonly owner: User;
  readonly logsOut: boolean;
  pair: Pair;
  /** Every pair it rotated away from (the server answered it a successor). */
  readonly rotatedAway: Pair[];
  lastTimestamp: number;
  /** performance.now() when its last successful refresh was sent, and when it was answered. */
  lastSentAt: number;
  lastAnsweredAt: number;
  /** A 503 since its last success: the next success is a recovered retry. */
  retrying: boolean;
  recoveredRetries: number;
  /** Its logout was answered (or a retry of it found the family gone). */
  loggedOut: boolean;
  loggedOutAt: number | undefined;
  /** The code that ended its loop (a session lost), if any. */
  lostWith: string | undefined;
}

/** A request signed with `pair` and a timestamp this client has never used. */
function signed(client: SimulatedClient, pair: Pair, action: string): RequestLike {
  const timestamp = Math.max(Date.now(), client.lastTimestamp + 1);
  client.lastTimestamp = timestamp;
  return { headers: { authorization: signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp }) } };
}

interface Tally {
  refreshes: number;
  unavailable: number;
  /** 503s whose cause is a WAIT that fewer replicas acknowledged than asked. */
  waitUnacknowledged: number;
  /** Errors other than 503 in the loop, by code. */
  other: Record<string, number>;
  rotateOutcomes: Partial<Record<RotateResult['outcome'], number>>;
}

function codeOf(err: unknown): string {
  return isCaaError(err) ? err.code : String(err);
}

function isWaitFault(err: unknown): boolean {
  return isCaaError(err) && err.cause instanceof Error && err.cause.message.startsWith('WAIT:');
}

/** The store, with every rotate outcome counted (grace answers are recovered retries). */
function counted(store: RedisStore, tally: Tally): SessionStore {
  return {
    create: (session, now, options) => store.create(session, now, options),
    lookup: (apiKey, now) => store.lookup(apiKey, now),
    use: (request) => store.use(request),
    revoke: (apiKey) => store.revoke(apiKey),
    listUserSessions: (userId, now) => store.listUserSessions(userId, now),
    revokeUserSessions: (userId, now, filter) => store.revokeUserSessions(userId, now, filter),
    rotate: async (request) => {
      const result = await store.rotate(request);
      tally.rotateOutcomes[result.outcome] = (tally.rotateOutcomes[result.outcome] ?? 0) + 1;
      return result;
    },
  };
}

function adopt(client: SimulatedClient, body: CredentialsResponse, sentAt: number): void {
  expect(body.userId).toBe(client.owner._id);
  expect(body.apiKey.slice(0, 2)).toBe(client.pair.apiKey.slice(0, 2)); // the same family's tag
  client.rotatedAway.push(client.pair);
  client.pair = { apiKey: body.apiKey, secretKey: body.secretKey };
  client.lastSentAt = sentAt;
  client.lastAnsweredAt = performance.now();
  if (client.retrying) client.recoveredRetries++;
  client.retrying = false;
}

/** One 503: counted, and the client keeps its pair. */
function unavailable(client: SimulatedClient, tally: Tally, err: unknown): boolean {
  if (!isCaaError(err) || err.code !== 'STORE_UNAVAILABLE') return false;
  assertCaaError(err, { status: 503, message: 'service unavailable', code: 'STORE_UNAVAILABLE' });
  tally.unavailable++;
  if (isWaitFault(err)) tally.waitUnacknowledged++;
  client.retrying = true;
  return true;
}

interface Run {
  stop: boolean;
  /** The clients that log out stop refreshing. */
  logoutPhase: boolean;
}

/** Refreshes until told to stop (or, for a client that logs out, until the logout phase). */
async function refreshLoop(store: SessionStore, client: SimulatedClient, run: Run, tally: Tally): Promise<void> {
  while (!run.stop && !(client.logsOut && run.logoutPhase)) {
    const sentAt = performance.now();
    try {
      const body = await refreshToken(store, users, signed(client, client.pair, CAA_ACTIONS.refreshToken), rotation);
      tally.refreshes++;
      adopt(client, body, sentAt);
      await sleep(Math.random() * PAUSE_AFTER_SUCCESS_MS * 2);
    } catch (err) {
      if (unavailable(client, tally, err)) {
        await sleep(PAUSE_AFTER_FAILURE_MS);
        continue;
      }
      tally.other[codeOf(err)] = (tally.other[codeOf(err)] ?? 0) + 1;
      client.lostWith = codeOf(err);
      return;
    }
  }
}

/** Logs out with the pair the client holds, retrying 503s with it; bounded by `deadline`. */
async function logOut(store: SessionStore, client: SimulatedClient, tally: Tally, deadline: number): Promise<void> {
  let attempts = 0;
  while (performance.now() < deadline) {
    attempts++;
    try {
      await revokeSession(store, signed(client, client.pair, CAA_ACTIONS.logout), rotation);
      client.loggedOut = true;
      client.loggedOutAt = performance.now();
      return;
    } catch (err) {
      if (unavailable(client, tally, err)) {
        await sleep(PAUSE_AFTER_FAILURE_MS);
        continue;
      }
      // An earlier attempt answered 503 may still have logged out (its WAIT was cut short).
      if (attempts > 1 && isCaaError(err) && err.code === 'APIKEY_NOT_FOUND') {
        client.loggedOut = true;
        client.loggedOutAt = performance.now();
        return;
      }
      tally.other[codeOf(err)] = (tally.other[codeOf(err)] ?? 0) + 1;
      client.lostWith = codeOf(err);
      return;
    }
  }
}

interface Figures {
  sessions: number;
  refreshes: number;
  unavailable: number;
  waitUnacknowledged: number;
  graceAnswers: number;
  /** 503s before the kill, and the clients still refreshing that had a refresh answered by then. */
  unavailableBeforeKill: number;
  refreshedBeforeKill: number;
  /** Clients whose last refresh before the kill was answered within LAG_MS of it: the writes at risk. */
  rotatedInLastLag: number;
  logoutsAnsweredBeforeKill: number;
  sessionsLost: number;
  lostWith: Record<string, number>;
  rotatedAwayAliveAgain: number;
  loggedOutAliveAgain: number;
  /** Of the pairs alive again, how many authenticated (200) when tried. */
  aliveAgainAuthenticated: number;
  /** Clients whose refresh succeeded after a 503 with the same pair. */
  recoveredRetries: number;
  failoverMs: number;
  /** From the kill to the first, and to the last, client's first refresh on the new primary. */
  firstBackMs: number;
  allBackMs: number;
  otherErrors: Record<string, number>;
}

/**
 * The run described at the top of the file, on a fresh replica set; returns what it counted.
 * Every loop is bounded: the failover by {@link FAILOVER_DEADLINE_MS}, the recovery by
 * {@link RECOVERY_DEADLINE_MS}.
 */
async function failoverRun(set: RedisSentinelSet, store: RedisStore): Promise<Figures> {
  const tally: Tally = { refreshes: 0, unavailable: 0, waitUnacknowledged: 0, other: {}, rotateOutcomes: {} };
  const observed = counted(store, tally);
  const clients: SimulatedClient[] = await Promise.all(
    Array.from({ length: SESSIONS }, async (_, i): Promise<SimulatedClient> => {
      const owner = i % 2 === 0 ? alice : eve;
      return { ...newClient(owner, await issueSession(observed, owner)), logsOut: i % LOGOUT_EVERY === 0 };
    }),
  );
  await set.waitForReplication(); // the logins are on both replicas: only the run's writes are at risk
  set.setLag(LAG_MS);

  const run: Run = { stop: false, logoutPhase: false };
  const loops = clients.map(async (client) => refreshLoop(observed, client, run, tally));
  await sleep(WARMUP_MS);

  // The clients that log out stop refreshing; once they are idle, they all log out at once.
  run.logoutPhase = true;
  const leaving = clients.filter((client) => client.logsOut);
  await Promise.all(loops.filter((_, i) => clients[i]?.logsOut === true));
  const logoutDeadline = performance.now() + FAILOVER_DEADLINE_MS + RECOVERY_DEADLINE_MS;
  const logouts = Promise.all(leaving.map(async (client) => logOut(observed, client, tally, logoutDeadline)));
  await Promise.race([logouts, sleep(LAG_MS / 2)]);

  const unavailableBeforeKill = tally.unavailable;
  const refreshedBeforeKill = clients.filter((c) => !c.logsOut && c.rotatedAway.length > 0).length;
  const killedAt = performance.now();
  const dead = await set.killPrimary();
  const rotatedInLastLag = clients.filter((c) => !c.logsOut && c.rotatedAway.length > 0 && killedAt - c.lastAnsweredAt < LAG_MS).length;
  const logoutsAnsweredBeforeKill = leaving.filter((c) => c.loggedOutAt !== undefined && c.loggedOutAt <= killedAt).length;

  const failover = await set.waitForFailover(dead, FAILOVER_DEADLINE_MS);
  const failedOverAt = performance.now();
  // Every client still refreshing must get a refresh through on the new primary.
  const recoveryDeadline = failedOverAt + RECOVERY_DEADLINE_MS;
  const refreshing = (): SimulatedClient[] => clients.filter((c) => !c.logsOut && c.lostWith === undefined);
  while (performance.now() < recoveryDeadline && !refreshing().every((c) => c.lastSentAt > failedOverAt)) await sleep(25);
  run.stop = true;
  await Promise.all(loops);
  await logouts;
  expect(refreshing().filter((c) => c.lastSentAt <= failedOverAt).length).toBe(0); // all back within the deadline
  const backAt = refreshing()
    .map((c) => c.lastAnsweredAt - killedAt)
    .sort((a, b) => a - b);

  // The pair each client holds must work; pairs it gave up must not.
  const lostWith: Record<string, number> = {};
  for (const client of clients) {
    if (client.logsOut) continue;
    let code = client.lostWith;
    if (code === undefined) {
      code = await authenticate(observed, signed(client, client.pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, rotation).then(
        () => undefined,
        (err: unknown) => codeOf(err),
      );
    }
    if (code !== undefined) lostWith[code] = (lostWith[code] ?? 0) + 1;
  }
  const isLive = async (pair: Pair): Promise<boolean> => (await store.lookup(pair.apiKey, Date.now())).record?.state === 'live';
  const aliveAgain: { client: SimulatedClient; pair: Pair }[] = [];
  let rotatedAwayAliveAgain = 0;
  let loggedOutAliveAgain = 0;
  for (const client of clients) {
    for (const pair of client.rotatedAway) {
      if (await isLive(pair)) {
        rotatedAwayAliveAgain++;
        aliveAgain.push({ client, pair });
      }
    }
    if (client.loggedOut && (await isLive(client.pair))) {
      loggedOutAliveAgain++;
      aliveAgain.push({ client, pair: client.pair });
    }
  }
  let aliveAgainAuthenticated = 0;
  for (const { client, pair } of aliveAgain) {
    const ok = await authenticate(observed, signed(client, pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, rotation).then(
      () => true,
      () => false,
    );
    if (ok) aliveAgainAuthenticated++;
  }

  return {
    sessions: SESSIONS,
    refreshes: tally.refreshes,
    unavailable: tally.unavailable,
    waitUnacknowledged: tally.waitUnacknowledged,
    graceAnswers: tally.rotateOutcomes.grace ?? 0,
    unavailableBeforeKill,
    refreshedBeforeKill,
    rotatedInLastLag,
    logoutsAnsweredBeforeKill,
    sessionsLost: Object.values(lostWith).reduce((a, b) => a + b, 0),
    lostWith,
    rotatedAwayAliveAgain,
    loggedOutAliveAgain,
    aliveAgainAuthenticated,
    recoveredRetries: clients.filter((c) => c.recoveredRetries > 0).length,
    failoverMs: failover.ms,
    firstBackMs: Math.round(backAt[0] ?? Number.NaN),
    allBackMs: Math.round(backAt[backAt.length - 1] ?? Number.NaN),
    otherErrors: tally.other,
  };
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

let set: RedisSentinelSet | undefined;
let client: Redis | undefined;

afterEach(async () => {
  client?.disconnect();
  client = undefined;
  await set?.stop();
  set = undefined;
});

afterAll(async () => {
  await set?.stop();
});

describe('Sentinel failover with 50 ms of replication lag', () => {
  it('without waitReplicas, rotations and logouts the primary answered are lost: sessions lost, old pairs work again', async () => {
    set = await RedisSentinelSet.start();
    client = sentinelClient(set);
    await client.connect();
    const figures = await failoverRun(set, new RedisStore({ client, timeoutMs: STORE_TIMEOUT_MS }));
    console.log(`[sentinel] without waitReplicas: ${JSON.stringify(figures)}`);

    expect(figures.unavailableBeforeKill).toBe(0);
    expect(figures.refreshedBeforeKill).toBe(SESSIONS - SESSIONS / LOGOUT_EVERY);
    expect(figures.failoverMs).toBeLessThan(GRACE_MS);
    expect(figures.sessionsLost).toBeGreaterThan(0);
    expect(figures.rotatedAwayAliveAgain).toBeGreaterThan(0);
    // A lost session holds a successor that no longer exists: its refresh is 404 APIKEY_NOT_FOUND.
    expect(Object.keys(figures.lostWith)).toStrictEqual(['APIKEY_NOT_FOUND']);
    // Every logout answered before the kill was lost with the primary.
    expect(figures.logoutsAnsweredBeforeKill).toBeGreaterThan(0);
    expect(figures.loggedOutAliveAgain).toBe(figures.logoutsAnsweredBeforeKill);
    expect(figures.aliveAgainAuthenticated).toBe(figures.rotatedAwayAliveAgain + figures.loggedOutAliveAgain);
  }, 45_000);

  it('with waitReplicas { replicas: 1 }, no session is lost and no rotated-away or logged-out pair works again', async () => {
    set = await RedisSentinelSet.start();
    client = sentinelClient(set);
    await client.connect();
    const store = new RedisStore({ client, timeoutMs: STORE_TIMEOUT_MS, waitReplicas: WAIT_REPLICAS });
    const figures = await failoverRun(set, store);
    console.log(`[sentinel] with waitReplicas ${JSON.stringify(WAIT_REPLICAS)}: ${JSON.stringify(figures)}`);

    // Before the kill, WAIT cost time but failed nothing: every client refreshed, none got a 503.
    expect(figures.unavailableBeforeKill).toBe(0);
    expect(figures.refreshedBeforeKill).toBe(SESSIONS - SESSIONS / LOGOUT_EVERY);
    expect(figures.failoverMs).toBeLessThan(GRACE_MS);
    expect(figures.sessionsLost).toBe(0);
    expect(figures.lostWith).toStrictEqual({});
    expect(figures.rotatedAwayAliveAgain).toBe(0);
    expect(figures.loggedOutAliveAgain).toBe(0);
    // Only 503s in the loops, never TOKEN_REUSED or APIKEY_NOT_FOUND: every retry was served.
    expect(figures.otherErrors).toStrictEqual({});
    // Every client still refreshing met the outage and got going again with the pair it held.
    expect(figures.recoveredRetries).toBe(SESSIONS - SESSIONS / LOGOUT_EVERY);
  }, 45_000);
});

describe('waitReplicas on a healthy replica set', () => {
  let healthy: RedisSentinelSet | undefined;
  let io: Redis | undefined;

  beforeAll(async () => {
    healthy = await RedisSentinelSet.start();
    io = sentinelClient(healthy);
    await io.connect();
  });

  afterAll(async () => {
    io?.disconnect();
    await healthy?.stop();
  });

  it('writes sent while a WAIT is out share the next WAIT, each with its own reply or error (ioredis, node-redis)', async () => {
    if (healthy === undefined || io === undefined) throw new Error('no replica set');
    const primary = await healthy.primary();
    const node = createClient({ socket: { host: primary.host, port: primary.port } });
    node.on('error', () => {});
    await node.connect();
    healthy.setLag(20); // each WAIT takes a replication round trip: the writes sent meanwhile must queue
    try {
      for (const [name, adapter] of [
        ['ioredis', ioredisAdapter(io)],
        ['node-redis', nodeRedisAdapter(node)],
      ] as const) {
        const send = adapter.evalThenWait;
        if (send === undefined) throw new Error(`${name}: no evalThenWait`);
        const waitsBefore = await waitCalls(healthy, primary);
        const results = await Promise.allSettled(
          Array.from({ length: 40 }, async (_, i) => {
            if (i === 7) return send('EVALSHA', 'f'.repeat(40), [], [], 1, 500);
            if (i === 13) return send('EVAL', "return redis.error_reply('ERR refused by the script')", [], [], 1, 500);
            return send('EVAL', "redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]", [`gc:${name}:${i}`], [String(i)], 1, 500);
          }),
        );
        results.forEach((result, i) => {
          if (i === 7 || i === 13) {
            expect(result.status).toBe('rejected');
            const reason: unknown = result.status === 'rejected' ? result.reason : undefined;
            expect(reason instanceof Error ? reason.message : reason).toMatch(i === 7 ? /^NOSCRIPT/ : /^ERR refused by the script/);
            return;
          }
          if (result.status !== 'fulfilled') throw new Error(`${name} write ${i}: ${String(result.reason)}`);
          expect(result.value[0]).toBe(String(i));
          expect(Number(result.value[1])).toBeGreaterThanOrEqual(1);
        });
        // The first write went out alone; the 39 sent while its WAIT was out shared one.
        expect((await waitCalls(healthy, primary)) - waitsBefore).toBe(2);
      }
      await healthy.waitForReplication();
    } finally {
      healthy.setLag(0);
      await node.quit().catch(() => {});
    }
  });

  it('what waitReplicas costs: refreshes per second with and without, 32 clients, interleaved rounds (printed)', async () => {
    if (healthy === undefined || io === undefined) throw new Error('no replica set');
    const without = new RedisStore({ client: io, timeoutMs: STORE_TIMEOUT_MS });
    const withWait = new RedisStore({ client: io, timeoutMs: STORE_TIMEOUT_MS, waitReplicas: WAIT_REPLICAS });
    const clients = await Promise.all(
      Array.from({ length: THROUGHPUT_CLIENTS }, async () => {
        const login = await issueSession(without, alice);
        return { pair: { apiKey: login.apiKey, secretKey: login.secretKey }, stamp: 0 };
      }),
    );
    /** One round: every client refreshes back to back for ROUND_MS; refreshes per second. */
    const round = async (store: RedisStore): Promise<number> => {
      let refreshes = 0;
      const started = performance.now();
      const end = started + ROUND_MS;
      await Promise.all(
        clients.map(async (c) => {
          while (performance.now() < end) {
            c.stamp = Math.max(Date.now(), c.stamp + 1);
            const authorization = signCaaHeader({ action: CAA_ACTIONS.refreshToken, ...c.pair, timestamp: c.stamp });
            const body = await refreshToken(store, users, { headers: { authorization } }, rotation);
            c.pair = { apiKey: body.apiKey, secretKey: body.secretKey };
            refreshes++;
          }
        }),
      );
      return refreshes / ((performance.now() - started) / 1000);
    };
    const figures: Record<string, { without: number; with: number; ratio: number }> = {};
    for (const lagMs of THROUGHPUT_LAGS_MS) {
      healthy.setLag(lagMs);
      const rates = { without: [] as number[], with: [] as number[] };
      for (let i = 0; i < 2 * ROUNDS; i++) {
        if (i % 2 === 0) rates.without.push(await round(without));
        else rates.with.push(await round(withWait));
      }
      const w = median(rates.without);
      const ww = median(rates.with);
      figures[`lag ${lagMs} ms`] = { without: Math.round(w), with: Math.round(ww), ratio: Number((ww / w).toFixed(2)) };
      expect(Math.min(...rates.without, ...rates.with)).toBeGreaterThan(0);
    }
    healthy.setLag(0);
    console.log(`[sentinel] refreshes/s, ${THROUGHPUT_CLIENTS} clients, one ioredis connection, medians of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms: ${JSON.stringify(figures)}`);
  }, 30_000);

  // Last in this block: it kills the primary.
  it('a refresh answered 503 because WAIT timed out is served after the failover by its retry, through grace; with graceMs below the failover time the retry is TOKEN_REUSED', async () => {
    if (healthy === undefined || io === undefined) throw new Error('no replica set');
    const tally: Tally = { refreshes: 0, unavailable: 0, waitUnacknowledged: 0, other: {}, rotateOutcomes: {} };
    // WAIT gives up after 20 ms (Redis ends blocked calls on its 1/hz timer: within ~120 ms), but the
    // stream reaches the replicas 300 ms late: the rotation is replicated, its answer a 503.
    const store = counted(new RedisStore({ client: io, timeoutMs: STORE_TIMEOUT_MS, waitReplicas: { replicas: 1, timeoutMs: 20 } }), tally);
    const patient = newClient(alice, await issueSession(store, alice));
    const late = newClient(eve, await issueSession(store, eve));
    await healthy.waitForReplication();
    healthy.setLag(300);
    const candidates = new Map<SimulatedClient, string>();
    const rotatedAt = Date.now();
    for (const client of [patient, late]) {
      const keys: string[] = [];
      const generateKey = (): string => {
        const key = generateCaaKey();
        keys.push(key);
        return key;
      };
      const err = await expectCaaError(
        refreshToken(store, users, signed(client, client.pair, CAA_ACTIONS.refreshToken), { ...rotation, generateKey }),
        503,
        'service unavailable',
        'STORE_UNAVAILABLE',
      );
      expect(err.cause instanceof Error ? err.cause.message : err.cause).toBe('WAIT: 0 of 1 replicas acknowledged the write within 20 ms');
      candidates.set(client, client.pair.apiKey.slice(0, 2) + (keys[0] ?? '').slice(2)); // the successor this call stored
    }
    await healthy.waitForReplication(); // both rotations reached both replicas after their WAIT gave up
    const dead = await healthy.killPrimary();
    const failover = await healthy.waitForFailover(dead, FAILOVER_DEADLINE_MS);

    // Retried with the pair the client holds: the successor the 503'd call stored, never used, within grace.
    const next = await servedAfterRetries(() => refreshToken(store, users, signed(patient, patient.pair, CAA_ACTIONS.refreshToken), rotation));
    expect(next.apiKey).toBe(candidates.get(patient));
    expect(tally.rotateOutcomes.grace ?? 0).toBeGreaterThanOrEqual(1);
    expect(tally.rotateOutcomes.rotated ?? 0).toBe(0);
    const successor = { apiKey: next.apiKey, secretKey: next.secretKey };
    await expect(
      servedAfterRetries(() => authenticate(store, signed(patient, successor, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile, rotation)),
    ).resolves.toMatchObject({ apiKey: next.apiKey, userId: alice._id });

    // The same retry with a grace shorter than the failover (and past the rotation tolerance): reuse, the family revoked.
    const graceMs = 1_000;
    expect(failover.ms).toBeGreaterThan(graceMs);
    await sleep(Math.max(0, rotatedAt + DEFAULT_ROTATION_TOLERANCE_MS + 100 - Date.now()));
    await expectCaaError(
      servedAfterRetries(() => refreshToken(store, users, signed(late, late.pair, CAA_ACTIONS.refreshToken), { graceMs })),
      404,
      'apiKey not found',
      'TOKEN_REUSED',
    );
    console.log(`[sentinel] a 503'd rotation retried after a failover of ${failover.ms} ms: served through grace (graceMs ${GRACE_MS}); TOKEN_REUSED with graceMs ${graceMs}`);
  }, 30_000);
});

/** A simulated client holding `login`. */
function newClient(owner: User, login: CredentialsResponse): SimulatedClient {
  return {
    owner,
    logsOut: false,
    pair: { apiKey: login.apiKey, secretKey: login.secretKey },
    rotatedAway: [],
    lastTimestamp: 0,
    lastSentAt: 0,
    lastAnsweredAt: 0,
    retrying: false,
    recoveredRetries: 0,
    loggedOut: false,
    loggedOutAt: undefined,
    lostWith: undefined,
  };
}

/** Calls `call` (which signs afresh) until it is not a 503, for at most RECOVERY_DEADLINE_MS. */
async function servedAfterRetries<T>(call: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + RECOVERY_DEADLINE_MS;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isCaaError(err) || err.code !== 'STORE_UNAVAILABLE' || performance.now() > deadline) throw err;
      await sleep(PAUSE_AFTER_FAILURE_MS);
    }
  }
}

const THROUGHPUT_CLIENTS = 32;
/** Through the relay: 0 (loopback) and 2 ms (replicas in another zone, roughly). */
const THROUGHPUT_LAGS_MS = [0, 2] as const;
const ROUNDS = 4;
const ROUND_MS = 400;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** `cmdstat_wait:calls` of the primary's INFO commandstats. */
async function waitCalls(set: RedisSentinelSet, primary: { host: string; port: number }): Promise<number> {
  const info = await set.command(primary, ['INFO', 'commandstats']);
  return Number(/cmdstat_wait:calls=(\d+)/.exec(String(info))?.[1] ?? 0);
}

describe('waitReplicas group commit, without a server', () => {
  it('a batch that is never answered holds the next write only until its WAIT timeout plus the slack', async () => {
    const sent: string[][][] = [];
    const pipeline = (): IoredisPipelineLike => {
      const commands: string[][] = [];
      const batch: IoredisPipelineLike = {
        call: (command, ...args) => {
          commands.push([command, ...args]);
          return batch;
        },
        exec: async () => {
          sent.push(commands);
          // The first batch is left pending for ever, as a client without a retry limit may leave it.
          if (sent.length === 1) return new Promise<never>(() => {});
          return commands.map((_, i): [null, unknown] => [null, i === commands.length - 1 ? 1 : ['reply', String(sent.length)]]);
        },
      };
      return batch;
    };
    const adapter = ioredisAdapter({ evalsha: async () => null, eval: async () => null, pipeline });
    const send = adapter.evalThenWait;
    if (send === undefined) throw new Error('no evalThenWait');
    void send('EVALSHA', 'a'.repeat(40), ['k1'], ['v1'], 1, 50);
    const started = performance.now();
    await expect(send('EVALSHA', 'a'.repeat(40), ['k2'], ['v2'], 1, 50)).resolves.toStrictEqual([['reply', '2'], 1]);
    const heldMs = performance.now() - started;
    expect(heldMs).toBeGreaterThanOrEqual(1_000); // 50 ms WAIT timeout + 1 000 ms slack, less timer slop
    expect(heldMs).toBeLessThan(2_000);
    expect(sent.map((batch) => batch.map((command) => command[0]))).toStrictEqual([
      ['EVALSHA', 'WAIT'],
      ['EVALSHA', 'WAIT'],
    ]);
  });
});
