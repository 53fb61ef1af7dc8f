/**
 * `npm run demo`: the first thing to run. Starts the Fastify example in this process (memory store,
 * any free port) and walks through a session's life with the library's client,
 * `createCaaClient` from `caa-auth/client`: login → profile → refresh → the old key is refused →
 * profile with the new key; then a second device of the same user, the list of devices, "log out
 * other devices" from the first (the second's next request reports LOGGED_OUT and its client
 * forgets its credentials; the first works on) →
 * logout → the logged-out key is refused. The laptop's client is on `scheme: 'auto'` and moves to
 * caa-v2 (RFC 9421 signatures) because the server offers it; the phone's is on `scheme: 'caa'`, an
 * app version from before caa-v2, and keeps the legacy header: one server takes both.
 *
 * Every step prints the request that went over the wire, its status and the scheme it was signed
 * with. Secrets are masked.
 * Exits 0 when every step behaved as the spec says, 1 otherwise.
 */

import { CAA_ACTIONS, MemoryStore, signCaaHeader, signCaaV2Request, type PublicUser } from 'caa-auth';
import {
  CAA_PATHS,
  createCaaClient,
  isCaaClientError,
  type CaaClientCredentials,
  type FetchLike,
  type SessionInfo,
} from 'caa-auth/client';
import { buildApp } from './fastify/app.js';
import { DEMO_MOBILE, DEMO_PASSWORD, DEMO_PROFILE, createDemoUsers } from './shared/users.js';

/** The first characters of a key and an ellipsis: enough to tell keys apart, never the whole secret. */
function mask(key: string): string {
  return `${key.slice(0, 6)}…`;
}

class StepFailed extends Error {}

function check(condition: boolean, expected: string): void {
  if (!condition) throw new StepFailed(`expected ${expected}`);
}

/** `value`, or a failed step when an earlier step did not produce it. */
function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new StepFailed(`expected ${what} from an earlier step`);
  return value;
}

/** What went over the wire during one step. */
interface Exchange {
  method: string;
  path: string;
  status: number;
  /** What the request was signed with, read from its headers; none for a login. */
  scheme: 'caa' | 'caa-v2' | undefined;
}

function schemeOf(headers: Headers): Exchange['scheme'] {
  if (headers.has('signature-input')) return 'caa-v2';
  return headers.has('authorization') ? 'caa' : undefined;
}

