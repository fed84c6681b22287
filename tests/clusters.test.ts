import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterCustomers, type ClusterReport } from '../app/scores/clusters';
import type { CustomerEvent } from '../domain/customer/types';
import { evaluateRule } from '../domain/rules/evaluate';
import { parseSegments } from '../domain/rules/segments';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { journeysOnStore } from './support/storeCli';
import { random } from './support/random';

const AS_OF = new Date('2026-11-30T12:00:00Z');
const DAY = 86_400_000;
const rng = random(2026);
const between = (low: number, high: number) => low + rng.next() * (high - low);
const count = (low: number, high: number) => Math.floor(between(low, high + 1));
let seq = 0;
const event = (type: string, customerId: string, daysAgo: number, properties: Record<string, unknown> = {}): CustomerEvent => ({
  id: `e${++seq}`,
  type,
  customerId,
  occurredAt: new Date(AS_OF.getTime() - daysAgo * DAY).toISOString(),
  properties,
});
const orders = (customerId: string, n: number, days: [number, number], total: [number, number]) =>
  Array.from({ length: n }, () => event('order.completed', customerId, between(...days), { orderId: `o${seq}`, total: between(...total) }));
const many = (type: string, customerId: string, n: number, days: [number, number]) => Array.from({ length: n }, () => event(type, customerId, between(...days)));

/** Four kinds of customer a shop has, each with its own habits: the clusters should find them again. */
const PLANTED = {
  loyal: (id: string) => [...orders(id, count(8, 14), [1, 300], [150, 400]), ...orders(id, 1, [0.5, 5], [150, 400]), ...many('email.opened', id, count(10, 20), [0, 29]), ...many('email.clicked', id, count(3, 8), [0, 29])],
  lapsed: (id: string) => [...orders(id, count(1, 3), [220, 330], [20, 80]), ...many('email.opened', id, count(0, 1), [200, 330])],
  browsers: (id: string) => [...many('product.viewed', id, count(15, 30), [0, 29]), ...many('email.opened', id, count(2, 5), [0, 29]), ...many('product.viewed', id, 1, [120, 200])],
  newcomers: (id: string) => [...orders(id, 1, [2, 20], [20, 60]), ...many('email.opened', id, count(4, 8), [0, 20]), event('user.signed_up', id, between(20, 25))],
};
type Planted = keyof typeof PLANTED;
const PER_GROUP = 120;

let dir: string;
let store: Store;
const plantedOf = new Map<string, Planted>();
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'journeys-clusters-'));
  store = openSqliteStore(join(dir, 'journeys.db'));
  const history: CustomerEvent[] = [];
  for (const group of Object.keys(PLANTED) as Planted[]) {
    for (let i = 0; i < PER_GROUP; i++) {
      const customerId = `${group}-${i}`;
      plantedOf.set(customerId, group);
      history.push(...PLANTED[group](customerId));
    }
  }
  await store.upsertProfiles([...plantedOf.keys()].map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: { tier: 'silver' } })));
  // A customer with a profile and nothing else is in no cluster.
  await store.upsertProfiles([{ customerId: 'quiet', email: 'quiet@example.com', attributes: {} }]);
  await store.recordHistory(history);
});
afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const journeys = (args: string[]) => journeysOnStore(store, args);

/** For each planted group, the cluster most of it landed in and how much of it that is. */
async function recovery(clusterOf: (customerId: string) => Promise<string>) {
  const tally = new Map<Planted, Map<string, number>>();
  for (const [customerId, group] of plantedOf) {
    const cluster = await clusterOf(customerId);
    const counts = tally.get(group) ?? new Map<string, number>();
    counts.set(cluster, (counts.get(cluster) ?? 0) + 1);
    tally.set(group, counts);
  }
  return Object.fromEntries(
    [...tally].map(([group, counts]) => {
      const [cluster, n] = [...counts].sort((a, b) => b[1] - a[1])[0];
      return [group, { cluster, purity: n / PER_GROUP }];
    }),
  ) as Record<Planted, { cluster: string; purity: number }>;
}

