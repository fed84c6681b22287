import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { defaultPayloadConverter } from '@temporalio/common';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../api/http';
import { createApiKey } from '../app/apiKeys';
import { EncryptionCodec } from '../codec/payloadCodec';
import { compose } from '../compose';
import { httpApi, publicApi, startHttpApi } from '../compose/apiRole';
import { ConfigError, readConfig, temporalAddress } from '../config';
import type { ApiKeyScope } from '../store/types';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// The scope each private route needs. A route missing here fails the first test, so a new
// route is never left out of the 401/403 checks.
const ROUTES: Record<string, ApiKeyScope> = {
  'POST /v1/events': 'ingest',
  'POST /v1/events::batch': 'ingest',
  'POST /v1/profiles': 'ingest',
  'POST /v1/consent': 'ingest',
  'GET /v1/customers/:customerId/runs': 'read',
  'GET /v1/customers/:customerId/audit': 'read',
  'GET /v1/customers/:customerId/segments': 'read',
  'GET /v1/sends': 'read',
  'POST /v1/sends/resolve': 'admin',
  'POST /v1/suppressions': 'admin',
  'DELETE /v1/customers/:customerId': 'admin',
  'GET /v1/keys': 'admin',
  'POST /v1/keys': 'admin',
  'DELETE /v1/keys/:idOrName': 'admin',
  'GET /v1/openapi.json': 'read',
  'POST /v1/sources/segment': 'ingest',
  'POST /v1/sources/webhook/:name': 'ingest',
  'POST /v1/scores': 'ingest',
  'GET /v1/journeys/:journeyId/report': 'read',
};
const concrete = (path: string) => path.replace('::', ':').replace(':customerId', 'key-ada').replace(':idOrName', 'nobody').replace(':name', 'shopify-orders').replace(':journeyId', 'cartAbandonment');

let t: JourneyEnv;
let privateApi: FastifyInstance;
let publicListener: FastifyInstance;
let privateUrl: string;
let publicUrl: string;
const registered: string[] = [];
const keys = {} as Record<ApiKeyScope, string>;

beforeAll(async () => {
  t = await startJourneyEnv();
  privateApi = httpApi(t.app, { logger: false });
  privateApi.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD' && route.url.startsWith('/v1')) registered.push(`${method} ${route.url}`);
  });
  publicListener = publicApi(t.app, { logger: false });
  privateUrl = await privateApi.listen({ host: '127.0.0.1', port: 0 });
  publicUrl = await publicListener.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await privateApi?.close();
  await publicListener?.close();
  await t?.close();
});

const call = (base: string, route: string, init: { key?: string; headers?: Record<string, string>; body?: unknown } = {}) => {
  const [method, path] = route.split(' ');
  const headers: Record<string, string> = { ...init.headers };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  const body = method === 'POST' ? JSON.stringify(init.body ?? {}) : undefined;
  if (body) headers['content-type'] = 'application/json';
  return fetch(`${base}${concrete(path)}`, { method, headers, body });
};

