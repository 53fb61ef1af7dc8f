/**
 * A small real HTTP server for the client tests: plain `node:http` over the library's server side
 * (MemoryStore, MemoryUserRepository, issueSession, refreshToken, authenticate, revokeSession, and
 * the session-management endpoints of the examples: listSessions, revokeUserSession,
 * revokeUserSessions; a login's `device` is recorded in the session's metadata), with
 * an injectable clock (also sent as the `Date` header), a log of every request it answered, canned
 * answers (a 500, a redirect) and `Date` headers of the test's choosing.
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
  revokeSession,
  revokeUserSession,
  revokeUserSessions,
  toPublicUser,
  type CredentialsResponse,
  type User,
} from '../../src/index.js';

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
  /** The apiKey of the Caa header, when it parsed. */
  readonly apiKey: string | undefined;
  /** The timestamp of the Caa header, when it parsed. */
  readonly timestamp: number | undefined;
}

export interface TestServerOptions {
  /** The server's clock; also what its `Date` header says. Default `Date.now`. */
  readonly now?: () => number;
  /** Lifetime of sessions issued at login, ms. Default the library's (3 days). */
  readonly loginTtlMs?: number;
  /** Replay protection on GET /api/my and logout too (refresh always has it). Default true. */
  readonly replayProtection?: boolean;
  /** Delay before a refresh is handled, ms, to keep it in flight. Default 0. */
  readonly refreshDelayMs?: number;
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
  close(): Promise<void>;
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(text === '' ? undefined : (JSON.parse(text) as unknown));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    req.on('error', reject);
  });
}

function headerParts(authorization: string | undefined): { apiKey: string | undefined; timestamp: number | undefined } {
  try {
    const { apiKey, timestamp } = parseCaaHeader(authorization);
    return { apiKey, timestamp };
  } catch {
    return { apiKey: undefined, timestamp: undefined };
  }
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

  async function route(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const key = `${req.method ?? ''} ${path}`;
    switch (key) {
      case 'POST /api/my/login': {
        const body = (await readJson(req)) as { mobile?: unknown; password?: unknown; device?: unknown } | undefined;
        const user = await users.find((u) => u.mobile === body?.mobile && u.password === body?.password);
        if (user === null) return { status: 401, body: { message: 'invalid mobile or password' } };
        const ttl = options.loginTtlMs === undefined ? {} : { ttlMs: options.loginTtlMs };
        const metadata = typeof body?.device === 'string' ? { device: body.device } : {};
        return { status: 200, body: await issueSession(store, user, { now, metadata, ...ttl }) };
      }
      case 'GET /api/my': {
        const session = await authenticate(store, req, CAA_ACTIONS.fetchMyProfile, { now, replayProtection });
        const user = await users.findById(session.userId);
        if (user === null) return { status: 404, body: { message: 'user not found' } };
        return { status: 200, body: { user: toPublicUser(user) } };
      }
      case 'POST /api/my/refresh-token': {
        await readJson(req);
        if (options.refreshDelayMs !== undefined) await sleep(options.refreshDelayMs);
        return { status: 200, body: await refreshToken(store, users, req, { now }) };
      }
      case 'DELETE /api/my/logout':
        await revokeSession(store, req, { now, replayProtection });
        return { status: 200, body: { message: 'ok' } };
      case `GET ${MY_SESSIONS}`: {
        const session = await authenticate(store, req, CAA_ACTIONS.listMySessions, { now, replayProtection });
        return { status: 200, body: { sessions: await listSessions(store, session.userId, { now, current: session }) } };
      }
      case `DELETE ${MY_SESSIONS}`: {
        const session = await authenticate(store, req, CAA_ACTIONS.revokeMyOtherSessions, { now, replayProtection: true });
        return { status: 200, body: { message: 'ok', revoked: await revokeUserSessions(store, session.userId, { now, except: session }) } };
      }
      default: {
        if (req.method === 'DELETE' && path.startsWith(`${MY_SESSIONS}/`)) {
          const session = await authenticate(store, req, CAA_ACTIONS.revokeMySession, { now, replayProtection: true });
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
    let status: number;
    let body: unknown;
    let code: string | undefined;
    const answer = canned.get(path);
    canned.delete(path);
    try {
      if (answer === undefined) ({ status, body } = await route(req));
      else ({ status, body } = answer);
    } catch (err) {
      if (!isCaaError(err)) throw err;
      status = err.status;
      body = err.toJSON();
      code = err.code;
    }
    log.push({ method: req.method ?? '', path, status, code, authorization, ...headerParts(authorization) });
    if (dropPath === path) {
      dropPath = null;
      req.socket.destroy();
      return;
    }
    res.statusCode = status;
    res.setHeader('Date', dates.shift() ?? new Date(now()).toUTCString());
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
