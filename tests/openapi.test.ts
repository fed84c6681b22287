// The validator is an ES module; a dynamic import loads it from this CommonJS test.
const loadValidator = () => import('@seriousme/openapi-schema-validator');
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../api/http';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import type { JourneyClient } from '../app/journeyClient';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The document needs no Temporal: it describes routes, it does not call them.
const dir = mkdtempSync(join(tmpdir(), 'journeys-openapi-'));
let store: Store;
beforeAll(() => {
  store = openSqliteStore(join(dir, 'journeys.db'));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/openapi.json', () => {
  it('describes every /v1 route, with its scope and the zod schemas the API validates with, and is valid OpenAPI 3.1', async () => {
    const api = buildHttpApi({ journeys: {} as JourneyClient, store, bodyLimit: 65_536, logger: false });
    const routes: string[] = [];
    api.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD' && route.url.startsWith('/v1')) routes.push(`${method.toLowerCase()} ${route.url}`);
    });
    const res = await api.inject({ method: 'GET', url: '/v1/openapi.json' });
    await api.close();
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { 'x-scope': string; requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>> };

    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    const asFastify = (entry: string) => entry.replace(/\{(\w+)\}/g, ':$1').replace('/v1/events:batch', '/v1/events::batch');
    expect(documented.map(asFastify).sort()).toEqual(routes.sort());
    expect(routes.length).toBeGreaterThanOrEqual(14);

    expect(doc.paths['/v1/events'].post['x-scope']).toBe('ingest');
    expect(doc.paths['/v1/events'].post.requestBody?.content['application/json'].schema.required).toEqual(['id', 'type', 'customerId']);
    expect(doc.paths['/v1/customers/{customerId}'].delete['x-scope']).toBe('admin');

    const { Validator } = await loadValidator();
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
