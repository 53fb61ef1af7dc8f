/**
 * Bad `Authorization` headers at the HTTP edge, against the Express, Fastify and Hono (on Node)
 * example servers as real processes, sent as raw HTTP/1.1 over `node:net` (fetch would merge
 * repeated headers and refuses bytes that are not Latin-1).
 *
 * Whatever reaches the app is answered exactly `400 {"message":"invalid authorization"}`, never a
 * 5xx, and the header's value (and the session's secretKey) appears neither in the response nor in
 * the server's stdout/stderr. What Node's HTTP parser refuses before the app sees it, as observed
 * on Node 20 (the answer is then Node's or Fastify's, not the app's):
 *
 * | input | Express and Hono examples | Fastify example |
 * |-------|---------------------------|-----------------|
 * | headers over 16 KiB in all (`--max-http-header-size`) | 431, empty body | 431, Fastify's JSON `{"error":…,"statusCode":431}` |
 * | control bytes in the value (NUL, 0x01, DEL, a bare CR), obs-fold | 400, empty body | 400, Fastify's JSON `{"error":"Bad Request","message":"Client Error","statusCode":400}` |
 *
 * Bytes 0x80–0xFF (obs-text) and UTF-8 text pass Node's parser (as Latin-1) and reach the app.
 * A repeated `Authorization` line reaches the app too: Node keeps the first in `req.headers`, and
 * the library's `readAuthorization` refuses the request by counting the lines in `rawHeaders`
 * (Express, Fastify); on Hono the Fetch `Headers` join the lines with `, `, which is no Caa header.
 */

import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCaaHeader } from 'caa-auth';
import { DEMO_MOBILE, DEMO_PASSWORD } from '../../examples/shared/users.js';
import { ExampleServer, PROFILE, SIGNED, call, type Endpoint, type Framework } from './example-process.js';

/** Starting a server compiled by tsx on a busy 2-core machine: generous, but bounded. */
const STARTUP_TIMEOUT_MS = 120_000;
const RAW_TIMEOUT_MS = 10_000;


const INVALID_AUTHORIZATION = '{"message":"invalid authorization"}';
/** Fastify's own answer when Node's parser refuses the request (`defaultClientErrorHandler`). */
const FASTIFY_CLIENT_ERROR = '{"error":"Bad Request","message":"Client Error","statusCode":400}';

interface RawReply {
  status: number;
  head: string;
  body: string;
}

/** Sends `bytes` over a fresh TCP connection and reads until the server closes it. */
function sendRaw(port: number, bytes: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${RAW_TIMEOUT_MS} ms`));
    }, RAW_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may reset the connection after answering a request it could not parse.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? Number.NaN);
      if (Number.isNaN(status)) reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      else resolve({ status, head, body: split === -1 ? '' : text.slice(split + 4) });
    });
    socket.write(bytes);
  });
}

/** A request to `endpoint` with one header line per entry of `authorizations` (raw bytes). */
function rawRequest(endpoint: Endpoint, authorizations: readonly Buffer[]): Buffer {
  const lines: Buffer[] = [Buffer.from(`${endpoint.method} ${endpoint.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, 'latin1')];
  for (const value of authorizations) lines.push(Buffer.from('Authorization: ', 'latin1'), value, Buffer.from('\r\n', 'latin1'));
  const length = endpoint.method === 'POST' ? 'Content-Length: 0\r\n' : '';
  lines.push(Buffer.from(`${length}Connection: close\r\n\r\n`, 'latin1'));
  return Buffer.concat(lines);
}

/** A distinctive, base64-alphabet marker to look for in answers and logs. */
function marker(): string {
  return `EDGE${randomBytes(12).toString('hex')}`;
}

/** `Caa ` and base64-alphabet text, `length` characters in all, starting with `tag`. */
function oversized(length: number, tag: string): string {
  const head = `Caa ${tag}`;
  return head + 'QUJD'.repeat(Math.ceil((length - head.length) / 4)).slice(0, length - head.length);
}

