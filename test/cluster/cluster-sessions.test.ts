/**
 * A user's sessions on RedisStore over a real 3-master Redis Cluster (see
 * test/support/redis-cluster.ts), through an ioredis `Cluster` and a node-redis `createCluster`
 * client: the user's index on a slot of its own (`{u:<userId>}`), the families on theirs, spread
 * over every master; listing, revoking (all, all but one, one), the race with concurrent refreshes,
 * a login revoked before its CREATE, and `maxSessions` under concurrent logins. Every script call
 * declares keys of one slot, and the cluster answers none of them with an error (CROSSSLOT above all).
 */

import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  FAMILY_TAG_LENGTH,
  RedisStore,
  generateKey,
  ioredisAdapter,
  nodeRedisAdapter,
  type RedisScriptClient,
  type RotateResult,
  type Session,
  type SessionMetadata,
  type StoredSessionInfo,
} from '../../src/index.js';
import { CREATE, type RedisScript } from '../../src/stores/redis/scripts.js';
import { RedisCluster, type ClusterNodeAddress } from '../support/redis-cluster.js';
import { T0 } from '../support/use-case-fixtures.js';

const SESSION_TTL_MS = 3 * 86_400_000;
const LIFETIME_MS = 30 * 86_400_000;
const USER = 'cluster-user-1';
const PREFIX = 'caa:';

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

