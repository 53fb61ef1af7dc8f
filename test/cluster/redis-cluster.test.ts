/**
 * RedisStore on a real 3-master Redis Cluster (see test/support/redis-cluster.ts), through an
 * ioredis `Cluster` and through a node-redis `createCluster` client:
 * - the shared SessionStore contract, unchanged;
 * - every flow of the use cases (issue, authenticate, refresh, grace, replay, reuse, logout,
 *   orphaned session) on families served by each master, without one error from the cluster
 *   (CROSSSLOT above all): every script declares keys of one slot;
 * - every key of one family (sessions, tombstones, family, replay markers) on one slot, while
 *   many families spread over all masters;
 * - a burst of concurrent refreshes of one session on each master: one successor for all.
 */

import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  FAMILY_TAG_LENGTH,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  generateKey,
  ioredisAdapter,
  issueSession,
  nodeRedisAdapter,
  refreshToken,
  revokeSession,
  type AnyRedisClient,
  type CredentialsResponse,
  type RedisScriptClient,
  type Session,
  type User,
} from '../../src/index.js';
import { describeSessionStoreContract } from '../contract/session-store.contract.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { RedisCluster, type ClusterNodeAddress } from '../support/redis-cluster.js';
import { liveSessionsInRedis, type SessionReader } from '../support/redis-inspect.js';
import { TestClock, familyOf, makeUser, signedRequest, type Pair } from '../support/use-case-fixtures.js';

/** The store's default prefix, and the layout of its keys: `caa:{T}:s|f|r:…`. */
const KEY_PATTERN = /^caa:\{(.{2})\}:(?:([sfr]):(.+)|(e))$/s;
/** A user's index of sessions: on a hash tag of its own, `{u:<userId>}`, apart from the families'. */
const INDEX_PATTERN = /^caa:\{(u:(.+))\}:[it]$/s;
const STORE_PREFIX = 'caa:';
const ALL_KEYS = `${STORE_PREFIX}*`;
const SPREAD_FAMILIES = 64;
const BURST = 50;

let cluster: RedisCluster | undefined;

beforeAll(async () => {
  cluster = await RedisCluster.start();
});

afterAll(async () => {
  await cluster?.stop();
});

function runningCluster(): RedisCluster {
  if (cluster === undefined) throw new Error('the Redis Cluster did not start (see beforeAll)');
  return cluster;
}

// ---------------------------------------------------------------------------------------------
// The clients under test, and what the tests read behind the store's back.
// ---------------------------------------------------------------------------------------------

/** The keys one master holds. */
interface MasterKeys {
  readonly master: ClusterNodeAddress;
  readonly keys: string[];
}

interface ClusterConnection {
  /** The client as an application hands it to RedisStore (the store picks the adapter). */
  readonly client: AnyRedisClient;
  /** The same client through its explicit adapter. */
  readonly scriptClient: RedisScriptClient;
  /** SCAN on every master, directly (no redirection): which keys each one really holds. */
  scanMasters(pattern: string): Promise<MasterKeys[]>;
  hgetall(key: string): Promise<Record<string, string>>;
  /** CLUSTER KEYSLOT through the client. */
  keySlot(key: string): Promise<number>;
  /** FLUSHALL on every master. */
  flush(): Promise<void>;
  /** `error` events the client emitted. */
  readonly errors: unknown[];
  close(): Promise<void>;
}

interface ClusterVariant {
  readonly name: string;
  connect(nodes: readonly ClusterNodeAddress[]): Promise<ClusterConnection>;
}

