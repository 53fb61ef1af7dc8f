/**
 * Starts a real 3-master Redis Cluster on free loopback ports for a test file, joined with
 * `redis-cli --cluster create`, optionally with replicas (joined by `CLUSTER MEET` and
 * `CLUSTER REPLICATE`, so that which replica serves which master is known), and tells which master
 * owns a slot or a key. For the failover tests it kills a node (SIGKILL) and waits until every live
 * node serves the dead master's slots from its promoted replica. It speaks RESP over a plain socket,
 * so what it reports does not depend on the client library under test.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REDIS_SERVER_BIN, assertRedisServerInstalled, freePort } from './redis-server.js';

export const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/** Slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;
const MASTERS = 3;
const HOST = '127.0.0.1';
const NODE_START_TIMEOUT_MS = 10_000;
const CLUSTER_CREATE_TIMEOUT_MS = 30_000;
const CLUSTER_OK_TIMEOUT_MS = 15_000;
/** How long a replica may take to learn of its master by gossip before `CLUSTER REPLICATE` takes. */
const REPLICATE_TIMEOUT_MS = 10_000;
/** Redis's own default `cluster-node-timeout` is 15 000 ms; the suites want faults noticed sooner. */
const DEFAULT_NODE_TIMEOUT_MS = 2_000;
/** Poll interval while waiting for the cluster: short, since the failover tests time it. */
const POLL_MS = 20;
/** A node whose port was taken between {@link freePort} and its bind is started again on new ports. */
const NODE_START_ATTEMPTS = 3;

/** Fails loudly (never skips) when redis-server or redis-cli is missing: the cluster suite must run. */
export function assertRedisClusterToolsInstalled(): void {
  assertRedisServerInstalled();
  const probe = spawnSync(REDIS_CLI_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    const message =
      `\n\n  !!! ${REDIS_CLI_BIN} was not found: the Redis Cluster tests cannot run.\n` +
      `  !!! Install it (Debian: apt-get install -y redis-tools, or redis-server) or run .ci/run, which does.\n\n`;
    process.stderr.write(message);
    throw new Error(message);
  }
}

/** Where a cluster node listens. */
export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A contiguous range of slots and the master that serves it (from `CLUSTER SLOTS`). */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly master: ClusterNodeAddress;
  /** The replicas of `master` the answering node knows of. */
  readonly replicas: readonly ClusterNodeAddress[];
}

/** How to start a {@link RedisCluster}. */
export interface RedisClusterOptions {
  /** Replicas of each master; default 0. */
  readonly replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`, ms; default 2 000. A master unreachable this long is suspected; its
   * replica starts an election about 0.5–1 s after a majority of masters agreed it failed.
   */
  readonly nodeTimeoutMs?: number;
  /**
   * `cluster-require-full-coverage`; default `true` (Redis's default: while any slot is unserved,
   * every node refuses every command). `false` lets the other masters serve during a failover.
   */
  readonly requireFullCoverage?: boolean;
}

/** A RESP2 reply; an error reply rejects instead. */
export type RespReply = string | number | null | RespReply[];

// ---------------------------------------------------------------------------------------------
// A minimal RESP2 client: one connection per command, enough for CLUSTER INFO/SLOTS/KEYSLOT.
// ---------------------------------------------------------------------------------------------

type Parsed = { value: RespReply | Error; next: number } | undefined;

function parseReply(buffer: Buffer, offset: number): Parsed {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new Error(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        if (item.value instanceof Error) return item;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      return { value: new Error(`unexpected RESP type ${JSON.stringify(type)}`), next: buffer.length };
  }
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** Sends one command to one node and resolves with its reply; an error reply or a socket fault rejects. */
export async function sendCommand(node: ClusterNodeAddress, args: readonly string[], timeoutMs = 2_000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: node.host, port: node.port });
    let received = Buffer.alloc(0);
    let settled = false;
    const fail = (err: Error): void => {
      socket.destroy();
      if (settled) return;
      settled = true;
      reject(new Error(`${args.join(' ')} on ${node.host}:${node.port}: ${err.message}`, { cause: err }));
    };
    socket.setTimeout(timeoutMs);
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseReply(received, 0);
      if (parsed === undefined) return;
      if (parsed.value instanceof Error) return fail(parsed.value);
      settled = true;
      socket.destroy();
      resolve(parsed.value);
    });
    socket.on('error', fail);
    socket.on('timeout', () => fail(new Error(`no reply within ${timeoutMs} ms`)));
    socket.on('close', () => fail(new Error('connection closed before a full reply')));
  });
}

async function sendString(node: ClusterNodeAddress, args: readonly string[]): Promise<string> {
  const reply = await sendCommand(node, args);
  if (typeof reply !== 'string') throw new Error(`${args.join(' ')}: expected a string, got ${JSON.stringify(reply)}`);
  return reply;
}

function toAddress(value: RespReply, what: string): ClusterNodeAddress {
  if (!Array.isArray(value)) throw new Error(`CLUSTER SLOTS: unexpected ${what} ${JSON.stringify(value)}`);
  const [host, port] = value;
  if (typeof host !== 'string' || typeof port !== 'number') {
    throw new Error(`CLUSTER SLOTS: unexpected ${what} ${JSON.stringify(value)}`);
  }
  return { host, port };
}

/** Parses a `CLUSTER SLOTS` reply into ranges sorted by start slot. */
function toSlotRanges(reply: RespReply): SlotRange[] {
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS: unexpected reply ${JSON.stringify(reply)}`);
  const ranges = reply.map((entry): SlotRange => {
    if (!Array.isArray(entry)) throw new Error(`CLUSTER SLOTS: unexpected entry ${JSON.stringify(entry)}`);
    const [start, end, master, ...replicas] = entry;
    if (typeof start !== 'number' || typeof end !== 'number' || master === undefined) {
      throw new Error(`CLUSTER SLOTS: unexpected entry ${JSON.stringify(entry)}`);
    }
    return {
      start,
      end,
      master: toAddress(master, 'master'),
      replicas: replicas.map((replica) => toAddress(replica, 'replica')),
    };
  });
  return ranges.sort((a, b) => a.start - b.start);
}

