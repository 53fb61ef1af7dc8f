/**
 * `readAuthorization` and a repeated `Authorization` header. Node keeps the first of several
 * `Authorization` lines in `req.headers` and drops the rest, so a request carrying two credentials
 * would be judged by whichever came first; the library reads `rawHeaders` (Node, Express) or
 * `raw.rawHeaders` (Fastify) to refuse such a request instead.
 */

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import Fastify from 'fastify';
import {
  CAA_ACTIONS,
  MemoryStore,
  MemoryUserRepository,
  authenticate,
  isCaaError,
  issueSession,
  readAuthorization,
  refreshToken,
  revokeSession,
  signCaaHeader,
  type RequestLike,
  type User,
} from '../../src/index.js';
import { expectCaaError } from '../support/expect-caa-error.js';

const VALUE = 'Caa dmFsdWU=';
const OTHER = 'Caa b3RoZXI=';

describe('readAuthorization with raw headers', () => {
  it('reads the one Authorization header of a Node-style request', () => {
    const req = { headers: { authorization: VALUE }, rawHeaders: ['Host', 'x', 'Authorization', VALUE] };
    expect(readAuthorization(req)).toBe(VALUE);
  });

  it('refuses (undefined) two Authorization lines in rawHeaders, whatever their case and values', () => {
    // What Node hands over: `headers` keeps the first value only.
    const twice = { headers: { authorization: VALUE }, rawHeaders: ['Authorization', VALUE, 'authorization', OTHER] };
    expect(readAuthorization(twice)).toBeUndefined();
    const cases = { headers: { authorization: VALUE }, rawHeaders: ['AUTHORIZATION', VALUE, 'Host', 'x', 'aUtHoRiZaTiOn', VALUE] };
    expect(readAuthorization(cases)).toBeUndefined();
  });

  it('refuses two lines also when the request has a get() method (an Express request)', () => {
    const express = {
      headers: { authorization: VALUE },
      rawHeaders: ['Authorization', VALUE, 'Authorization', OTHER],
      get: (name: string): string | null => (name.toLowerCase() === 'authorization' ? VALUE : null),
    };
    expect(readAuthorization(express)).toBeUndefined();
  });

  it('refuses two Authorization lines in raw.rawHeaders (the shape of a Fastify request)', () => {
    const req = { headers: { authorization: VALUE }, raw: { rawHeaders: ['Authorization', VALUE, 'Authorization', VALUE] } };
    expect(readAuthorization(req)).toBeUndefined();
    const single = { headers: { authorization: VALUE }, raw: { rawHeaders: ['Authorization', VALUE] } };
    expect(readAuthorization(single)).toBe(VALUE);
  });

  it('counts header names only, never values, and no other header that merely contains the word', () => {
    const req = {
      headers: { authorization: VALUE },
      rawHeaders: ['X-Authorization', OTHER, 'Authorization', VALUE, 'Proxy-Authorization', OTHER, 'X-Note', 'authorization'],
    };
    expect(readAuthorization(req)).toBe(VALUE);
  });

  it('keeps the plain { headers } shape unchanged when there are no raw headers', () => {
    expect(readAuthorization({ headers: { authorization: VALUE } })).toBe(VALUE);
    expect(readAuthorization({ headers: { authorization: [VALUE] } })).toBe(VALUE);
    expect(readAuthorization({ headers: { authorization: [VALUE, OTHER] } })).toBeUndefined();
    expect(readAuthorization({ headers: {} })).toBeUndefined();
  });
});