const VARIANTS: readonly ClusterVariant[] = [
  {
    name: 'ioredis Cluster',
    async connect(nodes) {
      const errors: unknown[] = [];
      const client = new Cluster(
        nodes.map(({ host, port }) => ({ host, port })),
        { lazyConnect: true },
      );
      client.on('error', (err: unknown) => errors.push(err));
      client.on('node error', (err: unknown) => errors.push(err));
      await client.connect();
      const masters = (): Array<{ address: ClusterNodeAddress; node: ReturnType<Cluster['nodes']>[number] }> =>
        client.nodes('master').map((node) => {
          const { host, port } = node.options;
          if (host === undefined || port === undefined) throw new Error('ioredis: a master without host or port');
          return { address: { host, port }, node };
        });
      return {
        client,
        scriptClient: ioredisAdapter(client),
        scanMasters: async (pattern) =>
          Promise.all(
            masters().map(async ({ address, node }) => {
              const keys: string[] = [];
              let cursor = '0';
              do {
                const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
                keys.push(...batch);
                cursor = next;
              } while (cursor !== '0');
              return { master: address, keys };
            }),
          ),
        hgetall: (key) => client.hgetall(key),
        keySlot: async (key) => Number(await client.cluster('KEYSLOT', key)),
        flush: async () => {
          await Promise.all(masters().map(({ node }) => node.flushall()));
        },
        errors,
        close: async () => {
          await client.quit();
        },
      };
    },
  },
  {
    name: 'node-redis createCluster',
    async connect(nodes) {
      const errors: unknown[] = [];
      const client = createCluster({ rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) });
      client.on('error', (err: unknown) => errors.push(err));
      await client.connect();
      const anyMaster = async (): Promise<ReturnType<typeof client.nodeClient>> => {
        const master = client.masters[0];
        if (master === undefined) throw new Error('node-redis: the cluster has no master');
        return client.nodeClient(master);
      };
      return {
        client,
        scriptClient: nodeRedisAdapter(client),
        scanMasters: async (pattern) =>
          Promise.all(
            client.masters.map(async (master) => {
              const node = await client.nodeClient(master);
              const keys: string[] = [];
              for await (const batch of node.scanIterator({ MATCH: pattern, COUNT: 1_000 })) keys.push(...batch);
              return { master: { host: master.host, port: master.port }, keys };
            }),
          ),
        hgetall: (key) => client.hGetAll(key),
        keySlot: async (key) => (await anyMaster()).clusterKeySlot(key),
        flush: async () => {
          await Promise.all(client.masters.map(async (master) => (await client.nodeClient(master)).flushAll()));
        },
        errors,
        close: async () => {
          await client.close();
        },
      };
    },
  },
];

interface ParsedKey {
  readonly tag: string;
  /** `e`: the tag's epoch, one per hash tag (no family of its own); `i`: a user's index. */
  readonly kind: 's' | 'f' | 'r' | 'e' | 'i';
  /** The apiKey, familyId, replay marker or (index) userId the key is named after. */
  readonly name: string;
}

function parseKey(key: string): ParsedKey {
  const index = INDEX_PATTERN.exec(key);
  if (index?.[1] !== undefined && index[2] !== undefined) return { tag: index[1], kind: 'i', name: index[2] };
  const match = KEY_PATTERN.exec(key);
  const [, tag, kind, name, epoch] = match ?? [];
  if (tag !== undefined && epoch === 'e') return { tag, kind: 'e', name: '' };
  if (tag === undefined || name === undefined || (kind !== 's' && kind !== 'f' && kind !== 'r')) {
    throw new Error(`not a key of the store: ${key}`);
  }
  return { tag, kind, name };
}

/** The live sessions of `familyId`, from every session record on every master. */
async function liveSessions(connection: ClusterConnection, familyId: string): Promise<Session[]> {
  const everyMaster: SessionReader = {
    scan: async (pattern) => (await connection.scanMasters(pattern)).flatMap((master) => master.keys),
    hgetall: (key) => {
      parseKey(key); // every session key read must have the store's layout: throws otherwise
      return connection.hgetall(key);
    },
  };
  return liveSessionsInRedis(everyMaster, STORE_PREFIX, familyId);
}

/** One script call as the client answered it. */
interface ScriptCall {
  readonly command: 'EVALSHA' | 'EVAL';
  readonly keys: readonly string[];
  reply?: unknown;
  error?: Error;
}

/** A {@link RedisScriptClient} that records every call, its keys and its reply or error. */
class RecordingScriptClient implements RedisScriptClient {
  readonly calls: ScriptCall[] = [];
  readonly #inner: RedisScriptClient;

  constructor(inner: RedisScriptClient) {
    this.#inner = inner;
  }

  evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#record('EVALSHA', keys, () => this.#inner.evalshaScript(sha1, keys, args));
  }

  evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#record('EVAL', keys, () => this.#inner.evalScript(source, keys, args));
  }

  /**
   * Every error but NOSCRIPT, which is part of the normal flow: each master caches scripts on its
   * own, so the first EVALSHA of a script on a master is answered NOSCRIPT and the store sends EVAL.
   */
  unexpectedErrors(): string[] {
    return this.calls
      .flatMap((call) => (call.error === undefined ? [] : [call.error.message]))
      .filter((message) => !message.startsWith('NOSCRIPT'));
  }

  /** Replies of the calls that declared `keyCount` keys (ROTATE declares 4: with its replay marker). */
  replies(keyCount: number): unknown[] {
    return this.calls.filter((call) => call.keys.length === keyCount && call.error === undefined).map((call) => call.reply);
  }

  async #record(command: ScriptCall['command'], keys: readonly string[], run: () => Promise<unknown>): Promise<unknown> {
    const call: ScriptCall = { command, keys: [...keys] };
    this.calls.push(call);
    try {
      call.reply = await run();
      return call.reply;
    } catch (err) {
      call.error = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }
}

/** One tag per master, in the order of `runningCluster().nodes`: families that master serves. */
async function tagPerMaster(): Promise<string[]> {
  const redis = runningCluster();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const tags = new Map<number, string>();
  for (const first of alphabet) {
    for (const second of alphabet) {
      const tag = first + second;
      const master = await redis.masterOf(`{${tag}}`);
      if (!tags.has(master.port)) tags.set(master.port, tag);
      if (tags.size === redis.nodes.length) return redis.nodes.map((node) => tags.get(node.port) ?? '');
    }
  }
  throw new Error('no tag found for some master');
}

/** A key generator whose keys all start with `tag`: the apiKeys of a login land on `tag`'s slot. */
function taggedKeys(tag: string): () => string {
  return () => tag + generateKey().slice(FAMILY_TAG_LENGTH);
}

// ---------------------------------------------------------------------------------------------
// The shared contract, unchanged, on each client.
// ---------------------------------------------------------------------------------------------

