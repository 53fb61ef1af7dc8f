/**
 * RedisStore under faults, over a real durable redis-server (AOF, appendfsync always), through
 * ioredis and through node-redis, each configured for an outage as the README recommends.
 *
 * About twenty simulated clients refresh in a loop, each holding its current pair: on success it
 * adopts the new pair, on 503 it keeps its pair and retries later, re-signed with a fresh
 * timestamp. Meanwhile the server is frozen (SIGSTOP for ~3 s, then SIGCONT) or killed (SIGKILL)
 * and restarted on the same data. What must hold:
 * - a call that fails during the fault fails with exactly 503 `service unavailable`
 *   (`STORE_UNAVAILABLE`), never 400 or 404, and settles within `timeoutMs` plus a margin;
 * - afterwards every family has exactly one live session in Redis, and every client gets going
 *   again with the pair it holds: a refresh gives the family's live pair (its own successor, or
 *   through grace the successor of a rotation that timed out but ran on the server), and the
 *   resulting pair authenticates.
 *
 * The outage stays well inside the default grace (10 s): a predecessor presented after grace is
 * treated as reuse, by design.
 */

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  DEFAULT_GRACE_MS,
  MemoryUserRepository,
  RedisStore,
  authenticate,
  ioredisAdapter,
  issueSession,
  nodeRedisAdapter,
  refreshToken,
  signCaaHeader,
  type CreateOptions,
  type CreateResult,
  type CredentialsResponse,
  type LookupResult,
  type RevokeUserSessionsFilter,
  type StoredSessionInfo,
  type UseRequest,
  type UseResult,
  type RedisScriptClient,
  type RequestLike,
  type RotateRequest,
  type RotateResult,
  type Session,
  type SessionStore,
  type User,
} from '../../src/index.js';
import { CREATE, LOOKUP, REVOKE, ROTATE } from '../../src/stores/redis/scripts.js';
import { expectCaaError } from '../support/expect-caa-error.js';
import { allSessions, ioredisRaw, type SessionHash } from '../support/redis-inspect.js';
import { RedisServer } from '../support/redis-server.js';

/** The store's `timeoutMs` under test. */
const TIMEOUT_MS = 1_000;
/** Slack for timers and event-loop lag on a busy 2-core CI machine. */
const STORE_CALL_MARGIN_MS = 500;
/**
 * A failed refresh is one store call that timed out, after at most a fast lookup; the extra slack
 * covers that lookup. A call that waited for the thaw (3 s) or the restart would exceed this.
 */
const REFRESH_MARGIN_MS = 750;
const FAMILIES = 20;
const FREEZE_MS = 3_000;
const KILLED_MS = 1_500;
const WARMUP_MS = 1_000;
/** After the fault, the loop runs at least this long, and until every client has refreshed again. */
const MIN_AFTER_FAULT_MS = 1_500;
/** Every client must have refreshed again this soon after the fault: well inside the 10 s grace. */
const RECOVERY_DEADLINE_MS = 6_000;
const PAUSE_AFTER_SUCCESS_MS = 25;
const PAUSE_AFTER_FAILURE_MS = 100;
/** The store's default key prefix. */
const STORE_PREFIX = 'caa:';

// ---------------------------------------------------------------------------------------------
// The clients under test, configured for an outage.
// ---------------------------------------------------------------------------------------------

/**
 * ioredis for an outage: reject rather than queue, and never send a command again later.
 * - `enableOfflineQueue: false`: while disconnected, a command fails at once instead of waiting
 *   (and running after the store already answered 503).
 * - `maxRetriesPerRequest: 0`: when the connection drops, the commands in flight are rejected at
 *   once. (With `autoResendUnfulfilledCommands: false` alone they would be dropped, their promises
 *   left pending for ever.)
 * - `autoResendUnfulfilledCommands: false`: never replay a command after reconnecting.
 * - `retryStrategy`: reconnect quickly (50 ms steps, at most 500 ms).
 */
const IOREDIS_OUTAGE_OPTIONS = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
} satisfies RedisOptions;

/** node-redis reconnect delay: 50 ms steps, at most 500 ms. */
function nodeRedisReconnectDelay(retries: number): number {
  return Math.min((retries + 1) * 50, 500);
}

interface ConnectedClient {
  readonly scriptClient: RedisScriptClient;
  /** `error` events the client emitted (connection refused while the server was down, …). */
  readonly errors: () => number;
  close(): Promise<void>;
}

