/**
 * `readAuthorization` and a repeated `Authorization` header. Node keeps the first of several
 * `Authorization` lines in `req.headers` and drops the rest, so a request carrying two credentials
 * would be judged by whichever came first; the library reads `rawHeaders` (Node, Express) or
 * `raw.rawHeaders` (Fastify) to refuse such a request instead.
 */

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAA_ACTIONS,
  MemoryStore,
  authenticate,
  isCaaError,
  issueSession,
  readAuthorization,
  signCaaHeader,
  type User,
} from '../../src/index.js';

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
