/**
 * Starts a replicated Redis watched by Sentinel on free loopback ports for a test file: a primary,
 * two replicas of equal `replica-priority` and three Sentinels (quorum 2, master name `caa`), and
 * drives a failover: replication lag, the primary's death, the election of a new primary.
 *
 * Replication lag, honestly: each replica reaches the primary through a TCP relay held by this
 * process (the "network"). The relay hands the primary's stream to the replicas `lagMs` late, both
 * replicas in the same tick (equal links), and sends their acknowledgements back at once.
 * {@link RedisSentinelSet.killPrimary} cuts the relay, dropping what is still on its way, and then
 * SIGKILLs the primary: what the primary acknowledged in its last `lagMs` never reaches a replica,
 * as when a primary dies or is cut off with writes still in its buffers and on the wire. Freezing
 * the replicas with SIGSTOP would not do: the kernel keeps receiving into their sockets, and a
 * thawed replica applies it all.
 *
 * Sentinels and clients reach every server directly; only replication goes through the relay.
 * After a failover Sentinel points the remaining replica straight at the new primary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendCommand, type RespReply } from './redis-cluster.js';
import { REDIS_SERVER_BIN, RedisServer, assertRedisServerInstalled, freePort } from './redis-server.js';

const HOST = '127.0.0.1';
/** The name Sentinel monitors the primary under (`new Redis({ sentinels, name })`). */
export const SENTINEL_MASTER_NAME = 'caa';
const REPLICAS = 2;
const SENTINELS = 3;
const QUORUM = 2;
const START_TIMEOUT_MS = 15_000;
const POLL_MS = 25;
/** A process whose port was taken between {@link freePort} and its bind is started again on a new port. */
const START_ATTEMPTS = 3;
/** How much of a Sentinel's log is kept, for the message of a failover that did not happen. */
const LOG_TAIL_CHARS = 8_000;

/** Where a server or a Sentinel listens. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisSentinelSetOptions {
  /** `sentinel down-after-milliseconds`: how long the primary may not answer before it counts as down. Default 1 000. */
  downAfterMs?: number;
  /** `sentinel failover-timeout`. Default 3 000 (a failed election is retried after twice this). */
  failoverTimeoutMs?: number;
  /**
   * Replicas reach the primary through the relay, so that {@link RedisSentinelSet.setLag} and
   * {@link RedisSentinelSet.killPrimary} can hold back and drop the stream. Default `true`; `false`
   * connects them directly (for throughput figures that the relay's event loop must not colour).
   */
  relay?: boolean;
}

/** What {@link RedisSentinelSet.waitForFailover} saw. */
export interface Failover {
  /** The new primary, as every Sentinel names it. */
  readonly primary: RedisAddress;
  /** From the SIGKILL to the moment every Sentinel named the new primary and it answered as master, ms. */
  readonly ms: number;
}

// ---------------------------------------------------------------------------------------------
// The relay: the network between the primary and its replicas.
// ---------------------------------------------------------------------------------------------

interface Chunk {
  readonly due: number;
  readonly to: Socket;
  readonly data: Buffer;
}

/**
 * One listening port per replica, each relaying to the primary. Every chunk the primary sends is
 * queued with one due time and the queue is emptied by one timer, so equal links stay in step.
 */
class ReplicationRelay {
  lagMs = 0;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  #queue: Chunk[] = [];
  #timer: NodeJS.Timeout | undefined;
  #cut = false;

  constructor(private readonly primaryPort: number) {}

  /** Opens one more port relaying to the primary; returns it. */
  async open(): Promise<number> {
    const server = createServer((replicaSide) => this.#relay(replicaSide));
    this.#servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('relay: no port');
    return address.port;
  }

  /** Drops what is on its way, closes every connection and refuses new ones. */
  cut(): void {
    this.#cut = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    for (const server of this.#servers) server.close();
  }

  #relay(replicaSide: Socket): void {
    if (this.#cut) {
      replicaSide.destroy();
      return;
    }
    const primarySide = createConnection({ host: HOST, port: this.primaryPort });
    for (const socket of [replicaSide, primarySide]) {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.#sockets.delete(socket);
        replicaSide.destroy();
        primarySide.destroy();
      });
    }
    primarySide.on('data', (data: Buffer) => {
      if (this.lagMs <= 0 && this.#queue.length === 0) replicaSide.write(data);
      else this.#enqueue({ due: performance.now() + this.lagMs, to: replicaSide, data });
    });
    // Acknowledgements (REPLCONF ACK) go back at once: the lag is the primary's stream only.
    replicaSide.on('data', (data: Buffer) => primarySide.write(data));
  }

  #enqueue(chunk: Chunk): void {
    this.#queue.push(chunk);
    if (this.#timer === undefined) this.#schedule();
  }

  #schedule(): void {
    const head = this.#queue[0];
    if (head === undefined) return;
    this.#timer = setTimeout(() => this.#deliver(), Math.max(0, head.due - performance.now()));
  }

  /** Writes every chunk now due, in order (a lag lowered meanwhile never reorders the stream). */
  #deliver(): void {
    this.#timer = undefined;
    const now = performance.now();
    let delivered = 0;
    for (const chunk of this.#queue) {
      if (chunk.due > now) break;
      if (!chunk.to.destroyed) chunk.to.write(chunk.data);
      delivered++;
    }
    this.#queue = this.#queue.slice(delivered);
    this.#schedule();
  }
}