describe('two Authorization lines sent to a real node:http server', () => {
  const user: User = { _id: 'u1', name: 'n', gender: 'secret', avatar: null, registerAt: 0, createAt: 0 };
  const store = new MemoryStore();
  let server: Server;
  let port: number;
  /** What the handler saw for the last request. */
  let seen: { first: string | undefined; read: string | undefined; outcome: string } | undefined;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      authenticate(store, req, CAA_ACTIONS.fetchMyProfile).then(
        () => 'ok',
        (err: unknown) => (isCaaError(err) ? err.code : 'other'),
      ).then((outcome) => {
        const header = req.headers.authorization;
        seen = { first: header, read: readAuthorization(req), outcome };
        res.end(outcome);
      }, () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    if (server === undefined) return; // beforeAll failed before creating it
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Sends raw HTTP/1.1 with the given Authorization lines; resolves once the connection closes. */
  function send(authorizations: readonly string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
      const lines = ['GET /api/my HTTP/1.1', 'Host: 127.0.0.1', ...authorizations.map((a) => `Authorization: ${a}`), 'Connection: close'];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  it('Node keeps the first line in req.headers; readAuthorization refuses and authenticate answers INVALID_AUTHORIZATION', async () => {
    const pair = await issueSession(store, user);
    const header = signCaaHeader({ action: CAA_ACTIONS.fetchMyProfile, apiKey: pair.apiKey, secretKey: pair.secretKey });

    await send([header]);
    expect(seen).toEqual({ first: header, read: header, outcome: 'ok' });

    await send([header, header]);
    expect(seen).toEqual({ first: header, read: undefined, outcome: 'INVALID_AUTHORIZATION' });

    await send([header, 'Caa bm90LWEtY3JlZGVudGlhbA==']);
    expect(seen).toEqual({ first: header, read: undefined, outcome: 'INVALID_AUTHORIZATION' });

    // The refused requests did not touch the session.
    await send([header]);
    expect(seen?.outcome).toBe('ok');
  });
});

describe('readAuthorization of a plain header record', () => {
  it('refuses (undefined) two case variants of authorization, whichever has which value', () => {
    expect(readAuthorization({ headers: { Authorization: VALUE, AUTHORIZATION: OTHER } })).toBeUndefined();
    expect(readAuthorization({ headers: { authorization: VALUE, Authorization: VALUE } })).toBeUndefined();
    expect(readAuthorization({ headers: { aUtHoRiZaTiOn: VALUE, authorization: OTHER } })).toBeUndefined();
  });

  it('reads the one variant there is, in any case, and ignores a variant whose value is undefined', () => {
    expect(readAuthorization({ headers: { Authorization: VALUE } })).toBe(VALUE);
    expect(readAuthorization({ headers: { AUTHORIZATION: [VALUE] } })).toBe(VALUE);
    expect(readAuthorization({ headers: { authorization: undefined, Authorization: VALUE } })).toBe(VALUE);
    expect(readAuthorization({ headers: { 'x-authorization': OTHER, Authorization: VALUE } })).toBe(VALUE);
  });

  it('never reads an inherited authorization (a prototype that has one reads as missing)', () => {
    const inherited = Object.create({ authorization: VALUE, Authorization: OTHER }) as Record<string, string>;
    expect(readAuthorization({ headers: inherited })).toBeUndefined();
    const ownBeside = Object.assign(Object.create({ Authorization: OTHER }) as Record<string, string>, { authorization: VALUE });
    expect(readAuthorization({ headers: ownBeside })).toBe(VALUE);
    expect(readAuthorization({ headers: Object.assign(Object.create(null) as Record<string, string>, { authorization: VALUE }) })).toBe(VALUE);
  });

  it('does not read a polluted Object.prototype.authorization, also through an object with get() and headers (Express)', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto['authorization'] = OTHER;
    try {
      expect(readAuthorization({ headers: {} })).toBeUndefined();
      const nodeLike = { headers: { host: 'x' }, rawHeaders: ['Host', 'x'] };
      expect(readAuthorization(nodeLike)).toBeUndefined();
      const expressLike = {
        headers: { host: 'x' } as Record<string, string>,
        get(name: string): string | null {
          return (this.headers[name.toLowerCase()] as string | undefined) ?? null;
        },
      };
      expect(expressLike.get('authorization')).toBe(OTHER); // the trap: Express's req.get reads through the prototype
      expect(readAuthorization(expressLike)).toBeUndefined();
    } finally {
      delete proto['authorization'];
    }
  });

  it('treats a request that is not an object, or headers that are null or not an object, as missing', () => {
    const odd: unknown[] = [undefined, null, 'Caa dmFsdWU=', 42, { headers: null }, { headers: undefined }, { headers: 'Caa dmFsdWU=' }, {}];
    for (const req of odd) expect(readAuthorization(req as RequestLike)).toBeUndefined();
    expect(readAuthorization({ headers: { authorization: 42 } } as unknown as RequestLike)).toBeUndefined();
    expect(readAuthorization({ headers: { authorization: [42] } } as unknown as RequestLike)).toBeUndefined();
    expect(readAuthorization({ get: () => 42 } as unknown as RequestLike)).toBeUndefined();
  });

  it('still reads Fetch Request and Headers, and a get()-only object', () => {
    expect(readAuthorization(new Request('http://x', { headers: { Authorization: VALUE } }))).toBe(VALUE);
    expect(readAuthorization(new Headers({ authorization: VALUE }))).toBe(VALUE);
    expect(readAuthorization({ get: (name: string) => (name === 'authorization' ? VALUE : null) })).toBe(VALUE);
    expect(readAuthorization(new Headers())).toBeUndefined();
  });
});

describe('the use cases answer 400 invalid authorization for unreadable or duplicated headers, never a TypeError', () => {
  const user: User = { _id: 'u2', name: 'n', gender: 'secret', avatar: null, registerAt: 0, createAt: 0 };
  /** Each shape, built around a header that is valid, so that a refusal is about the shape, not the value. */
  const odd: [string, (header: string) => unknown][] = [
    ['no request', () => undefined],
    ['a null request', () => null],
    ['a string', (header) => header],
    ['headers: null', () => ({ headers: null })],
    ['headers: a string', (header) => ({ headers: header })],
    ['two case variants', (header) => ({ headers: { Authorization: header, AUTHORIZATION: header } })],
    ['an inherited authorization', (header) => ({ headers: Object.create({ authorization: header }) as unknown })],
  ];

  for (const [name, shape] of odd) {
    it(`${name}: authenticate, refreshToken and revokeSession`, async () => {
      const store = new MemoryStore();
      const users = new MemoryUserRepository([user]);
      const signed = await issueSession(store, user);
      const sign = (action: string): RequestLike =>
        shape(signCaaHeader({ action, apiKey: signed.apiKey, secretKey: signed.secretKey })) as RequestLike;

      await expectCaaError(authenticate(store, sign(CAA_ACTIONS.fetchMyProfile), CAA_ACTIONS.fetchMyProfile), 400, 'invalid authorization', 'INVALID_AUTHORIZATION');
      await expectCaaError(refreshToken(store, users, sign(CAA_ACTIONS.refreshToken)), 400, 'invalid authorization', 'INVALID_AUTHORIZATION');
      await expectCaaError(revokeSession(store, sign(CAA_ACTIONS.logout)), 400, 'invalid authorization', 'INVALID_AUTHORIZATION');
      expect(store.liveSessions().map((session) => session.apiKey)).toEqual([signed.apiKey]);
    });
  }
});

describe('readAuthorization of real Express and Fastify requests', () => {
  /** Sends raw HTTP/1.1 with the given header lines to `port`; resolves with the reply once the connection closes. */
  function sendRaw(port: number, headerLines: readonly string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
      const lines = ['GET /x HTTP/1.1', 'Host: 127.0.0.1', ...headerLines, 'Connection: close'];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  it('Express: reads the header, refuses two lines, and sees rawHeaders as an own property of the request', async () => {
    const seen: { read: string | undefined; ownRawHeaders: boolean }[] = [];
    const app = express();
    app.get('/x', (req, res) => {
      seen.push({ read: readAuthorization(req), ownRawHeaders: Object.hasOwn(req, 'rawHeaders') });
      res.end();
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const { port } = server.address() as AddressInfo;
      await sendRaw(port, [`Authorization: ${VALUE}`]);
      await sendRaw(port, [`Authorization: ${VALUE}`, `authorization: ${OTHER}`]);
      await sendRaw(port, []);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(seen).toEqual([
      { read: VALUE, ownRawHeaders: true },
      { read: undefined, ownRawHeaders: true },
      { read: undefined, ownRawHeaders: true },
    ]);
  });

  it('Fastify: reads the header, refuses two lines, and sees raw.rawHeaders as an own property of raw', async () => {
    const seen: { read: string | undefined; ownRawHeaders: boolean }[] = [];
    const app = Fastify();
    app.get('/x', async (req) => {
      seen.push({ read: readAuthorization(req), ownRawHeaders: Object.hasOwn(req.raw, 'rawHeaders') });
      return 'ok';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      await sendRaw(port, [`Authorization: ${VALUE}`]);
      await sendRaw(port, [`Authorization: ${VALUE}`, `AUTHORIZATION: ${VALUE}`]);
      await sendRaw(port, []);
    } finally {
      await app.close();
    }
    expect(seen).toEqual([
      { read: VALUE, ownRawHeaders: true },
      { read: undefined, ownRawHeaders: true },
      { read: undefined, ownRawHeaders: true },
    ]);
  });
});