/**
 * True when `ranges` cover every slot exactly once, name `masters` distinct masters, none of them
 * in `excluded`, and (unless `replicas` is undefined) list `replicas` replicas for each range.
 */
function coversAllSlots(
  ranges: readonly SlotRange[],
  masters: number,
  replicas: number | undefined,
  excluded: ReadonlySet<number> = new Set(),
): boolean {
  let expected = 0;
  for (const range of ranges) {
    if (range.start !== expected || excluded.has(range.master.port)) return false;
    if (replicas !== undefined && range.replicas.length !== replicas) return false;
    expected = range.end + 1;
  }
  return expected === CLUSTER_SLOTS && new Set(ranges.map((range) => range.master.port)).size === masters;
}

function sameAddress(a: ClusterNodeAddress, b: ClusterNodeAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

// ---------------------------------------------------------------------------------------------
// The cluster.
// ---------------------------------------------------------------------------------------------

interface NodeProcess {
  readonly address: ClusterNodeAddress;
  readonly busPort: number;
  /** What it was started with: a restart reuses its ports and its nodes.conf. */
  readonly args: readonly string[];
  /** Replaced by a restart. */
  child: ChildProcess;
}

/** How a failover went, as {@link RedisCluster.waitForFailover} saw it. */
export interface Failover {
  /** The replica that now serves the dead master's slots. */
  readonly promoted: ClusterNodeAddress;
  /** The slots it took over. */
  readonly ranges: readonly SlotRange[];
}

/** A running 3-master Redis Cluster on loopback, with or without replicas. */
export class RedisCluster {
  /** The masters, in the order they were created (each owns about a third of the slots). */
  readonly nodes: readonly ClusterNodeAddress[];
  /** The replicas: `replicas[k * MASTERS + i]` is the k-th replica of `nodes[i]`. */
  readonly replicas: readonly ClusterNodeAddress[];
  /** `cluster-node-timeout`, ms. */
  readonly nodeTimeoutMs: number;
  readonly dir: string;
  readonly #masters: readonly NodeProcess[];
  readonly #replicas: readonly NodeProcess[];
  readonly #killOnExit: () => void;
  /** Ports of the nodes killed so far. */
  readonly #dead = new Set<number>();
  #ranges: SlotRange[] | undefined;

  private constructor(dir: string, masters: readonly NodeProcess[], replicas: readonly NodeProcess[], nodeTimeoutMs: number) {
    this.dir = dir;
    this.#masters = masters;
    this.#replicas = replicas;
    this.nodes = masters.map((node) => node.address);
    this.replicas = replicas.map((node) => node.address);
    this.nodeTimeoutMs = nodeTimeoutMs;
    // If the test process ends without stop() (a crash), no node outlives it.
    this.#killOnExit = () => {
      killAll([...masters, ...replicas]);
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', this.#killOnExit);
  }

  /**
   * Starts 3 masters in cluster mode, joins them with `redis-cli --cluster create`, adds
   * `replicasPerMaster` replicas to each, and waits until every node reports `cluster_state:ok` and
   * the same full slot map (with every replica, its replication link up).
   */
  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    assertRedisClusterToolsInstalled();
    const replicasPerMaster = options.replicasPerMaster ?? 0;
    const nodeTimeoutMs = options.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
    const settings: NodeSettings = { nodeTimeoutMs, requireFullCoverage: options.requireFullCoverage ?? true };
    const dir = mkdtempSync(join(tmpdir(), 'caa-redis-cluster-'));
    const masters: NodeProcess[] = [];
    const replicas: NodeProcess[] = [];
    try {
      for (let i = 0; i < MASTERS; i++) masters.push(await startNode(dir, settings));
      for (let i = 0; i < MASTERS * replicasPerMaster; i++) replicas.push(await startNode(dir, settings));
      const cluster = new RedisCluster(dir, masters, replicas, nodeTimeoutMs);
      await cluster.#create();
      await cluster.#addReplicas();
      await cluster.#waitUntil(cluster.#isReady.bind(cluster, replicasPerMaster), CLUSTER_OK_TIMEOUT_MS, 'ready');
      return cluster;
    } catch (err) {
      killAll([...masters, ...replicas]);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The replicas of `master`, as it was created. */
  replicasOf(master: ClusterNodeAddress): ClusterNodeAddress[] {
    const index = this.nodes.findIndex((node) => sameAddress(node, master));
    if (index === -1) throw new Error(`${master.host}:${master.port} is not one of the masters the cluster was created with`);
    return this.replicas.filter((_, i) => i % MASTERS === index);
  }

  /** The ranges of slots and their masters, as a live node reported them (read again after a kill). */
  async slotRanges(): Promise<SlotRange[]> {
    this.#ranges ??= toSlotRanges(await sendCommand(this.#liveNode(), ['CLUSTER', 'SLOTS']));
    return this.#ranges;
  }

  /** `CLUSTER KEYSLOT key`: the slot of `key` (its hash tag, if it has one). */
  async keySlot(key: string): Promise<number> {
    const reply = await sendCommand(this.#liveNode(), ['CLUSTER', 'KEYSLOT', key]);
    if (typeof reply !== 'number') throw new Error(`CLUSTER KEYSLOT: unexpected reply ${JSON.stringify(reply)}`);
    return reply;
  }

  /** The master that serves `slot`. */
  async masterOfSlot(slot: number): Promise<ClusterNodeAddress> {
    const range = (await this.slotRanges()).find((r) => r.start <= slot && slot <= r.end);
    if (range === undefined) throw new Error(`no master serves slot ${slot}`);
    return range.master;
  }

  /** The master that holds (or would hold) `key`. */
  async masterOf(key: string): Promise<ClusterNodeAddress> {
    return this.masterOfSlot(await this.keySlot(key));
  }

  /** Sends one command to one node (not redirected: a key of another node answers MOVED). */
  async command(node: ClusterNodeAddress, args: readonly string[]): Promise<RespReply> {
    return sendCommand(node, args);
  }

  /**
   * Kills one node with SIGKILL (no shutdown, no last write to its replicas) and resolves once its
   * process has exited. The cached slot map is dropped: the next {@link slotRanges} asks a live node.
   */
  async kill(node: ClusterNodeAddress): Promise<void> {
    const target = this.#process(node);
    this.#dead.add(node.port);
    this.#ranges = undefined;
    await killNode(target.child);
  }

  /**
   * Starts a killed node again on its ports and its nodes.conf (its data is gone: no persistence),
   * and resolves once it answers PING. A master that was failed over rejoins as a replica of the
   * node that took its slots (see {@link waitForReplicaLink}).
   */
  async restart(node: ClusterNodeAddress): Promise<void> {
    const target = this.#process(node);
    if (target.child.exitCode === null && target.child.signalCode === null) throw new Error(`${node.port} is running`);
    target.child = await spawnNode(target.address, target.args);
    this.#dead.delete(node.port);
    this.#ranges = undefined;
  }

  /** Waits until `node` is a replica whose replication link to its master is up; resolves with that master. */
  async waitForReplicaLink(node: ClusterNodeAddress, timeoutMs: number): Promise<ClusterNodeAddress> {
    let master: ClusterNodeAddress | undefined;
    await this.#waitUntil(
      async () => {
        const info = await sendString(node, ['INFO', 'replication']).catch((err: unknown) => String(err));
        const host = /^master_host:(.+?)\r?$/m.exec(info)?.[1];
        const port = /^master_port:(\d+)\r?$/m.exec(info)?.[1];
        const up = /^role:slave\r?$/m.test(info) && /^master_link_status:up\r?$/m.test(info);
        if (up && host !== undefined && port !== undefined) master = { host, port: Number(port) };
        return { ok: master !== undefined, report: info.split('\n').slice(0, 4).join(' ').trim() };
      },
      timeoutMs,
      `replicating on ${node.port}`,
    );
    if (master === undefined) throw new Error('unreachable: no master');
    return master;
  }

  /**
   * Waits until every live node reports `cluster_state:ok` and a slot map that covers every slot
   * with 3 masters, none of them `dead`: its slots are served by its promoted replica. Polls every
   * {@link POLL_MS} ms, so that the caller can time the failover.
   */
  async waitForFailover(dead: ClusterNodeAddress, timeoutMs: number): Promise<Failover> {
    const before = this.#ranges ?? [];
    await this.#waitUntil(
      async () => {
        const states = await Promise.all(this.#liveNodes().map(async (node) => this.#nodeState(node)));
        const excluded = new Set([dead.port]);
        // A replica that took over has no replica of its own (its old master is dead): replicas are not counted.
        const ok = states.every((state) => state.ok && coversAllSlots(state.ranges, MASTERS, undefined, excluded));
        return { ok, report: states.map((state) => `${state.node.port}: ${state.summary}`).join('; ') };
      },
      timeoutMs,
      `failed over from ${dead.port}`,
    );
    const ranges = await this.slotRanges();
    const replicaPorts = new Set(this.replicasOf(dead).map((replica) => replica.port));
    const taken = ranges.filter((range) => replicaPorts.has(range.master.port));
    const promoted = taken[0]?.master;
    if (promoted === undefined) {
      throw new Error(`no replica of ${dead.port} serves slots after the failover (before: ${JSON.stringify(before)})`);
    }
    return { promoted, ranges: taken };
  }

  /** Kills every node and removes their directories. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.#killOnExit);
    await Promise.all([...this.#masters, ...this.#replicas].map(async ({ child }) => killNode(child)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  #process(node: ClusterNodeAddress): NodeProcess {
    const target = [...this.#masters, ...this.#replicas].find((candidate) => sameAddress(candidate.address, node));
    if (target === undefined) throw new Error(`${node.host}:${node.port} is not a node of this cluster`);
    return target;
  }

  #liveNodes(): ClusterNodeAddress[] {
    return [...this.nodes, ...this.replicas].filter((node) => !this.#dead.has(node.port));
  }

  #liveNode(): ClusterNodeAddress {
    const node = this.#liveNodes()[0];
    if (node === undefined) throw new Error('the cluster has no live node');
    return node;
  }

  async #create(): Promise<void> {
    const args = [
      '--cluster', 'create',
      ...this.nodes.map((node) => `${node.host}:${node.port}`),
      '--cluster-replicas', '0',
      '--cluster-yes',
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(REDIS_CLI_BIN, args, { timeout: CLUSTER_CREATE_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err === null) resolve();
        else reject(new Error(`${REDIS_CLI_BIN} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`, { cause: err }));
      });
    });
  }

  /**
   * Each replica meets the cluster, then replicates its master by id: `CLUSTER REPLICATE` answers
   * "Unknown node" until gossip has told the replica of that master, so it is retried.
   */
  async #addReplicas(): Promise<void> {
    const first = this.#masters[0];
    if (first === undefined || this.#replicas.length === 0) return;
    const ids = await Promise.all(this.nodes.map(async (node) => sendString(node, ['CLUSTER', 'MYID'])));
    await Promise.all(
      this.#replicas.map(async (replica, i) => {
        const masterId = ids[i % MASTERS];
        if (masterId === undefined) throw new Error('no master id');
        await sendString(replica.address, ['CLUSTER', 'MEET', first.address.host, String(first.address.port), String(first.busPort)]);
        await this.#waitUntil(
          async () => {
            const reply = await sendString(replica.address, ['CLUSTER', 'REPLICATE', masterId]).catch((err: unknown) => String(err));
            return { ok: reply === 'OK', report: reply };
          },
          REPLICATE_TIMEOUT_MS,
          `${replica.address.port} replicating ${masterId}`,
        );
      }),
    );
  }

  /** What one node says of the cluster: its state, its slot map, and (a replica) its link to its master. */
  async #nodeState(node: ClusterNodeAddress): Promise<{ node: ClusterNodeAddress; ok: boolean; ranges: SlotRange[]; summary: string }> {
    try {
      const info = await sendString(node, ['CLUSTER', 'INFO']);
      const ranges = toSlotRanges(await sendCommand(node, ['CLUSTER', 'SLOTS']));
      const ok = /^cluster_state:ok\r?$/m.test(info);
      return { node, ok, ranges, summary: `${info.split('\n')[0]?.trim() ?? ''}, ${ranges.length} ranges` };
    } catch (err) {
      return { node, ok: false, ranges: [], summary: String(err) };
    }
  }

  /**
   * Every node reports `cluster_state:ok` and a slot map that covers all slots with 3 masters, each
   * with `replicasPerMaster` replicas, and every replica's replication link is up.
   */
  async #isReady(replicasPerMaster: number): Promise<{ ok: boolean; report: string }> {
    const states = await Promise.all(this.#liveNodes().map(async (node) => this.#nodeState(node)));
    const links = await Promise.all(
      this.replicas.map(async (replica) => /^master_link_status:up\r?$/m.test(await sendString(replica, ['INFO', 'replication']))),
    );
    const ok = states.every((state) => state.ok && coversAllSlots(state.ranges, MASTERS, replicasPerMaster)) && links.every(Boolean);
    return { ok, report: states.map((state) => `${state.node.port}: ${state.summary}`).join('; ') };
  }

  async #waitUntil(check: () => Promise<{ ok: boolean; report: string }>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const { ok, report } = await check();
      if (ok) return;
      last = report;
      await sleep(POLL_MS);
    }
    throw new Error(`Redis Cluster not ${what} after ${timeoutMs} ms (${last})`);
  }
}