describe('journeys clusters', () => {
  it('--k auto finds the four planted kinds of customer by silhouette and tells each in words', async () => {
    const { code, stdout } = await journeys(['clusters', '--k', 'auto', '--as-of', AS_OF.toISOString(), '--format', 'json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as ClusterReport;
    console.log(`silhouettes: ${report.silhouettes!.map((s) => `k=${s.k} ${s.silhouette.toFixed(3)}`).join(', ')}`);
    expect(report).toMatchObject({ k: 4, customers: 4 * PER_GROUP, inactive: 1 });
    expect(report.silhouettes!.map((s) => s.k)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(Math.max(...report.silhouettes!.map((s) => s.silhouette))).toBe(report.silhouette);
    expect(report.clusters.map((c) => c.customers).reduce((a, b) => a + b)).toBe(4 * PER_GROUP);

    const mostOrders = report.clusters.reduce((a, b) => (b.means.orders365d > a.means.orders365d ? b : a));
    expect(mostOrders.description).toMatch(/frequent buyers|high spenders/);
    expect(report.clusters.find((c) => c.description.includes('browse a lot'))).toBeDefined();
  });

  it('saves each customer\'s cluster into the profile, and the segments it prints read it', async () => {
    const { code, stdout } = await journeys(['clusters', '--k', '4', '--save-segments', 'shop', '--as-of', AS_OF.toISOString()]);
    expect(code).toBe(0);
    expect(stdout).toContain('CLUSTER  CUSTOMERS  SHARE  WHAT SETS IT APART');
    expect(stdout).toContain(`saved each customer's cluster as scores.shop in ${4 * PER_GROUP} profiles`);

    const clusterOf = async (customerId: string) => String(((await store.getProfile(customerId))!.attributes.scores as { shop: string }).shop);
    const found = await recovery(clusterOf);
    console.log(`planted group → cluster (purity): ${JSON.stringify(found)}`);
    for (const { purity } of Object.values(found)) expect(purity).toBeGreaterThanOrEqual(0.95);
    expect(new Set(Object.values(found).map((f) => f.cluster)).size).toBe(4);

    // The profile keeps its attributes and gains the cluster with the run's version; the quiet customer gets none.
    const ada = (await store.getProfile('loyal-0'))!;
    expect(ada.attributes).toMatchObject({ tier: 'silver', scores: { shop: expect.stringMatching(/^shop[0-3]$/), shopVersion: expect.stringMatching(/^[0-9a-f]{12}$/) } });
    expect((await store.getProfile('quiet'))!.attributes.scores).toBeUndefined();
    expect((await store.dirtySegments({ customerIds: ['loyal-0', 'quiet'] })).map((m) => m.customerId)).toEqual(['loyal-0']);

    // The printed definitions are valid segments, and each one's rule picks its own customers.
    const printed = stdout.split('\n').filter((line) => line.startsWith('  {"id":"shop')).map((line) => JSON.parse(line.trim().replace(/,$/, '')) as { id: string; name: string; rule: never });
    const segments = parseSegments(printed);
    expect(segments.map((s) => s.id)).toEqual(['shop0', 'shop1', 'shop2', 'shop3']);
    const loyal = segments.find((s) => s.id === found.loyal.cluster)!;
    expect(evaluateRule(loyal.rule, { now: AS_OF.toISOString(), profile: ada }).matched).toBe(true);
    expect(evaluateRule(loyal.rule, { now: AS_OF.toISOString(), profile: (await store.getProfile('lapsed-0'))! }).matched).toBe(false);
  });

  it('gives the same clusters for the same seed, and names a bad option', async () => {
    const first = await clusterCustomers(store, { k: 3, seed: 7 }, AS_OF);
    const again = await clusterCustomers(store, { k: 3, seed: 7 }, AS_OF);
    expect(again.clusters).toEqual(first.clusters);
    expect(again.version).toBe(first.version);

    const bad = await journeys(['clusters', '--k', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('k:');
    expect((await journeys(['clusters', '--save-segments', 'Shop clusters'])).stderr).toContain('saveSegments: score names are camelCase');
  });
});
