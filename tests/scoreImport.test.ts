import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../app/apiKeys';
import { MAX_SCORES_PER_REQUEST, writeImportedScores } from '../app/scores/importScores';
import { compose, type Composition } from '../compose';
import { httpApi } from '../compose/apiRole';
import { evaluateRule } from '../domain/rules/evaluate';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { journeysOnStore } from './support/storeCli';
import { testConfig } from './support/journeyEnv';
import { describeStores } from './support/stores';

const profile = (customerId: string, attributes: Record<string, unknown> = {}) => ({ customerId, email: `${customerId}@example.com`, attributes });
const scoresOf = async (store: Store, customerId: string) => (await store.getProfile(customerId))?.attributes.scores;

describeStores('imported scores in the store', ({ open }) => {
  it('land in the profiles of known customers beside what they had; unknown customers are reported, never created', async () => {
    const store = await open();
    await store.upsertProfiles([profile('ada', { tier: 'gold', scores: { churn: 0.2, churnVersion: 'churn-v1', propensity: 0.5 } }), profile('ben')]);
    const result = await writeImportedScores(store, [
      { customerId: 'ada', name: 'ltv', value: 812.5, modelVersion: 'ltv-2026-11' },
      // Without a version: the churn model's version no longer describes the value.
      { customerId: 'ada', name: 'churn', value: 0.9 },
      { customerId: 'ben', name: 'ltv', value: 10, modelVersion: 'ltv-2026-10' },
      { customerId: 'ben', name: 'ltv', value: 12, modelVersion: 'ltv-2026-11' },
      { customerId: 'nobody', name: 'ltv', value: 1 },
    ]);
    expect(result).toEqual({ written: 4, unknownCustomers: ['nobody'] });
    expect((await store.getProfile('ada'))?.attributes).toEqual({
      tier: 'gold',
      scores: { churn: 0.9, churnVersion: 'unversioned', propensity: 0.5, ltv: 812.5, ltvVersion: 'ltv-2026-11' },
    });
    expect(await scoresOf(store, 'ben')).toEqual({ ltv: 12, ltvVersion: 'ltv-2026-11' });
    expect(await store.getProfile('nobody')).toBeUndefined();
    // A segment may read a score: the scored customers' segments are recomputed at the next sweep.
    expect((await store.dirtySegments({ customerIds: ['ada', 'ben', 'nobody'] })).map((m) => m.customerId)).toEqual(['ada', 'ben']);
  });

  it('tells which customers have a profile, each once, in the order asked', async () => {
    const store = await open();
    await store.upsertProfiles([profile('ada'), profile('ben'), profile('kim')]);
    await store.recordEvent({ id: 'e1', type: 'product.viewed', customerId: 'eve', occurredAt: '2026-11-01T10:00:00Z', properties: {} });
    expect(await store.customersWithProfiles(['kim', 'eve', 'ada', 'kim', 'nobody'])).toEqual(['kim', 'ada']);
    expect(await store.customersWithProfiles([])).toEqual([]);
  });
});

