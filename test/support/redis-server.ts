/**
 * Starts a real `redis-server` on a free loopback port for a test file, and drives the faults the
 * fault tests need (freeze, kill, restart on the same data).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/**
 * Fails (never skips) when the binary is missing: the Redis suites must run. The global setup
 * (test/support/redis-install.ts) installs it or ends the run with instructions before any test
 * file starts, so this is only a guard, e.g. for a file run with another config.
 */
export function assertRedisServerInstalled(): void {
  const probe = spawnSync(REDIS_SERVER_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`${REDIS_SERVER_BIN} cannot be run (see test/support/redis-install.ts)`);
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    let reply = '';
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface RedisServerOptions {
  /** AOF with `appendfsync always`, so a kill loses no acknowledged write. */
  durable?: boolean;
  /** Extra `redis-server` arguments. */
  args?: string[];
  port?: number;
}

/** One redis-server process on loopback. */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #args: string[];
  #process: ChildProcess | undefined;

  private constructor(port: number, dir: string, args: string[]) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    assertRedisServerInstalled();
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'caa-redis-'));
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--loglevel', 'warning',
      ...(options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ...(options.args ?? []),
    ];
    const server = new RedisServer(port, dir, args);
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  async #spawn(): Promise<void> {
    const child = spawn(REDIS_SERVER_BIN, this.#args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#process = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`);
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${this.port}: ${stderr}`);
  }

  /** SIGSTOP: the server holds its connections but answers nothing. */
  freeze(): void {
    this.#process?.kill('SIGSTOP');
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.#process?.kill('SIGCONT');
  }

  /** SIGKILL, then wait for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
