/**
 * caa-auth for Fastify 5, as a plugin: `request.caaSession`, an `onRequest` hook per route
 * (`app.caaAuth(action)`, or the route option `config: { caa: action }`) that runs before the body
 * is parsed (a `caa-v2` request with a body is checked once its bytes are read, in `preValidation`,
 * against its `Content-Digest`; its raw bytes are kept on `request.rawBody`), errors answered as
 * JSON by the hook itself, and the ready-made routes. `fastify` is an optional peer dependency:
 * this module imports only its types (and marks the plugin the way fastify-plugin does, so it
 * decorates the app it is registered on and Fastify checks its version).
 *
 * @module caa-auth/fastify
 */

import { requiresContentDigest, toErrorResponse, type CaaAuth, type Session, type UserLike } from 'caa-auth';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { Readable } from 'node:stream';
import { caaRouteTable, reportServerError, type CaaRoutesOptions } from './routes.js';

export { LOGIN_FAILED, SESSION_NOT_FOUND, caaRouteTable, defaultLoginMetadata } from './routes.js';
export type { CaaRoute, CaaRouteAnswer, CaaRouteInput, CaaRoutesOptions } from './routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The live session of a request that passed a caa-auth hook; `null` elsewhere. */
    caaSession: Session | null;
  }
  interface FastifyInstance {
    /** An `onRequest` hook that authenticates requests signed with `action`. */
    caaAuth(action: string, options?: { replayProtection?: boolean }): onRequestAsyncHookHandler;
  }
  interface FastifyContextConfig {
    /** The action a route's requests must be signed with: the plugin adds its hook to the route. */
    caa?: string;
  }
}

/**
 * Options of {@link caaPlugin}.
 *
 * @example
 * ```ts
 * import { caaPlugin, type CaaPluginOptions } from 'caa-auth/fastify';
 *
 * const options: CaaPluginOptions = { auth, routes: { verifyLogin: (body) => checkPassword(body) } };
 * await app.register(caaPlugin, options);
 * ```
 *
 * @category Integrations
 */
export interface CaaPluginOptions<U extends UserLike = UserLike, P = unknown> {
  /** The configured auth object (`createCaaAuth`). */
  auth: CaaAuth<U, P>;
  /** Mounts the ready-made routes too (see `caaRouteTable`). */
  routes?: CaaRoutesOptions<U>;
  /**
   * Sets an error handler on the app that answers every error as `toErrorResponse` does (a
   * CaaError as status + `{ message }`, anything else 500 `{ message: 'internal error' }`).
   * Default `true`; `false` leaves the app's own.
   */
  errorHandler?: boolean;
  /**
   * Called for every answer of 500 or more the plugin gives (its hooks, its routes, its error
   * handler), to log it. The error of a store fault is a `CaaError` whose `cause` holds no secret.
   */
  onServerError?: (err: unknown) => void;
}

