/**
 * Starts a real 3-master Redis Cluster (no replicas) on free loopback ports for a test file, joined
 * with `redis-cli --cluster create`, and tells which master owns a slot or a key. It speaks RESP
 * over a plain socket, so what it reports does not depend on the client library under test.
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

/** Parses a `CLUSTER SLOTS` reply into ranges sorted by start slot. */
function toSlotRanges(reply: RespReply): SlotRange[] {
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS: unexpected reply ${JSON.stringify(reply)}`);
  const ranges = reply.map((entry): SlotRange => {
    if (!Array.isArray(entry)) throw new Error(`CLUSTER SLOTS: unexpected entry ${JSON.stringify(entry)}`);
    const [start, end, master] = entry;
    if (typeof start !== 'number' || typeof end !== 'number' || !Array.isArray(master)) {
      throw new Error(`CLUSTER SLOTS: unexpected entry ${JSON.stringify(entry)}`);
    }
    const [host, port] = master;
    if (typeof host !== 'string' || typeof port !== 'number') {
      throw new Error(`CLUSTER SLOTS: unexpected master ${JSON.stringify(master)}`);
    }
    return { start, end, master: { host, port } };
  });
  return ranges.sort((a, b) => a.start - b.start);
}

/** True when `ranges` cover every slot exactly once and name `masters` distinct masters. */
function coversAllSlots(ranges: readonly SlotRange[], masters: number): boolean {
  let expected = 0;
  for (const range of ranges) {
    if (range.start !== expected) return false;
    expected = range.end + 1;
  }
  return expected === CLUSTER_SLOTS && new Set(ranges.map((range) => range.master.port)).size === masters;
}

// ---------------------------------------------------------------------------------------------
// The cluster.
// ---------------------------------------------------------------------------------------------

interface NodeProcess {
  readonly address: ClusterNodeAddress;
  readonly child: ChildProcess;
}

/** A running 3-master Redis Cluster on loopback. */
export class RedisCluster {
  /** The masters, in the order they were created (each owns about a third of the slots). */
  readonly nodes: readonly ClusterNodeAddress[];
  readonly dir: string;
  readonly #processes: readonly NodeProcess[];
  readonly #killOnExit: () => void;
  #ranges: SlotRange[] | undefined;

  private constructor(dir: string, processes: readonly NodeProcess[]) {
    this.dir = dir;
    this.#processes = processes;
    this.nodes = processes.map((node) => node.address);
    // If the test process ends without stop() (a crash), no node outlives it.
    this.#killOnExit = () => {
      killAll(processes);
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', this.#killOnExit);
  }

  /**
   * Starts 3 redis-server processes in cluster mode, joins them with `redis-cli --cluster create`
   * and waits until every node reports `cluster_state:ok` and the same full slot map.
   */
  static async start(): Promise<RedisCluster> {
    assertRedisClusterToolsInstalled();
    const dir = mkdtempSync(join(tmpdir(), 'caa-redis-cluster-'));
    const processes: NodeProcess[] = [];
    try {
      for (let i = 0; i < MASTERS; i++) processes.push(await startNode(dir));
      const cluster = new RedisCluster(dir, processes);
      await cluster.#create();
      await cluster.#waitUntilReady();
      return cluster;
    } catch (err) {
      killAll(processes);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The ranges of slots and their masters, as the cluster reported them once it was ready. */
  async slotRanges(): Promise<SlotRange[]> {
    this.#ranges ??= toSlotRanges(await sendCommand(this.#firstNode(), ['CLUSTER', 'SLOTS']));
    return this.#ranges;
  }

  /** `CLUSTER KEYSLOT key`: the slot of `key` (its hash tag, if it has one). */
  async keySlot(key: string): Promise<number> {
    const reply = await sendCommand(this.#firstNode(), ['CLUSTER', 'KEYSLOT', key]);
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

  /** Kills every node and removes their directories. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.#killOnExit);
    await Promise.all(
      this.#processes.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  #firstNode(): ClusterNodeAddress {
    const node = this.nodes[0];
    if (node === undefined) throw new Error('the cluster has no nodes');
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

  /** Every node reports `cluster_state:ok` and a slot map that covers all slots with 3 masters. */
  async #waitUntilReady(): Promise<void> {
    const deadline = Date.now() + CLUSTER_OK_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      const states = await Promise.all(
        this.nodes.map(async (node) => {
          const info = await sendString(node, ['CLUSTER', 'INFO']);
          const ranges = toSlotRanges(await sendCommand(node, ['CLUSTER', 'SLOTS']));
          return { node, ok: /^cluster_state:ok\r?$/m.test(info) && coversAllSlots(ranges, MASTERS), info };
        }),
      );
      if (states.every((state) => state.ok)) return;
      last = states.map((state) => `${state.node.port}: ${state.info.split('\n')[0] ?? ''}`).join('; ');
      await sleep(50);
    }
    throw new Error(`Redis Cluster not ready after ${CLUSTER_OK_TIMEOUT_MS} ms (${last})`);
  }
}

/**
 * One node on two free ports: the client port and the cluster bus port. The bus port is set
 * explicitly (`--cluster-port`) because the default, port + 10 000, is past 65 535 for most
 * ephemeral ports.
 */
async function startNode(dir: string): Promise<NodeProcess> {
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
      '--cluster-node-timeout', '2000',
      '--appendonly', 'no',
      '--save', '',
      '--dir', nodeDir,
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--loglevel', 'warning',
    ];
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      if (output.length < 10_000) output += chunk.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const address = { host: HOST, port };
    try {
      await waitForPing(child, address);
      return { address, child };
    } catch (err) {
      child.kill('SIGKILL');
      lastError = new Error(`${REDIS_SERVER_BIN} on ${port} (bus ${busPort}): ${String(err)}\n${output}`, { cause: err });
    }
  }
  throw lastError;
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

function killAll(processes: readonly NodeProcess[]): void {
  for (const { child } of processes) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