const app = await buildApp({ store: new MemoryStore(), users: await createDemoUsers(), logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;

let exchanges: Exchange[] = [];
/** `fetch` that also records each request line and status, so each step can show them. */
const recordingFetch: FetchLike = async (input, init) => {
  const response = await fetch(input, init);
  const scheme = schemeOf(new Headers(init.headers));
  exchanges.push({ method: init.method ?? 'GET', path: new URL(input).pathname, status: response.status, scheme });
  return response;
};

/**
 * The demo user's two devices: each its own client, logged in with its own device name. The laptop
 * runs a new app ('auto': caa-v2 once the server offers it), the phone an old one (the legacy header).
 */
const client = createCaaClient({ baseUrl, fetch: recordingFetch });
const phone = createCaaClient({ baseUrl, fetch: recordingFetch, scheme: 'caa' });

/** A device of the list as one line: its name, where it logged in from, and whether it is the caller. */
function describeSession(session: SessionInfo): string {
  const { device, userAgent, ip } = session.metadata;
  const since = new Date(session.createdAt).toISOString().slice(11, 19);
  return `${String(device ?? '?')} (${String(userAgent ?? '?')}, ${String(ip ?? '?')}), signed in ${since} UTC${session.current ? '  ← this device' : ''}`;
}

/** A profile request signed by hand as the laptop signs (what any client does), for a pair the client no longer holds. */
async function profileSignedWith(pair: CaaClientCredentials): Promise<{ status: number; body: unknown }> {
  const url = `${baseUrl}${CAA_PATHS.fetchMyProfile}`;
  const headers =
    client.scheme === 'caa-v2'
      ? { ...signCaaV2Request({ method: 'GET', url, apiKey: pair.apiKey, secretKey: pair.secretKey }) }
      : { authorization: signCaaHeader({ action: CAA_ACTIONS.fetchMyProfile, apiKey: pair.apiKey, secretKey: pair.secretKey }) };
  const response = await recordingFetch(url, { method: 'GET', headers });
  return { status: response.status, body: await response.json() };
}

/** `GET /api/my` through the client; the example servers answer `{ user }`. */
async function fetchProfile(): Promise<PublicUser> {
  const body = await client.request<{ user?: PublicUser }>('GET', CAA_PATHS.fetchMyProfile, {
    action: CAA_ACTIONS.fetchMyProfile,
  });
  return need(body.user, 'a body { user }');
}

function held(): CaaClientCredentials {
  return need(client.credentials ?? undefined, 'the client to hold credentials');
}

let original: CaaClientCredentials | undefined;
let rotated: CaaClientCredentials | undefined;

const steps: ReadonlyArray<readonly [title: string, run: () => Promise<string[]>]> = [
  [
    'log in with the demo user on the laptop (device "laptop")',
    async () => {
      const body = await client.login(DEMO_MOBILE, DEMO_PASSWORD, { device: 'laptop' });
      original = held();
      check(body.user.name === DEMO_PROFILE.name, `user ${DEMO_PROFILE.name}`);
      check(!('password' in body.user) && !('mobile' in body.user), 'no password or mobile in the response');
      check(client.scheme === 'caa-v2', `the laptop on caa-v2, got ${client.scheme}`);
      const hours = Math.round((body.expireIn - Date.now()) / 3_600_000);
      return [
        `apiKey ${mask(body.apiKey)}  secretKey ${mask(body.secretKey)}  userId ${body.userId}`,
        `session expires ${new Date(body.expireIn).toISOString()} (in ${hours} h)`,
        `laptop signs with caa-v2 (RFC 9421 Signature-Input/Signature): its client is on 'auto' and the server offered it (Accept-Signature)`,
      ];
    },
  ],
  [
    'read the profile',
    async () => {
      const user = await fetchProfile();
      check(user._id === DEMO_PROFILE._id, `user ${DEMO_PROFILE._id}`);
      return [`user ${user.name} (${user._id}), gender ${user.gender}`];
    },
  ],
  [
    'refresh the token',
    async () => {
      const body = await client.refresh();
      rotated = held();
      const old = need(original, 'the original pair');
      check(body.apiKey !== old.apiKey, 'a new apiKey');
      check(body.secretKey !== old.secretKey, 'a new secretKey');
      check(rotated.apiKey === body.apiKey, 'the client to hold the new pair');
      return [
        `new apiKey ${mask(body.apiKey)}  new secretKey ${mask(body.secretKey)}`,
        `old apiKey ${mask(old.apiKey)} is now dead`,
      ];
    },
  ],
  [
    'the old key is refused (profile signed by hand with the OLD pair)',
    async () => {
      const { status, body } = await profileSignedWith(need(original, 'the original pair'));
      check(status === 404, `404, got ${status}`);
      check(JSON.stringify(body) === '{"message":"apiKey not found"}', `{ "message": "apiKey not found" }, got ${JSON.stringify(body)}`);
      return [`refused as the spec says: ${JSON.stringify(body)}`];
    },
  ],
  [
    'read the profile with the new key',
    async () => {
      const user = await fetchProfile();
      check(user._id === DEMO_PROFILE._id, `user ${DEMO_PROFILE._id}`);
      check(held().apiKey === need(rotated, 'the rotated pair').apiKey, 'the request signed with the new apiKey');
      return [`user ${user.name}, signed with apiKey ${mask(held().apiKey)}`];
    },
  ],
  [
    'log in as the same user on a second device (device "phone")',
    async () => {
      const body = await phone.login(DEMO_MOBILE, DEMO_PASSWORD, { device: 'phone' });
      check(body.userId === DEMO_PROFILE._id, `user ${DEMO_PROFILE._id}`);
      check(phone.scheme === 'caa', `the phone on caa, got ${phone.scheme}`);
      const user = await phone.profile();
      check(user._id === DEMO_PROFILE._id, `user ${DEMO_PROFILE._id}`);
      return [
        `phone: apiKey ${mask(body.apiKey)}, a session of its own`,
        `phone signs with caa (the legacy Authorization: Caa header): an app from before caa-v2, scheme 'caa'`,
      ];
    },
  ],
  [
    'list the devices, from the laptop',
    async () => {
      const sessions = await client.sessions();
      const devices = sessions.map((session) => [session.metadata.device, session.current]);
      check(JSON.stringify(devices) === '[["laptop",true],["phone",false]]', `the laptop (current) and the phone, got ${JSON.stringify(devices)}`);
      return sessions.map(describeSession);
    },
  ],
  [
    'log out other devices, from the laptop',
    async () => {
      const revoked = await client.logoutOtherDevices();
      check(revoked === 1, `1 session revoked, got ${revoked}`);
      return [`${revoked} other device signed out; the laptop keeps its session`];
    },
  ],
  [
    'the phone is logged out',
    async () => {
      const profile = await phone.profile().then(
        () => 'answered',
        (err: unknown) => (isCaaClientError(err) ? `${err.code} (${err.status} ${err.message})` : String(err)),
      );
      check(profile === 'LOGGED_OUT (404 apiKey not found)', `LOGGED_OUT (404 apiKey not found), got ${profile}`);
      check(phone.credentials === null, 'the phone to drop its credentials');
      return [`phone: its next request reports ${profile}; it holds no credentials, so its app shows the login form`];
    },
  ],
  [
    'the laptop still works: its list shows only itself',
    async () => {
      const sessions = await client.sessions();
      check(sessions.length === 1 && sessions[0]?.current === true, `one session, the laptop's, got ${sessions.length}`);
      return sessions.map(describeSession);
    },
  ],
  [
    'log out',
    async () => {
      await client.logout();
      check(client.credentials === null, 'the client to drop its credentials');
      return ['session revoked; the client holds no credentials'];
    },
  ],
  [
    'the logged-out key is refused',
    async () => {
      const { status, body } = await profileSignedWith(need(rotated, 'the rotated pair'));
      check(status === 404, `404, got ${status}`);
      check(JSON.stringify(body) === '{"message":"apiKey not found"}', `{ "message": "apiKey not found" }, got ${JSON.stringify(body)}`);
      return [`refused: ${JSON.stringify(body)}`];
    },
  ],
];

console.log(`caa-auth demo: the Fastify example on ${baseUrl} (memory store), driven by createCaaClient\n`);
let failed = false;
try {
  for (const [index, [title, run]] of steps.entries()) {
    console.log(`${index + 1}. ${title}`);
    exchanges = [];
    let lines: string[] = [];
    let error: unknown;
    try {
      lines = await run();
    } catch (err) {
      error = err;
    }
    for (const { method, path, status, scheme } of exchanges) console.log(`   ${method} ${path} → ${status}${scheme === undefined ? '' : `  (${scheme})`}`);
    if (error === undefined) {
      for (const line of lines) console.log(`   ${line}`);
      console.log('   ✓ as expected\n');
      continue;
    }
    const reason =
      error instanceof StepFailed
        ? error.message
        : isCaaClientError(error)
          ? `request failed: ${error.status} ${error.message}`
          : `error: ${error instanceof Error ? error.message : String(error)}`;
    console.log(`   ✗ ${reason}\n`);
    failed = true;
    break;
  }
} finally {
  await app.close();
}

if (failed) {
  console.log('The demo did not behave as expected.');
  process.exitCode = 1;
} else {
  console.log(`All ${steps.length} steps behaved as expected. Next: npm run example:express, example:fastify or example:hono (see examples/README.md).`);
}
