/**
 * RedisStore while a Redis Cluster fails over (issue 10): 3 masters, 3 replicas,
 * `cluster-node-timeout` 1 s, `cluster-require-full-coverage no`. Families on every master refresh
 * concurrently through the use cases (real time, the store's default clock: Redis TIME, a grace
 * above any failover here); one master is killed with SIGKILL. Each run times the cluster's
 * failover (from the kill until every live node serves the dead master's slots from its promoted
 * replica) and each client's recovery (from the kill until every family on those slots has
 * refreshed again), and counts the sessions lost: families whose last acknowledged pair answered
 * 4xx afterwards. The figures are printed; the bounds are asserted.
 *
 * - One failover, four clients at once: an ioredis `Cluster`; a node-redis `createCluster` through
 *   the store's adapter, with its default offline queue and with `disableOfflineQueue`; and the
 *   same node-redis client without the adapter's slot-map refresh, to show what node-redis does on
 *   its own (it never serves the dead master's slots again: redis/node-redis#2806).
 * - `waitReplicas` on an ioredis `Cluster`: no acknowledged rotation is lost; the promoted master has
 *   no replica, so its families answer 503 until the killed node is back as its replica.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  FAMILY_TAG_LENGTH,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  generateKey,
  isCaaError,
  issueSession,
  refreshToken,
  signCaaHeader,
  type CredentialsResponse,
  type RedisScriptClient,
  type RedisStoreOptions,
} from '../../src/index.js';
import { RedisCluster, type ClusterNodeAddress } from '../support/redis-cluster.js';
import { makeUser } from '../support/use-case-fixtures.js';

const NODE_TIMEOUT_MS = 1_000;
const FAMILIES_PER_MASTER = 3;
/** Above any failover here: a refresh whose answer was lost to the failover is retried within grace. */
const GRACE_MS = 30_000;
const REFRESH_PAUSE_MS = 50;
const WARM_UP_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 15_000;
/** A client must serve the dead master's families again within the failover time plus this. */
const RECOVERY_SLACK_MS = 2_000;
/** Refreshes go on this long after the failover: past the slack, so that "never recovered" means it. */
const OBSERVE_MS = RECOVERY_SLACK_MS + 1_500;
/** With waitReplicas: how long the promoted master runs without a replica before the dead node is back. */
const WITHOUT_REPLICA_MS = 3_000;
const REPLICA_LINK_TIMEOUT_MS = 15_000;
const WAIT_REPLICAS = { replicas: 1, timeoutMs: 500 } as const;
const STORE_UNAVAILABLE = '503 STORE_UNAVAILABLE';

const user = makeUser('59573c395c2960da1aa83b01');
const users = new MemoryUserRepository([user]);

let lastStamp = 0;
/** Signed now, with a timestamp no other request of this file used (clients re-sign every retry). */
function signed(pair: CredentialsResponse, action: string): { headers: { authorization: string } } {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return { headers: { authorization: signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp: lastStamp }) } };
}

// ---------------------------------------------------------------------------------------------
// The clients under test. Errors of a dead node are expected here: listened to, not to crash the run.
// ---------------------------------------------------------------------------------------------

interface Lane {
  readonly name: string;
  readonly store: RedisStore;
  readonly warnings: string[];
  close(): Promise<void>;
}

function laneStore(client: RedisStoreOptions['client'], options: Omit<RedisStoreOptions, 'client' | 'logger'>, warnings: string[]): RedisStore {
  return new RedisStore({ ...options, client, logger: { warn: (message) => warnings.push(message) } });
}

async function ioredisLane(
  name: string,
  nodes: readonly ClusterNodeAddress[],
  options: Omit<RedisStoreOptions, 'client' | 'logger'> = {},
): Promise<Lane> {
  const client = new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    { lazyConnect: true },
  );
  client.on('error', () => {});
  client.on('node error', () => {});
  await client.connect();
  const warnings: string[] = [];
  return { name, store: laneStore(client, options, warnings), warnings, close: async () => void client.disconnect() };
}

/**
 * A node-redis cluster: through the store's adapter (`viaAdapter`), or through a bare
 * RedisScriptClient that calls evalSha/eval and nothing else, i.e. node-redis on its own.
 */
