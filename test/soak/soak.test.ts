/**
 * Soak: the Fastify example (`buildApp`) on a real loopback HTTP port with a `MemoryStore` and
 * 10-second sessions, driven for 30 s by 300 concurrent clients of `caa-auth/client`
 * (`createCaaClient`, the library's own client) with a mix of profile reads, refreshes, logout +
 * re-login and abandon + re-login (a client that walks away; its session must expire on its own).
 * Bounded: about 31 s of test time, under 40 s including startup.
 *
 * Checked, from samples every 250 ms and at the end:
 * - every HTTP answer is one the flow expects — all 200, since each client makes one call at a
 *   time and so never races its own refresh — counted per route and status;
 * - no session is lost: every client still reads its profile at the end;
 * - none is duplicated: one live session per family, and the live sessions are exactly the
 *   clients' current pairs plus abandoned ones not yet expired; no logged-out pair is live;
 * - the live sessions stay bounded by the active clients while sessions expire and log out;
 * - the store holds no entry the flow did not create, and the heap grows no faster than the
 *   store's entries (nothing leaks elsewhere: sockets, clients, Fastify);
 * - `store.size` stays bounded while sessions expire: once the first window has passed, the store
 *   holds no more than what the last window created (a rotated key lives until its successor
 *   expires, a replay marker until its window closes, an expired session for the retention), so it
 *   levels off instead of growing with the total of refreshes. The store is made with a short
 *   `expiredRetentionMs` for this; the default (1 day) keeps expired sessions that long.
 *
 * The clients send over `node:http` with a keep-alive agent rather than the global `fetch`:
 * with 300 clients in this one process, undici held some of the first requests for up to ~10 s
 * before they reached the server (the server's own handling stayed under 200 ms), which made
 * their timestamps stale. That is a property of the test harness, not of the server.
 */

import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, issueSession } from 'caa-auth';
import { createCaaClient, isCaaClientError, type CaaClient, type FetchLike } from 'caa-auth/client';
import { buildApp } from '../../examples/fastify/app.js';
import { DEMO_MOBILE, DEMO_PASSWORD, DEMO_PROFILE, createDemoUsers, type DemoUsers } from '../../examples/shared/users.js';
import { seededRandom } from '../support/prng.js';

/** Concurrent clients, each with its own session (family). */
const CLIENTS = 300;
/** How long the traffic runs. */
const SOAK_MS = 30_000;
/** Session lifetime: short, so that abandoned sessions expire during the soak. */
const TTL_MS = 10_000;
/** Timestamp window, and so the life of a replay marker: short, so that markers expire during the soak. */
const SKEW_MS = 10_000;
/** How long an expired session is kept (for `SESSION_EXPIRED`): short, so that it ends during the soak. */
const RETENTION_MS = 2_000;
/** The longest any entry outlives the call that made it: session or marker lifetime plus retention. */
const ENTRY_WINDOW_MS = Math.max(TTL_MS, SKEW_MS) + RETENTION_MS;
/** Clients refresh before a call when less than this is left of their session. */
const REFRESH_AHEAD_MS = 5_000;
const SAMPLE_MS = 250;
/** Share of calls per kind; the rest are profile reads. A login costs one scrypt (~50 ms of CPU): rare. */
const P_REFRESH = 0.2;
const P_LOGOUT = 0.004;
const P_ABANDON = 0.004;
/** Answers in flight when a sample is taken move a count by at most this much (one call per client). */
const IN_FLIGHT = CLIENTS;
/** Heap one store entry may account for (a session record or a replay marker is well under 1 KiB). */
const HEAP_PER_ENTRY = 2_048;
/** Heap growth allowed whatever the entries: GC timing, JIT, buffers. */
const HEAP_SLACK = 48 * 2 ** 20;

const EXPECTED_ANSWERS = new Set([
  'POST /api/my/login 200',
  'GET /api/my 200',
  'POST /api/my/refresh-token 200',
  'DELETE /api/my/logout 200',
]);

