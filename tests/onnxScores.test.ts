import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { customerFeatures } from '../app/scores/features';
import { scoreWithModels } from '../app/scores/onnxModels';
import type { CustomerEvent } from '../domain/customer/types';
import { evaluateRule } from '../domain/rules/evaluate';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { random } from './support/random';

// A logistic regression that tests/fixtures/models/make_model.py fitted with scikit-learn and
// exported with skl2onnx; repeatBuyer.json holds its coefficients and the probabilities
// scikit-learn gave for a few rows of features.
const FIXTURES = join(__dirname, 'fixtures', 'models');
const MODEL_FILE = join(FIXTURES, 'repeatBuyer.onnx');
const reference = JSON.parse(readFileSync(join(FIXTURES, 'repeatBuyer.json'), 'utf8')) as { coefficients: number[]; intercept: number; rows: number[][]; probabilities: number[] };
const FEATURES = ['orders90d', 'recencyDays', 'opens30d'];
const repeatBuyer = { name: 'repeatBuyer', file: MODEL_FILE, features: FEATURES };
const VERSION = createHash('sha256').update(readFileSync(MODEL_FILE)).digest('hex').slice(0, 12);

/** The same model evaluated here, in double precision: the reference the ONNX scores must match. */
const referenceProbability = (x: number[]) => 1 / (1 + Math.exp(-(reference.intercept + reference.coefficients.reduce((sum, c, j) => sum + c * x[j], 0))));

const AS_OF = new Date('2026-11-30T12:00:00Z');
const DAY = 86_400_000;
let seq = 0;
const at = (daysAgo: number) => new Date(AS_OF.getTime() - daysAgo * DAY).toISOString();
const order = (customerId: string, daysAgo: number): CustomerEvent => ({ id: `o${++seq}`, type: 'order.completed', customerId, occurredAt: at(daysAgo), properties: { orderId: `o${seq}`, total: 40 } });
const open = (customerId: string, daysAgo: number): CustomerEvent => ({ id: `m${++seq}`, type: 'email.opened', customerId, occurredAt: at(daysAgo), properties: { template: 'welcome' } });
const view = (customerId: string, daysAgo: number): CustomerEvent => ({ id: `v${++seq}`, type: 'product.viewed', customerId, occurredAt: at(daysAgo), properties: { sku: 'tent' } });

/**
 * Customers whose histories give exactly the rows scikit-learn scored: [orders in 90 days, days
 * since the last order (since the first activity without one), opens in 30 days].
 */
const referenceCustomers: Record<string, CustomerEvent[]> = {
  'ref-0': [],
  'ref-1': [order('ref-1', 30), open('ref-1', 3), open('ref-1', 20)],
  'ref-2': [order('ref-2', 60), order('ref-2', 20), order('ref-2', 5), ...Array.from({ length: 10 }, (_, i) => open('ref-2', i + 1))],
  'ref-3': [view('ref-3', 364)],
  'ref-4': [...[80, 60, 40, 30, 20, 10, 1.5].map((days) => order('ref-4', days)), ...Array.from({ length: 25 }, (_, i) => open('ref-4', i + 0.5))],
};

