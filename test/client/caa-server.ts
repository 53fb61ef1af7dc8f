/**
 * A small real HTTP server for the client tests: plain `node:http` over the library's server side
 * (MemoryStore, MemoryUserRepository, issueSession, refreshToken, authenticate, revokeSession, and
 * the session-management endpoints of the examples: listSessions, revokeUserSession,
 * revokeUserSessions; a login's `device` is recorded in the session's metadata), with
 * an injectable clock (also sent as the `Date` header), a log of every request it answered, canned
 * answers (a 500, a redirect) and `Date` headers of the test's choosing.
 *
 * With `caaV2` on, it also accepts the `caa-v2` profile, checked by the test's own verifier
 * (caa-v2-verifier.ts: node:crypto and the spec, nothing of the library); a verified request is then
 * handed to the library's use cases as the legacy header of the same pair, action and time, so
 * rotation, grace and reuse detection stay the library's. With `'advertise'`, login and refresh
 * answers carry `Accept-Signature` (spec §4).
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CAA_ACTIONS,
  MemoryStore,
  MemoryUserRepository,
  authenticate,
  isCaaError,
  issueSession,
  listSessions,
  parseCaaHeader,
  refreshToken,
  signCaaHeader,
  revokeSession,
  revokeUserSession,
  revokeUserSessions,
  toPublicUser,
  type CredentialsResponse,
  type RequestLike,
  type User,
} from '../../src/index.js';
import { ACCEPT_SIGNATURE, V2Refusal, parseSignatureInput, verifyCaaV2 } from './caa-v2-verifier.js';

export const TEST_USER: User = {
  _id: '59573c395c2960da1aa83a08',
  registerAt: 1498889273883,
  createAt: 1498889273883,
  avatar: null,
  gender: 'secret',
  name: 'PeckZeg892',
  mobile: '13000000000',
  password: 'correct horse',
};

/** A second user, whose sessions the first must not be able to revoke. */
export const OTHER_USER: User = {
  _id: '59573c395c2960da1aa83a0a',
  registerAt: 1498889273883,
  createAt: 1498889273883,
  avatar: null,
  gender: 'female',
  name: 'Ann',
  mobile: '13000000001',
  password: 'battery staple',
};

/** The path of the session-management endpoints. */
export const MY_SESSIONS = '/api/my/sessions';

/** One request the server answered. */
export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The server's CaaError code, which never travels on the wire. */
  readonly code: string | undefined;
  readonly authorization: string | undefined;
  /** The apiKey of the Caa header, or the keyid of a `caa-v2` signature, when it parsed. */
  readonly apiKey: string | undefined;
  /** The timestamp of the Caa header, when it parsed. */
  readonly timestamp: number | undefined;
  readonly signatureInput: string | undefined;
  readonly signature: string | undefined;
  readonly contentDigest: string | undefined;
  readonly contentType: string | undefined;
  /** `created` and `nonce` of a `caa-v2` signature, when it parsed. */
  readonly created: number | undefined;
  readonly nonce: string | undefined;
  /** The request body exactly as received. */
  readonly body: Buffer;
  /** The `Accept-Signature` the answer carried. */
  readonly acceptSignature: string | undefined;
}

/** Off: only the legacy header. Accept: `caa-v2` verified too. Advertise: and said so on login and refresh. */
/**
 * The library judges only the legacy header here: this server checks caa-v2 with the test's own
 * verifier and hands the library the equivalent legacy header (a legacy-only server when off).
 */
const LEGACY_ONLY = ['caa'] as const;

export type CaaV2Mode = 'off' | 'accept' | 'advertise';