/** The `fetch` the clients use: `node:http` over one keep-alive agent, answering a Fetch `Response`. */
function httpFetch(agent: Agent): FetchLike {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => (headers[name] = value));
      const body = typeof init.body === 'string' ? init.body : undefined;
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const req = request(input, { method: init.method ?? 'GET', headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) answerHeaders.append(name, item);
          }
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: answerHeaders }));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
}

/** Every answer the clients received, by `METHOD /path status`, and the time to each. */
class Tally {
  readonly answers = new Map<string, number>();
  readonly latencies: number[] = [];
  /** Slowest answer per route. */
  readonly slowest = new Map<string, number>();

  constructor(readonly transport: FetchLike) {}

  count(key: string): number {
    return this.answers.get(key) ?? 0;
  }

  readonly fetch: FetchLike = async (input, init) => {
    const started = performance.now();
    const response = await this.transport(input, init);
    const ms = performance.now() - started;
    this.latencies.push(ms);
    const route = `${init.method ?? 'GET'} ${new URL(input).pathname}`;
    this.slowest.set(route, Math.max(ms, this.slowest.get(route) ?? 0));
    const key = `${route} ${response.status}`;
    this.answers.set(key, this.count(key) + 1);
    return response;
  };

  percentile(q: number): number {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  }
}

interface Sample {
  /** ms since the traffic started. */
  t: number;
  size: number;
  live: number;
  heapUsed: number;
  /** Successful logins, refreshes and logouts so far. */
  logins: number;
  refreshes: number;
  logouts: number;
  /** Sessions abandoned within the last TTL_MS: they may still be live. */
  recentlyAbandoned: number;
}

