import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { computeRfm } from '../domain/rules/rfm';
import { membershipChanges, parseSegments } from '../domain/rules/segments';
import { loadCatalogue } from '../journeys';
import { shippedSegments } from '../journeys/segments';
import { openSqliteStore } from '../store/sqlite';
import { startCpuMeter, type CpuShares } from './cpu';
import { journeyClient, taskQueueOf, type BenchContext } from './phases';
import { storeCallTimer, type StoreCallTimes } from './probes';

export interface SweepReport {
  customers: number;
  events: number;
  seedSeconds: number;
  /** The sweep call alone. */
  seconds: number;
  customersPerSecond: number;
  entered: number;
  left: number;
  /** What the seeded data should give: one customer in a hundred turns dormant, one in a hundred stops browsing running shoes. */
  expected: { entered: number; left: number };
  store: StoreCallTimes;
  cpu: CpuShares;
}

const DAY_MS = 86_400_000;
const PREFIX = 'sw-';

/**
 * One customer's profile and history, dated from `seedAt`, a day before the sweep: most
 * customers are steady (a recent view and an order), one in a hundred was last active 59.5
 * days before `seedAt` (dormant60d a day later), one in a hundred viewed running shoes three
 * times 6.5 days before (leaves browsedRunningShoes a day later).
 */
function customerOf(i: number, seedAt: number): { profile: Profile; events: CustomerEvent[] } {
  const customerId = `${PREFIX}${i}`;
  const at = (daysAgo: number) => new Date(seedAt - daysAgo * DAY_MS).toISOString();
  const profile: Profile = { customerId, email: `${customerId}@bench.example`, attributes: { firstName: 'Ada', loyaltyTier: i % 20 === 0 ? 'gold' : 'silver' } };
  const item = { sku: `sku-${i % 500}`, name: `Product ${i % 500}`, price: 20 + (i % 400), quantity: 1 };
  const event = (n: number, type: string, daysAgo: number, properties: Record<string, unknown>): CustomerEvent => ({ id: `${customerId}-h${n}`, type, customerId, occurredAt: at(daysAgo), properties });
  const view = (n: number, daysAgo: number, category: string) => event(n, 'product.viewed', daysAgo, { ...item, category });
  const order = (n: number, daysAgo: number) => event(n, 'order.completed', daysAgo, { orderId: `${customerId}-o${n}`, total: item.price, currency: 'EUR', items: [item] });
  if (i % 100 === 0) return { profile, events: [order(0, 59.7), view(1, 59.5, 'accessories')] };
  if (i % 100 === 1) return { profile, events: [order(0, 30), view(1, 6.5, 'running-shoes'), view(2, 6.45, 'running-shoes'), view(3, 6.4, 'running-shoes')] };
  return { profile, events: [order(0, (i % 80) + 1), view(1, (i % 50) + 1, 'accessories')] };
}

/**
 * The segment sweep over `sweepCustomers` customers with profiles and history in a fresh
 * SQLite store, timed through its stable entry, `JourneyClient.sweepSegments(now)` (what the
 * segment-sweep Schedule runs, paged or not). Memberships are seeded as of a day earlier,
 * so the sweep finds what a day of time changed; the changes it finds are ingested as
 * segment events, which start dormancy journeys on a queue no worker polls (they stay
 * parked on the server). The shipped catalogue and segments, consent as configured.
 */
export async function sweepPhase(ctx: BenchContext): Promise<SweepReport> {
  const customers = ctx.settings.sweepCustomers;
  const sqlite = openSqliteStore(join(ctx.dir, 'sweep.db'));
  try {
    const sweepAt = new Date();
    const seedAt = sweepAt.getTime() - DAY_MS;
    const seedStarted = performance.now();
    const segments = parseSegments(shippedSegments);
    const expected = { entered: 0, left: 0 };
    let events = 0;
    const CHUNK = 5000;
    for (let from = 0; from < customers; from += CHUNK) {
      const chunk = Array.from({ length: Math.min(CHUNK, customers - from) }, (_, k) => customerOf(from + k, seedAt));
      await sqlite.upsertProfiles(chunk.map((c) => c.profile));
      const history = chunk.flatMap((c) => c.events);
      await sqlite.recordHistory(history);
      events += history.length;
      // The memberships the product would have kept a day ago: the same pure evaluation the tracker runs.
      const seededAt = new Date(seedAt).toISOString();
      for (const [k, { profile, events: own }] of chunk.entries()) {
        const { members } = membershipChanges(segments, { now: seededAt, profile, events: own, rfm: computeRfm(own, seededAt) }, []);
        if (members.length > 0) await sqlite.setSegments(profile.customerId, members, seededAt);
        if ((from + k) % 100 === 0) expected.entered++;
        if ((from + k) % 100 === 1) expected.left++;
      }
    }
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    ctx.log(`sweep: seeded ${customers} customers and ${events} events in ${seedSeconds.toFixed(0)} s; sweeping`);

    const timer = storeCallTimer(sqlite);
    const journeys = await journeyClient(ctx, taskQueueOf('sweep'), { catalogue: loadCatalogue(), store: timer.store });
    const cpu = startCpuMeter({ server: ctx.serverPid, bench: process.pid });
    const started = performance.now();
    const result = await journeys.sweepSegments(sweepAt);
    const seconds = (performance.now() - started) / 1000;
    return { customers, events, seedSeconds, seconds, customersPerSecond: result.customers / seconds, entered: result.entered, left: result.left, expected, store: timer.read(), cpu: cpu() };
  } finally {
    await sqlite.close();
  }
}
