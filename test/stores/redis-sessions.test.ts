/**
 * A user's sessions on RedisStore (issue 11), against a real redis-server, through ioredis and
 * node-redis: the user's index (`P{u:<userId>}:i`), listing, revoking a user's sessions, the
 * `maxSessions` limit, metadata, and `createdAt` (with records written before it existed). Every
 * test drives the store directly and reads Redis behind its back.
 */

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_ROTATION_TOLERANCE_MS,
  EXPIRED_SESSION_RETENTION_MS,
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
import { PENDING_CREATE_MS } from '../../src/stores/redis/redis-store.js';
import { CREATE, FAMILIES_READ, TRIM_BEGIN, type RedisScript } from '../../src/stores/redis/scripts.js';
import { ioredisRaw, liveSessionsInRedis, nodeRedisRaw, type RawRedis } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';
import { T0 } from '../support/use-case-fixtures.js';

const DAY_MS = 86_400_000;
const SESSION_TTL_MS = 3 * DAY_MS;
const LIFETIME_MS = 30 * DAY_MS;
const USER = 'user-sessions-1';
const OTHER_USER = 'user-sessions-2';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------
// Clients, sessions, and a client that holds one script back.
// ---------------------------------------------------------------------------------------------

interface Connection {
  readonly scriptClient: RedisScriptClient;
  readonly raw: RawRedis;
  hdel(key: string, field: string): Promise<void>;
  /** Any command, as the raw client sends it. */
  call(args: readonly string[]): Promise<unknown>;
  close(): Promise<void>;
}

interface Driver {
  readonly name: string;
  connect(port: number): Promise<Connection>;
}

const DRIVERS: readonly Driver[] = [
  {
    name: 'ioredis',
    async connect(port) {
      const client = new Redis({ port, host: '127.0.0.1' });
      await client.ping();
      return {
        scriptClient: ioredisAdapter(client),
        raw: ioredisRaw(client),
        hdel: async (key, field) => {
          await client.hdel(key, field);
        },
        call: ([command = '', ...args]) => client.call(command, ...args),
        close: async () => {
          client.disconnect();
        },
      };
    },
  },
  {
    name: 'node-redis',
    async connect(port) {
      const client = createClient({ socket: { port, host: '127.0.0.1' } });
      await client.connect();
      return {
        scriptClient: nodeRedisAdapter(client),
        raw: nodeRedisRaw(client),
        hdel: async (key, field) => {
          await client.hDel(key, field);
        },
        call: (args) => client.sendCommand([...args]),
        close: async () => {
          client.destroy();
        },
      };
    },
  },
];

/** A first session (a login) at `at`, its apiKeys on hash tag `tag` (random by default). */
function login(userId: string, at: number, options: { tag?: string; ttlMs?: number } = {}): Session {
  const key = generateKey();
  return {
    apiKey: options.tag === undefined ? key : options.tag + key.slice(FAMILY_TAG_LENGTH),
    secretKey: generateKey(),
    userId,
    expireIn: at + (options.ttlMs ?? SESSION_TTL_MS),
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

function rotate(store: RedisStore, from: Session, at: number, next: Session = successorOf(from, at)): Promise<RotateResult> {
  return store.rotate({
    apiKey: from.apiKey,
    familyId: from.familyId,
    next,
    now: at,
    signedAt: at,
    graceMs: DEFAULT_GRACE_MS,
    toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS,
  });
}

/** What the listing shows of a family whose live pair is `head`. */
function listed(head: Session, metadata: SessionMetadata = {}): StoredSessionInfo {
  return {
    sessionId: head.familyId,
    userId: head.userId,
    createdAt: head.createdAt,
    refreshedAt: head.issuedAt,
    expireIn: head.expireIn,
    metadata,
  };
}

/** Oldest login first, ties by family id: the listing's order. */
function byLogin(a: Session, b: Session): number {
  return a.createdAt - b.createdAt || (a.familyId < b.familyId ? -1 : a.familyId > b.familyId ? 1 : 0);
}

/** A hold on one script: its next call waits at the client until released. */
interface Hold {
  /** Resolves when the held call reached the client (and waits there). */
  readonly reached: Promise<void>;
  release(): void;
}

/** A {@link RedisScriptClient} that can hold the next call of a script back, to interleave two store calls. */
class HoldingScriptClient implements RedisScriptClient {
  /** Calls per script (EVALSHA by SHA-1; an EVAL after NOSCRIPT is not counted twice). */
  readonly calls = new Map<string, number>();
  readonly #inner: RedisScriptClient;
  readonly #holds = new Map<string, { reached: () => void; released: Promise<void> }>();

  constructor(inner: RedisScriptClient) {
    this.#inner = inner;
  }

  hold(script: RedisScript): Hold {
    let reached = (): void => {};
    let release = (): void => {};
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#holds.set(script.sha1, { reached, released });
    this.#holds.set(script.source, { reached, released });
    return { reached: reachedPromise, release };
  }

  async evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    this.calls.set(sha1, (this.calls.get(sha1) ?? 0) + 1);
    await this.#wait(sha1);
    return this.#inner.evalshaScript(sha1, keys, args);
  }

  async evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    await this.#wait(source);
    return this.#inner.evalScript(source, keys, args);
  }

  async #wait(id: string): Promise<void> {
    const hold = this.#holds.get(id);
    if (hold === undefined) return;
    for (const [key, value] of this.#holds) if (value === hold) this.#holds.delete(key);
    hold.reached();
    await hold.released;
  }
}