const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('soak: Fastify example on HTTP, MemoryStore, 300 clients for 30 s', () => {
  let app: FastifyInstance;
  let store: MemoryStore;
  let users: DemoUsers;
  let baseUrl: string;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  /** Server-side error codes (CaaError.code), to explain an unexpected answer. */
  const serverErrors = new Map<string, number>();

  beforeAll(async () => {
    store = new MemoryStore({ expiredRetentionMs: RETENTION_MS });
    users = await createDemoUsers();
    // Every client logs in as the one demo user: the per-user bound (100 by default) would sign out the oldest.
    app = await buildApp({ store, users, useCaseOptions: { ttlMs: TTL_MS, skewMs: SKEW_MS, maxSessionsPerUser: Infinity } });
    app.addHook('onError', async (_request, _reply, err) => {
      const code = String((err as { code?: unknown }).code);
      serverErrors.set(code, (serverErrors.get(code) ?? 0) + 1);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    agent.destroy();
    await app?.close();
  });

  it('answers only what the flow expects, loses and duplicates no session, and stays bounded', async () => {
    const tally = new Tally(httpFetch(agent));
    const random = seededRandom(20_261_126);
    const failures = new Map<string, number>();
    const loggedOut = new Set<string>();
    const abandoned = new Set<string>();
    const abandonTimes: number[] = [];
    const fail = (what: string): void => {
      failures.set(what, (failures.get(what) ?? 0) + 1);
    };

    // One connection per client before the clock starts (an unknown route: no session involved).
    await Promise.all(
      Array.from({ length: CLIENTS }, () => httpFetch(agent)(`${baseUrl}/soak/warm-up`, { method: 'GET' })),
    );

    // The first sessions are issued in-process: 300 scrypt logins would take ~15 s of the budget.
    // Every later login goes over HTTP.
    const demo = await users.findById(DEMO_PROFILE._id);
    if (demo === null) throw new Error('no demo user');
    const clients: CaaClient[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const credentials = await issueSession(store, demo, { ttlMs: TTL_MS, maxSessionsPerUser: Infinity });
      clients.push(createCaaClient({ baseUrl, fetch: tally.fetch, refreshAheadMs: REFRESH_AHEAD_MS, credentials }));
    }

    const samples: Sample[] = [];
    const started = Date.now();
    const sample = (): void => {
      const now = Date.now();
      while ((abandonTimes[0] ?? now) <= now - TTL_MS) abandonTimes.shift();
      samples.push({
        t: now - started,
        size: store.size,
        live: store.liveSessions(now).length,
        heapUsed: process.memoryUsage().heapUsed,
        logins: tally.count('POST /api/my/login 200'),
        refreshes: tally.count('POST /api/my/refresh-token 200'),
        logouts: tally.count('DELETE /api/my/logout 200'),
        recentlyAbandoned: abandonTimes.length,
      });
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);

    const until = started + SOAK_MS;
    const drive = async (client: CaaClient): Promise<void> => {
      while (Date.now() < until) {
        const draw = random();
        try {
          const apiKey = client.credentials?.apiKey;
          if (apiKey === undefined) {
            await client.login(DEMO_MOBILE, DEMO_PASSWORD);
          } else if (draw < P_LOGOUT) {
            await client.logout();
            loggedOut.add(apiKey);
            await client.login(DEMO_MOBILE, DEMO_PASSWORD);
          } else if (draw < P_LOGOUT + P_ABANDON) {
            abandoned.add(apiKey);
            abandonTimes.push(Date.now());
            await client.login(DEMO_MOBILE, DEMO_PASSWORD);
          } else if (draw < P_LOGOUT + P_ABANDON + P_REFRESH) {
            await client.refresh();
          } else {
            const user = await client.profile();
            if (user._id !== DEMO_PROFILE._id) fail('profile of another user');
          }
        } catch (err) {
          fail(isCaaClientError(err) ? `${err.code} ${String(err.status)} ${err.message}` : String(err));
        }
      }
    };
    await Promise.all(clients.map(drive));
    clearInterval(sampler);
    sample();
    const soakMs = Date.now() - started;

    // Every client ends logged in (a logout is always followed by a login): all must read their profile.
    const finalProfiles = await Promise.all(
      clients.map((client) =>
        client.profile().then(
          (user) => user._id === DEMO_PROFILE._id,
          () => false,
        ),
      ),
    );
    const now = Date.now();
    const live = store.liveSessions(now);

    const calls = tally.latencies.length;
    const first = samples[0];
    const last = samples[samples.length - 1];
    if (first === undefined || last === undefined) throw new Error('no samples');
    // The heap after a collection: the lowest reading of a window, early and late in the soak.
    const floor = (from: number, to: number): number =>
      Math.min(...samples.filter((s) => s.t >= from && s.t < to).map((s) => s.heapUsed));
    const early = samples.filter((s) => s.t >= 2_000 && s.t < 8_000);
    const late = samples.filter((s) => s.t >= SOAK_MS - 6_000);
    const earlyFloor = floor(2_000, 8_000);
    const lateFloor = floor(SOAK_MS - 6_000, Number.POSITIVE_INFINITY);
    const entriesAdded = Math.max(...late.map((s) => s.size)) - Math.min(...early.map((s) => s.size));
    console.log(
      [
        `soak: ${CLIENTS} clients, ${(soakMs / 1000).toFixed(1)} s, ${calls} calls (${Math.round(calls / (soakMs / 1000))}/s), ` +
          `latency p50 ${tally.percentile(0.5).toFixed(0)} ms, p99 ${tally.percentile(0.99).toFixed(0)} ms, max ${tally.percentile(1).toFixed(0)} ms`,
        `slowest answer per route, ms: ${JSON.stringify(Object.fromEntries([...tally.slowest].map(([route, ms]) => [route, Math.round(ms)])))}`,
        `answers: ${JSON.stringify(Object.fromEntries([...tally.answers].sort()))}`,
        `client failures: ${JSON.stringify(Object.fromEntries(failures))}; server error codes: ${JSON.stringify(Object.fromEntries(serverErrors))}`,
        `live sessions: peak ${Math.max(...samples.map((s) => s.live))}, end ${live.length}; abandoned ${abandoned.size}, logged out ${loggedOut.size}`,
        `store.size: ${first.size} → ${last.size} (${((last.size - first.size) / Math.max(1, last.refreshes)).toFixed(2)} per refresh)`,
        `heapUsed floor: ${MiB(earlyFloor)} (t 2–8 s) → ${MiB(lateFloor)} (last 6 s), ${entriesAdded} entries added in between`,
        ...samples
          .filter((_, i) => i % 20 === 0)
          .map((s) => `  t=${(s.t / 1000).toFixed(1)}s size=${s.size} live=${s.live} heap=${MiB(s.heapUsed)} refreshes=${s.refreshes}`),
      ].join('\n'),
    );

    // 1. Only expected answers, and enough traffic of each kind for the soak to mean something.
    expect(Object.fromEntries(failures)).toEqual({});
    expect([...tally.answers.keys()].filter((key) => !EXPECTED_ANSWERS.has(key))).toEqual([]);
    expect(tally.count('POST /api/my/refresh-token 200')).toBeGreaterThan(CLIENTS);
    expect(tally.count('GET /api/my 200')).toBeGreaterThan(CLIENTS);
    expect(loggedOut.size).toBeGreaterThan(0);
    expect(abandoned.size).toBeGreaterThan(0);

    // 2. No session lost.
    expect(finalProfiles.filter((ok) => !ok)).toHaveLength(0);

    // 3. None duplicated: one live session per family; the clients' pairs are live, each in its
    //    own family; any other live session is an abandoned one that has not expired yet.
    const perFamily = new Map<string, number>();
    for (const session of live) perFamily.set(session.familyId, (perFamily.get(session.familyId) ?? 0) + 1);
    expect([...perFamily.values()].filter((n) => n !== 1)).toEqual([]);
    const liveByKey = new Map(live.map((session) => [session.apiKey, session]));
    const clientKeys = clients.map((client) => client.credentials?.apiKey ?? 'none');
    expect(clientKeys.filter((key) => !liveByKey.has(key))).toEqual([]);
    expect(new Set(clientKeys.map((key) => liveByKey.get(key)?.familyId)).size).toBe(CLIENTS);
    const held = new Set(clientKeys);
    const strays = live.filter((session) => !held.has(session.apiKey) && !abandoned.has(session.apiKey));
    expect(strays).toEqual([]);
    expect([...loggedOut].filter((apiKey) => liveByKey.has(apiKey))).toEqual([]);

    // 4. The live sessions stay bounded by the active clients: abandoned sessions expire on time.
    for (const s of samples) {
      expect(s.live, `live sessions at t=${s.t} ms`).toBeLessThanOrEqual(CLIENTS + s.recentlyAbandoned + P_ABANDON * IN_FLIGHT + 5);
    }

    // 5. The store holds nothing the flow did not create: 2 entries per login (session, family),
    //    2 per refresh (successor, replay marker), minus what logouts removed.
    for (const s of samples) {
      const created = 2 * (CLIENTS + s.logins + s.refreshes) + 2 * IN_FLIGHT;
      expect(s.size, `store.size at t=${s.t} ms`).toBeLessThanOrEqual(created);
    }

    // 6. store.size is bounded by the last window's work, not by all the work so far. Each login and
    //    each refresh adds at most 2 entries (session and family, or successor and replay marker);
    //    a sweep runs at the latest after as many writes as the store held, so expired entries may
    //    stay for up to one more store's worth: hence the factor 2 and the sweep minimum.
    const sampleAt = (t: number): Sample | undefined => samples.filter((x) => x.t <= t).at(-1);
    let windowsChecked = 0;
    for (const s of samples.filter((x) => x.t >= 2 * ENTRY_WINDOW_MS)) {
      const before = sampleAt(s.t - 2 * ENTRY_WINDOW_MS);
      if (before === undefined) continue;
      const madeInWindow = 2 * (s.logins - before.logins) + 2 * (s.refreshes - before.refreshes) + 2 * IN_FLIGHT;
      expect(s.size, `store.size at t=${s.t} ms`).toBeLessThanOrEqual(2 * (2 * CLIENTS + madeInWindow) + 1_024);
      windowsChecked++;
    }
    expect(windowsChecked).toBeGreaterThan(0);
    expect(last.size).toBeLessThan(2 * (last.refreshes + last.logins));

    // 7. The heap grows no faster than the store's entries: no leak outside the store.
    expect(lateFloor - earlyFloor).toBeLessThanOrEqual(entriesAdded * HEAP_PER_ENTRY + HEAP_SLACK);
  }, 60_000);
});