async function nodeRedisLane(
  name: string,
  nodes: readonly ClusterNodeAddress[],
  { disableOfflineQueue = false, viaAdapter = true }: { disableOfflineQueue?: boolean; viaAdapter?: boolean } = {},
): Promise<Lane> {
  const client = createCluster({
    rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    defaults: { disableOfflineQueue },
  });
  client.on('error', () => {});
  client.on('node-error', () => {});
  await client.connect();
  const bare: RedisScriptClient = {
    evalshaScript: (sha1, keys, args) => client.evalSha(sha1, { keys: [...keys], arguments: [...args] }),
    evalScript: (source, keys, args) => client.eval(source, { keys: [...keys], arguments: [...args] }),
  };
  const warnings: string[] = [];
  return { name, store: laneStore(viaAdapter ? client : bare, {}, warnings), warnings, close: async () => client.destroy() };
}

// ---------------------------------------------------------------------------------------------
// The load, and what it saw.
// ---------------------------------------------------------------------------------------------

/** One refresh as the client saw it: when it started and ended, and its answer. */
interface Attempt {
  readonly started: number;
  readonly ended: number;
  /** `ok`, or the error's `status code` (`503 STORE_UNAVAILABLE`), or its message when not a CaaError. */
  readonly outcome: string;
  /** A store fault's cause, for the printed figures. */
  readonly cause?: string;
}

interface Family {
  readonly lane: Lane;
  readonly tag: string;
  /** Served by the master that is killed. */
  readonly onDeadMaster: boolean;
  /** The last pair an answered refresh (or the login) handed out: what the client holds. */
  pair: CredentialsResponse;
  readonly attempts: Attempt[];
  /** Set when the pair the client holds answered 4xx: the session is gone (the client would log out). */
  lost?: string;
}

/** Refreshes `family` until `stop()`, keeping each new pair and retrying a failed refresh with the pair it holds. */
async function drive(family: Family, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const started = performance.now();
    try {
      family.pair = await refreshToken(family.lane.store, users, signed(family.pair, CAA_ACTIONS.refreshToken), { graceMs: GRACE_MS });
      family.attempts.push({ started, ended: performance.now(), outcome: 'ok' });
    } catch (err) {
      const outcome = isCaaError(err) ? `${err.status} ${err.code}` : String(err);
      const cause = isCaaError(err) && err.cause instanceof Error ? err.cause.message : undefined;
      family.attempts.push({ started, ended: performance.now(), outcome, ...(cause === undefined ? {} : { cause }) });
      if (isCaaError(err) && err.status < 500) {
        family.lost = outcome;
        return;
      }
    }
    await sleep(REFRESH_PAUSE_MS);
  }
}

/** `count` distinct hash tags served by each master, in the order of `cluster.nodes`. */
async function tagsPerMaster(cluster: RedisCluster, count: number): Promise<string[][]> {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const tags = new Map<number, string[]>(cluster.nodes.map((node) => [node.port, []]));
  for (const first of alphabet) {
    for (const second of alphabet) {
      const tag = first + second;
      const list = tags.get((await cluster.masterOf(`{${tag}}`)).port);
      if (list !== undefined && list.length < count) list.push(tag);
      if ([...tags.values()].every((l) => l.length === count)) return cluster.nodes.map((node) => tags.get(node.port) ?? []);
    }
  }
  throw new Error('not enough tags for some master');
}

/** When things happened in one run, on the `performance.now()` clock. */
interface Timeline {
  readonly killAt: number;
  /** Every live node serves the dead master's slots from its promoted replica. */
  readonly failoverAt: number;
  readonly promoted: ClusterNodeAddress;
}

/** What one run saw: its timeline and every family of every lane. */
interface Run {
  readonly timeline: Timeline;
  readonly families: readonly Family[];
}

/**
 * Logs in {@link FAMILIES_PER_MASTER} families per master on every lane, refreshes them all
 * concurrently, kills `cluster.nodes[0]` after a warm-up, waits for the failover, then runs
 * `afterFailover` while the refreshes go on.
 */