describe('bring your own model: an ONNX model scored with onnxruntime-node', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-onnx-'));
    store = openSqliteStore(join(dir, 'journeys.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const scores = async (customerId: string) => (await store.getProfile(customerId))?.attributes.scores as Record<string, unknown> | undefined;

  it("writes scikit-learn's probabilities into the profiles, to 1e-6, with the model's version", async () => {
    for (const [customerId, events] of Object.entries(referenceCustomers)) {
      await store.upsertProfiles([{ customerId, email: `${customerId}@example.com`, attributes: { tier: 'gold' } }]);
      await store.recordHistory(events);
    }
    const result = await scoreWithModels({ store, models: [repeatBuyer], asOf: AS_OF });
    expect(result).toMatchObject({ customers: 5, models: [{ name: 'repeatBuyer', version: VERSION }] });

    const table = await customerFeatures(store, AS_OF, { customerIds: Object.keys(referenceCustomers) });
    const columns = FEATURES.map((name) => table.names.indexOf(name));
    for (const [i, customerId] of Object.keys(referenceCustomers).entries()) {
      // The histories give the rows scikit-learn scored…
      const row = table.rows.find((r) => r.customerId === customerId)!;
      expect(columns.map((c) => row.values[c])).toEqual(reference.rows[i]);
      // …and the profile holds scikit-learn's probability, beside the attributes it had.
      const profile = await store.getProfile(customerId);
      expect(profile?.attributes.tier).toBe('gold');
      expect(Math.abs((profile?.attributes.scores as { repeatBuyer: number }).repeatBuyer - reference.probabilities[i])).toBeLessThan(1e-6);
      expect((profile?.attributes.scores as { repeatBuyerVersion: string }).repeatBuyerVersion).toBe(VERSION);
    }
  });

  it('scores every customer, a page at a time, as the coefficients evaluated here do, and a rule reads the score', async () => {
    const rng = random(15);
    const customers = Array.from({ length: 230 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    await store.upsertProfiles(customers.map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
    const history: CustomerEvent[] = [];
    for (const customerId of customers) {
      for (let n = Math.floor(rng.next() * 6); n > 0; n--) history.push(order(customerId, rng.next() * 200));
      for (let n = Math.floor(rng.next() * 12); n > 0; n--) history.push(open(customerId, rng.next() * 60));
      if (rng.chance(0.3)) history.push(view(customerId, rng.next() * 300));
    }
    await store.recordHistory(history);
    // Events without a profile: featured, never given a profile by scoring.
    await store.recordHistory([order('no-profile', 3)]);

    const pages: number[] = [];
    const result = await scoreWithModels({ store, models: [repeatBuyer], asOf: AS_OF, pageSize: 100, progress: (done) => pages.push(done) });
    expect(result.customers).toBe(230);
    expect(pages).toEqual([100, 200, 230]);
    expect(await store.getProfile('no-profile')).toBeUndefined();

    const table = await customerFeatures(store, AS_OF, { customerIds: customers });
    const columns = FEATURES.map((name) => table.names.indexOf(name));
    let largest = 0;
    for (const row of table.rows) {
      const expected = referenceProbability(columns.map((c) => row.values[c]));
      largest = Math.max(largest, Math.abs(((await scores(row.customerId))?.repeatBuyer as number) - expected));
    }
    expect(largest).toBeLessThan(1e-6);

    // A rule on the score reads it as a plain attribute path.
    const likely = { attr: 'profile.attributes.scores.repeatBuyer', op: 'gt', value: 0.9 } as const;
    const profile = async (customerId: string) => ({ now: AS_OF.toISOString(), profile: (await store.getProfile(customerId))! });
    const byScore = [...table.rows].sort((a, b) => referenceProbability(columns.map((c) => b.values[c])) - referenceProbability(columns.map((c) => a.values[c])));
    expect(evaluateRule(likely, await profile(byScore[0].customerId)).matched).toBe(true);
    expect(evaluateRule(likely, await profile(byScore[byScore.length - 1].customerId)).matched).toBe(false);
  });

  it('reads a relative file from the models folder, and names the model and the fix when it cannot score', async () => {
    await store.upsertProfiles([{ customerId: 'ada', email: 'ada@example.com', attributes: {} }]);
    copyFileSync(MODEL_FILE, join(dir, 'repeatBuyer.onnx'));
    const relative = { ...repeatBuyer, file: 'repeatBuyer.onnx' };
    expect(await scoreWithModels({ store, models: [relative], modelsDir: dir, asOf: AS_OF })).toMatchObject({ customers: 1 });

    const fails = (models: object[]) => scoreWithModels({ store, models: models as never, modelsDir: dir, asOf: AS_OF });
    await expect(fails([{ ...relative, file: 'ltv.onnx' }])).rejects.toThrow(`model "repeatBuyer" (${join(dir, 'ltv.onnx')}): the file does not exist`);
    await expect(fails([{ ...relative, features: ['orders90d', 'recencyDays'] }])).rejects.toThrow('its input "features" takes [?, 3], but journeys/models.ts lists 2 features');
    await expect(fails([{ ...relative, features: ['orders90d', 'recency', 'opens30d'] }])).rejects.toThrow('features.1: not a feature of the feature table');
    await expect(fails([{ ...relative, output: 'probability' }])).rejects.toThrow('it has no output "probability" (its outputs: label, probabilities)');
    await expect(fails([{ ...relative, column: 2 }])).rejects.toThrow('has shape [1, 2], which has no column 2 per customer');
    await expect(fails([relative, relative])).rejects.toThrow('two models in journeys/models.ts have the name "repeatBuyer"');
    await expect(fails([{ ...relative, name: 'ltvVersion' }])).rejects.toThrow('must not end in "Version"');
    await expect(fails([{ ...relative, name: 'churn' }])).rejects.toThrow('churn and propensity are the trained models\' scores');
  });

  it('does nothing when no model is declared', async () => {
    await store.upsertProfiles([{ customerId: 'ada', email: 'ada@example.com', attributes: {} }]);
    expect(await scoreWithModels({ store, models: [], asOf: AS_OF })).toMatchObject({ customers: 0, models: [] });
    expect(await scores('ada')).toBeUndefined();
  });
});
