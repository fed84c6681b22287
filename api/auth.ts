// API keys on the private listener. Every route there names the scope it needs in its config;
// a route without one cannot be registered, so a new route is never open by accident.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scopeAllows, type ApiKeySummary, type ApiKeyVerifier } from '../app/apiKeys';
import type { ApiKeyScope } from '../store/types';
import type { ErrorBody } from './server';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a caller's API key must allow; `public` needs none (health, preflight). */
    scope?: ApiKeyScope | 'public';
  }
  interface FastifyRequest {
    /** The key the request was authenticated with; absent in loopback-only mode (no key exists). */
    apiKey?: ApiKeySummary;
  }
}

const NO_KEYS = 'no API key exists yet, so this API answers requests from this machine only; create one with `journeys keys create --name NAME --scope ingest|read|admin`';

/**
 * Requires a bearer key with the route's scope, or, while no key exists, a caller on loopback.
 * `sessionKeyOf` finds the key a browser session holds, for pages a browser navigates to.
 */
export function registerApiKeyAuth(app: FastifyInstance, verifier: ApiKeyVerifier, sessionKeyOf?: (request: FastifyRequest) => string | undefined): void {
  app.decorateRequest('apiKey', undefined);
  app.addHook('onRoute', (route) => {
    if (route.config?.scope === undefined && route.url !== '/healthz' && route.method !== 'OPTIONS' && route.method !== 'HEAD') {
      throw new Error(`${String(route.method)} ${route.url} names no scope: give it config.scope (ingest, read, admin or public)`);
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined || scope === 'public' || request.method === 'OPTIONS') return;
    if (!(await verifier.keysExist())) {
      if (fromLoopback(request)) return;
      return refuse(reply, 401, 'unauthorized', NO_KEYS);
    }
    const presented = bearerOf(request) ?? sessionKeyOf?.(request);
    if (presented === undefined) return refuse(reply, 401, 'unauthorized', 'send an API key as "Authorization: Bearer <key>"');
    const result = await verifier.verify(presented);
    if ('refused' in result) return refuse(reply, 401, 'unauthorized', result.refused);
    request.apiKey = result.key;
    if (!scopeAllows(result.key.scope, scope)) return refuse(reply, 403, 'forbidden', forbidden(result.key, scope));
  });
}

/** For a route whose scope depends on its body (a consent grant needs admin, a withdrawal ingest): throws 403 unless allowed. */
export function requireScope(request: FastifyRequest, scope: ApiKeyScope, what: string): void {
  const key = request.apiKey;
  if (key && !scopeAllows(key.scope, scope)) {
    throw Object.assign(new Error(`${what} ${forbidden(key, scope)}`), { statusCode: 403 });
  }
}

/** A request straight from this machine: its socket is on loopback and no proxy says it forwarded it. */
export function fromLoopback(request: FastifyRequest): boolean {
  const { headers } = request;
  if (headers.forwarded !== undefined || headers['x-forwarded-for'] !== undefined || headers['x-real-ip'] !== undefined) return false;
  const address = request.socket.remoteAddress ?? '';
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match) return match[1];
  // HTTP Basic with the key as user name and no password: how Segment's HTTP API and CDP destinations send a write key.
  const basic = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  const user = basic && Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0];
  return user || undefined;
}

function forbidden(key: ApiKeySummary, scope: ApiKeyScope): string {
  return `needs a key with scope ${scope} (or admin); key ${key.name} has scope ${key.scope}`;
}

function refuse(reply: FastifyReply, status: 401 | 403, error: string, message: string) {
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(status).send({ error, message } satisfies ErrorBody);
}