async function runFailover(
  cluster: RedisCluster,
  lanes: readonly Lane[],
  afterFailover: (timeline: Timeline) => Promise<void>,
): Promise<Run> {
  const dead = cluster.nodes[0];
  if (dead === undefined) throw new Error('no master');
  const tags = await tagsPerMaster(cluster, FAMILIES_PER_MASTER);
  const families: Family[] = [];
  for (const lane of lanes) {
    for (const [i, masterTags] of tags.entries()) {
      for (const tag of masterTags) {
        const pair = await issueSession(lane.store, user, { generateKey: () => tag + generateKey().slice(FAMILY_TAG_LENGTH) });
        families.push({ lane, tag, onDeadMaster: i === 0, pair, attempts: [] });
      }
    }
  }
  let stopped = false;
  const driving = families.map((family) => drive(family, () => stopped));
  try {
    await sleep(WARM_UP_MS);
    const killAt = performance.now();
    await cluster.kill(dead);
    const { promoted } = await cluster.waitForFailover(dead, FAILOVER_TIMEOUT_MS);
    const timeline = { killAt, failoverAt: performance.now(), promoted };
    await afterFailover(timeline);
    return { timeline, families };
  } finally {
    stopped = true;
    await Promise.all(driving);
  }
}

/** The families of one lane, on the dead master or elsewhere. */
function familiesOf(run: Run, lane: Lane, onDeadMaster: boolean): Family[] {
  return run.families.filter((family) => family.lane === lane && family.onDeadMaster === onDeadMaster);
}

/** From `since` until every one of `families` had a refresh started after `since` succeed, ms; undefined if one never did. */
function recoveryAfter(families: readonly Family[], since: number): number | undefined {
  let latest = since;
  for (const family of families) {
    const ok = family.attempts.find((attempt) => attempt.started >= since && attempt.outcome === 'ok');
    if (ok === undefined) return undefined;
    latest = Math.max(latest, ok.ended);
  }
  return latest - since;
}

/** Outcomes of the refreshes of `families` that started in [from, to), by count. */
function outcomes(families: readonly Family[], from: number, to = Number.POSITIVE_INFINITY): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const family of families) {
    for (const attempt of family.attempts) {
      if (attempt.started >= from && attempt.started < to) counts[attempt.outcome] = (counts[attempt.outcome] ?? 0) + 1;
    }
  }
  return counts;
}

/** Outcomes of the refreshes of `families` that ended in (from, to), by count. */
function outcomesEnded(families: readonly Family[], from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const family of families) {
    for (const attempt of family.attempts) {
      if (attempt.ended > from && attempt.ended < to) counts[attempt.outcome] = (counts[attempt.outcome] ?? 0) + 1;
    }
  }
  return counts;
}

/** Causes of the store faults of `families` after `from`, by count: what the figures print. */
function causes(families: readonly Family[], from: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const family of families) {
    for (const attempt of family.attempts) {
      if (attempt.started >= from && attempt.cause !== undefined) counts[attempt.cause] = (counts[attempt.cause] ?? 0) + 1;
    }
  }
  return counts;
}

/** The families whose session was lost, with the answer their held pair got. */
function lostOf(families: readonly Family[]): { tag: string; onDeadMaster: boolean; outcome: string }[] {
  return families.flatMap((family) =>
    family.lost === undefined ? [] : [{ tag: family.tag, onDeadMaster: family.onDeadMaster, outcome: family.lost }],
  );
}

/** The held pair of every family that was not lost authenticates: what the client holds works. */
async function expectHeldPairsWork(families: readonly Family[]): Promise<void> {
  for (const family of families) {
    if (family.lost !== undefined) continue;
    await expect(
      authenticate(family.lane.store, signed(family.pair, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile),
    ).resolves.toMatchObject({ apiKey: family.pair.apiKey });
  }
}

function print(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`\n[cluster failover] ${name}: ${JSON.stringify(figures)}\n`);
}

const ms = (value: number | undefined): number | string => (value === undefined ? 'never' : Math.round(value));

// ---------------------------------------------------------------------------------------------
// One failover, four clients.
// ---------------------------------------------------------------------------------------------