export interface TestServerOptions {
  /** The server's clock; also what its `Date` header says. Default `Date.now`. */
  readonly now?: () => number;
  /** Lifetime of sessions issued at login, ms. Default the library's (3 days). */
  readonly loginTtlMs?: number;
  /** Replay protection on GET /api/my and logout too (refresh always has it). Default true. */
  readonly replayProtection?: boolean;
  /** Delay before a refresh is handled, ms, to keep it in flight. Default 0. */
  readonly refreshDelayMs?: number;
  /** The `caa-v2` profile; default `'off'` (a server that knows only the legacy header). */
  readonly caaV2?: CaaV2Mode;
}

/** What {@link TestServer.answerNext} answers instead of handling the request. */
export interface CannedAnswer {
  readonly status: number;
  /** Sent as JSON when given. */
  readonly body?: unknown;
  /** Extra response headers, e.g. `location`. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TestServer {
  readonly url: string;
  /** TCP connections accepted so far (a server that must receive nothing keeps 0). */
  readonly connections: () => number;
  readonly store: MemoryStore;
  readonly users: MemoryUserRepository;
  readonly log: LoggedRequest[];
  readonly now: () => number;
  /** Requests to `path` in the log. */
  requests(method: string, path: string): LoggedRequest[];
  /** Issues a session directly (as a login would), on the server's clock. */
  issue(ttlMs?: number): Promise<CredentialsResponse>;
  /** Issues a session of `user` directly, with `metadata`, on the server's clock. */
  issueFor(user: User, metadata?: Record<string, string>): Promise<CredentialsResponse>;
  /** After handling the next request to this path, destroy the connection instead of answering. */
  dropNextResponse(path: string): void;
  /** Answer the next request to this path with `answer`, without handling it (the store is not touched). */
  answerNext(path: string, answer: CannedAnswer): void;
  /** `Date` header values for the next responses, one each, in order (then the clock's again). */
  sendDates(...dates: string[]): void;
  /** Changes the `caa-v2` mode from the next request on. */
  setCaaV2(mode: CaaV2Mode): void;
  close(): Promise<void>;
}