function latin1(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

describe.each<Framework>(['express', 'fastify', 'hono'])('%s example: bad Authorization headers at the HTTP edge', (framework) => {
  let server: ExampleServer | undefined;
  let port = 0;
  let pair: { apiKey: string; secretKey: string };
  /** Everything that must never be echoed or logged. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    server = await ExampleServer.start(framework);
    port = server.port;
    const login = await call(server.baseUrl, 'POST', '/api/my/login', { json: { mobile: DEMO_MOBILE, password: DEMO_PASSWORD } });
    expect(login.status).toBe(200);
    const body = login.body as { apiKey?: unknown; secretKey?: unknown };
    if (typeof body.apiKey !== 'string' || typeof body.secretKey !== 'string') throw new Error('login returned no credentials');
    pair = { apiKey: body.apiKey, secretKey: body.secretKey };
    secrets.add(pair.secretKey);
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
  });

  /** A freshly signed, valid header for `endpoint` with the live session. */
  function signed(endpoint: Endpoint): string {
    const header = signCaaHeader({ action: endpoint.action, ...pair });
    secrets.add(header);
    return header;
  }

  /** Sends the header lines and checks that nothing sent (or secret) comes back. */
  async function send(endpoint: Endpoint, authorizations: readonly Buffer[], tags: readonly string[]): Promise<RawReply> {
    for (const value of authorizations) secrets.add(value.toString('latin1'));
    for (const tag of tags) secrets.add(tag);
    const reply = await sendRaw(port, rawRequest(endpoint, authorizations));
    expect(reply.status, reply.head).not.toBeGreaterThanOrEqual(500);
    for (const secret of secrets) {
      expect(reply.head.includes(secret) || reply.body.includes(secret), 'the answer echoes a header value or secret').toBe(false);
    }
    return reply;
  }

  async function expectInvalidAuthorization(endpoint: Endpoint, authorizations: readonly Buffer[], tags: readonly string[]): Promise<void> {
    const reply = await send(endpoint, authorizations, tags);
    expect({ status: reply.status, body: reply.body }, reply.head).toEqual({ status: 400, body: INVALID_AUTHORIZATION });
    expect(reply.head.toLowerCase()).toContain('content-type: application/json');
  }

  /** The session is still live: none of the refused requests touched it. */
  async function expectSessionAlive(): Promise<void> {
    const reply = await sendRaw(port, rawRequest(PROFILE, [latin1(signed(PROFILE))]));
    expect(reply.status, reply.body).toBe(200);
  }

  describe.each(SIGNED)('$method $path', (endpoint) => {
    it.each([2 * 1024, 8 * 1024, 15 * 1024])('%i-character value → 400 invalid authorization', async (length) => {
      const tag = marker();
      await expectInvalidAuthorization(endpoint, [latin1(oversized(length, tag))], [tag]);
    });

    it('a valid header padded past the 1 KiB limit inside its base64 → 400 invalid authorization', async () => {
      const tag = marker();
      const value = `${signed(endpoint)}${tag}${'A'.repeat(2_000)}`;
      await expectInvalidAuthorization(endpoint, [latin1(value)], [tag]);
      await expectSessionAlive();
    });

    it('headers over 16 KiB in all → 431 from Node (before the app), no echo', async () => {
      const tag = marker();
      const reply = await send(endpoint, [latin1(oversized(17 * 1024, tag))], [tag]);
      expect(reply.status).toBe(431);
      if (framework !== 'fastify') expect(reply.body).toBe('');
      else expect(JSON.parse(reply.body)).toMatchObject({ statusCode: 431 });
    });

    it('the same valid header twice → 400 invalid authorization; the session is untouched', async () => {
      const value = latin1(signed(endpoint));
      await expectInvalidAuthorization(endpoint, [value, value], []);
      await expectSessionAlive();
    });

    it('a valid header and another value, in either order → 400 invalid authorization', async () => {
      const tag = marker();
      const other = latin1(`Caa ${tag}`);
      await expectInvalidAuthorization(endpoint, [latin1(signed(endpoint)), other], [tag]);
      await expectInvalidAuthorization(endpoint, [other, latin1(signed(endpoint))], [tag]);
      await expectSessionAlive();
    });

    it('raw bytes 0x80–0xFF in the value (obs-text, read as Latin-1) → 400 invalid authorization', async () => {
      const tag = marker();
      const high = Buffer.from([0x80, 0x9f, 0xa0, 0xc3, 0xa9, 0xfe, 0xff]);
      await expectInvalidAuthorization(endpoint, [Buffer.concat([latin1(`Caa ${tag}`), high, latin1('QUJD')])], [tag]);
      // A valid header with one byte replaced by 0xE9.
      const value = latin1(signed(endpoint));
      value[10] = 0xe9;
      await expectInvalidAuthorization(endpoint, [value], []);
    });

    it('UTF-8 text in the value → 400 invalid authorization', async () => {
      const tag = marker();
      const value = Buffer.from(`Caa ${tag}密钥ключ🔑`, 'utf8');
      await expectInvalidAuthorization(endpoint, [value], [tag]);
      await expectInvalidAuthorization(endpoint, [Buffer.from(`Cäa ${tag}`, 'utf8')], [tag]);
    });

    it('control bytes and obs-fold → 400 from Node’s parser (before the app), no echo', async () => {
      const tag = marker();
      const values: Buffer[] = [0x00, 0x01, 0x7f, 0x0d].map((byte) => Buffer.concat([latin1(`Caa ${tag}`), Buffer.from([byte]), latin1('QUJD')]));
      values.push(latin1(`Caa ${tag}\r\n QUJD`));
      for (const value of values) {
        const reply = await send(endpoint, [value], [tag]);
        expect(reply.status).toBe(400);
        expect(reply.body).toBe(framework === 'fastify' ? FASTIFY_CLIENT_ERROR : '');
      }
    });
  });

  it('the session survived every refused request', async () => {
    await expectSessionAlive();
  });

  it('never writes a header value, a marker or the secretKey to stdout/stderr', () => {
    const output = server?.output ?? '';
    expect(output).toMatch(/\/api\/my/); // request lines were logged: the check below means something
    for (const secret of secrets) expect(output.includes(secret), `the ${framework} server output contains a sent value`).toBe(false);
    expect(output).not.toMatch(/EDGE[0-9a-f]{24}/);
    expect(output.toLowerCase()).not.toContain('caa ');
  });
});