describe('a master killed on 3 masters + 3 replicas (node timeout 1 s, full coverage not required), four clients at once', () => {
  let cluster: RedisCluster | undefined;
  let lanes: Lane[] = [];
  let run: Run | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS, requireFullCoverage: false });
    lanes = [
      await ioredisLane('ioredis Cluster', cluster.nodes),
      await nodeRedisLane('node-redis createCluster via the adapter', cluster.nodes),
      await nodeRedisLane('node-redis createCluster (disableOfflineQueue) via the adapter', cluster.nodes, { disableOfflineQueue: true }),
      await nodeRedisLane('node-redis createCluster alone', cluster.nodes, { viaAdapter: false }),
    ];
    run = await runFailover(cluster, lanes, async ({ failoverAt }) => {
      await sleep(Math.max(0, failoverAt + OBSERVE_MS - performance.now()));
    });
    for (const lane of lanes) {
      const { killAt, failoverAt } = run.timeline;
      const dead = familiesOf(run, lane, true);
      const others = familiesOf(run, lane, false);
      print(lane.name, {
        failoverMs: ms(failoverAt - killAt),
        recoveryMs: ms(recoveryAfter(dead, killAt)),
        deadMaster: outcomes(dead, killAt),
        deadMasterCauses: causes(dead, killAt),
        otherMasters: outcomes(others, killAt),
        lost: lostOf([...dead, ...others]),
        warnings: lane.warnings,
      });
    }
  }, 60_000);

  afterAll(async () => {
    for (const lane of lanes) await lane.close();
    await cluster?.stop();
  });

  function lane(name: string): { run: Run; lane: Lane } {
    const found = lanes.find((candidate) => candidate.name === name);
    if (run === undefined || found === undefined) throw new Error('the failover run did not complete (see beforeAll)');
    return { run, lane: found };
  }

  /** The bounds every client that recovers must meet. */
  async function expectRecovered(name: string): Promise<void> {
    const { run: seen, lane: chosen } = lane(name);
    const { killAt, failoverAt } = seen.timeline;
    const dead = familiesOf(seen, chosen, true);
    const others = familiesOf(seen, chosen, false);
    const recovery = recoveryAfter(dead, killAt);
    expect(recovery, 'recovery of the dead master’s families').toBeDefined();
    expect(recovery ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(failoverAt - killAt + RECOVERY_SLACK_MS);
    // Families elsewhere keep refreshing throughout: not one 503.
    expect(Object.keys(outcomes(others, killAt))).toStrictEqual(['ok']);
    // The dead master's families see 503 while it is away, never a 4xx, except a lost session:
    // with a replica and no WAIT, a rotation acknowledged but not yet replicated is gone with the
    // master (counted and printed; 0 is not asserted). Its held pair is then unknown, not reused.
    for (const outcome of Object.keys(outcomes(dead, killAt))) expect(['ok', STORE_UNAVAILABLE, '404 APIKEY_NOT_FOUND']).toContain(outcome);
    for (const lost of lostOf([...dead, ...others])) expect(lost).toMatchObject({ onDeadMaster: true, outcome: '404 APIKEY_NOT_FOUND' });
    expect(chosen.warnings).toStrictEqual([]);
    await expectHeldPairsWork([...dead, ...others]);
  }

  it('ioredis Cluster serves the dead master’s families again within the failover time + 2 s; the others never fail', async () => {
    await expectRecovered('ioredis Cluster');
  });

  it('node-redis createCluster through the adapter recovers as fast (the adapter refreshes the slot map)', async () => {
    await expectRecovered('node-redis createCluster via the adapter');
  });

  it('node-redis createCluster with disableOfflineQueue through the adapter recovers as fast ("The client is offline" retried once)', async () => {
    await expectRecovered('node-redis createCluster (disableOfflineQueue) via the adapter');
  });

  it('node-redis createCluster alone never serves the dead master’s slots again: 503 (never 4xx) for them, the others unaffected', async () => {
    const { run: seen, lane: chosen } = lane('node-redis createCluster alone');
    const { killAt, failoverAt } = seen.timeline;
    const dead = familiesOf(seen, chosen, true);
    const others = familiesOf(seen, chosen, false);
    // redis/node-redis#2806: it reads the slot map again only on MOVED/ASK, which a dead node never sends.
    expect(recoveryAfter(dead, killAt)).toBeUndefined();
    expect(Object.keys(outcomes(dead, killAt))).toStrictEqual([STORE_UNAVAILABLE]);
    // Still so past the time the other clients took: each family's refreshes that ended then answered 503 too.
    for (const family of dead) {
      expect(Object.keys(outcomesEnded([family], failoverAt + RECOVERY_SLACK_MS, Number.POSITIVE_INFINITY))).toStrictEqual([STORE_UNAVAILABLE]);
    }
    expect(Object.keys(outcomes(others, killAt))).toStrictEqual(['ok']);
    expect(lostOf([...dead, ...others])).toStrictEqual([]);
    await expectHeldPairsWork(others);
  });
});