describe('POST /v1/scores over HTTP, with an ingest key', () => {
  let dir: string;
  let app: Composition;
  let api: FastifyInstance;
  let url: string;
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-scores-http-'));
    // Nothing here needs Temporal: the composition connects to it only on first use.
    app = await compose(testConfig(), { store: openSqliteStore(join(dir, 'journeys.db')) });
    api = httpApi(app, { logger: false });
    url = await api.listen({ host: '127.0.0.1', port: 0 });
    for (const scope of ['ingest', 'read'] as const) keys[scope] = (await createApiKey(app.store, { name: `scores-${scope}`, scope }, new Date())).key;
    await app.store.upsertProfiles([profile('ada', { firstName: 'Ada' }), profile('ben')]);
  });
  afterAll(async () => {
    await api?.close();
    await app?.store.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: unknown, key = keys.ingest) =>
    fetch(`${url}/v1/scores`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('writes the scores, reports unknown customers, and a rule on the score picks its customers', async () => {
    const res = await post({
      scores: [
        { customerId: 'ada', name: 'ltv', value: 812.5, modelVersion: 'ltv-2026-11' },
        { customerId: 'ben', name: 'ltv', value: 40, modelVersion: 'ltv-2026-11' },
        { customerId: 'cyd', name: 'ltv', value: 99 },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ written: 2, unknownCustomers: ['cyd'] });
    const ada = (await app.store.getProfile('ada'))!;
    expect(ada.attributes).toEqual({ firstName: 'Ada', scores: { ltv: 812.5, ltvVersion: 'ltv-2026-11' } });
    expect(await app.store.getProfile('cyd')).toBeUndefined();

    const bigSpender = { attr: 'profile.attributes.scores.ltv', op: 'gte', value: 500 } as const;
    const now = new Date().toISOString();
    expect(evaluateRule(bigSpender, { now, profile: ada }).matched).toBe(true);
    expect(evaluateRule(bigSpender, { now, profile: (await app.store.getProfile('ben'))! }).matched).toBe(false);
  });

  it('refuses the whole request, naming each bad field, and writes nothing', async () => {
    const res = await post({
      scores: [
        { customerId: 'ben', name: 'ltv', value: 1 },
        { customerId: 'ada', name: 'ltv', value: 'high' },
        { customerId: 'ada', name: 'ltvVersion', value: 3 },
        { customerId: 'ada@example.com', name: 'ltv', value: 3 },
      ],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: { path: string; message: string }[] };
    expect(body.problems.map((p) => p.path)).toEqual(['scores.1.value', 'scores.2.name', 'scores.3.customerId']);
    expect(body.problems[1].message).toContain('must not end in "Version"');
    expect(await scoresOf(app.store, 'ben')).toEqual({ ltv: 40, ltvVersion: 'ltv-2026-11' });
  });

  it(`answers 413 beyond ${MAX_SCORES_PER_REQUEST} scores, and 403 to a read key`, async () => {
    const many = Array.from({ length: MAX_SCORES_PER_REQUEST + 1 }, (_, i) => ({ customerId: 'ben', name: 'ltv', value: i }));
    const tooMany = await post({ scores: many });
    expect(tooMany.status).toBe(413);
    expect(await tooMany.json()).toMatchObject({ error: 'batch_too_large', message: expect.stringContaining(`at most ${MAX_SCORES_PER_REQUEST} scores and this one has ${MAX_SCORES_PER_REQUEST + 1}`) });
    expect((await post({ scores: many.slice(0, MAX_SCORES_PER_REQUEST) })).status).toBe(200);
    expect(await scoresOf(app.store, 'ben')).toEqual({ ltv: MAX_SCORES_PER_REQUEST - 1, ltvVersion: 'unversioned' });
    expect((await post({ scores: many.slice(0, 1) }, keys.read)).status).toBe(403);
  });
});

describe('journeys scores import', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-scores-cli-'));
    store = openSqliteStore(join(dir, 'journeys.db'));
    await store.upsertProfiles([profile('ada', { tier: 'gold' }), profile('ben'), profile('kim')]);
  });
  afterAll(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const journeys = (args: string[]) => journeysOnStore(store, args);

  it('imports the good rows of a CSV and lists each bad one by line', async () => {
    const file = join(dir, 'scores.csv');
    writeFileSync(
      file,
      [
        'customerId,name,value,modelVersion',
        'ada,churn,0.82,churn-2026-11',
        'ben,churn,0.1,churn-2026-11',
        'kim,churn,lots,churn-2026-11',
        'zed,churn,0.5,churn-2026-11',
        'ben,churn,Infinity,',
        'kim,,0.4,',
        'kim,propensity,0.33,',
        '',
      ].join('\n'),
    );
    const { code, stdout } = await journeys(['scores', 'import', file]);
    const [summary, ...rejects] = stdout.trimEnd().split('\n');
    expect(summary).toMatch(/^imported 3 scores of 3 customers, rejected 4 rows \(read 7 rows in \d+\.\ds\)$/);
    expect(rejects).toEqual([
      '  line 4: value: a score is a finite number, e.g. 0.82',
      '  line 5: customerId: customer zed has no profile: import it first (journeys profiles import)',
      '  line 6: value: a score is a finite number, e.g. 0.82',
      '  line 7: name: score names are camelCase, at most 40 characters, e.g. "ltv"',
    ]);
    expect(code).toBe(1);
    expect((await store.getProfile('ada'))?.attributes).toEqual({ tier: 'gold', scores: { churn: 0.82, churnVersion: 'churn-2026-11' } });
    expect(await scoresOf(store, 'ben')).toEqual({ churn: 0.1, churnVersion: 'churn-2026-11' });
    expect(await scoresOf(store, 'kim')).toEqual({ propensity: 0.33, propensityVersion: 'unversioned' });
    expect(await store.getProfile('zed')).toBeUndefined();

    const churning = { attr: 'profile.attributes.scores.churn', op: 'gt', value: 0.7 } as const;
    expect(evaluateRule(churning, { now: new Date().toISOString(), profile: (await store.getProfile('ada'))! }).matched).toBe(true);
    expect(evaluateRule(churning, { now: new Date().toISOString(), profile: (await store.getProfile('ben'))! }).matched).toBe(false);
  });

  it('says what a CSV header lacks', async () => {
    const file = join(dir, 'bad-header.csv');
    writeFileSync(file, 'customer,score\nada,0.3\n');
    const { code, stderr } = await journeys(['scores', 'import', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('the CSV header needs the columns customerId and name and value (found: customer, score)');
  });

  it('run-models says when journeys/models.ts declares no model', async () => {
    const { code, stdout } = await journeys(['scores', 'run-models']);
    expect(code).toBe(0);
    expect(stdout).toContain('no models declared in journeys/models.ts');
  });
});