// ---------------------------------------------------------------------------------------------
// Sentinel processes.
// ---------------------------------------------------------------------------------------------

interface SentinelProcess {
  readonly address: RedisAddress;
  readonly child: ChildProcess;
  /** The end of its log (stdout), for error messages. */
  log(): string;
}

async function startSentinel(dir: string, primaryPort: number, downAfterMs: number, failoverTimeoutMs: number): Promise<SentinelProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    // Sentinel rewrites its file (its id, the replicas and Sentinels it learns of): one file each.
    writeFileSync(
      conf,
      [
        `port ${port}`,
        `bind ${HOST}`,
        'protected-mode no',
        'daemonize no',
        `dir ${dir}`,
        'loglevel notice',
        'sentinel resolve-hostnames no',
        `sentinel monitor ${SENTINEL_MASTER_NAME} ${HOST} ${primaryPort} ${QUORUM}`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn(REDIS_SERVER_BIN, [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const sentinel: SentinelProcess = { address: { host: HOST, port }, child, log: () => output };
    try {
      await waitFor(async () => child.exitCode === null && (await sendCommand(sentinel.address, ['PING'], 500).catch(() => null)) === 'PONG', START_TIMEOUT_MS, () => `sentinel on ${port} did not answer: ${output}`, () => child.exitCode !== null);
      return sentinel;
    } catch (err) {
      lastError = err;
      await killProcess(child);
    }
  }
  throw lastError;
}

async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` every {@link POLL_MS} ms until it holds; fails with `describe()` after `timeoutMs`, or at once when `fatal()`. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => string, fatal: () => boolean = () => false): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (fatal() || performance.now() > deadline) throw new Error(describe());
    await sleep(POLL_MS);
  }
}

/** `field:value` lines of an INFO reply. */
function infoFields(info: RespReply): Map<string, string> {
  const fields = new Map<string, string>();
  if (typeof info !== 'string') return fields;
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A flat `[field, value, …]` reply (SENTINEL MASTER) as a map. */
function pairs(reply: RespReply): Map<string, string> {
  const fields = new Map<string, string>();
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
  return fields;
}

function sameAddress(a: RedisAddress, b: RedisAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

// ---------------------------------------------------------------------------------------------
// The set.
// ---------------------------------------------------------------------------------------------

/** A primary, two replicas and three Sentinels on loopback. */
export class RedisSentinelSet {
  readonly name = SENTINEL_MASTER_NAME;
  readonly dir: string;
  readonly #servers: RedisServer[] = [];
  /** Servers killed by {@link killPrimary}. */
  readonly #dead = new Set<RedisServer>();
  readonly #sentinels: SentinelProcess[] = [];
  #relay: ReplicationRelay | undefined;
  #killedAt: number | undefined;
  #stopped = false;
  readonly #killOnExit = (): void => {
    for (const sentinel of this.#sentinels) sentinel.child.kill('SIGKILL');
    for (const server of this.#servers) {
      if (server.pid !== undefined) {
        try {
          process.kill(server.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(dir: string) {
    this.dir = dir;
    // If the test process ends without stop() (a crash), no server outlives it.
    process.once('exit', this.#killOnExit);
  }

  /**
   * Starts the primary, the two replicas (`--replicaof` the relay, or the primary) and the three
   * Sentinels, and waits until the replicas are in sync and every Sentinel sees the primary, both
   * replicas and the two other Sentinels, and reports that it can reach the quorum
   * (`SENTINEL CKQUORUM`). On any failure everything started so far is stopped.
   */
  static async start(options: RedisSentinelSetOptions = {}): Promise<RedisSentinelSet> {
    assertRedisServerInstalled();
    const set = new RedisSentinelSet(mkdtempSync(join(tmpdir(), 'caa-redis-sentinel-')));
    try {
      await set.#start(options);
      return set;
    } catch (err) {
      await set.stop();
      throw err;
    }
  }

  /** The Sentinels, for `new Redis({ sentinels, name })`. */
  get sentinels(): RedisAddress[] {
    return this.#sentinels.map((sentinel) => sentinel.address);
  }

  /** The primary the set started with. */
  get firstPrimary(): RedisAddress {
    return this.#address(this.#first('primary'));
  }

  /** How late the primary's replication stream reaches the replicas from now on, ms (needs the relay). */
  setLag(ms: number): void {
    if (this.#relay === undefined) throw new Error('setLag needs the relay (relay: true)');
    this.#relay.lagMs = ms;
  }

  /** The primary as the first Sentinel that answers names it (`SENTINEL get-master-addr-by-name`). */
  async primary(): Promise<RedisAddress> {
    for (const sentinel of this.#sentinels) {
      const address = await this.#masterAddrOf(sentinel).catch(() => undefined);
      if (address !== undefined) return address;
    }
    throw new Error('no Sentinel named a primary');
  }

  /** Sends one command to one server or Sentinel. */
  async command(node: RedisAddress, args: readonly string[]): Promise<RespReply> {
    return sendCommand(node, args);
  }

  /** Waits until every replica has processed the primary's replication stream up to where it is now. */
  async waitForReplication(timeoutMs = 5_000): Promise<void> {
    const primary = await this.primary();
    const target = Number(infoFields(await sendCommand(primary, ['INFO', 'replication'])).get('master_repl_offset'));
    const replicas = this.#servers
      .filter((server) => !this.#dead.has(server))
      .map((server) => this.#address(server))
      .filter((address) => !sameAddress(address, primary));
    let behind = '';
    await waitFor(
      async () => {
        const offsets = await Promise.all(
          replicas.map(async (replica) => Number(infoFields(await sendCommand(replica, ['INFO', 'replication'])).get('slave_repl_offset'))),
        );
        behind = offsets.map((offset, i) => `${replicas[i]?.port}: ${offset}`).join(', ');
        return offsets.every((offset) => offset >= target);
      },
      timeoutMs,
      () => `replicas did not reach offset ${target} within ${timeoutMs} ms (${behind})`,
    );
  }

  /**
   * Cuts the relay (what the primary sent in its last `lagMs` is dropped) and SIGKILLs the primary;
   * resolves once its process has exited. Returns the address it had.
   */
  async killPrimary(): Promise<RedisAddress> {
    const primary = this.#first('primary');
    this.#relay?.cut();
    this.#killedAt = performance.now();
    this.#dead.add(primary);
    await primary.kill();
    return this.#address(primary);
  }

  /**
   * Waits until every Sentinel names a primary other than `dead` and that server answers `ROLE`
   * as master. Fails after `timeoutMs` with the end of each Sentinel's log.
   */
  async waitForFailover(dead: RedisAddress, timeoutMs = 20_000): Promise<Failover> {
    let primary: RedisAddress | undefined;
    await waitFor(
      async () => {
        const named = await Promise.all(this.#sentinels.map(async (sentinel) => this.#masterAddrOf(sentinel).catch(() => undefined)));
        const first = named[0];
        if (first === undefined || sameAddress(first, dead) || !named.every((address) => address !== undefined && sameAddress(address, first))) {
          return false;
        }
        const role = await sendCommand(first, ['ROLE'], 500).catch(() => null);
        if (!Array.isArray(role) || role[0] !== 'master') return false;
        primary = first;
        return true;
      },
      timeoutMs,
      () => `no failover from ${dead.port} within ${timeoutMs} ms:\n${this.#sentinels.map((s) => `--- sentinel ${s.address.port}\n${s.log()}`).join('\n')}`,
    );
    if (primary === undefined) throw new Error('unreachable: no primary after the failover');
    return { primary, ms: Math.round(performance.now() - (this.#killedAt ?? performance.now())) };
  }

  /** Waits until `primary` has `count` replicas online (`INFO replication`), e.g. after a failover. */
  async waitForReplicas(primary: RedisAddress, count: number, timeoutMs = 10_000): Promise<void> {
    let last = '';
    await waitFor(
      async () => {
        const info = infoFields(await sendCommand(primary, ['INFO', 'replication']).catch(() => ''));
        last = info.get('connected_slaves') ?? '?';
        let online = 0;
        for (const [field, value] of info) if (/^slave\d+$/.test(field) && value.includes('state=online')) online++;
        return online >= count;
      },
      timeoutMs,
      () => `${primary.port} did not get ${count} replicas online within ${timeoutMs} ms (connected_slaves: ${last})`,
    );
  }

  /** Stops every process and removes the temporary files; safe to call more than once, and after a failed start. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    process.removeListener('exit', this.#killOnExit);
    this.#relay?.cut();
    await Promise.all([
      ...this.#sentinels.map(async (sentinel) => killProcess(sentinel.child)),
      ...this.#servers.map(async (server) => server.stop()),
    ]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #start(options: RedisSentinelSetOptions): Promise<void> {
    // No persistence (failover does not need it); no 5 s wait before a full sync.
    const serverArgs = ['--repl-diskless-sync-delay', '0', '--replica-priority', '100'];
    const primary = await startServer(serverArgs);
    this.#servers.push(primary);
    const relay = options.relay === false ? undefined : new ReplicationRelay(primary.port);
    this.#relay = relay;
    for (let i = 0; i < REPLICAS; i++) {
      const upstream = relay === undefined ? primary.port : await relay.open();
      this.#servers.push(await startServer([...serverArgs, '--replicaof', HOST, String(upstream)]));
    }
    await waitFor(
      async () => {
        const info = infoFields(await sendCommand(this.#address(primary), ['INFO', 'replication']));
        return info.get('connected_slaves') === String(REPLICAS) && [...info.values()].filter((v) => v.includes('state=online')).length === REPLICAS;
      },
      START_TIMEOUT_MS,
      () => `the replicas of ${primary.port} did not come online`,
    );
    const downAfterMs = options.downAfterMs ?? 1_000;
    const failoverTimeoutMs = options.failoverTimeoutMs ?? 3_000;
    for (let i = 0; i < SENTINELS; i++) {
      this.#sentinels.push(await startSentinel(this.dir, primary.port, downAfterMs, failoverTimeoutMs));
    }
    let last = '';
    await waitFor(
      async () => {
        const states = await Promise.all(this.#sentinels.map(async (sentinel) => this.#sentinelState(sentinel)));
        last = states.join('; ');
        return states.every((state) => state === 'ready');
      },
      START_TIMEOUT_MS,
      () => `the Sentinels did not get ready: ${last}`,
    );
  }

  /** `ready` once a Sentinel sees the master, both replicas healthy, the two other Sentinels and its quorum. */
  async #sentinelState(sentinel: SentinelProcess): Promise<string> {
    const master = pairs(await sendCommand(sentinel.address, ['SENTINEL', 'MASTER', this.name]).catch(() => []));
    const replicas = await sendCommand(sentinel.address, ['SENTINEL', 'REPLICAS', this.name]).catch(() => []);
    const healthy = Array.isArray(replicas) ? replicas.filter((replica) => pairs(replica).get('flags') === 'slave').length : 0;
    const quorum = await sendCommand(sentinel.address, ['SENTINEL', 'CKQUORUM', this.name]).catch((err: unknown) => String(err));
    const state = `${sentinel.address.port}: flags=${master.get('flags')} replicas=${healthy} sentinels=${master.get('num-other-sentinels')} quorum=${String(quorum).slice(0, 40)}`;
    const ready =
      master.get('flags') === 'master' &&
      healthy === REPLICAS &&
      master.get('num-other-sentinels') === String(SENTINELS - 1) &&
      typeof quorum === 'string' &&
      quorum.startsWith('OK');
    return ready ? 'ready' : state;
  }

  async #masterAddrOf(sentinel: SentinelProcess): Promise<RedisAddress | undefined> {
    const reply = await sendCommand(sentinel.address, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name], 500);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string') return undefined;
    return { host: reply[0], port: Number(reply[1]) };
  }

  #first(role: 'primary'): RedisServer {
    const server = this.#servers[0];
    if (server === undefined) throw new Error(`the set has no ${role}`);
    return server;
  }

  #address(server: RedisServer): RedisAddress {
    return { host: HOST, port: server.port };
  }
}

/** One redis-server (see {@link RedisServer}), started again on another port if its port was taken. */
async function startServer(args: string[]): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await RedisServer.start({ args });
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