// ---------------------------------------------------------------------------------------------
// waitReplicas: durable rotations, at the price of availability while a master has no replica.
// ---------------------------------------------------------------------------------------------

describe(`a master killed on 3 masters + 3 replicas, ioredis Cluster with waitReplicas ${JSON.stringify(WAIT_REPLICAS)}`, () => {
  let cluster: RedisCluster | undefined;
  let lane: Lane | undefined;

  afterAll(async () => {
    await lane?.close();
    await cluster?.stop();
  });

  it('loses no acknowledged session; answers 503 for the promoted master’s families until the killed node is back as its replica', async () => {
    cluster = await RedisCluster.start({ replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS, requireFullCoverage: false });
    const redis = cluster;
    const chosen = await ioredisLane('ioredis Cluster, waitReplicas', redis.nodes, { waitReplicas: WAIT_REPLICAS });
    lane = chosen;
    const dead = redis.nodes[0];
    if (dead === undefined) throw new Error('no master');
    let restartAt = 0;
    let linkAt = 0;
    let newReplicaOf: ClusterNodeAddress | undefined;
    const run = await runFailover(redis, [chosen], async ({ failoverAt }) => {
      await sleep(WITHOUT_REPLICA_MS);
      restartAt = performance.now();
      await redis.restart(dead);
      newReplicaOf = await redis.waitForReplicaLink(dead, REPLICA_LINK_TIMEOUT_MS);
      linkAt = performance.now();
      await sleep(Math.max(OBSERVE_MS - (linkAt - failoverAt), RECOVERY_SLACK_MS));
    });
    const { killAt, failoverAt, promoted } = run.timeline;
    const onDead = familiesOf(run, chosen, true);
    const others = familiesOf(run, chosen, false);
    const recoveryAfterLink = recoveryAfter(onDead, linkAt);
    print(chosen.name, {
      failoverMs: ms(failoverAt - killAt),
      untilRestart: outcomesEnded(onDead, killAt, restartAt),
      deadMasterCauses: causes(onDead, killAt),
      restartToReplicaLinkMs: ms(linkAt - restartAt),
      recoveryMs: ms(recoveryAfter(onDead, killAt)),
      recoveryAfterReplicaLinkMs: ms(recoveryAfterLink),
      deadMaster: outcomes(onDead, killAt),
      otherMasters: outcomes(others, killAt),
      lost: lostOf([...onDead, ...others]),
      warnings: chosen.warnings,
    });

    // The killed node came back as the replica of the one that took its slots.
    expect(newReplicaOf).toStrictEqual(promoted);
    // Every write the store acknowledged had reached a replica: none is lost, and nothing but 503 or ok.
    expect(lostOf([...onDead, ...others])).toStrictEqual([]);
    expect(Object.keys(outcomes(onDead, killAt)).sort()).toStrictEqual([STORE_UNAVAILABLE, 'ok']);
    // Until the killed node is back there is no replica to acknowledge a write on those slots: every
    // refresh that ended meanwhile answered 503 (WAIT acknowledged by 0, or a timeout: each WAIT holds
    // the client's one connection to that master for up to its timeout, and the calls queue behind).
    expect(Object.keys(outcomesEnded(onDead, killAt, restartAt))).toStrictEqual([STORE_UNAVAILABLE]);
    // Once the replica's link is up they refresh again, promptly.
    expect(recoveryAfterLink).toBeDefined();
    expect(recoveryAfterLink ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(RECOVERY_SLACK_MS);
    // Elsewhere WAIT is answered by each master's own replica throughout.
    expect(Object.keys(outcomes(others, killAt))).toStrictEqual(['ok']);
    expect(chosen.warnings).toStrictEqual([]);
    await expectHeldPairsWork([...onDead, ...others]);
  }, 60_000);
});