// ---------------------------------------------------------------------------------------------
// The suite, on each client.
// ---------------------------------------------------------------------------------------------

for (const driver of DRIVERS) {
  describe(`RedisStore: a user's sessions (${driver.name})`, () => {
    let connection: Connection;
    let raw: RawRedis;
    let holding: HoldingScriptClient;
    let store: RedisStore;
    let prefix: string;
    let stores = 0;

    beforeEach(async () => {
      connection = await driver.connect(server.port);
      raw = connection.raw;
      holding = new HoldingScriptClient(connection.scriptClient);
      prefix = `caa:sessions${++stores}:${driver.name}:`;
      store = new RedisStore({ client: holding, prefix, clock: 'caller' });
    });

    afterEach(async () => {
      await raw.del(await raw.scan(`${prefix}*`));
      await connection.close();
    });

    const indexKey = (userId: string): string => `${prefix}{u:${userId}}:i`;
    const familyKey = (session: Session): string => `${store.keyPrefix(session.apiKey)}f:${session.familyId}`;
    const sessionKey = (apiKey: string): string => `${store.keyPrefix(apiKey)}s:${apiKey}`;
    const indexEntry = (session: Session): string => `${session.createdAt}:${session.apiKey.slice(0, FAMILY_TAG_LENGTH)}`;
    const create = (session: Session, metadata?: SessionMetadata, maxSessions?: number): Promise<{ evicted: string[] }> =>
      store.create(session, session.createdAt, {
        ...(metadata === undefined ? {} : { metadata }),
        ...(maxSessions === undefined ? {} : { maxSessions }),
        endsAt: session.createdAt + LIFETIME_MS,
      });
    const logout = (session: Session, at: number): Promise<{ outcome: string }> =>
      store.use({
        apiKey: session.apiKey,
        familyId: session.familyId,
        now: at,
        signedAt: at,
        graceMs: DEFAULT_GRACE_MS,
        toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS,
        revoke: true,
      });
    /** Whether `apiKey` still reads as a usable record (live, or rotated within its family). */
    const usable = async (apiKey: string, at: number): Promise<boolean> => (await store.lookup(apiKey, at)).record !== null;

    it('lists three logins of one user with their metadata, oldest first, by family id (never an apiKey)', async () => {
      const phone = login(USER, T0);
      const laptop = login(USER, T0 + 1_000);
      const tablet = login(USER, T0 + 2_000);
      const stranger = login(OTHER_USER, T0 + 500);
      // Created out of order: the listing sorts by login.
      expect(await create(tablet, { device: 'tablet' })).toStrictEqual({ evicted: [] });
      expect(await create(phone, { device: 'phone', ip: '192.0.2.1' })).toStrictEqual({ evicted: [] });
      expect(await create(laptop, { device: 'laptop', userAgent: 'Firefox/128' })).toStrictEqual({ evicted: [] });
      expect(await create(stranger, { device: 'stranger' })).toStrictEqual({ evicted: [] });
      // The laptop refreshed: its live pair is the successor, its login unchanged.
      const laptop2 = successorOf(laptop, T0 + 60_000);
      expect(await rotate(store, laptop, T0 + 60_000, laptop2)).toStrictEqual({ outcome: 'rotated', session: laptop2 });

      const sessions = await store.listUserSessions(USER, T0 + 61_000);
      expect(sessions).toStrictEqual([
        listed(phone, { device: 'phone', ip: '192.0.2.1' }),
        listed(laptop2, { device: 'laptop', userAgent: 'Firefox/128' }),
        listed(tablet, { device: 'tablet' }),
      ]);
      expect(sessions[1]?.createdAt).toBe(T0 + 1_000);
      expect(sessions[1]?.refreshedAt).toBe(T0 + 60_000);
      for (const { sessionId } of sessions) expect([phone, laptop, laptop2, tablet].map((s) => s.apiKey)).not.toContain(sessionId);
      expect(await store.listUserSessions(OTHER_USER, T0 + 61_000)).toStrictEqual([listed(stranger, { device: 'stranger' })]);
      expect(await store.listUserSessions('nobody', T0 + 61_000)).toStrictEqual([]);

      // Behind the store's back: the index, the family and the session hashes.
      expect(await raw.hgetall(indexKey(USER))).toStrictEqual({
        [phone.familyId]: indexEntry(phone),
        [laptop.familyId]: indexEntry(laptop),
        [tablet.familyId]: indexEntry(tablet),
      });
      expect(await raw.hgetall(familyKey(phone))).toStrictEqual({
        head: phone.apiKey,
        uid: USER,
        cat: String(T0),
        md: JSON.stringify({ device: 'phone', ip: '192.0.2.1' }),
      });
      expect(await raw.hgetall(sessionKey(phone.apiKey))).toStrictEqual({
        st: 'live',
        sk: phone.secretKey,
        uid: USER,
        fam: phone.familyId,
        iat: String(T0),
        exp: String(phone.expireIn),
        cat: String(T0),
      });
      expect((await raw.hgetall(sessionKey(laptop2.apiKey))).cat).toBe(String(T0 + 1_000));
      expect(await store.lookup(laptop2.apiKey, T0 + 61_000)).toStrictEqual({ record: { ...laptop2, state: 'live' } });
    });

    it('keeps the index as long as its longest-lived family, and for ever once a family has no end', async () => {
      const first = login(USER, T0);
      await create(first);
      const key = indexKey(USER);
      const expected = LIFETIME_MS + EXPIRED_SESSION_RETENTION_MS;
      const pttl = await raw.pttl(key);
      expect(pttl).toBeLessThanOrEqual(expected);
      expect(pttl).toBeGreaterThan(expected - 60_000);
      // A later login with a shorter end never shortens it.
      const second = login(USER, T0 + 1_000);
      await store.create(second, second.createdAt, { endsAt: second.createdAt + DAY_MS });
      expect(await raw.pttl(key)).toBeGreaterThan(expected - 60_000);
      // A family without an end: the index no longer expires, and a bounded login after it changes nothing.
      await store.create(login(USER, T0 + 2_000), T0 + 2_000, { endsAt: Infinity });
      expect(await raw.pttl(key)).toBe(-1);
      await create(login(USER, T0 + 3_000));
      expect(await raw.pttl(key)).toBe(-1);
      expect(Object.keys(await raw.hgetall(key))).toHaveLength(4);
    });

    it('revokes every session of a user: returns the live ones, and none of their keys looks up, rotates or logs out', async () => {
      const a = login(USER, T0);
      const b = login(USER, T0 + 1);
      const c = login(USER, T0 + 2);
      const stranger = login(OTHER_USER, T0 + 3);
      for (const session of [a, b, c, stranger]) await create(session);
      const b2 = successorOf(b, T0 + 10);
      await rotate(store, b, T0 + 10, b2);
      // One that ended already (logout) is not counted as revoked.
      const d = login(USER, T0 + 4);
      await create(d);
      expect(await logout(d, T0 + 20)).toStrictEqual({ outcome: 'revoked' });

      const at = T0 + 30;
      expect(await store.revokeUserSessions(USER, at)).toStrictEqual([a.familyId, b.familyId, c.familyId]);
      for (const session of [a, b, b2, c, d]) {
        expect(await usable(session.apiKey, at), session.apiKey).toBe(false);
        expect(await rotate(store, session, at + 1)).toStrictEqual({ outcome: 'not-found' });
        expect(await logout(session, at + 2)).toStrictEqual({ outcome: 'not-found' });
      }
      for (const session of [a, b, c]) {
        expect(await liveSessionsInRedis(raw, prefix, session.familyId)).toStrictEqual([]);
        expect(await raw.hgetall(familyKey(session))).toStrictEqual({ rv: '1', uid: USER });
        const pttl = await raw.pttl(familyKey(session));
        expect(pttl).toBeLessThanOrEqual(EXPIRED_SESSION_RETENTION_MS);
        expect(pttl).toBeGreaterThan(EXPIRED_SESSION_RETENTION_MS - 60_000);
      }
      expect(await raw.type(indexKey(USER))).toBe('none');
      expect(await store.listUserSessions(USER, at)).toStrictEqual([]);
      expect(await store.revokeUserSessions(USER, at)).toStrictEqual([]);
      // Another user's session is untouched.
      expect(await store.listUserSessions(OTHER_USER, at)).toStrictEqual([listed(stranger)]);
      expect(await usable(stranger.apiKey, at)).toBe(true);
    });

    it('leaves a family that expired as it is when revoking a user: not named, and its pair still reads as expired', async () => {
      const expired = login(USER, T0, { ttlMs: 1_000 });
      const live = login(USER, T0 + 1);
      await create(expired);
      await create(live);
      const at = T0 + 2_000;
      expect(await store.revokeUserSessions(USER, at)).toStrictEqual([live.familyId]);
      expect(await store.lookup(expired.apiKey, at)).toStrictEqual({ record: { ...expired, state: 'live' } });
      expect(await rotate(store, expired, at)).toStrictEqual({ outcome: 'not-found' });
      expect(await raw.type(indexKey(USER))).toBe('none');
    });

    it('revokes all but one (except): the kept one is still listed, indexed and rotates', async () => {
      const kept = login(USER, T0);
      const others = [login(USER, T0 + 1), login(USER, T0 + 2), login(USER, T0 + 3)];
      for (const session of [kept, ...others]) await create(session);

      expect(await store.revokeUserSessions(USER, T0 + 10, { except: kept.familyId })).toStrictEqual(others.map((s) => s.familyId));
      for (const session of others) expect(await usable(session.apiKey, T0 + 10)).toBe(false);
      expect(await raw.hgetall(indexKey(USER))).toStrictEqual({ [kept.familyId]: indexEntry(kept) });
      const kept2 = successorOf(kept, T0 + 20);
      expect(await rotate(store, kept, T0 + 20, kept2)).toStrictEqual({ outcome: 'rotated', session: kept2 });
      expect(await store.listUserSessions(USER, T0 + 21)).toStrictEqual([listed(kept2)]);
      expect(await store.revokeUserSessions(USER, T0 + 22, { except: kept.familyId })).toStrictEqual([]);
    });

    it("revokes one session by id; an id not in this user's index revokes nothing", async () => {
      const a = login(USER, T0);
      const b = login(USER, T0 + 1);
      const stranger = login(OTHER_USER, T0 + 2);
      for (const session of [a, b, stranger]) await create(session);

      expect(await store.revokeUserSessions(USER, T0 + 10, { sessionId: stranger.familyId })).toStrictEqual([]);
      expect(await store.revokeUserSessions(USER, T0 + 10, { sessionId: 'no-such-family' })).toStrictEqual([]);
      expect(await store.revokeUserSessions(USER, T0 + 10, { sessionId: a.familyId, except: a.familyId })).toStrictEqual([]);
      expect(await usable(stranger.apiKey, T0 + 10)).toBe(true);
      expect(await usable(a.apiKey, T0 + 10)).toBe(true);

      expect(await store.revokeUserSessions(USER, T0 + 11, { sessionId: a.familyId })).toStrictEqual([a.familyId]);
      expect(await usable(a.apiKey, T0 + 11)).toBe(false);
      expect(await rotate(store, a, T0 + 12)).toStrictEqual({ outcome: 'not-found' });
      expect(await store.listUserSessions(USER, T0 + 12)).toStrictEqual([listed(b)]);
      expect(await raw.hgetall(indexKey(USER))).toStrictEqual({ [b.familyId]: indexEntry(b) });
      expect(await store.revokeUserSessions(USER, T0 + 13, { sessionId: a.familyId })).toStrictEqual([]);
    });

    it('50 concurrent ROTATEs racing a revokeUserSessions(except kept): nothing revoked keeps a live head, the kept family keeps its current one', async () => {
      const FAMILIES = 5;
      const ROTATIONS = 10;
      const families = Array.from({ length: FAMILIES }, (_, i) => login(USER, T0 + i));
      for (const session of families) await create(session);
      const [kept] = families;
      if (kept === undefined) throw new Error('no family');

      let rotations = 0;
      let revoke: Promise<string[]> | undefined;
      /** Rotates one family ROTATIONS times in a row; a revoked one answers not-found from then on. */
      const chain = async (first: Session): Promise<{ head: Session; outcomes: string[] }> => {
        let head = first;
        const outcomes: string[] = [];
        for (let i = 1; i <= ROTATIONS; i++) {
          const at = T0 + 1_000 * i;
          const next = successorOf(head, at);
          const result = await rotate(store, head, at, next);
          outcomes.push(result.outcome);
          // Half-way through the 50, the revocation starts, while the others are in flight.
          if (++rotations === (FAMILIES * ROTATIONS) / 2) revoke = store.revokeUserSessions(USER, T0 + 5_500, { except: kept.familyId });
          if (result.outcome === 'rotated') head = next;
        }
        return { head, outcomes };
      };
      const chains = await Promise.all(families.map(chain));
      if (revoke === undefined) throw new Error('the revocation never started');
      const revoked = await revoke;

      expect(revoked).toStrictEqual(families.slice(1).map((s) => s.familyId));
      const [keptChain, ...revokedChains] = chains;
      expect(keptChain?.outcomes).toStrictEqual(Array.from({ length: ROTATIONS }, () => 'rotated'));
      for (const { outcomes } of revokedChains) {
        // Rotated until the revocation, not-found after it: never rotated again.
        const rotated = outcomes.filter((outcome) => outcome === 'rotated').length;
        expect(outcomes).toStrictEqual([...Array.from({ length: rotated }, () => 'rotated'), ...Array.from({ length: ROTATIONS - rotated }, () => 'not-found')]);
      }
      // The revocation landed while the chains ran.
      expect(revokedChains.some(({ outcomes }) => outcomes.includes('not-found'))).toBe(true);
      const at = T0 + 20_000;
      for (const [i, session] of families.slice(1).entries()) {
        expect(await liveSessionsInRedis(raw, prefix, session.familyId)).toStrictEqual([]);
        expect(await raw.hgetall(familyKey(session))).toStrictEqual({ rv: '1', uid: USER });
        const head = revokedChains[i]?.head;
        if (head === undefined) throw new Error('no chain');
        expect(await usable(head.apiKey, at)).toBe(false);
        expect(await rotate(store, head, at)).toStrictEqual({ outcome: 'not-found' });
      }
      const keptHead = keptChain?.head;
      if (keptHead === undefined) throw new Error('no kept chain');
      expect((await liveSessionsInRedis(raw, prefix, kept.familyId)).map((s) => s.apiKey)).toStrictEqual([keptHead.apiKey]);
      expect(await raw.hgetall(familyKey(kept))).toMatchObject({ head: keptHead.apiKey, uid: USER, cat: String(kept.createdAt) });
      expect(await store.listUserSessions(USER, at)).toStrictEqual([listed(keptHead)]);
      expect(await raw.hgetall(indexKey(USER))).toStrictEqual({ [kept.familyId]: indexEntry(kept) });
    });

    it('refuses a login whose CREATE comes after a revokeUserSessions that read its index entry: it never becomes live', async () => {
      const earlier = login(USER, T0);
      await create(earlier);
      const late = login(USER, T0 + 1);
      const held = holding.hold(CREATE);
      const creating = create(late);
      await held.reached;
      // INDEX_ADD ran, CREATE waits: the revocation finds a family that does not exist yet.
      expect(await raw.hgetall(indexKey(USER))).toStrictEqual({ [earlier.familyId]: indexEntry(earlier), [late.familyId]: indexEntry(late) });
      expect(await store.revokeUserSessions(USER, T0 + 2)).toStrictEqual([earlier.familyId]);
      expect(await raw.hgetall(familyKey(late))).toStrictEqual({ rv: '1', uid: USER });
      held.release();
      expect(await creating).toStrictEqual({ evicted: [] });

      expect(await raw.type(sessionKey(late.apiKey))).toBe('none');
      expect(await raw.hgetall(familyKey(late))).toStrictEqual({ rv: '1', uid: USER });
      expect(await usable(late.apiKey, T0 + 3)).toBe(false);
      expect(await rotate(store, late, T0 + 3)).toStrictEqual({ outcome: 'not-found' });
      expect(await store.listUserSessions(USER, T0 + 3)).toStrictEqual([]);
      expect(await raw.type(indexKey(USER))).toBe('none');
    });

    it('leaves a login on its way alone when a listing runs between its INDEX_ADD and its CREATE', async () => {
      const pending = login(USER, T0);
      const held = holding.hold(CREATE);
      const creating = create(pending, { device: 'phone' });
      await held.reached;
      expect(await store.listUserSessions(USER, T0 + PENDING_CREATE_MS)).toStrictEqual([]);
      expect(await raw.hgetall(indexKey(USER))).toStrictEqual({ [pending.familyId]: indexEntry(pending) });
      expect(await raw.type(familyKey(pending))).toBe('none');
      held.release();
      expect(await creating).toStrictEqual({ evicted: [] });
      expect(await store.listUserSessions(USER, T0 + PENDING_CREATE_MS)).toStrictEqual([listed(pending, { device: 'phone' })]);
      expect(await usable(pending.apiKey, T0 + 1)).toBe(true);
    });

    it('prunes a login that has not come for PENDING_CREATE_MS, and refuses its CREATE if it comes after all', async () => {
      const stalled = login(USER, T0);
      const held = holding.hold(CREATE);
      const creating = create(stalled);
      await held.reached;
      expect(await store.listUserSessions(USER, T0 + PENDING_CREATE_MS + 1)).toStrictEqual([]);
      expect(await raw.type(indexKey(USER))).toBe('none');
      expect(await raw.hgetall(familyKey(stalled))).toStrictEqual({ rv: '1', uid: USER });
      held.release();
      expect(await creating).toStrictEqual({ evicted: [] });
      expect(await raw.type(sessionKey(stalled.apiKey))).toBe('none');
      expect(await usable(stalled.apiKey, T0 + PENDING_CREATE_MS + 2)).toBe(false);
    });

    it('maxSessions: each login beyond it revokes the oldest, never itself, and names it', async () => {
      const logins = Array.from({ length: 7 }, (_, i) => login(USER, T0 + i));
      const evicted: string[][] = [];
      for (const session of logins) evicted.push((await create(session, {}, 5)).evicted);
      expect(evicted).toStrictEqual([[], [], [], [], [], [logins[0]?.familyId], [logins[1]?.familyId]]);
      expect(await store.listUserSessions(USER, T0 + 10)).toStrictEqual(logins.slice(2).map((s) => listed(s)));
      expect(Object.keys(await raw.hgetall(indexKey(USER))).sort()).toStrictEqual(logins.slice(2).map((s) => s.familyId).sort());
      for (const session of logins.slice(0, 2)) expect(await usable(session.apiKey, T0 + 10)).toBe(false);

      // A login older than all the others (a slow clock) still is not revoked by its own limit.
      const old = login(USER, T0 - 1_000);
      expect(await create(old, {}, 5)).toStrictEqual({ evicted: [logins[2]?.familyId] });
      expect((await store.listUserSessions(USER, T0 + 10)).map((s) => s.sessionId)).toStrictEqual(
        [old, ...logins.slice(3)].map((s) => s.familyId),
      );
    });

    it('maxSessions: a login counted before the limit but created after a later login trimmed still trims', async () => {
      const a = login(USER, T0);
      await create(a, {}, 2);
      // w's INDEX_ADD counts 2 entries (within the limit); its CREATE waits while z logs in and trims.
      const w = login(USER, T0 + 1);
      const held = holding.hold(CREATE);
      const creatingW = create(w, {}, 2);
      await held.reached;
      const z = login(USER, T0 + 2);
      // z sees a and itself live, w not created yet: nothing to revoke.
      expect(await create(z, {}, 2)).toStrictEqual({ evicted: [] });
      held.release();
      // w reads the index again after its CREATE: 3 entries, 3 live, so the oldest goes.
      expect(await creatingW).toStrictEqual({ evicted: [a.familyId] });
      expect(await store.listUserSessions(USER, T0 + 3)).toStrictEqual([listed(w), listed(z)]);
    });

    it('maxSessions: one login trims at a time; one that finds the lease taken leaves it to its holder, which looks again', async () => {
      const [a, b, c, d] = [login(USER, T0), login(USER, T0 + 1), login(USER, T0 + 2), login(USER, T0 + 3)];
      await create(a, {}, 2);
      await create(b, {}, 2);
      // c takes the lease and reads a, b, c; it waits before judging them while d logs in.
      const held = holding.hold(FAMILIES_READ);
      const creatingC = create(c, {}, 2);
      await held.reached;
      expect(await raw.hgetall(`${prefix}{u:${USER}}:t`)).toStrictEqual({ owner: c.familyId });
      expect(await create(d, {}, 2)).toStrictEqual({ evicted: [] });
      expect(await raw.hgetall(`${prefix}{u:${USER}}:t`)).toStrictEqual({ owner: c.familyId, dirty: '1' });
      held.release();
      // c's first pass revokes a; d came meanwhile, so c looks again and revokes b.
      expect(await creatingC).toStrictEqual({ evicted: [a.familyId, b.familyId] });
      expect(await raw.type(`${prefix}{u:${USER}}:t`)).toBe('none');
      expect(await store.listUserSessions(USER, T0 + 4)).toStrictEqual([listed(c), listed(d)]);
    });

    it('maxSessions: a lease left by a login that failed runs out, and the next login trims', async () => {
      const logins = Array.from({ length: 4 }, (_, i) => login(USER, T0 + i));
      for (const session of logins.slice(0, 3)) await create(session, {}, 2);
      expect(await store.listUserSessions(USER, T0 + 3)).toHaveLength(2);
      // A lease whose login died mid-trim: logins leave trimming to it until it runs out.
      await connection.call(['HSET', `${prefix}{u:${USER}}:t`, 'owner', 'a-login-that-died']);
      await connection.call(['PEXPIRE', `${prefix}{u:${USER}}:t`, '200']);
      expect(await create(logins[3] ?? login(USER, T0), {}, 2)).toStrictEqual({ evicted: [] });
      expect(await store.listUserSessions(USER, T0 + 4)).toHaveLength(3);
      await new Promise((resolve) => setTimeout(resolve, 250));
      const next = login(USER, T0 + 5);
      expect(await create(next, {}, 2)).toStrictEqual({ evicted: [logins[1]?.familyId, logins[2]?.familyId] });
      expect(await store.listUserSessions(USER, T0 + 6)).toStrictEqual([listed(logins[3] ?? next), listed(next)]);
    });

    it('maxSessions under a flood of 300 concurrent logins: the index is judged a few times, not once per login', async () => {
      const LOGINS = 300;
      const logins = Array.from({ length: LOGINS }, (_, i) => login(USER, T0 + i));
      const results = await Promise.all(logins.map((session) => create(session, {}, 5)));
      const listing = await store.listUserSessions(USER, T0 + 1_000);
      expect(listing.length).toBeGreaterThanOrEqual(1);
      expect(listing.length).toBeLessThanOrEqual(5);
      const evicted = results.flatMap((result) => result.evicted);
      expect([...evicted, ...listing.map((s) => s.sessionId)].sort()).toStrictEqual(logins.map((s) => s.familyId).sort());
      // Every login counts the index after its CREATE (one call), ...
      expect(holding.calls.get(TRIM_BEGIN.sha1)).toBe(LOGINS);
      // ... and each pass reads the families once per hash tag: a pass per login would be ~LOGINS² / 2 calls.
      expect(holding.calls.get(FAMILIES_READ.sha1) ?? 0).toBeLessThan(3 * LOGINS);
    });

    it('maxSessions under 20 concurrent logins with a limit of 5: at most 5 live, listed == live, every revoked one named once, the oldest', async () => {
      const LOGINS = 20;
      const LIMIT = 5;
      const logins = Array.from({ length: LOGINS }, (_, i) => login(USER, T0 + i));
      const results = await Promise.all(logins.map((session) => create(session, { n: session.createdAt - T0 }, LIMIT)));
      const at = T0 + 1_000;

      const listing = await store.listUserSessions(USER, at);
      const liveApiKeys = new Set<string>();
      for (const session of logins) for (const { apiKey } of await liveSessionsInRedis(raw, prefix, session.familyId)) liveApiKeys.add(apiKey);
      const live = logins.filter((session) => liveApiKeys.has(session.apiKey));
      expect(live.length).toBe(liveApiKeys.size);
      expect(live.length).toBeGreaterThanOrEqual(1);
      expect(live.length).toBeLessThanOrEqual(LIMIT);
      expect(listing).toStrictEqual([...live].sort(byLogin).map((s) => listed(s, { n: s.createdAt - T0 })));
      // The newest login is never revoked by a limit above 1.
      expect(listing.at(-1)?.sessionId).toBe(logins.at(-1)?.familyId);

      const evicted = results.flatMap((result) => result.evicted);
      expect(new Set(evicted).size).toBe(evicted.length);
      expect([...evicted, ...listing.map((s) => s.sessionId)].sort()).toStrictEqual(logins.map((s) => s.familyId).sort());
      const order = new Map(logins.map((s, i) => [s.familyId, i]));
      for (const { evicted: names } of results) {
        const positions = names.map((id) => order.get(id) ?? -1);
        expect(positions).toStrictEqual([...positions].sort((x, y) => x - y));
      }
      expect(Object.keys(await raw.hgetall(indexKey(USER))).sort()).toStrictEqual(listing.map((s) => s.sessionId).sort());
      for (const session of logins) expect(await usable(session.apiKey, at)).toBe(live.includes(session));
    });

    it('maxSessions: entries of ended families are pruned rather than counted (expired at once, logged out once no login can be on its way)', async () => {
      const expiring = [login(USER, T0, { ttlMs: 1_000 }), login(USER, T0 + 1, { ttlMs: 1_000 })];
      const loggedOut = [login(USER, T0 + 2), login(USER, T0 + 3)];
      const live = [login(USER, T0 + 4)];
      for (const session of [...expiring, ...loggedOut, ...live]) expect(await create(session, {}, 5)).toStrictEqual({ evicted: [] });
      for (const session of loggedOut) expect(await logout(session, T0 + 10)).toStrictEqual({ outcome: 'revoked' });

      // 6 entries > 5: the two expired are pruned at once (their family keys are there, without a live head),
      // the two logged out (no family key: a login could still be on its way) are neither counted nor pruned.
      const sixth = login(USER, T0 + 2_000);
      expect(await store.create(sixth, T0 + 2_000, { maxSessions: 5, endsAt: T0 + LIFETIME_MS })).toStrictEqual({ evicted: [] });
      expect(Object.keys(await raw.hgetall(indexKey(USER))).sort()).toStrictEqual([...loggedOut, ...live, sixth].map((s) => s.familyId).sort());
      // Pruned, not revoked: an expired pair still reads as expired (SESSION_EXPIRED), not as unknown.
      for (const session of expiring) {
        expect(await raw.hgetall(familyKey(session))).toStrictEqual({ head: session.apiKey, uid: USER, cat: String(session.createdAt), md: '{}' });
        expect(await store.lookup(session.apiKey, T0 + 2_001)).toStrictEqual({ record: { ...session, state: 'live' } });
      }

      // Past the pending window, the logged-out entries go too; still nothing live is revoked.
      const later = T0 + PENDING_CREATE_MS + 10;
      const more = [login(USER, later), login(USER, later + 1), login(USER, later + 2)];
      const evicted: string[][] = [];
      for (const session of more) evicted.push((await create(session, {}, 5)).evicted);
      expect(evicted).toStrictEqual([[], [], []]);
      const kept = [...live, sixth, ...more];
      expect(Object.keys(await raw.hgetall(indexKey(USER))).sort()).toStrictEqual(kept.map((s) => s.familyId).sort());
      expect(await store.listUserSessions(USER, later + 3)).toStrictEqual(kept.map((s) => listed(s)));
      // One more is beyond the limit now: the oldest live one goes.
      const last = login(USER, later + 4);
      expect(await create(last, {}, 5)).toStrictEqual({ evicted: [live[0]?.familyId] });
    });

    it('at maxmemory: a login is refused whole, and revoking and listing a user still work', async () => {
      const sessions = [login(USER, T0), login(USER, T0 + 1)];
      for (const session of sessions) await create(session);
      const keysBefore = (await raw.scan(`${prefix}*`)).sort();
      await connection.call(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
      await connection.call(['CONFIG', 'SET', 'maxmemory', '1']);
      try {
        const refused = login(USER, T0 + 2);
        await expect(create(refused)).rejects.toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
        expect((await raw.scan(`${prefix}*`)).sort()).toStrictEqual(keysBefore);
        expect(await store.listUserSessions(USER, T0 + 3)).toStrictEqual(sessions.map((s) => listed(s)));
        expect(await store.revokeUserSessions(USER, T0 + 4)).toStrictEqual(sessions.map((s) => s.familyId));
        for (const session of sessions) expect(await usable(session.apiKey, T0 + 5)).toBe(false);
        expect(await store.listUserSessions(USER, T0 + 5)).toStrictEqual([]);
      } finally {
        await connection.call(['CONFIG', 'SET', 'maxmemory', '0']);
      }
    });

    it('round-trips metadata: unicode, null, numbers, booleans, an empty string, and none at all', async () => {
      const metadata: SessionMetadata = {
        device: 'Pixel 8 — 日本語 🚀',
        'user-agent.v2': 'Mozilla/5.0 "quoted" \\ back\nline',
        ip: null,
        port: 443,
        ratio: -1.5e-7,
        mobile: true,
        beta: false,
        empty: '',
      };
      const withMetadata = login(USER, T0);
      const without = login(USER, T0 + 1);
      await create(withMetadata, metadata);
      await store.create(without, without.createdAt);
      const [first, second] = await store.listUserSessions(USER, T0 + 2);
      expect(first).toStrictEqual(listed(withMetadata, metadata));
      expect(second).toStrictEqual(listed(without, {}));
      expect((await raw.hgetall(familyKey(withMetadata))).md).toBe(JSON.stringify(metadata));
      expect((await raw.hgetall(familyKey(without))).md).toBe('{}');
    });

    it("an unused successor cut short by the absolute lifetime reads as expired past its end, on Redis's clock (not as unknown)", async () => {
      const redisClock = new RedisStore({ client: connection.scriptClient, prefix, clock: 'redis' });
      const start = Date.now();
      const first = { ...login(USER, start), expireIn: start + 60_000 };
      await redisClock.create(first, start);
      // The login's lifetime ends 300 ms on: so does its successor, and its predecessor's tombstone would with it.
      const next = { ...successorOf(first, start), expireIn: start + 300 };
      expect(await redisClock.rotate({ apiKey: first.apiKey, familyId: first.familyId, next, now: start, signedAt: start, graceMs: DEFAULT_GRACE_MS, toleranceMs: DEFAULT_ROTATION_TOLERANCE_MS })).toStrictEqual({ outcome: 'rotated', session: next });
      const pttl = await raw.pttl(sessionKey(first.apiKey));
      expect(pttl).toBeGreaterThan(DEFAULT_GRACE_MS - 1_000);
      expect(pttl).toBeLessThanOrEqual(DEFAULT_GRACE_MS);
      await new Promise((resolve) => setTimeout(resolve, 400));
      const { record, now } = await redisClock.lookup(next.apiKey, Date.now());
      expect(record).toStrictEqual({ ...next, state: 'live' });
      expect(now).toBeGreaterThanOrEqual(next.expireIn);
      // Gone with its predecessor's tombstone, it reads as expired all the same.
      await raw.del([sessionKey(first.apiKey)]);
      expect((await redisClock.lookup(next.apiKey, Date.now())).record).toStrictEqual({ ...next, state: 'live' });
    });

    it('reads createdAt as issuedAt for records written before cat existed, and rotates them on', async () => {
      // A pair issued after its login (a refreshed one), as older code wrote it: no cat anywhere.
      const pair: Session = { ...login(USER, T0 + 5_000), createdAt: T0 };
      await create(pair);
      await connection.hdel(sessionKey(pair.apiKey), 'cat');
      await connection.hdel(familyKey(pair), 'cat');
      const at = T0 + 6_000;
      expect((await store.lookup(pair.apiKey, at)).record?.createdAt).toBe(T0 + 5_000);
      expect((await store.listUserSessions(USER, at))[0]?.createdAt).toBe(T0);

      // The successor inherits the old record's iat as its login; a retry within grace answers it so.
      const next = successorOf(pair, at);
      expect(await rotate(store, pair, at, next)).toStrictEqual({ outcome: 'rotated', session: next });
      expect((await raw.hgetall(sessionKey(next.apiKey))).cat).toBe(String(T0 + 5_000));
      const retry = await rotate(store, pair, at + 1);
      expect(retry).toStrictEqual({ outcome: 'grace', session: { ...next, createdAt: T0 + 5_000 } });
      // A successor written by older code has no cat either: grace and lookup read its own iat.
      await connection.hdel(sessionKey(next.apiKey), 'cat');
      expect(await rotate(store, pair, at + 2)).toStrictEqual({ outcome: 'grace', session: { ...next, createdAt: at } });
      expect((await store.lookup(next.apiKey, at + 3)).record?.createdAt).toBe(at);
    });
  });
}