interface ClusterConnection {
  readonly scriptClient: RedisScriptClient;
  hgetall(key: string): Promise<Record<string, string>>;
  exists(key: string): Promise<boolean>;
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
      return {
        scriptClient: ioredisAdapter(client),
        hgetall: (key) => client.hgetall(key),
        exists: async (key) => (await client.exists(key)) === 1,
        flush: async () => {
          await Promise.all(client.nodes('master').map((node) => node.flushall()));
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
      return {
        scriptClient: nodeRedisAdapter(client),
        // node-redis answers a null-prototype object: copied, so that toStrictEqual compares fields only.
        hgetall: async (key) => ({ ...(await client.hGetAll(key)) }),
        exists: async (key) => (await client.exists(key)) === 1,
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

/** One script call as the client answered it. */
interface ScriptCall {
  readonly keys: readonly string[];
  error?: Error;
}

/**
 * A {@link RedisScriptClient} that records every call (its keys, its error) and can hold the next
 * call of one script back, to interleave two store calls.
 */
class ObservingScriptClient implements RedisScriptClient {
  readonly calls: ScriptCall[] = [];
  readonly #inner: RedisScriptClient;
  readonly #holds = new Map<string, { reached: () => void; released: Promise<void> }>();

  constructor(inner: RedisScriptClient) {
    this.#inner = inner;
  }

  /** Holds the next call of `script` at the client; `reached` resolves once it waits there. */
  hold(script: RedisScript): { reached: Promise<void>; release(): void } {
    let reached = (): void => {};
    let release = (): void => {};
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const hold = { reached, released };
    this.#holds.set(script.sha1, hold);
    this.#holds.set(script.source, hold);
    return { reached: reachedPromise, release };
  }

  /** Every error but NOSCRIPT (each master caches scripts on its own: the store then sends EVAL). */
  unexpectedErrors(): string[] {
    return this.calls.flatMap((call) => (call.error === undefined ? [] : [call.error.message])).filter((message) => !message.startsWith('NOSCRIPT'));
  }

  evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#record(sha1, keys, () => this.#inner.evalshaScript(sha1, keys, args));
  }

  evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#record(source, keys, () => this.#inner.evalScript(source, keys, args));
  }

  async #record(id: string, keys: readonly string[], run: () => Promise<unknown>): Promise<unknown> {
    const hold = this.#holds.get(id);
    if (hold !== undefined) {
      for (const [key, value] of this.#holds) if (value === hold) this.#holds.delete(key);
      hold.reached();
      await hold.released;
    }
    const call: ScriptCall = { keys: [...keys] };
    this.calls.push(call);
    try {
      return await run();
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

/** A first session (a login) at `at` whose apiKeys carry hash tag `tag`. */
function login(tag: string, at: number, userId = USER): Session {
  return {
    apiKey: tag + generateKey().slice(FAMILY_TAG_LENGTH),
    secretKey: generateKey(),
    userId,
    expireIn: at + SESSION_TTL_MS,
    familyId: randomBytes(16).toString('base64url'),
    issuedAt: at,
    createdAt: at,
  };
}

/** A candidate successor of `session` at `at`: same family, tag and login. */
function successorOf(session: Session, at: number): Session {
  return {
    ...session,
    apiKey: session.apiKey.slice(0, FAMILY_TAG_LENGTH) + generateKey().slice(FAMILY_TAG_LENGTH),
    secretKey: generateKey(),
    expireIn: at + SESSION_TTL_MS,
    issuedAt: at,
  };
}

function listed(head: Session, metadata: SessionMetadata = {}): StoredSessionInfo {
  return { sessionId: head.familyId, userId: head.userId, createdAt: head.createdAt, refreshedAt: head.issuedAt, expireIn: head.expireIn, metadata };
}

// ---------------------------------------------------------------------------------------------
// The suite, on each client.
// ---------------------------------------------------------------------------------------------

for (const variant of VARIANTS) {
  describe(`RedisStore: a user's sessions on a 3-master Redis Cluster, ${variant.name}`, () => {
    let connection: ClusterConnection;
    let observer: ObservingScriptClient;
    let store: RedisStore;
    let tags: string[];

    beforeEach(async () => {
      connection = await variant.connect(runningCluster().nodes);
      await connection.flush();
      observer = new ObservingScriptClient(connection.scriptClient);
      store = new RedisStore({ client: observer, clock: 'caller' });
      tags = await tagPerMaster();
    });

    afterEach(async () => {
      // Every call of the test: keys of one slot, and no error from the cluster.
      const slots = await Promise.all(observer.calls.map(async (call) => new Set(await Promise.all(call.keys.map((key) => runningCluster().keySlot(key))))));
      expect(slots.filter((set) => set.size !== 1)).toStrictEqual([]);
      expect(observer.unexpectedErrors()).toStrictEqual([]);
      expect(connection.errors).toStrictEqual([]);
      await connection.flush();
      await connection.close();
    });

    const indexKey = `${PREFIX}{u:${USER}}:i`;
    const familyKey = (session: Session): string => `${store.keyPrefix(session.apiKey)}f:${session.familyId}`;
    const tagOf = (i: number): string => tags[i % tags.length] ?? '';
    const create = (session: Session, metadata: SessionMetadata = {}, maxSessions?: number): Promise<{ evicted: string[] }> =>
      store.create(session, session.createdAt, {
        metadata,
        endsAt: session.createdAt + LIFETIME_MS,
        ...(maxSessions === undefined ? {} : { maxSessions }),
      });
    const rotate = (from: Session, at: number, next: Session = successorOf(from, at)): Promise<RotateResult> =>
      store.rotate({ apiKey: from.apiKey, familyId: from.familyId, next, now: at, signedAt: at, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS });
    const usable = async (apiKey: string, at: number): Promise<boolean> => (await store.lookup(apiKey, at)).record !== null;

    it("keeps a user's families on every master and the index on a slot of its own; lists and revokes them", async () => {
      const redis = runningCluster();
      // Four logins: one on each master, and a second on the first master's tag (one call for both).
      const [a, b, c, d] = [login(tagOf(0), T0), login(tagOf(1), T0 + 1), login(tagOf(2), T0 + 2), login(tagOf(0), T0 + 3)];
      if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error('four logins');
      for (const [i, session] of [a, b, c, d].entries()) expect(await create(session, { device: `device-${i}` })).toStrictEqual({ evicted: [] });

      const familyMasters = await Promise.all([a, b, c].map(async (session) => (await redis.masterOf(familyKey(session))).port));
      expect(new Set(familyMasters).size).toBe(3);
      expect(await redis.keySlot(indexKey)).toBe(await redis.keySlot(`{u:${USER}}`));
      expect(await connection.hgetall(indexKey)).toStrictEqual(
        Object.fromEntries([a, b, c, d].map((s) => [s.familyId, `${s.createdAt}:${s.apiKey.slice(0, FAMILY_TAG_LENGTH)}`])),
      );

      const b2 = successorOf(b, T0 + 100);
      expect(await rotate(b, T0 + 100, b2)).toStrictEqual({ outcome: 'rotated', session: b2 });
      expect(await store.listUserSessions(USER, T0 + 101)).toStrictEqual([
        listed(a, { device: 'device-0' }),
        listed(b2, { device: 'device-1' }),
        listed(c, { device: 'device-2' }),
        listed(d, { device: 'device-3' }),
      ]);

      // One by id, then all but one, then all.
      expect(await store.revokeUserSessions(USER, T0 + 200, { sessionId: b.familyId })).toStrictEqual([b.familyId]);
      for (const session of [b, b2]) {
        expect(await usable(session.apiKey, T0 + 200)).toBe(false);
        expect(await rotate(session, T0 + 201)).toStrictEqual({ outcome: 'not-found' });
      }
      expect(await store.revokeUserSessions(USER, T0 + 300, { except: a.familyId })).toStrictEqual([c.familyId, d.familyId]);
      for (const session of [c, d]) {
        expect(await usable(session.apiKey, T0 + 300)).toBe(false);
        expect(await rotate(session, T0 + 301)).toStrictEqual({ outcome: 'not-found' });
        expect(await connection.hgetall(familyKey(session))).toStrictEqual({ rv: '1', uid: USER });
      }
      const a2 = successorOf(a, T0 + 400);
      expect(await rotate(a, T0 + 400, a2)).toStrictEqual({ outcome: 'rotated', session: a2 });
      expect(await store.listUserSessions(USER, T0 + 401)).toStrictEqual([listed(a2, { device: 'device-0' })]);
      expect(await connection.hgetall(indexKey)).toStrictEqual({ [a.familyId]: `${a.createdAt}:${tagOf(0)}` });
      expect(await store.revokeUserSessions(USER, T0 + 500)).toStrictEqual([a.familyId]);
      expect(await usable(a2.apiKey, T0 + 500)).toBe(false);
      expect(await connection.exists(indexKey)).toBe(false);
      expect(await store.listUserSessions(USER, T0 + 501)).toStrictEqual([]);
    });

    it('50 concurrent ROTATEs across the masters racing a revokeUserSessions(except kept): nothing revoked keeps a live head', async () => {
      const FAMILIES = 5;
      const ROTATIONS = 10;
      const families = Array.from({ length: FAMILIES }, (_, i) => login(tagOf(i), T0 + i));
      for (const session of families) await create(session);
      const [kept] = families;
      if (kept === undefined) throw new Error('no family');

      let rotations = 0;
      let revoke: Promise<string[]> | undefined;
      const chain = async (first: Session): Promise<{ head: Session; outcomes: string[] }> => {
        let head = first;
        const outcomes: string[] = [];
        for (let i = 1; i <= ROTATIONS; i++) {
          const at = T0 + 1_000 * i;
          const next = successorOf(head, at);
          const result = await rotate(head, at, next);
          outcomes.push(result.outcome);
          if (++rotations === (FAMILIES * ROTATIONS) / 2) revoke = store.revokeUserSessions(USER, T0 + 5_500, { except: kept.familyId });
          if (result.outcome === 'rotated') head = next;
        }
        return { head, outcomes };
      };
      const [keptChain, ...revokedChains] = await Promise.all(families.map(chain));
      if (revoke === undefined || keptChain === undefined) throw new Error('the race did not run');
      expect(await revoke).toStrictEqual(families.slice(1).map((s) => s.familyId));

      expect(keptChain.outcomes).toStrictEqual(Array.from({ length: ROTATIONS }, () => 'rotated'));
      for (const { outcomes } of revokedChains) {
        const rotated = outcomes.filter((outcome) => outcome === 'rotated').length;
        expect(outcomes).toStrictEqual([...Array.from({ length: rotated }, () => 'rotated'), ...Array.from({ length: ROTATIONS - rotated }, () => 'not-found')]);
      }
      expect(revokedChains.some(({ outcomes }) => outcomes.includes('not-found'))).toBe(true);
      const at = T0 + 20_000;
      for (const [i, session] of families.slice(1).entries()) {
        const head = revokedChains[i]?.head;
        if (head === undefined) throw new Error('no chain');
        // Behind the store's back: the family is a tombstone and its last head is gone.
        expect(await connection.hgetall(familyKey(session))).toStrictEqual({ rv: '1', uid: USER });
        expect(await connection.exists(`${store.keyPrefix(head.apiKey)}s:${head.apiKey}`)).toBe(false);
        expect(await usable(head.apiKey, at)).toBe(false);
        expect(await rotate(head, at)).toStrictEqual({ outcome: 'not-found' });
      }
      expect((await connection.hgetall(familyKey(kept))).head).toBe(keptChain.head.apiKey);
      expect(await store.listUserSessions(USER, at)).toStrictEqual([listed(keptChain.head)]);
      expect(await connection.hgetall(indexKey)).toStrictEqual({ [kept.familyId]: `${kept.createdAt}:${tagOf(0)}` });
    });

    it('refuses a login whose CREATE comes after a revokeUserSessions that read its index entry; a listing meanwhile keeps the entry', async () => {
      const late = login(tagOf(1), T0);
      const held = observer.hold(CREATE);
      const creating = create(late);
      await held.reached;
      expect(await store.listUserSessions(USER, T0 + 1)).toStrictEqual([]);
      expect(Object.keys(await connection.hgetall(indexKey))).toStrictEqual([late.familyId]);
      expect(await store.revokeUserSessions(USER, T0 + 2)).toStrictEqual([]);
      held.release();
      expect(await creating).toStrictEqual({ evicted: [] });
      expect(await connection.hgetall(familyKey(late))).toStrictEqual({ rv: '1', uid: USER });
      expect(await connection.exists(`${store.keyPrefix(late.apiKey)}s:${late.apiKey}`)).toBe(false);
      expect(await usable(late.apiKey, T0 + 3)).toBe(false);
      expect(await store.listUserSessions(USER, T0 + 3)).toStrictEqual([]);
    });

    it('maxSessions 5 under 20 concurrent logins on all masters: at most 5 live, each revoked one named once', async () => {
      const LOGINS = 20;
      const logins = Array.from({ length: LOGINS }, (_, i) => login(tagOf(i), T0 + i));
      const results = await Promise.all(logins.map((session) => create(session, {}, 5)));
      const listing = await store.listUserSessions(USER, T0 + 1_000);
      expect(listing.length).toBeGreaterThanOrEqual(1);
      expect(listing.length).toBeLessThanOrEqual(5);
      expect(listing.at(-1)?.sessionId).toBe(logins.at(-1)?.familyId);
      const evicted = results.flatMap((result) => result.evicted);
      expect([...evicted, ...listing.map((s) => s.sessionId)].sort()).toStrictEqual(logins.map((s) => s.familyId).sort());
      const listedIds = new Set(listing.map((s) => s.sessionId));
      for (const session of logins) {
        expect(await usable(session.apiKey, T0 + 1_000)).toBe(listedIds.has(session.familyId));
        expect((await connection.hgetall(familyKey(session))).head !== undefined).toBe(listedIds.has(session.familyId));
      }
      expect(Object.keys(await connection.hgetall(indexKey)).sort()).toStrictEqual([...listedIds].sort());
    });
  });
}