/** Answers an error as JSON (the hook's own refusals, and the error handler's); 5xx reported first. */
function answer(reply: FastifyReply, err: unknown, onServerError?: (err: unknown) => void): FastifyReply {
  const { status, body, headers } = toErrorResponse(err);
  if (headers !== undefined) void reply.headers(headers);
  reportServerError(onServerError, err, status);
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** Fastify's own default `bodyLimit` (1 MiB). */
const DEFAULT_BODY_LIMIT = 1_048_576;

/** A check waiting for the body: a caa-v2 request with a body is verified against its Content-Digest. */
interface PendingCheck {
  action: string;
  options: { replayProtection?: boolean };
}

const pendingChecks = new WeakMap<FastifyRequest, PendingCheck>();

/** The request carries caa-v2 signature headers. */
function carriesCaaV2(request: FastifyRequest): boolean {
  return request.headers['signature-input'] !== undefined || request.headers.signature !== undefined;
}

/** The request has a body, as the profile counts one (a Content-Length above 0, or any Transfer-Encoding). */
function hasBody(request: FastifyRequest): boolean {
  return requiresContentDigest({
    header: (name) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  });
}

function hook<U extends UserLike, P>(
  auth: CaaAuth<U, P>,
  action: string,
  options: { replayProtection?: boolean },
  onServerError: ((err: unknown) => void) | undefined,
): onRequestAsyncHookHandler {
  if (typeof action !== 'string' || action.length === 0) throw new TypeError('caaAuth: action must be a non-empty string');
  return async (request: FastifyRequest, reply: FastifyReply) => {
    // The body's digest can only be checked once it is read: such a request is checked in preValidation.
    if (carriesCaaV2(request) && hasBody(request)) {
      pendingChecks.set(request, { action, options });
      return;
    }
    try {
      request.caaSession = await auth.authenticate(request, action, options);
    } catch (err) {
      // Answered here, before body parsing and whatever error handler the app has.
      await answer(reply, err, onServerError);
    }
  };
}

async function plugin(app: FastifyInstance, options: CaaPluginOptions): Promise<void> {
  const { auth } = options;
  if (typeof auth?.authenticate !== 'function') throw new TypeError('caaPlugin: options.auth must be the object createCaaAuth returns');
  app.decorateRequest('caaSession', null);
  const { onServerError } = options;
  app.decorate('caaAuth', (action: string, hookOptions?: { replayProtection?: boolean }) => hook(auth, action, hookOptions ?? {}, onServerError));
  // caa-v2 requests with a body: their bytes kept on request.rawBody (for Content-Digest), then checked.
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (!carriesCaaV2(request) || !hasBody(request)) return payload;
    const limit = app.initialConfig.bodyLimit ?? DEFAULT_BODY_LIMIT;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += bytes.length;
      if (size > limit) throw Object.assign(new Error('request body too large'), { statusCode: 413 });
      chunks.push(bytes);
    }
    const rawBody = Buffer.concat(chunks);
    (request as { rawBody?: Uint8Array }).rawBody = rawBody;
    const replay = Readable.from([rawBody]) as Readable & { receivedEncodedLength?: number };
    replay.receivedEncodedLength = (payload as { receivedEncodedLength?: number }).receivedEncodedLength ?? rawBody.length;
    return replay;
  });
  app.addHook('preValidation', async (request, reply) => {
    const pending = pendingChecks.get(request);
    if (pending === undefined) return;
    pendingChecks.delete(request);
    try {
      request.caaSession = await auth.authenticate(request, pending.action, pending.options);
    } catch (err) {
      await answer(reply, err, onServerError);
    }
  });
  app.addHook('onRoute', (route) => {
    const action = (route.config as { caa?: unknown } | undefined)?.caa;
    if (action === undefined) return;
    if (typeof action !== 'string') throw new TypeError(`caaPlugin: config.caa of ${route.method} ${route.url} must be an action string`);
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [hook(auth, action, {}, onServerError), ...existing];
  });
  if (options.errorHandler !== false) {
    app.setErrorHandler((err, _request, reply) => answer(reply, err, onServerError));
  }
  if (options.routes !== undefined) {
    for (const route of caaRouteTable(auth, options.routes)) {
      app.route({
        method: route.method,
        url: route.path,
        handler: async (request, reply) => {
          const { status, body, headers } = await route.handle({
            req: request,
            body: request.body,
            params: request.params as Record<string, string | undefined>,
            ip: request.ip,
          });
          if (headers !== undefined) void reply.headers(headers);
          return reply.code(status).send(body);
        },
      });
    }
  }
}

// What fastify-plugin sets: no encapsulation (the decorations reach the app), a name, the versions it supports.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'caa-auth',
  [Symbol.for('plugin-meta')]: { name: 'caa-auth', fastify: '5.x' },
});

/**
 * The Fastify plugin. Register it once; then authenticate a route with `onRequest:
 * app.caaAuth(action)` or `config: { caa: action }`, and read `request.caaSession`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { caaPlugin } from 'caa-auth/fastify';
 *
 * const app = Fastify();
 * await app.register(caaPlugin, { auth, routes: { verifyLogin: (body) => checkPassword(body) } });
 * app.get('/api/orders', { config: { caa: 'shop:orders:list' } }, async (request) => listOrders(request.caaSession!.userId));
 * ```
 *
 * @category Integrations
 */
export const caaPlugin: FastifyPluginAsync<CaaPluginOptions> = plugin;
