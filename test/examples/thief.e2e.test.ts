/**
 * Rotation against a thief, over real HTTP against the Express, Fastify and Hono example servers,
 * with the owner on `caa-auth/client` (issue 9, findings 1 and 2):
 *
 * - thief-follow: the thief holds a copy of the owner's pair and polls `GET /api/my` with it every
 *   10 ms, 100 ms or 1 s; the first 404 tells it the owner refreshed, and it refreshes with the old
 *   pair at once. Before the fix it was handed the owner's new pair every time (grace). Now grace
 *   ends at the successor's first verified use, which the owner's client makes right after its
 *   refresh, so the thief ends without a working pair; the owner keeps working.
 * - logout after the thief refreshed first: the owner's logout is signed with the rotated-away pair
 *   and still revokes the family, so the thief's pair answers 404 afterwards.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAA_ACTIONS, signCaaHeader } from 'caa-auth';
import { createCaaClient } from 'caa-auth/client';
import { DEMO_MOBILE, DEMO_PASSWORD } from '../../examples/shared/users.js';
import { ExampleServer, call, type Framework, type Reply } from './example-process.js';

const TRIALS = 100;
/** Parallel trials per polling interval: each trial is its own login (its own family). */
const PARALLEL: Record<number, number> = { 10: 4, 100: 20, 1_000: 50 };
/** Minimum thief-free trials of 100 the issue asks for, per polling interval. */
const REQUIRED: Record<number, number> = { 10: 95, 100: 99, 1_000: 99 };
/** A thief that saw no rotation by then gives up (it never does: the owner refreshes within 2 intervals). */
const THIEF_DEADLINE_MS = 10_000;

interface Pair {
  readonly apiKey: string;
  readonly secretKey: string;
}

function signed(server: ExampleServer, method: string, path: string, action: string, pair: Pair): Promise<Reply> {
  const authorization = signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey });
  return call(server.baseUrl, method, path, method === 'POST' ? { authorization, form: '' } : { authorization });
}

function pairOf(body: unknown): Pair | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { apiKey, secretKey } = body as Record<string, unknown>;
  return typeof apiKey === 'string' && typeof secretKey === 'string' ? { apiKey, secretKey } : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface TrialResult {
  /** The thief held a pair that answered 200 on `GET /api/my` at the end. */
  thiefWorks: boolean;
  /** The owner's profile answered after the trial. */
  ownerWorks: boolean;
  /** What the thief's refresh was answered. */
  thiefRefresh: number | undefined;
}

/** One trial: a login, a thief polling with a copy of the pair, the owner refreshing then using the new pair. */
async function trial(server: ExampleServer, intervalMs: number): Promise<TrialResult> {
  // A legacy client (the clients in the field): under caa-v2 the thief's legacy header would be refused outright.
  const owner = createCaaClient({ baseUrl: server.baseUrl, scheme: 'caa' });
  await owner.login(DEMO_MOBILE, DEMO_PASSWORD);
  const credentials = owner.credentials;
  if (credentials === null) throw new Error('login left no credentials');
  const stolen: Pair = { apiKey: credentials.apiKey, secretKey: credentials.secretKey };

  let thiefPair: Pair | undefined;
  let thiefRefresh: number | undefined;
  const thief = (async () => {
    const deadline = Date.now() + THIEF_DEADLINE_MS;
    while (Date.now() < deadline) {
      const poll = await signed(server, 'GET', '/api/my', CAA_ACTIONS.fetchMyProfile, stolen);
      if (poll.status === 404) {
        // A rotation: refresh with the old pair at once, hoping for the owner's new one.
        const refreshed = await signed(server, 'POST', '/api/my/refresh-token', CAA_ACTIONS.refreshToken, stolen);
        thiefRefresh = refreshed.status;
        thiefPair = refreshed.status === 200 ? pairOf(refreshed.body) : undefined;
        return;
      }
      await sleep(intervalMs);
    }
  })();

  // The owner refreshes at a random point within two polling intervals, then uses the new pair.
  await sleep(Math.random() * 2 * intervalMs);
  await owner.refresh();
  await owner.profile();
  await thief;

  const thiefWorks =
    thiefPair !== undefined && (await signed(server, 'GET', '/api/my', CAA_ACTIONS.fetchMyProfile, thiefPair)).status === 200;
  const ownerWorks = await owner.profile().then(
    () => true,
    () => false,
  );
  return { thiefWorks, ownerWorks, thiefRefresh };
}

