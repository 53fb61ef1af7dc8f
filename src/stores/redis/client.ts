/**
 * The store's own minimal command interface (two commands: EVALSHA and EVAL), and one thin adapter
 * per supported client: `ioredis` (Redis and Cluster) and the official `redis` (node-redis; client
 * and cluster). No client library is imported: both are optional peer dependencies.
 *
 * @module stores/redis/client
 */

/**
 * What {@link RedisStore} needs of a Redis connection.
 *
 * @example
 * ```ts
 * import { RedisClient } from 'bun';
 * import { RedisStore, type RedisScriptClient } from 'caa-auth';
 *
 * // An adapter for Bun's built-in client, through its raw send(); other clients take the same few lines.
 * const redis = new RedisClient(process.env.REDIS_URL);
 * const client: RedisScriptClient = {
 *   evalshaScript: (sha1, keys, args) => redis.send('EVALSHA', [sha1, String(keys.length), ...keys, ...args]),
 *   evalScript: (source, keys, args) => redis.send('EVAL', [source, String(keys.length), ...keys, ...args]),
 * };
 * // The store reloads its scripts only after an error whose message starts with NOSCRIPT: check the client's do.
 * const store = new RedisStore({ client });
 * ```
 *
 * @category Stores
 */
export interface RedisScriptClient {
  /**
   * EVALSHA; rejects with an error whose message starts with `NOSCRIPT` when the script is not cached.
   *
   * @param sha1 - The script's SHA-1.
   * @param keys - The script's `KEYS`.
   * @param args - The script's `ARGV`.
   */
  evalshaScript(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * EVAL.
   *
   * @param source - The script's Lua source.
   * @param keys - The script's `KEYS`.
   * @param args - The script's `ARGV`.
   */
  evalScript(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * Optional, for `waitReplicas`: EVALSHA (or EVAL) and then `WAIT replicas timeoutMs` on the same
   * connection, in one pipeline; resolves with the script's reply and WAIT's count, and rejects
   * with the script's error. The built-in adapters (but ioredis's Cluster) let the writes sent
   * while a WAIT is out share the next one: WAIT blocks its connection.
   *
   * @param command - `EVALSHA` or `EVAL`.
   * @param shaOrSource - The script's SHA-1 (EVALSHA) or source (EVAL).
   * @param keys - The script's `KEYS`.
   * @param args - The script's `ARGV`.
   * @param replicas - How many replicas `WAIT` waits for.
   * @param timeoutMs - How long `WAIT` waits, ms.
   */
  evalThenWait?(
    command: 'EVALSHA' | 'EVAL',
    shaOrSource: string,
    keys: readonly string[],
    args: readonly string[],
    replicas: number,
    timeoutMs: number,
  ): Promise<readonly [unknown, unknown]>;
  /**
   * Optional, for `store.check()`: the text of `INFO <section>` from every master (one per Cluster master).
   *
   * @param section - The `INFO` section, e.g. `memory`.
   */
  info?(section: string): Promise<readonly string[]>;
}

/**
 * The part of an `ioredis` `Redis` or `Cluster` the adapter uses.
 *
 * @example
 * ```ts
 * import { Cluster } from 'ioredis';
 * import { RedisStore, ioredisAdapter, type IoredisLike } from 'caa-auth';
 *
 * // A Cluster fits as well as a Redis: all keys of one family share a hash tag, hence one slot.
 * const cluster: IoredisLike = new Cluster([{ host: 'redis-1', port: 6379 }]);
 * const store = new RedisStore({ client: ioredisAdapter(cluster) });
 * ```
 *
 * @category Stores
 */
export interface IoredisLike {
  /**
   * `EVALSHA sha1 numKeys ...keysAndArgs`.
   *
   * @param sha1 - The script's SHA-1.
   * @param numKeys - How many of `keysAndArgs` are keys.
   * @param keysAndArgs - The keys, then the arguments.
   */
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /**
   * `EVAL source numKeys ...keysAndArgs`.
   *
   * @param source - The script's Lua source.
   * @param numKeys - How many of `keysAndArgs` are keys.
   * @param keysAndArgs - The keys, then the arguments.
   */
  eval(source: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** A pipeline: one connection (on a Cluster, the node of its keys), commands in order. */
  pipeline?(): IoredisPipelineLike;
  /**
   * `INFO section` (a Redis).
   *
   * @param section - The `INFO` section.
   */
  info?(section: string): Promise<string>;
  /**
   * The masters (a Cluster).
   *
   * @param role - `master`.
   */
  nodes?(role: 'master'): readonly { info(section: string): Promise<string> }[];
}

/**
 * The part of an ioredis pipeline the adapter uses.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import type { IoredisPipelineLike } from 'caa-auth';
 *
 * // A write and WAIT on one connection, in order: what waitReplicas sends.
 * const pipeline: IoredisPipelineLike = new Redis().pipeline();
 * const results = await pipeline.call('SET', 'k', 'v').call('WAIT', '1', '100').exec();
 * ```
 *
 * @category Stores
 */
export interface IoredisPipelineLike {
  /**
   * Queues a command.
   *
   * @param command - The command name, e.g. `WAIT`.
   * @param args - Its arguments.
   */
  call(command: string, ...args: string[]): IoredisPipelineLike;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * The part of a node-redis client (`createClient`) or cluster (`createCluster`) the adapter uses.
 *
 * @example
 * ```ts
 * import { createCluster } from 'redis';
 * import { RedisStore, nodeRedisAdapter, type NodeRedisLike } from 'caa-auth';
 *
 * // Connected first: the store sends commands but never opens a connection itself.
 * const cluster: NodeRedisLike = await createCluster({ rootNodes: [{ url: 'redis://redis-1:6379' }] }).connect();
 * const store = new RedisStore({ client: nodeRedisAdapter(cluster) });
 * ```
 *
 * @category Stores
 */
export interface NodeRedisLike {
  /**
   * `EVALSHA`.
   *
   * @param sha1 - The script's SHA-1.
   * @param options - The script's `keys` and `arguments`.
   */
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /**
   * `EVAL`.
   *
   * @param source - The script's Lua source.
   * @param options - The script's `keys` and `arguments`.
   */
  eval(source: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** A client's `sendCommand(args)`; a cluster's takes other arguments (read at run time). */
  sendCommand?: unknown;
  /** A client's `multi()`, for a pipeline (`addCommand(args)`, `execAsPipeline()`). */
  multi?: unknown;
  /** A cluster's masters, each with its client. */
  masters?: unknown;
}

type SendCommand = (args: string[]) => Promise<unknown>;

/** One command's outcome in a pipeline, as ioredis's `exec()` gives it: `[error or null, reply]`. */
type PipelineResult = readonly [unknown, unknown];

/** How long past its WAIT's timeout a batch may go unanswered before the next batch is sent anyway, ms. */
const WAIT_GATE_SLACK_MS = 1_000;

/**
 * `evalThenWait` by group commit. WAIT blocks its connection until the replicas acknowledge, so a
 * WAIT after each write lets one write through per replication round trip, and holds every other
 * command of the connection (lookups included) behind it: with 2 ms of replication lag, 350
 * refreshes/s whatever the concurrency. Here at most one WAIT is out per connection: writes that
 * come meanwhile wait, then go out in one pipeline followed by one WAIT, which covers them all
 * (WAIT counts the replicas that reached the connection's last write). A write may so wait for the
 * WAIT before its own: up to twice `waitReplicas.timeoutMs`, each rounded up to Redis's 1/hz timer,
 * when replicas do not answer. A batch still unanswered {@link WAIT_GATE_SLACK_MS} past its timeout
 * lets the next one go (each WAIT's count is right for the writes before it, however many are out).
 */
function groupCommit(exec: (commands: string[][]) => Promise<readonly PipelineResult[]>): NonNullable<RedisScriptClient['evalThenWait']> {
  interface Write {
    readonly command: string[];
    readonly replicas: number;
    readonly timeoutMs: number;
    resolve(result: readonly [unknown, unknown]): void;
    reject(reason: unknown): void;
  }
  let queue: Write[] = [];
  let waiting = false;
  const flush = (): void => {
    const first = queue[0];
    if (waiting || first === undefined) return;
    // The writes queued in a row with the same WAIT arguments share it.
    const other = queue.findIndex((write) => write.replicas !== first.replicas || write.timeoutMs !== first.timeoutMs);
    const batch = other === -1 ? queue : queue.slice(0, other);
    queue = other === -1 ? [] : queue.slice(other);
    waiting = true;
    // A batch that never settles (a client that leaves commands pending) must not hold the next ones for ever.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      waiting = false;
      flush();
    };
    const timer = setTimeout(release, first.timeoutMs + WAIT_GATE_SLACK_MS);
    exec([...batch.map((write) => write.command), ['WAIT', String(first.replicas), String(first.timeoutMs)]])
      .then(
        (results) => {
          const wait = results[batch.length];
          batch.forEach((write, i) => {
            const script = results[i];
            if (script === undefined || wait === undefined) write.reject(new Error('pipeline answered nothing'));
            else if (script[0] !== null) write.reject(script[0]);
            else if (wait[0] !== null) write.reject(wait[0]);
            else write.resolve([script[1], wait[1]]);
          });
        },
        (err: unknown) => {
          for (const write of batch) write.reject(err);
        },
      )
      .finally(release);
  };
  return (command, shaOrSource, keys, args, replicas, timeoutMs) =>
    new Promise((resolve, reject) => {
      queue.push({ command: [command, shaOrSource, String(keys.length), ...keys, ...args], replicas, timeoutMs, resolve, reject });
      flush();
    });
}

/**
 * Adapts an `ioredis` client or cluster.
 *
 * @param client - An ioredis `Redis` or `Cluster`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, ioredisAdapter } from 'caa-auth';
 *
 * const store = new RedisStore({ client: ioredisAdapter(new Redis(process.env.REDIS_URL)) });
 * ```
 *
 * @category Stores
 */
export function ioredisAdapter(client: IoredisLike): RedisScriptClient {
  const adapter: RedisScriptClient = {
    evalshaScript: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    evalScript: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
  };
  if (typeof client.pipeline === 'function' && typeof client.nodes !== 'function') {
    const pipeline = client.pipeline.bind(client);
    adapter.evalThenWait = groupCommit(async (commands) => {
      let batch = pipeline();
      for (const [command, ...args] of commands) batch = batch.call(command ?? '', ...args);
      return (await batch.exec()) ?? [];
    });
  } else if (typeof client.pipeline === 'function') {
    const pipeline = client.pipeline.bind(client);
    adapter.evalThenWait = async (command, shaOrSource, keys, args, replicas, timeoutMs) => {
      const results = await pipeline()
        .call(command, shaOrSource, String(keys.length), ...keys, ...args)
        .call('WAIT', String(replicas), String(timeoutMs))
        .exec();
      const [script, wait] = results ?? [];
      if (script === undefined || wait === undefined) throw new Error('pipeline answered nothing');
      if (script[0] !== null) throw script[0];
      if (wait[0] !== null) throw wait[0];
      return [script[1], wait[1]] as const;
    };
  }
  if (typeof client.nodes === 'function') {
    const masters = client.nodes.bind(client);
    adapter.info = (section) => Promise.all(masters('master').map((node) => node.info(section)));
  } else if (typeof client.info === 'function') {
    const info = client.info.bind(client);
    adapter.info = async (section) => [await info(section)];
  }
  return adapter;
}

/**
 * Adapts a node-redis (`redis` package) client or cluster.
 *
 * On a cluster (node-redis 5) it also recovers from a failover, which node-redis alone does not
 * (it reads the slot map again only on MOVED or ASK, and a dead master sends neither:
 * https://github.com/redis/node-redis/issues/2806): while a master's connection is down it reads
 * the slot map again (at most every 200 ms), and a call that failed because its node was dropped
 * or unreachable is sent once more, on the new map. The store's scripts answer a resent call as
 * they answered the first. node-redis 4 keeps its slot map private: there, no recovery.
 *
 * @param client - A connected node-redis client (`createClient`) or cluster (`createCluster`).
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisStore, nodeRedisAdapter } from 'caa-auth';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = new RedisStore({ client: nodeRedisAdapter(client) });
 * ```
 *
 * @category Stores
 */
export function nodeRedisAdapter(client: NodeRedisLike): RedisScriptClient {
  const adapter: RedisScriptClient = {
    evalshaScript: (sha1, keys, args) => client.evalSha(sha1, { keys: [...keys], arguments: [...args] }),
    evalScript: (source, keys, args) => client.eval(source, { keys: [...keys], arguments: [...args] }),
  };
  const masters = client.masters;
  if (Array.isArray(masters)) {
    const refresh = slotMapRefresh(client, masters);
    if (refresh !== undefined) {
      const send = async (call: () => Promise<unknown>): Promise<unknown> => {
        // A master whose connection is down may have been failed over: look at the slot map again.
        if (masters.some((master: NodeRedisClusterNode) => master.client !== undefined && master.client.isReady === false)) {
          void refresh();
        }
        try {
          return await call();
        } catch (err) {
          if (!isConnectionFault(err)) throw err;
          // Once, on the refreshed map: the scripts answer a resent call as they answered the first.
          await refresh();
          return call();
        }
      };
      adapter.evalshaScript = (sha1, keys, args) => send(() => client.evalSha(sha1, { keys: [...keys], arguments: [...args] }));
      adapter.evalScript = (source, keys, args) => send(() => client.eval(source, { keys: [...keys], arguments: [...args] }));
    }
    // A cluster: INFO from each master's own client (node-redis opens them as it discovers the slots).
    adapter.info = (section) =>
      Promise.all(
        masters.map(async (master: { client?: { sendCommand?: unknown } }) => {
          const node = master.client;
          if (typeof node?.sendCommand !== 'function') throw new Error('a cluster master without a connected client');
          return String(await (node.sendCommand as SendCommand).call(node, ['INFO', section]));
        }),
      );
    return adapter;
  }
  if (typeof client.sendCommand === 'function') {
    const send = (client.sendCommand as SendCommand).bind(client);
    // Sent in one go, in order, on the client's one connection; unlike execAsPipeline (which rejects
    // with the first error), each command keeps its own reply or error.
    adapter.evalThenWait = groupCommit((commands) =>
      Promise.all(commands.map(async (command) => send(command).then((reply): PipelineResult => [null, reply], (err: unknown): PipelineResult => [err, undefined]))),
    );
    adapter.info = async (section) => [String(await send(['INFO', section]))];
  }
  return adapter;
}

/** A master of a node-redis cluster, as `cluster.masters` lists it. */
interface NodeRedisClusterNode {
  client?: { isReady?: unknown; options?: unknown };
}

/** node-redis v5's slot map (`cluster._slots`): `rediscover(client)` reads CLUSTER SLOTS again. */
interface NodeRedisSlots {
  rediscover?: unknown;
}

/** At most one slot-map refresh per this long, ms: a dead master is seen on every call until its failover. */
const SLOT_MAP_REFRESH_INTERVAL_MS = 200;

/**
 * A throttled refresh of a node-redis cluster's slot map, or undefined when the client has none to
 * call. node-redis reads CLUSTER SLOTS again only on MOVED or ASK; a master that dies answers
 * neither, so without this its slots stay mapped to it after its replica took over (its commands
 * wait in the dead connection's offline queue, or fail "The client is offline"). Upstream:
 * https://github.com/redis/node-redis/issues/2806. The refresh starts from a connected master;
 * node-redis then drops the dead node's client, which rejects the commands queued on it.
 */
function slotMapRefresh(client: NodeRedisLike, masters: readonly NodeRedisClusterNode[]): (() => Promise<void>) | undefined {
  const slots: unknown = (client as { _slots?: unknown })._slots;
  if (typeof slots !== 'object' || slots === null) return undefined;
  const rediscover = (slots as NodeRedisSlots).rediscover;
  if (typeof rediscover !== 'function') return undefined; // node-redis 4 keeps its slot map private
  let running: Promise<void> | undefined;
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    if (running !== undefined) return running;
    if (Date.now() - last < SLOT_MAP_REFRESH_INTERVAL_MS) return Promise.resolve();
    // rediscover() reads the options of the client it starts from: a connected one, else any (it then tries the root nodes).
    const start =
      masters.find((master) => master.client?.isReady === true)?.client ?? masters.find((master) => master.client?.options !== undefined)?.client;
    if (start === undefined) return Promise.resolve();
    last = Date.now();
    running = (rediscover as (startWith: unknown) => Promise<void>)
      .call(slots, start)
      .catch(() => {}) // node-redis emits the cause as the cluster's 'error'; the retried call fails on its own
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}

/** node-redis's errors for a node it cannot reach or has dropped (never a reply of the server). */
const CONNECTION_FAULTS = new Set(['The client is offline', 'The client is closed', 'Disconnects client', 'Socket closed unexpectedly']);
const CONNECTION_FAULT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENOTCONN']);

function isConnectionFault(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as { code?: unknown }).code;
  return CONNECTION_FAULTS.has(err.message) || (typeof code === 'string' && CONNECTION_FAULT_CODES.has(code));
}

/**
 * Any client {@link RedisStore} accepts: its own interface, or an ioredis or node-redis connection.
 *
 * @example
 * ```ts
 * import { RedisStore, type AnyRedisClient } from 'caa-auth';
 *
 * // Takes whichever client the application already has; RedisStore picks the adapter once, at construction.
 * export function sessionStore(client: AnyRedisClient): RedisStore {
 *   return new RedisStore({ client, prefix: 'shop:caa:' });
 * }
 * ```
 *
 * @category Stores
 */
export type AnyRedisClient = RedisScriptClient | IoredisLike | NodeRedisLike;

/**
 * Picks the adapter for a client once, at construction. node-redis spells `evalSha` in camel case,
 * ioredis `evalsha` in lower case; the two never both appear on one client.
 */
export function toScriptClient(client: AnyRedisClient): RedisScriptClient {
  if (typeof client !== 'object' || client === null) {
    const got = client === null ? 'null' : typeof client === 'string' ? 'a string (a URL? connect a client and pass it)' : typeof client;
    throw new TypeError(`RedisStore: client must be a connected ioredis or node-redis client, or a RedisScriptClient (got ${got})`);
  }
  if ('evalshaScript' in client && typeof client.evalshaScript === 'function') return client;
  if ('evalSha' in client && typeof client.evalSha === 'function') return nodeRedisAdapter(client);
  if ('evalsha' in client && typeof client.evalsha === 'function') return ioredisAdapter(client);
  throw new TypeError('RedisStore: client must be an ioredis or node-redis client, or a RedisScriptClient');
}
