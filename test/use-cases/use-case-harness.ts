/**
 * What the use-case tests of sessions, events and users share: the stores they run on (MemoryStore,
 * and RedisStore on a real redis-server through ioredis and node-redis, with the caller's clock so
 * that time is injected), a recorder of events, and devices that sign requests and remember every
 * secret they produced (for the scans of events and responses).
 */

import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  CAA_ACTIONS,
  MemoryStore,
  MemoryUserRepository,
  RedisStore,
  createCaaAuth,
  parseCaaHeader,
  signCaaHeader,
  type CaaAuthConfig,
  type CaaEvent,
  type CredentialsResponse,
  type SessionMetadata,
  type SessionStore,
  type User,
  type UserLike,
} from '../../src/index.js';
import { RedisServer, freePort } from '../support/redis-server.js';
import { TestClock, familyOf, makeUser } from '../support/use-case-fixtures.js';

type NodeRedisClient = ReturnType<typeof createClient>;

/** A store the tests run on, opened fresh (its own key prefix) for each test. */
export interface StoreKind {
  readonly name: string;
  open(): Promise<SessionStore>;
  /** A store of this kind whose every call fails (a Redis nobody listens on); MemoryStore has none. */
  unreachable?(): Promise<SessionStore>;
}

/**
 * The three stores, for `describe.each`. Registers the hooks that start one redis-server for the
 * file and connect one ioredis and one node-redis client to it; each `open()` is a RedisStore with
 * a prefix of its own on those clients.
 */