function defineThiefSuite(framework: Framework): void {
  describe(`${framework} example: a thief with a copy of the pair`, () => {
    let server: ExampleServer | undefined;

    beforeAll(async () => {
      server = await ExampleServer.start(framework);
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
    });

    for (const intervalMs of [10, 100, 1_000]) {
      it(`polling every ${intervalMs} ms ends without a working pair in at least ${REQUIRED[intervalMs]} of ${TRIALS} trials, and the owner keeps working`, async () => {
        if (server === undefined) throw new Error('no server');
        const results: TrialResult[] = [];
        const parallel = PARALLEL[intervalMs] ?? 10;
        for (let done = 0; done < TRIALS; done += parallel) {
          const batch = Array.from({ length: Math.min(parallel, TRIALS - done) }, () => trial(server as ExampleServer, intervalMs));
          results.push(...(await Promise.all(batch)));
        }
        const thiefFree = results.filter((result) => !result.thiefWorks).length;
        const refreshAnswers = results.reduce<Record<string, number>>((counts, result) => {
          const key = String(result.thiefRefresh);
          counts[key] = (counts[key] ?? 0) + 1;
          return counts;
        }, {});
        console.log(
          `[thief] ${framework} every ${intervalMs} ms: ${thiefFree}/${TRIALS} trials left the thief without a working pair; ` +
            `thief refresh answered ${JSON.stringify(refreshAnswers)}`,
        );
        expect(thiefFree).toBeGreaterThanOrEqual(REQUIRED[intervalMs] ?? TRIALS);
        // The owner is never logged out by a thief who got nothing (no reuse was made after grace).
        for (const result of results) if (!result.thiefWorks) expect(result.ownerWorks).toBe(true);
      }, 180_000);
    }

    it('logout signed with the rotated-away pair, after the thief refreshed first, logs the thief out', async () => {
      if (server === undefined) throw new Error('no server');
      // A legacy client (the clients in the field): under caa-v2 the thief's legacy header would be refused outright.
  const owner = createCaaClient({ baseUrl: server.baseUrl, scheme: 'caa' });
      await owner.login(DEMO_MOBILE, DEMO_PASSWORD);
      const credentials = owner.credentials;
      if (credentials === null) throw new Error('login left no credentials');

      const refreshed = await signed(server, 'POST', '/api/my/refresh-token', CAA_ACTIONS.refreshToken, credentials);
      expect(refreshed.status).toBe(200);
      const thiefPair = pairOf(refreshed.body);
      if (thiefPair === undefined) throw new Error('no pair');
      expect((await signed(server, 'GET', '/api/my', CAA_ACTIONS.fetchMyProfile, thiefPair)).status).toBe(200);

      await owner.logout();
      expect(owner.credentials).toBeNull();
      const after = await signed(server, 'GET', '/api/my', CAA_ACTIONS.fetchMyProfile, thiefPair);
      expect({ status: after.status, body: after.body }).toStrictEqual({ status: 404, body: { message: 'apiKey not found' } });
      const thiefRefresh = await signed(server, 'POST', '/api/my/refresh-token', CAA_ACTIONS.refreshToken, thiefPair);
      expect({ status: thiefRefresh.status, body: thiefRefresh.body }).toStrictEqual({ status: 404, body: { message: 'apiKey not found' } });
    });
  });
}

defineThiefSuite('express');
defineThiefSuite('fastify');
defineThiefSuite('hono');