/** The settings every node of one cluster starts with. */
interface NodeSettings {
  readonly nodeTimeoutMs: number;
  readonly requireFullCoverage: boolean;
}

/**
 * One node on two free ports: the client port and the cluster bus port. The bus port is set
 * explicitly (`--cluster-port`) because the default, port + 10 000, is past 65 535 for most
 * ephemeral ports.
 */
async function startNode(dir: string, settings: NodeSettings): Promise<NodeProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < NODE_START_ATTEMPTS; attempt++) {
    const port = await freePort();
    let busPort = await freePort();
    while (busPort === port) busPort = await freePort();
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir, { recursive: true });
    const args = [
      '--port', String(port),
      '--cluster-port', String(busPort),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', String(settings.nodeTimeoutMs),
      '--cluster-require-full-coverage', settings.requireFullCoverage ? 'yes' : 'no',
      // A replica's first sync starts at once, not after the 5 s Redis waits for more replicas.
      '--repl-diskless-sync-delay', '0',
      // CLUSTER SLOTS lists a replica once its replication offset is above 0, which an idle master
      // moves only with its pings to replicas: every 10 s by default.
      '--repl-ping-replica-period', '1',
      '--appendonly', 'no',
      '--save', '',
      '--dir', nodeDir,
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--loglevel', 'warning',
    ];
    const address = { host: HOST, port };
    try {
      return { address, busPort, args, child: await spawnNode(address, args) };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** Spawns redis-server with `args` and resolves once it answers PING at `address`. */
async function spawnNode(address: ClusterNodeAddress, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    if (output.length < 10_000) output += chunk.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  try {
    await waitForPing(child, address);
    return child;
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${REDIS_SERVER_BIN} ${args.slice(0, 4).join(' ')}: ${String(err)}\n${output}`, { cause: err });
  }
}

async function waitForPing(child: ChildProcess, node: ClusterNodeAddress): Promise<void> {
  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode ?? '?'}`);
    }
    const pong = await sendCommand(node, ['PING'], 500).catch(() => null);
    if (pong === 'PONG') return;
    await sleep(25);
  }
  throw new Error(`no PONG within ${NODE_START_TIMEOUT_MS} ms`);
}

/** SIGKILL, resolved once the process has exited (at once if it already had). */
async function killNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

function killAll(processes: readonly NodeProcess[]): void {
  for (const { child } of processes) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