export function storeKinds(): StoreKind[] {
  let server: RedisServer | undefined;
  let ioredis: Redis | undefined;
  let nodeRedis: NodeRedisClient | undefined;
  const closers: (() => void)[] = [];
  let stores = 0;
  const prefix = (): string => `caa:uc${++stores}:`;

  beforeAll(async () => {
    server = await RedisServer.start();
    ioredis = new Redis({ port: server.port, host: '127.0.0.1' });
    ioredis.on('error', () => {});
    await ioredis.ping();
    nodeRedis = createClient({ socket: { port: server.port, host: '127.0.0.1' } });
    nodeRedis.on('error', () => {});
    await nodeRedis.connect();
  });

  afterAll(async () => {
    for (const close of closers) close();
    ioredis?.disconnect();
    if (nodeRedis?.isOpen === true) nodeRedis.destroy();
    await server?.stop();
  });

  const connected = <T>(client: T | undefined): T => {
    if (client === undefined) throw new Error('the redis-server of this file is not started (beforeAll)');
    return client;
  };

  return [
    { name: 'MemoryStore', open: async () => new MemoryStore() },
    {
      name: 'RedisStore via ioredis',
      open: async () => new RedisStore({ client: connected(ioredis), prefix: prefix(), clock: 'caller' }),
      async unreachable() {
        const client = new Redis({ port: await freePort(), host: '127.0.0.1', enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
        client.on('error', () => {});
        closers.push(() => client.disconnect());
        return new RedisStore({ client, prefix: prefix(), clock: 'caller', timeoutMs: 500 });
      },
    },
    {
      name: 'RedisStore via node-redis',
      open: async () => new RedisStore({ client: connected(nodeRedis), prefix: prefix(), clock: 'caller' }),
      async unreachable() {
        const client = createClient({ socket: { port: await freePort(), host: '127.0.0.1', reconnectStrategy: false, connectTimeout: 200 }, disableOfflineQueue: true });
        client.on('error', () => {});
        await client.connect().catch(() => undefined);
        closers.push(() => {
          if (client.isOpen) client.destroy();
        });
        return new RedisStore({ client, prefix: prefix(), clock: 'caller', timeoutMs: 500 });
      },
    },
  ];
}

/** Resolves after every event emitted so far was delivered (they wait for a later turn: setImmediate). */
export function delivered(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Records events, and whether each arrived after what the test marked as answered. */
export class EventLog {
  readonly events: CaaEvent[] = [];
  /** What happened, in order: `answer:<label>` from {@link answered}, `event:<type>` from the handler. */
  readonly order: string[] = [];

  readonly onEvent = (event: CaaEvent): void => {
    this.events.push(event);
    this.order.push(`event:${event.type}`);
  };

  /** Marks an answer the test received. */
  answered(label: string): void {
    this.order.push(`answer:${label}`);
  }

  /** The events of one type. */
  ofType<T extends CaaEvent['type']>(type: T): Extract<CaaEvent, { type: T }>[] {
    return this.events.filter((event): event is Extract<CaaEvent, { type: T }> => event.type === type);
  }

  /** Empties the log (between the steps of a test). */
  clear(): void {
    this.events.length = 0;
    this.order.length = 0;
  }

  /**
   * Lets earlier events arrive, empties the log, runs `call`, checks that no event of it was
   * delivered before its answer resolved, then waits for delivery and returns the events it emitted.
   */
  async after<T>(call: () => Promise<T>): Promise<{ value: T; events: CaaEvent[] }> {
    await delivered();
    this.clear();
    const value = await call();
    expect(this.events, 'an event was delivered before the answer resolved').toStrictEqual([]);
    this.answered('value');
    await delivered();
    return { value, events: [...this.events] };
  }

  /** As {@link after}, for a call that rejects: returns the rejection and the events. */
  async afterRejection(call: () => Promise<unknown>): Promise<{ error: unknown; events: CaaEvent[] }> {
    await delivered();
    this.clear();
    let error: unknown;
    try {
      await call();
    } catch (err) {
      error = err;
    }
    if (error === undefined) throw new Error('expected the call to reject, but it resolved');
    expect(this.events, 'an event was delivered before the answer rejected').toStrictEqual([]);
    this.answered('error');
    await delivered();
    return { error, events: [...this.events] };
  }
}

/** Every secret a test produced: keys issued, headers sent, signatures in them. */
export class Secrets {
  readonly apiKeys = new Set<string>();
  readonly secretKeys = new Set<string>();
  readonly headers = new Set<string>();
  readonly signatures = new Set<string>();
  readonly passwords = new Set<string>();

  /** Remembers the pair of a login or refresh response, and returns it. */
  keep<T extends { apiKey: string; secretKey: string }>(body: T): T {
    this.apiKeys.add(body.apiKey);
    this.secretKeys.add(body.secretKey);
    return body;
  }

  /** A request signed with `pair` for `action` at `timestamp`, its header and signature remembered. */
  sign(pair: { apiKey: string; secretKey: string }, action: string, timestamp: number): { headers: { authorization: string } } {
    const authorization = signCaaHeader({ action, apiKey: pair.apiKey, secretKey: pair.secretKey, timestamp });
    this.headers.add(authorization);
    this.signatures.add(parseCaaHeader(authorization).signature);
    return { headers: { authorization } };
  }

  /** Each secret (kind and value) found in `text`. */
  foundIn(text: string): string[] {
    const found: string[] = [];
    const scan = (kind: string, values: Iterable<string>): void => {
      for (const value of values) if (text.includes(value)) found.push(`${kind} ${value}`);
    };
    scan('apiKey', this.apiKeys);
    scan('secretKey', this.secretKeys);
    scan('header', this.headers);
    // The header's base64 part names apiKey and signature; without the scheme it is a secret too.
    scan('header value', [...this.headers].map((header) => header.slice('Caa '.length)));
    scan('signature', this.signatures);
    scan('password', this.passwords);
    return found;
  }
}

/** A client device: the pair it holds, and requests signed with it on the test's clock. */
export class Device {
  pair: { apiKey: string; secretKey: string };

  constructor(
    body: { apiKey: string; secretKey: string },
    readonly clock: TestClock,
    readonly secrets: Secrets = new Secrets(),
  ) {
    this.pair = secrets.keep({ apiKey: body.apiKey, secretKey: body.secretKey });
  }

  /** A request signed now (a unique timestamp) for `action`. */
  request(action: string = CAA_ACTIONS.fetchMyProfile): { headers: { authorization: string } } {
    return this.secrets.sign(this.pair, action, this.clock.stamp());
  }

  refreshRequest(): { headers: { authorization: string } } {
    return this.request(CAA_ACTIONS.refreshToken);
  }

  logoutRequest(): { headers: { authorization: string } } {
    return this.request(CAA_ACTIONS.logout);
  }

  /** Takes the pair of a refresh response. */
  take<U extends UserLike, P>(body: CredentialsResponse<U, P>): CredentialsResponse<U, P> {
    this.pair = this.secrets.keep({ apiKey: body.apiKey, secretKey: body.secretKey });
    return body;
  }
}

/** A configured auth object over a fresh store of `kind`, a user, a clock, an event log and a secrets record. */
export async function setupAuth(kind: StoreKind, config: Omit<CaaAuthConfig<User>, 'store' | 'users'> = {}) {
  const store = await kind.open();
  const clock = new TestClock();
  const user = makeUser('user-1');
  const users = new MemoryUserRepository<User>([user]);
  const log = new EventLog();
  const secrets = new Secrets();
  if (user.password !== undefined) secrets.passwords.add(user.password);
  const auth = createCaaAuth<User>({ store, users, now: clock.now, onEvent: log.onEvent, ...config });
  /** A login of `who` (default the user), as a device holding its pair. */
  const login = async (metadata?: SessionMetadata, who: User = user): Promise<Device> =>
    new Device(await auth.issueSession(who, metadata === undefined ? {} : { metadata }), clock, secrets);
  /** The session id (family) of a device's pair, as the store holds it. */
  const sessionIdOf = (device: Device): Promise<string> => familyOf(store, device.pair.apiKey, clock.t);
  return { store, clock, user, users, log, secrets, auth, login, sessionIdOf };
}