function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(raw: Buffer): unknown {
  return raw.length === 0 ? undefined : (JSON.parse(raw.toString('utf8')) as unknown);
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

type HeaderParts = Pick<LoggedRequest, 'apiKey' | 'timestamp' | 'created' | 'nonce'>;

function headerParts(authorization: string | undefined, signatureInput: string | undefined): HeaderParts {
  const parts: { apiKey?: string | undefined; timestamp?: number | undefined; created?: number | undefined; nonce?: string | undefined } = {};
  try {
    ({ apiKey: parts.apiKey, timestamp: parts.timestamp } = parseCaaHeader(authorization));
  } catch {
    // Not a legacy header.
  }
  if (signatureInput !== undefined) {
    try {
      const { params } = parseSignatureInput(signatureInput);
      const [keyid, created, nonce] = [params.get('keyid'), params.get('created'), params.get('nonce')];
      if (typeof keyid === 'string') parts.apiKey ??= keyid;
      if (typeof created === 'number') parts.created = created;
      if (typeof nonce === 'string') parts.nonce = nonce;
    } catch {
      // Not a caa-v2 signature.
    }
  }
  return { apiKey: parts.apiKey, timestamp: parts.timestamp, created: parts.created, nonce: parts.nonce };
}

/**
 * How a route reaches the library's use cases: the request itself (legacy), or, for a verified
 * `caa-v2` request, the legacy header of the same pair, action and time; its replay check was the
 * verifier's (keyid + nonce).
 */
interface Caller {
  request(action: string): RequestLike;
  readonly v2: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startCaaServer(options: TestServerOptions = {}): Promise<TestServer> {
  const now = options.now ?? Date.now;
  const replayProtection = options.replayProtection ?? true;
  const store = new MemoryStore();
  const users = new MemoryUserRepository([TEST_USER, OTHER_USER]);
  const log: LoggedRequest[] = [];
  let dropPath: string | null = null;
  const canned = new Map<string, CannedAnswer>();
  const dates: string[] = [];
  let connections = 0;
  let caaV2: CaaV2Mode = options.caaV2 ?? 'off';
  const seenNonces = new Set<string>();

  /** The caller of a request: verified here when it carries a `caa-v2` signature and the profile is on. */
  async function callerOf(req: IncomingMessage, raw: Buffer, path: string): Promise<Caller> {
    const legacy: Caller = { request: () => req, v2: false };
    if (caaV2 === 'off' || (req.headers['signature-input'] === undefined && req.headers['signature'] === undefined)) return legacy;
    const method = req.method ?? '';
    // As the routes below: refresh and the session DELETEs always, the rest as configured.
    const replayChecked = path === '/api/my/refresh-token' || (method === 'DELETE' && path.startsWith(MY_SESSIONS)) || replayProtection;
    let secretKey = '';
    const verified = await verifyCaaV2(
      { method, target: req.url ?? '/', headers: req.headers, body: raw },
      {
        now: now(),
        secretKeyOf: async (apiKey) => {
          const { record } = await store.lookup(apiKey, now());
          secretKey = record?.secretKey ?? '';
          return record?.secretKey;
        },
        replayed: (apiKey, nonce) => {
          if (!replayChecked) return false;
          const key = `${apiKey} ${nonce}`;
          if (seenNonces.has(key)) return true;
          seenNonces.add(key);
          return false;
        },
      },
    );
    return {
      v2: true,
      request: (action) => ({
        headers: { authorization: signCaaHeader({ action, apiKey: verified.apiKey, secretKey, timestamp: verified.created * 1000 }) },
      }),
    };
  }

  async function route(req: IncomingMessage, raw: Buffer, caller: Caller): Promise<{ status: number; body: unknown }> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const key = `${req.method ?? ''} ${path}`;
    // A caa-v2 request's replay check was made by the verifier.
    const replay = (on: boolean): boolean => on && !caller.v2;
    switch (key) {
      case 'POST /api/my/login': {
        const body = json(raw) as { mobile?: unknown; password?: unknown; device?: unknown } | undefined;
        const user = await users.find((u) => u.mobile === body?.mobile && u.password === body?.password);
        if (user === null) return { status: 401, body: { message: 'invalid mobile or password' } };
        const ttl = options.loginTtlMs === undefined ? {} : { ttlMs: options.loginTtlMs };
        const metadata = typeof body?.device === 'string' ? { device: body.device } : {};
        return { status: 200, body: await issueSession(store, user, { now, metadata, ...ttl }) };
      }
      case 'GET /api/my': {
        const action = CAA_ACTIONS.fetchMyProfile;
        const session = await authenticate(store, caller.request(action), action, { now, schemes: LEGACY_ONLY, replayProtection: replay(replayProtection) });
        const user = await users.findById(session.userId);
        if (user === null) return { status: 404, body: { message: 'user not found' } };
        return { status: 200, body: { user: toPublicUser(user) } };
      }
      case 'PUT /api/my': {
        // Echoes the body it verified, so that a test sees what the server parsed.
        const action = CAA_ACTIONS.updateMyProfile;
        await authenticate(store, caller.request(action), action, { now, schemes: LEGACY_ONLY, replayProtection: replay(replayProtection) });
        return { status: 200, body: { received: json(raw) } };
      }
      case 'POST /api/my/refresh-token': {
        if (options.refreshDelayMs !== undefined) await sleep(options.refreshDelayMs);
        const request = caller.request(CAA_ACTIONS.refreshToken);
        return { status: 200, body: await refreshToken(store, users, request, { now, schemes: LEGACY_ONLY, replayProtection: replay(true) }) };
      }
      case 'DELETE /api/my/logout':
        await revokeSession(store, caller.request(CAA_ACTIONS.logout), { now, schemes: LEGACY_ONLY, replayProtection: replay(replayProtection) });
        return { status: 200, body: { message: 'ok' } };
      case `GET ${MY_SESSIONS}`: {
        const action = CAA_ACTIONS.listMySessions;
        const session = await authenticate(store, caller.request(action), action, { now, schemes: LEGACY_ONLY, replayProtection: replay(replayProtection) });
        return { status: 200, body: { sessions: await listSessions(store, session.userId, { now, current: session }) } };
      }
      case `DELETE ${MY_SESSIONS}`: {
        const action = CAA_ACTIONS.revokeMyOtherSessions;
        const session = await authenticate(store, caller.request(action), action, { now, schemes: LEGACY_ONLY, replayProtection: replay(true) });
        return { status: 200, body: { message: 'ok', revoked: await revokeUserSessions(store, session.userId, { now, except: session }) } };
      }
      default: {
        if (req.method === 'DELETE' && path.startsWith(`${MY_SESSIONS}/`)) {
          const action = CAA_ACTIONS.revokeMySession;
          const session = await authenticate(store, caller.request(action), action, { now, schemes: LEGACY_ONLY, replayProtection: replay(true) });
          const id = decodeURIComponent(path.slice(MY_SESSIONS.length + 1));
          if (await revokeUserSession(store, session.userId, id, { now })) return { status: 200, body: { message: 'ok' } };
          return { status: 404, body: { message: 'session not found' } };
        }
        return { status: 404, body: { message: 'not found' } };
      }
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const authorization = req.headers.authorization;
    const signatureInput = one(req.headers['signature-input']);
    const raw = await readRaw(req);
    let status: number;
    let body: unknown;
    let code: string | undefined;
    const answer = canned.get(path);
    canned.delete(path);
    try {
      if (answer === undefined) ({ status, body } = await route(req, raw, await callerOf(req, raw, path)));
      else ({ status, body } = answer);
    } catch (err) {
      if (err instanceof V2Refusal) {
        ({ status, code } = err);
        body = { message: err.message };
      } else {
        if (!isCaaError(err)) throw err;
        status = err.status;
        body = err.toJSON();
        code = err.code;
      }
    }
    const advertised = answer === undefined && caaV2 === 'advertise' && status === 200 && (path === '/api/my/login' || path === '/api/my/refresh-token');
    const acceptSignature = advertised ? ACCEPT_SIGNATURE : undefined;
    log.push({
      method: req.method ?? '',
      path,
      status,
      code,
      authorization,
      ...headerParts(authorization, signatureInput),
      signatureInput,
      signature: one(req.headers['signature']),
      contentDigest: one(req.headers['content-digest']),
      contentType: one(req.headers['content-type']),
      body: raw,
      acceptSignature,
    });
    if (dropPath === path) {
      dropPath = null;
      req.socket.destroy();
      return;
    }
    res.statusCode = status;
    res.setHeader('Date', dates.shift() ?? new Date(now()).toUTCString());
    if (acceptSignature !== undefined) res.setHeader('Accept-Signature', acceptSignature);
    for (const [name, value] of Object.entries(answer?.headers ?? {})) res.setHeader(name, value);
    if (body === undefined) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ message: String(err) }));
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    store,
    users,
    log,
    now,
    requests: (method, path) => log.filter((entry) => entry.method === method && entry.path === path),
    issue: (ttlMs) => issueSession(store, TEST_USER, ttlMs === undefined ? { now } : { now, ttlMs }),
    issueFor: (user, metadata = {}) => issueSession(store, user, { now, metadata }),
    dropNextResponse: (path) => {
      dropPath = path;
    },
    answerNext: (path, cannedAnswer) => {
      canned.set(path, cannedAnswer);
    },
    sendDates: (...values) => {
      dates.push(...values);
    },
    setCaaV2: (mode) => {
      caaV2 = mode;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}

/** The four credential fields of a login or refresh response. */
export function pair(response: CredentialsResponse): {
  apiKey: string;
  secretKey: string;
  userId: string;
  expireIn: number;
} {
  return { apiKey: response.apiKey, secretKey: response.secretKey, userId: response.userId, expireIn: response.expireIn };
}