interface ClientVariant {
  readonly name: string;
  connect(url: string): Promise<ConnectedClient>;
}

const VARIANTS: readonly ClientVariant[] = [
  {
    name: 'ioredis',
    async connect(url) {
      let errors = 0;
      const redis = new Redis(url, IOREDIS_OUTAGE_OPTIONS);
      redis.on('error', () => errors++);
      await redis.connect();
      return {
        scriptClient: ioredisAdapter(redis),
        errors: () => errors,
        close: async () => redis.disconnect(),
      };
    },
  },
  {
    name: 'node-redis',
    async connect(url) {
      let errors = 0;
      // disableOfflineQueue: while disconnected a command fails at once, and on a dropped
      // connection every queued command is rejected rather than written after reconnecting.
      const client = createClient({
        url,
        disableOfflineQueue: true,
        socket: { reconnectStrategy: nodeRedisReconnectDelay, connectTimeout: TIMEOUT_MS },
      });
      client.on('error', () => errors++);
      await client.connect();
      return {
        scriptClient: nodeRedisAdapter(client),
        errors: () => errors,
        close: async () => client.destroy(),
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Observation: every script call the store sends, and every store call the use cases make.
// ---------------------------------------------------------------------------------------------

const SCRIPT_NAMES = new Map<string, string>([
  [LOOKUP.sha1, 'LOOKUP'],
  [CREATE.sha1, 'CREATE'],
  [ROTATE.sha1, 'ROTATE'],
  [REVOKE.sha1, 'REVOKE'],
]);
const SCRIPT_NAMES_BY_SOURCE = new Map<string, string>([
  [LOOKUP.source, 'LOOKUP'],
  [CREATE.source, 'CREATE'],
  [ROTATE.source, 'ROTATE'],
  [REVOKE.source, 'REVOKE'],
]);

interface ScriptCall {
  readonly command: 'EVALSHA' | 'EVAL';
  readonly script: string;
  readonly startedAt: number;
  settledAt: number | undefined;
  reply: unknown;
  failure: unknown;
  /** Settles (never rejects) when the client settles the call. */
  readonly done: Promise<void>;
}

/** A {@link RedisScriptClient} that records every call and its fate, even after the store gave up on it. */
class ObservedScriptClient implements RedisScriptClient {
  readonly calls: ScriptCall[] = [];
  /** Runs before a call is handed to the client (used to freeze the server at a precise moment). */
  beforeSend: ((script: string) => Promise<void>) | undefined;
  readonly #inner: RedisScriptClient;

  constructor(inner: RedisScriptClient) {
    this.#inner = inner;
  }

  evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const script = SCRIPT_NAMES.get(sha1) ?? sha1;
    return this.#observe('EVALSHA', script, () => this.#inner.evalshaScript(sha1, keys, args));
  }

  evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const script = SCRIPT_NAMES_BY_SOURCE.get(source) ?? 'unknown';
    return this.#observe('EVAL', script, () => this.#inner.evalScript(source, keys, args));
  }

  /** Calls the client has not settled yet. */
  pending(): ScriptCall[] {
    return this.calls.filter((call) => call.settledAt === undefined);
  }

  async #observe(command: 'EVALSHA' | 'EVAL', script: string, send: () => Promise<unknown>): Promise<unknown> {
    const hook = this.beforeSend;
    if (hook !== undefined) await hook(script);
    const startedAt = performance.now();
    const promise = send();
    const call: ScriptCall = {
      command,
      script,
      startedAt,
      settledAt: undefined,
      reply: undefined,
      failure: undefined,
      done: promise.then(
        (reply) => {
          call.settledAt = performance.now();
          call.reply = reply;
        },
        (failure: unknown) => {
          call.settledAt = performance.now();
          call.failure = failure;
        },
      ),
    };
    this.calls.push(call);
    return promise;
  }
}

interface StoreCall {
  readonly method: 'create' | 'lookup' | 'rotate' | 'use' | 'revoke' | 'listUserSessions' | 'revokeUserSessions';
  readonly ms: number;
  readonly error: unknown;
  readonly outcome: RotateResult['outcome'] | undefined;
}

/** A {@link SessionStore} decorator that times every call. */
class TimedStore implements SessionStore {
  readonly calls: StoreCall[] = [];
  readonly #inner: SessionStore;

  constructor(inner: SessionStore) {
    this.#inner = inner;
  }

  create(session: Session, now: number, options?: CreateOptions): Promise<CreateResult> {
    return this.#time('create', () => this.#inner.create(session, now, options));
  }

  listUserSessions(userId: string, now: number): Promise<StoredSessionInfo[]> {
    return this.#time('listUserSessions', () => this.#inner.listUserSessions(userId, now));
  }

  revokeUserSessions(userId: string, now: number, filter?: RevokeUserSessionsFilter): Promise<string[]> {
    return this.#time('revokeUserSessions', () => this.#inner.revokeUserSessions(userId, now, filter));
  }

  lookup(apiKey: string, now: number): Promise<LookupResult> {
    return this.#time('lookup', () => this.#inner.lookup(apiKey, now));
  }

  use(request: UseRequest): Promise<UseResult> {
    return this.#time('use', () => this.#inner.use(request));
  }

  rotate(request: RotateRequest): Promise<RotateResult> {
    return this.#time('rotate', () => this.#inner.rotate(request));
  }

  revoke(apiKey: string, now: number): Promise<void> {
    return this.#time('revoke', () => this.#inner.revoke(apiKey, now));
  }

  async #time<T>(method: StoreCall['method'], call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      const outcome = method === 'rotate' ? (result as RotateResult).outcome : undefined;
      this.calls.push({ method, ms: performance.now() - started, error: undefined, outcome });
      return result;
    } catch (error) {
      this.calls.push({ method, ms: performance.now() - started, error, outcome: undefined });
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Simulated clients.
// ---------------------------------------------------------------------------------------------

interface SimulatedClient {
  readonly familyId: string;
  readonly userId: string;
  apiKey: string;
  secretKey: string;
  lastTimestamp: number;
  /** performance.now() of its last successful refresh. */
  lastSuccessAt: number;
}

interface Attempt {
  readonly client: SimulatedClient;
  readonly startedAt: number;
  readonly settledAt: number;
  /** The error, or `undefined` for a success. */
  readonly error: unknown;
}

/** A request signed with the client's current pair and a timestamp it has never used before. */
function signed(client: SimulatedClient, action: string): RequestLike {
  const timestamp = Math.max(Date.now(), client.lastTimestamp + 1);
  client.lastTimestamp = timestamp;
  return {
    headers: { authorization: signCaaHeader({ action, apiKey: client.apiKey, secretKey: client.secretKey, timestamp }) },
  };
}

function adopt(client: SimulatedClient, body: CredentialsResponse<User>): void {
  client.apiKey = body.apiKey;
  client.secretKey = body.secretKey;
  client.lastSuccessAt = performance.now();
}

function makeUser(i: number): User {
  return { _id: `user-${i}`, name: `user ${i}`, gender: 'secret', avatar: null, registerAt: 0, createAt: 0 };
}

// ---------------------------------------------------------------------------------------------
// Looking at the data in Redis.
// ---------------------------------------------------------------------------------------------

/** Every session hash under the default prefix, through a fresh connection of its own. */
async function readSessions(url: string): Promise<SessionHash[]> {
  const redis = new Redis(url);
  try {
    return await allSessions(ioredisRaw(redis), STORE_PREFIX);
  } finally {
    redis.disconnect();
  }
}

/** familyId → apiKeys of its live sessions. */
function liveByFamily(sessions: readonly SessionHash[]): Map<string, string[]> {
  const families = new Map<string, string[]>();
  for (const { apiKey, fields } of sessions) {
    if (fields.st !== 'live') continue;
    const family = fields.fam ?? '';
    families.set(family, [...(families.get(family) ?? []), apiKey]);
  }
  return families;
}

async function familyHead(url: string, store: RedisStore, apiKey: string, familyId: string): Promise<string | null> {
  const redis = new Redis(url);
  try {
    return await redis.hget(`${store.keyPrefix(apiKey)}f:${familyId}`, 'head');
  } finally {
    redis.disconnect();
  }
}

/** Waits until the kernel reports the process stopped (state `T`), so that it reads nothing more. */
async function waitUntilStopped(pid: number | undefined): Promise<void> {
  if (pid === undefined) throw new Error('redis-server is not running');
  for (let i = 0; i < 200; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    await sleep(5);
  }
  throw new Error(`redis-server (pid ${pid}) did not stop`);
}

function max(values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0);
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

describe.each(VARIANTS)('RedisStore under Redis faults, through $name', (variant) => {
  let server: RedisServer;
  let connected: ConnectedClient;
  let observed: ObservedScriptClient;
  let store: TimedStore;
  let redisStore: RedisStore;
  let users: MemoryUserRepository;

  beforeAll(async () => {
    server = await RedisServer.start({ durable: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    const admin = new Redis(server.url);
    await admin.flushall();
    admin.disconnect();
    connected = await variant.connect(server.url);
    observed = new ObservedScriptClient(connected.scriptClient);
    redisStore = new RedisStore({ client: observed, timeoutMs: TIMEOUT_MS, clock: 'caller' });
    store = new TimedStore(redisStore);
    users = new MemoryUserRepository(Array.from({ length: FAMILIES }, (_, i) => makeUser(i)));
    return async () => {
      server.thaw(); // never leave a frozen server behind a failed test
      await connected.close();
    };
  });

  async function issueFamilies(count: number): Promise<SimulatedClient[]> {
    const clients: SimulatedClient[] = [];
    for (let i = 0; i < count; i++) {
      const body = await issueSession(store, makeUser(i));
      const [record] = (await readSessions(server.url)).filter((s) => s.apiKey === body.apiKey);
      const familyId = record?.fields.fam;
      if (familyId === undefined) throw new Error('the issued session is not in Redis');
      clients.push({
        familyId,
        userId: body.userId,
        apiKey: body.apiKey,
        secretKey: body.secretKey,
        lastTimestamp: 0,
        lastSuccessAt: performance.now(),
      });
    }
    return clients;
  }

  /** One client: refresh, adopt on success, keep the pair and retry later on failure. */
  async function refreshLoop(client: SimulatedClient, stop: { value: boolean }, attempts: Attempt[]): Promise<void> {
    while (!stop.value) {
      const startedAt = performance.now();
      let error: unknown;
      try {
        adopt(client, await refreshToken(store, users, signed(client, CAA_ACTIONS.refreshToken)));
      } catch (err) {
        error = err;
      }
      attempts.push({ client, startedAt, settledAt: performance.now(), error });
      await sleep((error === undefined ? PAUSE_AFTER_SUCCESS_MS : PAUSE_AFTER_FAILURE_MS) + Math.random() * 20);
    }
  }

  interface ScenarioRun {
    clients: SimulatedClient[];
    attempts: Attempt[];
    faultStart: number;
    faultEnd: number;
  }

  async function runScenario(fault: () => Promise<void>): Promise<ScenarioRun> {
    const clients = await issueFamilies(FAMILIES);
    const attempts: Attempt[] = [];
    const stop = { value: false };
    const loops = clients.map((client) => refreshLoop(client, stop, attempts));
    await sleep(WARMUP_MS);
    const faultStart = performance.now();
    await fault();
    const faultEnd = performance.now();
    await sleep(MIN_AFTER_FAULT_MS);
    while (clients.some((c) => c.lastSuccessAt < faultEnd) && performance.now() - faultEnd < RECOVERY_DEADLINE_MS) {
      await sleep(50);
    }
    stop.value = true;
    await Promise.all(loops);
    return { clients, attempts, faultStart, faultEnd };
  }

  /** The assertions every fault shares; returns the 503s for the scenario's own checks. */
  async function checkScenario(run: ScenarioRun, label: string): Promise<Attempt[]> {
    const { clients, attempts, faultStart, faultEnd } = run;
    const failures = attempts.filter((a) => a.error !== undefined);

    // Every failure, whenever it happened, is exactly 503 service unavailable: never a 400 or 404.
    for (const failure of failures) {
      await expectCaaError(Promise.reject(failure.error), 503, 'service unavailable', 'STORE_UNAVAILABLE');
    }
    expect(failures.length).toBeGreaterThan(0); // the fault did bite
    expect(failures.filter((a) => a.settledAt < faultStart)).toStrictEqual([]); // healthy before it
    // Once a client is through, it stays through.
    for (const client of clients) {
      const firstSuccessAfter = attempts.find((a) => a.client === client && a.error === undefined && a.startedAt >= faultEnd);
      expect(firstSuccessAfter, 'every client refreshed again after the fault').toBeDefined();
      if (firstSuccessAfter === undefined) continue;
      const laterFailures = failures.filter((a) => a.client === client && a.startedAt > firstSuccessAfter.settledAt);
      expect(laterFailures).toStrictEqual([]);
    }

    // No call hung: every store call settled within the timeout, every refresh within its margin.
    const storeMs = store.calls.map((c) => c.ms);
    const failedStoreMs = store.calls.filter((c) => c.error !== undefined).map((c) => c.ms);
    const failedRefreshMs = failures.map((a) => a.settledAt - a.startedAt);
    expect(max(storeMs)).toBeLessThanOrEqual(TIMEOUT_MS + STORE_CALL_MARGIN_MS);
    expect(max(failedRefreshMs)).toBeLessThanOrEqual(TIMEOUT_MS + REFRESH_MARGIN_MS);
    // A refresh is two store calls (lookup, rotate), each bounded by the timeout.
    expect(max(attempts.map((a) => a.settledAt - a.startedAt))).toBeLessThanOrEqual(2 * TIMEOUT_MS + STORE_CALL_MARGIN_MS);
    // Nor did the client leave a command hanging (no dangling promise to pile up in an outage).
    expect(observed.pending()).toStrictEqual([]);

    const lateRotations = observed.calls.filter(
      (c) =>
        c.script === 'ROTATE' &&
        c.settledAt !== undefined &&
        c.settledAt - c.startedAt > TIMEOUT_MS &&
        Array.isArray(c.reply) &&
        c.reply[0] === 'rotated',
    ).length;
    const lateCalls = observed.calls.filter(
      (c) => c.settledAt !== undefined && c.settledAt - c.startedAt > TIMEOUT_MS && c.failure === undefined,
    ).length;
    const graces = store.calls.filter((c) => c.outcome === 'grace').length;
    console.info(
      `[faults] ${variant.name} ${label}: ${attempts.length} refreshes, ${failures.length} × 503 ` +
        `(max settle ${max(failedRefreshMs).toFixed(0)} ms; ${failedStoreMs.length} store calls failed, ` +
        `max ${max(failedStoreMs).toFixed(0)} ms; slowest store call ${max(storeMs).toFixed(0)} ms), ` +
        `${lateCalls} commands ran after the store gave up (${lateRotations} rotations), ${graces} grace recoveries, ` +
        `${observed.calls.filter((c) => c.command === 'EVAL').length} EVAL fallbacks, ${connected.errors()} client error events; ` +
        `fault ${(faultEnd - faultStart).toFixed(0)} ms`,
    );

    await expectEveryFamilyRecovers(clients);
    return failures;
  }

  /**
   * Exactly one live session per family, and every client gets going again with the pair it
   * holds: a refresh gives the family's live pair, which then authenticates.
   */
  async function expectEveryFamilyRecovers(clients: SimulatedClient[]): Promise<void> {
    const familyIds = clients.map((c) => c.familyId).sort();
    const before = liveByFamily(await readSessions(server.url));
    expect([...before.keys()].sort()).toStrictEqual(familyIds);
    for (const client of clients) {
      const live = before.get(client.familyId) ?? [];
      expect(live).toHaveLength(1);
      const [liveApiKey] = live;
      if (liveApiKey === undefined) continue;
      expect(await familyHead(server.url, redisStore, liveApiKey, client.familyId)).toBe(liveApiKey);

      const held = client.apiKey;
      const body = await refreshToken(store, users, signed(client, CAA_ACTIONS.refreshToken));
      const outcome = store.calls.at(-1)?.outcome;
      if (held === liveApiKey) {
        // It holds the live pair: an ordinary rotation.
        expect(outcome).toBe('rotated');
        expect(body.apiKey).not.toBe(held);
      } else {
        // A rotation it never saw the answer to ran: grace hands it that successor.
        expect(outcome).toBe('grace');
        expect(body.apiKey).toBe(liveApiKey);
      }
      expect(body.userId).toBe(client.userId);
      adopt(client, body);
      const session = await authenticate(store, signed(client, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile);
      expect({ apiKey: session.apiKey, familyId: session.familyId, userId: session.userId }).toStrictEqual({
        apiKey: body.apiKey,
        familyId: client.familyId,
        userId: client.userId,
      });
    }
    const after = liveByFamily(await readSessions(server.url));
    expect(Object.fromEntries([...after].sort())).toStrictEqual(
      Object.fromEntries(clients.map((c) => [c.familyId, [c.apiKey]] as const).sort()),
    );
  }

  it(
    'answers 503 within the timeout while the server is frozen (SIGSTOP ~3 s), and every family recovers with one live session',
    async () => {
      expect(FREEZE_MS + RECOVERY_DEADLINE_MS).toBeLessThan(DEFAULT_GRACE_MS); // the outage stays inside grace
      const run = await runScenario(async () => {
        server.freeze();
        await sleep(FREEZE_MS);
        server.thaw();
      });
      const failures = await checkScenario(run, 'freeze');
      // A frozen server answers nothing: the store's timer is what fails these calls.
      expect(failures.every((a) => a.settledAt - a.startedAt >= TIMEOUT_MS - 50)).toBe(true);
      // Commands sent during the freeze were executed after the thaw, after the store gave up on them.
      expect(observed.calls.some((c) => c.failure === undefined && c.settledAt !== undefined && c.settledAt - c.startedAt > TIMEOUT_MS)).toBe(
        true,
      );
    },
    60_000,
  );

  it(
    'answers 503 fast while the server is killed (SIGKILL) and restarted on the same data, and every family recovers with one live session',
    async () => {
      const run = await runScenario(async () => {
        await server.kill();
        await sleep(KILLED_MS);
        await server.restart(); // same port, same AOF (appendfsync always)
      });
      const failures = await checkScenario(run, 'kill+restart');
      // The connection is refused or gone: the client itself fails the calls, long before the timer.
      const failedMs = failures.map((a) => a.settledAt - a.startedAt).sort((a, b) => a - b);
      expect(failedMs[Math.floor(failedMs.length / 2)]).toBeLessThan(TIMEOUT_MS / 2);
      // The restarted server has no cached scripts: EVALSHA answered NOSCRIPT and EVAL took over.
      expect(observed.calls.some((c) => c.command === 'EVAL' && c.failure === undefined)).toBe(true);
    },
    60_000,
  );

  it(
    'recovers through grace when a rotation times out on a frozen server but runs after the thaw',
    async () => {
      const [client] = await issueFamilies(1);
      if (client === undefined) throw new Error('no client');
      // One ordinary refresh first, so that the server has the scripts cached.
      adopt(client, await refreshToken(store, users, signed(client, CAA_ACTIONS.refreshToken)));
      const held = client.apiKey;

      let frozen = false;
      observed.beforeSend = async (script) => {
        if (script !== 'ROTATE' || frozen) return;
        frozen = true;
        server.freeze();
        await waitUntilStopped(server.pid);
      };
      const started = performance.now();
      const err = await expectCaaError(
        refreshToken(store, users, signed(client, CAA_ACTIONS.refreshToken)),
        503,
        'service unavailable',
        'STORE_UNAVAILABLE',
      );
      const elapsed = performance.now() - started;
      observed.beforeSend = undefined;
      expect(frozen).toBe(true);
      expect(err.cause).toBeInstanceOf(Error);
      expect(err.cause instanceof Error ? err.cause.message : '').toBe(`Redis call timed out after ${TIMEOUT_MS} ms`);
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThanOrEqual(TIMEOUT_MS + REFRESH_MARGIN_MS);

      // The rotation is still in the frozen server's socket; after the thaw it runs.
      const [rotation, ...others] = observed.pending();
      expect(others).toStrictEqual([]);
      expect(rotation?.script).toBe('ROTATE');
      server.thaw();
      await rotation?.done;
      expect(rotation?.failure).toBeUndefined();
      expect(Array.isArray(rotation?.reply) ? rotation.reply[0] : undefined).toBe('rotated');

      // Redis now holds a successor the client never saw; its own key is the rotated predecessor.
      const sessions = await readSessions(server.url);
      const live = liveByFamily(sessions).get(client.familyId) ?? [];
      expect(live).toHaveLength(1);
      const [successor] = live;
      expect(successor).not.toBe(held);
      const predecessor = sessions.find((s) => s.apiKey === held);
      expect({ st: predecessor?.fields.st, nx: predecessor?.fields.nx }).toStrictEqual({ st: 'rotated', nx: successor });

      // Re-signed with a fresh timestamp, its pair gets that successor (grace), which authenticates.
      const body = await refreshToken(store, users, signed(client, CAA_ACTIONS.refreshToken));
      expect(store.calls.at(-1)?.outcome).toBe('grace');
      expect(body.apiKey).toBe(successor);
      adopt(client, body);
      const session = await authenticate(store, signed(client, CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile);
      expect(session.apiKey).toBe(successor);
      expect(liveByFamily(await readSessions(server.url)).get(client.familyId)).toStrictEqual([successor]);
      expect(observed.pending()).toStrictEqual([]);
    },
    30_000,
  );
});