for (const variant of VARIANTS) {
  describeSessionStoreContract(`RedisStore on a 3-master Redis Cluster, ${variant.name}`, async () => {
    const connection = await variant.connect(runningCluster().nodes);
    return {
      store: new RedisStore({ client: connection.client, clock: 'caller' }),
      liveSessions: (familyId) => liveSessions(connection, familyId),
      flush: () => connection.flush(),
      close: () => connection.close(),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The shared contract through an ioredis Cluster whose keyPrefix the store does not know about:
// every key a script touches must carry it, and a family's keys stay on one slot (the prefix is
// outside the hash tag). The fixture reads Redis through a second connection without the prefix.
// ---------------------------------------------------------------------------------------------

const CLIENT_KEY_PREFIX = 'app1:';
const PREFIXED_STORE_PREFIX = `${CLIENT_KEY_PREFIX}${STORE_PREFIX}`;

/** An ioredis Cluster with the client keyPrefix, and a raw ioredis connection (no prefix) beside it. */
async function prefixedIoredisCluster(): Promise<{ client: Cluster; raw: ClusterConnection; reader: SessionReader }> {
  const nodes = runningCluster().nodes;
  const ioredis = VARIANTS.find((variant) => variant.name === 'ioredis Cluster');
  if (ioredis === undefined) throw new Error('no ioredis variant');
  const raw = await ioredis.connect(nodes);
  const client = new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    { keyPrefix: CLIENT_KEY_PREFIX, lazyConnect: true },
  );
  await client.connect();
  const reader: SessionReader = {
    scan: async (pattern) => (await raw.scanMasters(pattern)).flatMap((master) => master.keys),
    hgetall: (key) => raw.hgetall(key),
  };
  return { client, raw, reader };
}

describeSessionStoreContract(`RedisStore on a 3-master Redis Cluster, ioredis Cluster with keyPrefix ${CLIENT_KEY_PREFIX}`, async () => {
  const { client, raw, reader } = await prefixedIoredisCluster();
  return {
    store: new RedisStore({ client, clock: 'caller' }),
    liveSessions: (familyId) => liveSessionsInRedis(reader, PREFIXED_STORE_PREFIX, familyId),
    size: async () => (await reader.scan(`${PREFIXED_STORE_PREFIX}*`)).length,
    flush: () => raw.flush(),
    close: async () => {
      await client.quit();
      await raw.close();
    },
  };
});

describe(`RedisStore on a 3-master Redis Cluster, ioredis Cluster with keyPrefix ${CLIENT_KEY_PREFIX}`, () => {
  it('keeps every key of one family, each carrying the prefix, on the slot of its hash tag on one master', async () => {
    const { client, raw, reader } = await prefixedIoredisCluster();
    try {
      const store = new RedisStore({ client, clock: 'caller' });
      const clock = new TestClock();
      const familyUser = makeUser('59573c395c2960da1aa83a0f');
      const familyUsers = new MemoryUserRepository([familyUser]);
      for (const tag of await tagPerMaster()) {
        // A login, three rotations (tombstones, family head, replay markers) and an authenticated call.
        let pair: CredentialsResponse = await issueSession(store, familyUser, { now: clock.now, generateKey: taggedKeys(tag) });
        for (let i = 0; i < 3; i++) {
          clock.advance(1_000);
          pair = await refreshToken(store, familyUsers, signedRequest(pair, CAA_ACTIONS.refreshToken, clock.stamp()), { now: clock.now });
        }
        await authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, clock.stamp()), CAA_ACTIONS.fetchMyProfile, {
          now: clock.now,
          replayProtection: true,
        });

        const perMaster = await raw.scanMasters(`*{${tag}}*`);
        const keys = perMaster.flatMap((master) => master.keys);
        // 4 session records, the family, the tag's epoch, 3 + 1 replay markers.
        expect(keys).toHaveLength(10);
        for (const key of keys) expect(key.startsWith(`${PREFIXED_STORE_PREFIX}{${tag}}:`), key).toBe(true);
        const slot = await raw.keySlot(`{${tag}}`);
        for (const key of keys) expect(await raw.keySlot(key)).toBe(slot);
        const owner = await runningCluster().masterOfSlot(slot);
        expect(perMaster.filter((master) => master.keys.length > 0).map((master) => master.master.port)).toStrictEqual([owner.port]);
        const live = await liveSessionsInRedis(reader, PREFIXED_STORE_PREFIX, await familyOf(store, pair.apiKey, clock.t));
        expect(live.map((session) => session.apiKey)).toStrictEqual([pair.apiKey]);
      }
    } finally {
      await raw.flush();
      await client.quit();
      await raw.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// What only a cluster can show.
// ---------------------------------------------------------------------------------------------

for (const variant of VARIANTS) {
  describe(`RedisStore on a 3-master Redis Cluster, ${variant.name}`, () => {
    let connection: ClusterConnection;
    let recorder: RecordingScriptClient;
    let store: RedisStore;
    let clock: TestClock;
    let user: User;
    let users: MemoryUserRepository;

    beforeEach(async () => {
      connection = await variant.connect(runningCluster().nodes);
      await connection.flush();
      recorder = new RecordingScriptClient(connection.scriptClient);
      store = new RedisStore({ client: recorder, clock: 'caller' });
      clock = new TestClock();
      user = makeUser('59573c395c2960da1aa83a08');
      users = new MemoryUserRepository([user]);
    });

    afterEach(async () => {
      await connection?.flush();
      await connection?.close();
    });

    const login = (keys: () => string = generateKey, who: User = user): Promise<CredentialsResponse> =>
      issueSession(store, who, { now: clock.now, generateKey: keys });
    const refresh = (pair: Pair, stamp = clock.stamp()): Promise<CredentialsResponse> =>
      refreshToken(store, users, signedRequest(pair, CAA_ACTIONS.refreshToken, stamp), { now: clock.now });
    const fetchProfile = (pair: Pair, stamp = clock.stamp()): Promise<Session> =>
      authenticate(store, signedRequest(pair, CAA_ACTIONS.fetchMyProfile, stamp), CAA_ACTIONS.fetchMyProfile, {
        now: clock.now,
        replayProtection: true,
      });

    /** The distinct slots of every key the recorded script calls declared, per call. */
    async function slotsPerCall(): Promise<number[][]> {
      const slots = new Map<string, number>();
      for (const key of new Set(recorder.calls.flatMap((call) => call.keys))) slots.set(key, await connection.keySlot(key));
      return recorder.calls.map((call) => [...new Set(call.keys.map((key) => slots.get(key) ?? -1))]);
    }

    it('runs every flow on families of every master without one error from the cluster (no CROSSSLOT)', async () => {
      const tags = await tagPerMaster();
      for (const tag of tags) {
        const keys = taggedKeys(tag);
        // Issue, authenticate with replay protection, and the replayed header.
        const a = await login(keys);
        expect(a.apiKey.slice(0, FAMILY_TAG_LENGTH)).toBe(tag);
        const profileStamp = clock.stamp();
        await expect(fetchProfile(a, profileStamp)).resolves.toMatchObject({ apiKey: a.apiKey });
        await expectCaaError(fetchProfile(a, profileStamp), 400, 'invalid signature', 'REPLAYED');

        // Refresh, a retry within grace (same successor), and the replayed refresh header.
        const refreshStamp = clock.stamp();
        const b = await refresh(a, refreshStamp);
        expect(b.apiKey.slice(0, FAMILY_TAG_LENGTH)).toBe(tag);
        expect(await refresh(a)).toStrictEqual(b);
        await expectCaaError(refresh(a, refreshStamp), 400, 'invalid signature', 'REPLAYED');

        // More rotations, then reuse of the first key after grace revokes the family.
        clock.advance(1);
        const c = await refresh(b);
        clock.advance(1);
        const d = await refresh(c);
        await expect(fetchProfile(d)).resolves.toMatchObject({ apiKey: d.apiKey });
        clock.advance(DEFAULT_GRACE_MS + 1);
        await expectCaaError(refresh(a), 404, 'apiKey not found', 'TOKEN_REUSED');
        await expectCaaError(fetchProfile(d), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(d), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');

        // Logout revokes the family: its live key and its rotated one.
        const e = await login(keys);
        const f = await refresh(e);
        await expect(
          revokeSession(store, signedRequest(f, CAA_ACTIONS.logout, clock.stamp()), { now: clock.now }),
        ).resolves.toMatchObject({ apiKey: f.apiKey });
        await expectCaaError(fetchProfile(f), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
        await expectCaaError(refresh(e), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');

        // A deleted user: the orphaned session is revoked.
        const orphanUser = makeUser(`orphan-${tag}`);
        users.save(orphanUser);
        const g = await login(keys, orphanUser);
        users.delete(orphanUser._id);
        await expectCaaError(refresh(g), 404, 'user not found', 'USER_NOT_FOUND');
        await expectCaaError(fetchProfile(g), 404, 'apiKey not found', 'APIKEY_NOT_FOUND');
      }

      expect(recorder.unexpectedErrors()).toStrictEqual([]);
      expect(connection.errors).toStrictEqual([]);
      // Every call declared keys of one slot, and the calls reached every master.
      expect((await slotsPerCall()).filter((slots) => slots.length !== 1)).toStrictEqual([]);
      const masters = new Set<number>();
      for (const call of recorder.calls) {
        const first = call.keys[0];
        if (first !== undefined) masters.add((await runningCluster().masterOf(first)).port);
      }
      expect([...masters].sort()).toStrictEqual(runningCluster().nodes.map((node) => node.port).sort());
    });

    it('keeps every key of one family on one slot of one master: sessions, tombstones, family and replay markers', async () => {
      const a = await login();
      const tag = a.apiKey.slice(0, FAMILY_TAG_LENGTH);
      const familyId = await familyOf(store, a.apiKey, clock.t);
      const apiKeys = [a.apiKey];
      let pair: CredentialsResponse = a;
      for (let i = 0; i < 5; i++) {
        clock.advance(1_000);
        const previous = pair;
        pair = await refresh(previous);
        expect(await refresh(previous)).toStrictEqual(pair); // grace
        apiKeys.push(pair.apiKey);
        await fetchProfile(pair);
      }
      // Replay markers: one per refresh header (10) and one per authenticated header (5).
      const expectedMarkers = 15;

      const perMaster = await connection.scanMasters(ALL_KEYS);
      const all = perMaster.flatMap(({ master, keys }) => keys.map((key) => ({ master, key, parsed: parseKey(key) })));
      // The user's index is the one key apart: on its own tag's slot, held by that slot's master.
      const indexes = all.filter(({ parsed }) => parsed.kind === 'i');
      expect(indexes.map(({ key }) => key)).toStrictEqual([`caa:{u:${user._id}}:i`]);
      for (const { key, master } of indexes) {
        expect(master.port).toBe((await runningCluster().masterOfSlot(await connection.keySlot(key))).port);
      }
      const found = all.filter(({ parsed }) => parsed.kind !== 'i');
      expect(found.filter(({ parsed }) => parsed.kind === 's').map(({ parsed }) => parsed.name).sort()).toStrictEqual(
        [...apiKeys].sort(),
      );
      expect(found.filter(({ parsed }) => parsed.kind === 'f').map(({ parsed }) => parsed.name)).toStrictEqual([familyId]);
      expect(found.filter(({ parsed }) => parsed.kind === 'r')).toHaveLength(expectedMarkers);
      expect(new Set(found.map(({ parsed }) => parsed.tag))).toStrictEqual(new Set([tag]));

      // Tombstones are still there, each naming its successor.
      for (const [i, apiKey] of apiKeys.entries()) {
        const fields = await connection.hgetall(`caa:{${tag}}:s:${apiKey}`);
        expect(fields).toMatchObject(i === apiKeys.length - 1 ? { st: 'live' } : { st: 'rotated', nx: apiKeys[i + 1] });
      }

      const slot = await connection.keySlot(`{${tag}}`);
      for (const { key } of found) expect(await connection.keySlot(key)).toBe(slot);
      const owner = await runningCluster().masterOfSlot(slot);
      expect(new Set(found.map(({ master }) => master.port))).toStrictEqual(new Set([owner.port]));
      expect(recorder.unexpectedErrors()).toStrictEqual([]);
    });

    it(`spreads ${SPREAD_FAMILIES} families over all three masters, each family on one slot`, async () => {
      const logins = await Promise.all(Array.from({ length: SPREAD_FAMILIES }, () => login()));
      await Promise.all(logins.map((pair) => refresh(pair)));

      const ranges = await runningCluster().slotRanges();
      const perMaster = await connection.scanMasters(ALL_KEYS);
      expect(perMaster.map(({ master }) => master.port).sort()).toStrictEqual(
        runningCluster().nodes.map((node) => node.port).sort(),
      );
      const familySlots = new Map<string, Set<number>>();
      const familyMasters = new Map<string, Set<number>>();
      for (const { master, keys } of perMaster) {
        const familiesHere = new Set<string>();
        for (const key of keys) {
          const parsed = parseKey(key);
          // A key is held by the master that serves its slot.
          const slot = await connection.keySlot(key);
          const range = ranges.find((r) => r.start <= slot && slot <= r.end);
          expect(range?.master.port).toBe(master.port);
          if (parsed.kind === 'r' || parsed.kind === 'e' || parsed.kind === 'i') continue;
          const familyId = parsed.kind === 'f' ? parsed.name : (await connection.hgetall(key)).fam ?? '';
          familiesHere.add(familyId);
          familySlots.set(familyId, (familySlots.get(familyId) ?? new Set()).add(slot));
          familyMasters.set(familyId, (familyMasters.get(familyId) ?? new Set()).add(master.port));
        }
        expect(familiesHere.size, `families on master ${master.port}`).toBeGreaterThan(0);
      }
      expect(familySlots.size).toBe(SPREAD_FAMILIES);
      for (const slots of familySlots.values()) expect(slots.size).toBe(1);
      for (const masters of familyMasters.values()) expect(masters.size).toBe(1);
      expect(recorder.unexpectedErrors()).toStrictEqual([]);
    });

    it(`answers a burst of ${BURST} concurrent refreshes of one session on each master with one successor`, async () => {
      for (const tag of await tagPerMaster()) {
        recorder.calls.length = 0;
        const old = await login(taggedKeys(tag));
        const familyId = await familyOf(store, old.apiKey, clock.t);
        const requests = Array.from({ length: BURST }, () => signedRequest(old, CAA_ACTIONS.refreshToken, clock.stamp()));
        const settled = await Promise.allSettled(requests.map((req) => refreshToken(store, users, req, { now: clock.tick })));

        const bodies = settled.map((result) =>
          result.status === 'fulfilled' ? result.value : { rejected: String(result.reason) },
        );
        const first = bodies[0];
        if (first === undefined || 'rejected' in first) throw new Error(`tag ${tag}: ${JSON.stringify(first)}`);
        expect(first.apiKey).not.toBe(old.apiKey);
        for (const body of bodies) expect(body).toStrictEqual(first);

        // One ROTATE rotated, every other one answered grace.
        const outcomes = recorder.replies(4).map((reply) => (Array.isArray(reply) ? reply[0] : reply));
        expect(outcomes.filter((outcome) => outcome === 'rotated')).toHaveLength(1);
        expect(outcomes.filter((outcome) => outcome === 'grace')).toHaveLength(BURST - 1);

        const live = await liveSessions(connection, familyId);
        expect(live.map((session) => session.apiKey)).toStrictEqual([first.apiKey]);
        await expect(fetchProfile(first)).resolves.toMatchObject({ apiKey: first.apiKey, familyId });
        expect(recorder.unexpectedErrors()).toStrictEqual([]);
      }
      expect(connection.errors).toStrictEqual([]);
    });
  });
}
