/**
 * Runs an example server as a real child process (`node <tsx cli> examples/<dir>/server.ts`),
 * the way `npm run example:<dir>` does, and talks to it over real HTTP.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CAA_ACTIONS } from 'caa-auth';
import { freePort } from '../support/redis-server.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TSX_CLI = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));

export type Framework = 'express' | 'express4' | 'fastify' | 'hono';

/** How each framework's example is run: its directory, and the environment that selects it. */
const EXAMPLES: Record<Framework, { dir: string; env: Record<string, string> }> = {
  express: { dir: 'express', env: {} },
  // The Express example app on Express 4 (the npm alias `express4`): `examples/express/server.ts` picks it by this variable.
  express4: { dir: 'express', env: { CAA_EXAMPLE_EXPRESS: '4' } },
  fastify: { dir: 'fastify', env: {} },
  hono: { dir: 'hono', env: {} },
};

/** A signed endpoint of the example API and the action its requests are signed with. */
export interface Endpoint {
  readonly method: string;
  readonly path: string;
  readonly action: string;
}

/** The session-management endpoints the examples add (`:id` filled in by {@link revokeSessionEndpoint}). */
export const MY_SESSIONS = {
  list: { method: 'GET', path: '/api/my/sessions', action: CAA_ACTIONS.listMySessions },
  revokeOthers: { method: 'DELETE', path: '/api/my/sessions', action: CAA_ACTIONS.revokeMyOtherSessions },
} as const satisfies Record<string, Endpoint>;

/** `DELETE /api/my/sessions/:id` for one session id. */
export function revokeSessionEndpoint(sessionId: string): Endpoint {
  return { method: 'DELETE', path: `/api/my/sessions/${encodeURIComponent(sessionId)}`, action: CAA_ACTIONS.revokeMySession };
}

/** The signed endpoints of the original API (spec §3). */
export const PROFILE: Endpoint = { method: 'GET', path: '/api/my', action: CAA_ACTIONS.fetchMyProfile };
export const REFRESH: Endpoint = { method: 'POST', path: '/api/my/refresh-token', action: CAA_ACTIONS.refreshToken };
export const LOGOUT: Endpoint = { method: 'DELETE', path: '/api/my/logout', action: CAA_ACTIONS.logout };

/** Every signed endpoint of the example API, with its action (spec §3, and the session endpoints). */
export const SIGNED: readonly Endpoint[] = [
  PROFILE,
  REFRESH,
  LOGOUT,
  MY_SESSIONS.list,
  revokeSessionEndpoint('AAAAAAAAAAAAAAAAAAAAAA'),
  MY_SESSIONS.revokeOthers,
];

/** Startup includes compiling TypeScript with tsx: generous, for a busy 2-core machine. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** Waits for `child` to exit, up to `ms`; resolves with its exit code, or `undefined` on timeout. */
function waitForExit(child: ChildProcess, ms: number): Promise<number | null | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A spawned process whose stdout and stderr are kept, in its own process group (so a stuck tree can be killed whole). */
export class CapturedProcess {
  readonly child: ChildProcess;
  #output = '';

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
  }

  /** Everything written to stdout and stderr so far. */
  get output(): string {
    return this.#output;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves with the exit code once the process ends (rejects after `ms`). */
  async exit(ms: number): Promise<number | null> {
    const code = await waitForExit(this.child, ms);
    if (code === undefined) throw new Error(`process did not exit within ${ms} ms; output:\n${this.#output}`);
    return code;
  }

  /**
   * SIGTERM, then SIGKILL to the whole process group if it is still there after a while.
   * Resolves with the exit code after SIGTERM, or `undefined` if it had to be killed.
   */
  async stop(): Promise<number | null | undefined> {
    if (this.exited) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const code = await waitForExit(this.child, STOP_TIMEOUT_MS);
    if (code !== undefined) return code;
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitForExit(this.child, STOP_TIMEOUT_MS);
    return undefined;
  }
}

/** One running example server. */
export class ExampleServer extends CapturedProcess {
  readonly framework: Framework;
  readonly port: number;
  readonly baseUrl: string;

  private constructor(framework: Framework, port: number, env: NodeJS.ProcessEnv) {
    super(process.execPath, [TSX_CLI, `examples/${EXAMPLES[framework].dir}/server.ts`], env);
    this.framework = framework;
    this.port = port;
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  /** Starts the server on a free port and resolves once it has printed its listening line. */
  static async start(framework: Framework, extraEnv: Record<string, string> = {}): Promise<ExampleServer> {
    const port = await freePort();
    const { dir, env: selecting } = EXAMPLES[framework];
    const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...selecting, ...extraEnv };
    delete env.REDIS_URL;
    if (extraEnv.REDIS_URL !== undefined) env.REDIS_URL = extraEnv.REDIS_URL;
    if (selecting.CAA_EXAMPLE_EXPRESS === undefined) delete env.CAA_EXAMPLE_EXPRESS;
    const server = new ExampleServer(framework, port, env);
    const listening = `${dir} example listening on http://127.0.0.1:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!server.output.includes(listening)) {
      if (server.exited) {
        throw new Error(`${framework} example exited with ${String(server.child.exitCode)} before listening:\n${server.output}`);
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`${framework} example did not listen within ${START_TIMEOUT_MS} ms:\n${server.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return server;
  }
}

export interface Reply {
  status: number;
  body: unknown;
  /** Time from sending to the parsed body, ms. */
  ms: number;
}

export interface CallOptions {
  authorization?: string;
  /** Further request headers (e.g. `user-agent`). */
  headers?: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as `application/x-www-form-urlencoded`, like the original clients (an empty string: empty body). */
  form?: string;
}

/** One HTTP request with `fetch`; the body parsed as JSON. */
export async function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = options.form;
  }
  const started = performance.now();
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, ms: performance.now() - started };
}