function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('the private API before any key exists', () => {
  it('names a scope for every /v1 route', () => {
    expect(registered.sort()).toEqual(Object.keys(ROUTES).sort());
  });

  it('answers callers on this machine, and refuses a request a proxy forwarded, saying how to create a key', async () => {
    expect((await call(privateUrl, 'GET /v1/sends')).status).toBe(200);
    const forwarded = await call(privateUrl, 'GET /v1/sends', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(forwarded.status).toBe(401);
    expect(await forwarded.json()).toEqual({ error: 'unauthorized', message: expect.stringContaining('journeys keys create --name NAME --scope') });
  });

  it('refuses to start on a non-loopback HOST, naming the fix', async () => {
    const config = { ...t.app.config, http: { ...t.app.config.http, host: '0.0.0.0', port: 0 }, public: { ...t.app.config.public, port: 0 } };
    const app = await compose(config, { store: t.store, temporal: { client: t.env.client }, catalogue: t.app.catalogue });
    try {
      await expect(startHttpApi(app)).rejects.toThrow(ConfigError);
      await expect(startHttpApi(app)).rejects.toThrow(/HOST=0\.0\.0\.0 would serve the private API \(\/v1\) beyond this machine, but no API key exists: create one with `journeys keys create/);
    } finally {
      await app.close();
    }
  });

  it('answers 403 to a request naming a host other than loopback (DNS rebinding), on both listeners', async () => {
    // fetch sets Host itself, as a browser does; a rebinding page's requests name the attacker's host.
    for (const base of [privateUrl, publicUrl]) {
      const { status, body } = await getWithHost(`${base}/healthz`, 'attacker.example');
      expect(status).toBe(403);
      expect(JSON.parse(body)).toMatchObject({ error: 'host_not_allowed' });
    }
    expect((await fetch(`${privateUrl.replace('127.0.0.1', 'localhost')}/healthz`)).status).toBe(200);
  });
});

describe('the private API with keys', () => {
  beforeAll(async () => {
    for (const scope of ['ingest', 'read', 'admin'] as const) keys[scope] = (await createApiKey(t.store, { name: `test-${scope}`, scope }, new Date())).key;
  });

  it.each(Object.entries(ROUTES))('%s: 401 without a key or with an unknown one, 403 with the wrong scope, served with the right one', async (route, scope) => {
    const none = await call(privateUrl, route);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    expect(await none.json()).toEqual({ error: 'unauthorized', message: 'send an API key as "Authorization: Bearer <key>"' });
    const forged = await call(privateUrl, route, { key: keys[scope].slice(0, -2) + 'xx' });
    expect(forged.status).toBe(401);

    for (const other of (['ingest', 'read'] as const).filter((s) => s !== scope)) {
      const wrong = await call(privateUrl, route, { key: keys[other] });
      expect(wrong.status).toBe(403);
      expect(await wrong.json()).toEqual({ error: 'forbidden', message: `needs a key with scope ${scope} (or admin); key test-${other} has scope ${other}` });
    }
    for (const allowed of [keys[scope], keys.admin]) {
      const served = await call(privateUrl, route, { key: allowed });
      expect([401, 403]).not.toContain(served.status);
    }
  });

  it('lets an ingest key withdraw consent but only an admin key grant it', async () => {
    const change = (status: string) => ({ customerId: 'key-ada', topic: 'marketing', status, source: 'test' });
    expect((await call(privateUrl, 'POST /v1/consent', { key: keys.ingest, body: change('withdrawn') })).status).toBe(200);
    const grant = await call(privateUrl, 'POST /v1/consent', { key: keys.ingest, body: change('granted') });
    expect(grant.status).toBe(403);
    expect(await grant.json()).toMatchObject({ error: 'forbidden', message: 'a consent grant needs a key with scope admin (or admin); key test-ingest has scope ingest' });
    expect((await call(privateUrl, 'POST /v1/consent', { key: keys.admin, body: change('granted') })).status).toBe(200);
    expect((await t.store.consentLedger('key-ada')).map((r) => r.status)).toEqual(['withdrawn', 'granted']);
  });

  it('no longer serves a proxy-forwarded or local caller without a key, and a revoked key is refused', async () => {
    expect((await call(privateUrl, 'GET /v1/sends')).status).toBe(401);
    const { key } = await createApiKey(t.store, { name: 'short-lived', scope: 'read' }, new Date());
    expect((await call(privateUrl, 'GET /v1/sends', { key })).status).toBe(200);
    const revoked = await call(privateUrl, 'DELETE /v1/keys/:idOrName'.replace(':idOrName', 'short-lived'), { key: keys.admin });
    expect(await revoked.json()).toEqual({ revoked: 'short-lived' });
    // Within the verifier's 5-second cache the key may still pass; a fresh API process refuses it at once.
    const fresh = httpApi(t.app, { logger: false });
    const res = await fresh.inject({ method: 'GET', url: '/v1/sends', headers: { authorization: `Bearer ${key}` } });
    await fresh.close();
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/^API key short-lived was revoked at /);
  });

  it('creates a key over the API and shows it once', async () => {
    const res = await call(privateUrl, 'POST /v1/keys', { key: keys.admin, body: { name: 'from-api', scope: 'ingest' } });
    expect(res.status).toBe(201);
    const { key, summary } = (await res.json()) as { key: string; summary: { name: string } };
    expect(summary.name).toBe('from-api');
    const listed = await (await call(privateUrl, 'GET /v1/keys', { key: keys.admin })).text();
    expect(listed).toContain('from-api');
    expect(listed).not.toContain(key.slice(20));
  });

  it('never writes a key to the log, even for a request that fails', async () => {
    const lines: string[] = [];
    const api = buildHttpApi({
      journeys: { ingest: () => Promise.reject(new Error('store down')) } as unknown as typeof t.client,
      store: t.store,
      bodyLimit: 65_536,
      logger: Object.assign(
        (await import('fastify')).default({ logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } } }).log,
      ),
    });
    const res = await api.inject({ method: 'POST', url: '/v1/events', headers: { authorization: `Bearer ${keys.ingest}` }, payload: { id: 'e' } });
    await api.close();
    expect(res.statusCode).toBe(500);
    expect(lines.join('\n')).toContain('store down');
    expect(lines.join('\n')).not.toContain(keys.ingest.slice(20));
  });

  it('limits requests per key: the key over its limit gets 429, another key is served', async () => {
    const api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 65_536, logger: false, rateLimit: { max: 3, windowMs: 60_000 } });
    const get = (key: string) => api.inject({ method: 'GET', url: '/v1/sends', headers: { authorization: `Bearer ${key}` } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(keys.read)).statusCode);
    const other = await get(keys.admin);
    const limited = await get(keys.read);
    await api.close();
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(other.statusCode).toBe(200);
    expect(limited.json()).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/^too many requests: at most 3 in 1 minute; retry in \d+ s$/) });
  });
});

describe('the codec endpoint once keys exist', () => {
  it('decodes for an admin key, as a bearer header or as the session cookie /codec/session sets, and for nobody else', async () => {
    const codec = new EncryptionCodec([{ id: 'k1', key: randomBytes(32) }]);
    const api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 65_536, logger: false, codec: { codec, allowedOrigins: ['http://127.0.0.1:8233'] } });
    const [payload] = await codec.encode([defaultPayloadConverter.toPayload({ email: 'ada@example.com' })]);
    const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(payload.data!).toString('base64') }] };
    const decode = (headers: Record<string, string>) => api.inject({ method: 'POST', url: '/codec/decode', headers, payload: body });

    expect((await decode({})).statusCode).toBe(401);
    expect((await decode({ authorization: `Bearer ${keys.read}` })).statusCode).toBe(401);
    const byHeader = await decode({ authorization: `Bearer ${keys.admin}` });
    expect(byHeader.statusCode).toBe(200);
    expect(Buffer.from(byHeader.json().payloads[0].data, 'base64').toString()).toContain('ada@example.com');

    expect((await api.inject({ method: 'GET', url: '/codec/session' })).body).toContain('name="key"');
    const refused = await api.inject({ method: 'POST', url: '/codec/session', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${keys.read}` });
    expect([refused.statusCode, refused.headers['set-cookie']]).toEqual([401, undefined]);
    const session = await api.inject({ method: 'POST', url: '/codec/session', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${encodeURIComponent(keys.admin)}` });
    const cookie = String(session.headers['set-cookie']);
    expect(cookie).toMatch(/^journeys_codec=.+; Path=\/codec; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect((await decode({ cookie: cookie.split(';')[0], origin: 'http://127.0.0.1:8233' })).statusCode).toBe(200);
    await api.close();
  });
});

describe('settings of the listeners', () => {
  it('keep the embedded dev server and its Web UI on loopback when HOST opens the API to the network', () => {
    const config = readConfig({ HOST: '0.0.0.0', PUBLIC_HOST: '0.0.0.0' }, '/srv/journeys');
    expect([config.temporal.devServerHost, temporalAddress(config)]).toEqual(['127.0.0.1', '127.0.0.1:7233']);
    const opened = readConfig({ TEMPORAL_DEV_SERVER_HOST: '10.0.0.5' }, '/srv/journeys');
    expect(temporalAddress(opened)).toBe('10.0.0.5:7233');
    expect(config.unsubscribe.publicUrl).toBe('http://0.0.0.0:3001');
  });

  it('read rate limits as count/window or off, and refuse anything else naming the setting', () => {
    expect(readConfig({}, '/srv/journeys').http.rateLimit).toEqual({ max: 1000, windowMs: 1000 });
    expect(readConfig({ PUBLIC_RATE_LIMIT: '30/5m', API_RATE_LIMIT: 'off' }, '/srv/journeys')).toMatchObject({ public: { rateLimit: { max: 30, windowMs: 300_000 } }, http: { rateLimit: undefined } });
    expect(() => readConfig({ API_RATE_LIMIT: 'lots' }, '/srv/journeys')).toThrow(/API_RATE_LIMIT: write a rate limit as count\/window/);
    expect(() => readConfig({ TEMPORAL_UI_ORIGINS: 'temporal.shop.example.com' }, '/srv/journeys')).toThrow(/TEMPORAL_UI_ORIGINS: list origins as scheme:\/\/host/);
  });
});

describe('the public listener', () => {
  it('serves /u and /healthz without a key and no /v1 route at all', async () => {
    expect((await fetch(`${publicUrl}/healthz`)).status).toBe(200);
    const page = await fetch(`${publicUrl}/u/not-a-token`);
    expect(page.status).toBe(400);
    for (const route of Object.keys(ROUTES)) {
      const res = await call(publicUrl, route, { key: keys.admin });
      expect([route, res.status]).toEqual([route, 404]);
    }
  });

  it('limits requests per client address', async () => {
    const api = publicApi({ ...t.app, config: { ...t.app.config, public: { ...t.app.config.public, rateLimit: { max: 2, windowMs: 60_000 } } } }, { logger: false });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await api.inject({ method: 'GET', url: '/u/not-a-token' })).statusCode);
    await api.close();
    expect(statuses).toEqual([400, 400, 429]);
  });
});
