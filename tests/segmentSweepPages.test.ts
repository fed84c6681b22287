import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWEEP_IN_FLIGHT, type SweepResult } from '../app/segmentTracker';
import { startWorkerRole } from '../compose/roles';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { computeRfm } from '../domain/rules/rfm';
import { membershipChanges, parseSegments } from '../domain/rules/segments';
import { loadCatalogue } from '../journeys';
import { shippedSegments } from '../journeys/segments';
import type { Store } from '../store/types';
import type { SegmentSweepInput, SegmentSweepResult } from '../workflows/segmentSweep';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// The segment-sweep workflow as its Schedule runs it, on the time-skipping server, over 2,000
// customers in pages of 100. No journey listens to segment events here, so the sweep's own
// work (recomputing, recording the changes) is all there is.

const DAY = 86_400_000;
const COUNT = 2000;
const PAGE = 100;
const ids = Array.from({ length: COUNT }, (_, i) => `c${String(i).padStart(4, '0')}`);
const segments = parseSegments(shippedSegments);
const PAGES_ID = 'segment-sweep-pages';

/**
 * The env's store, as the worker's: each recomputation counted (a recomputation reads the
 * customer's memberships once), one read failing once on `failOnce` (a store fault), and
 * listing customers held while `gate` is pending.
 */
interface Probe {
  recomputed: Map<string, number>;
  failOnce?: string;
  gate?: Promise<void>;
  /** Called when the sweep lists customers. */
  listing?: () => void;
}

function probed(store: Store, probe: Probe): Store {
  return Object.assign(Object.create(store) as Store, {
    async segmentsOf(customerId: string) {
      probe.recomputed.set(customerId, (probe.recomputed.get(customerId) ?? 0) + 1);
      if (probe.failOnce === customerId) {
        probe.failOnce = undefined;
        throw new Error('store fault: the connection was lost');
      }
      return store.segmentsOf(customerId);
    },
    async customerIdsAfter(after: string | undefined, limit: number) {
      probe.listing?.();
      await probe.gate;
      return store.customerIdsAfter(after, limit);
    },
  });
}

/** The env with its own worker stopped and one on the probed store in its place. */
async function sweepEnv(probe: Probe): Promise<JourneyEnv> {
  const catalogue = loadCatalogue([]);
  const t = await startJourneyEnv({ catalogue });
  await t.app.close();
  await startWorkerRole(await t.compose({ store: probed(t.store, probe), catalogue }));
  return t;
}

/**
 * 2,000 customers, a tenth each: dormant for 61 days (two tenths: they enter dormant60d), gold
 * (vip), in browsedRunningShoes with views 8 days old (they leave it), in it with fresh views
 * (they stay), active 10 days ago; the rest have only a profile. Every twentieth has no
 * profile, only events. Recorded as history, so nothing is recomputed before the sweep.
 */
async function seed(t: JourneyEnv) {
  const now = await t.env.currentTimeMs();
  const at = (ms: number) => new Date(ms).toISOString();
  const profiles: Profile[] = [];
  const events: CustomerEvent[] = [];
  const order = (customerId: string, ago: number) => events.push({ id: `${customerId}-order`, type: 'order.completed', customerId, occurredAt: at(now - ago), properties: { total: 20 } });
  const views = (customerId: string, ago: number) =>
    [0, 1, 2].forEach((n) => events.push({ id: `${customerId}-view-${n}`, type: 'product.viewed', customerId, occurredAt: at(now - ago + n * 60_000), properties: { category: 'running-shoes' } }));
  const inShoes: string[] = [];
  ids.forEach((customerId, i) => {
    const kind = i % 10;
    if (i % 20 !== 1) profiles.push({ customerId, email: `${customerId}@example.com`, attributes: kind === 2 ? { loyaltyTier: 'gold' } : {} });
    if (kind <= 1) order(customerId, 61 * DAY);
    if (kind === 3) views(customerId, 8 * DAY);
    if (kind === 4) views(customerId, DAY);
    if (kind === 3 || kind === 4) inShoes.push(customerId);
    if (kind === 5 || i % 20 === 1) order(customerId, 10 * DAY);
  });
  await t.store.upsertProfiles(profiles);
  await t.store.recordHistory(events);
  for (const customerId of inShoes) await t.store.setSegments(customerId, ['browsedRunningShoes'], at(now - DAY));
}

/** Each customer's facts and memberships before the sweep. */
async function factsBefore(store: Store) {
  return new Map(await Promise.all(ids.map(async (id) => [id, { profile: await store.getProfile(id), events: await store.eventsOf(id), previous: (await store.segmentsOf(id)).map((m) => m.segmentId) }] as const)));
}

type Facts = Awaited<ReturnType<typeof factsBefore>>;

/**
 * What recomputing each customer on their own as of the sweep's instant finds (the sweep
 * before pages: one customer after the other): checks the memberships and segment events the
 * sweep left against it, and returns each customer's changes.
 */
async function expectSameAsEachRecomputed(store: Store, before: Facts) {
  const changes = new Map<string, { entered: string[]; left: string[] }>();
  const sweepEvents = new Map<string, string[]>();
  for (const id of ids) sweepEvents.set(id, (await store.eventsOf(id)).filter((e) => e.type.startsWith('segment.')).map((e) => `${e.type} ${String(e.properties.segment)} ${e.occurredAt}`));
  // Every change is told at the sweep's one instant.
  const instants = new Set([...sweepEvents.values()].flat().map((line) => line.split(' ')[2]));
  expect(instants.size).toBe(1);
  const [now] = instants;
  for (const id of ids) {
    const { profile, events, previous } = before.get(id)!;
    const expected = membershipChanges(segments, { now, profile, events, rfm: computeRfm(events, now) }, previous);
    expect({ id, members: (await store.segmentsOf(id)).map((m) => m.segmentId).sort() }).toEqual({ id, members: [...expected.members].sort() });
    expect({ id, events: sweepEvents.get(id) }).toEqual({ id, events: [...expected.entered.map((s) => `segment.entered ${s} ${now}`), ...expected.left.map((s) => `segment.left ${s} ${now}`)] });
    changes.set(id, expected);
  }
  return changes;
}

const total = (changes: Map<string, { entered: string[]; left: string[] }>, only: (id: string) => boolean = () => true): Omit<SweepResult, 'customers'> => {
  let entered = 0;
  let left = 0;
  for (const [id, change] of changes) {
    if (!only(id)) continue;
    entered += change.entered.length;
    left += change.left.length;
  }
  return { entered, left };
};

const sweep = (t: JourneyEnv, workflowId: string, input: SegmentSweepInput) =>
  t.env.client.workflow.execute('segmentSweep', { taskQueue: 'journeys-test', workflowId, args: [input] }) as Promise<SegmentSweepResult>;

/** A time-skipping environment of the describe's own, seeded with the customers, for its tests. */
function seededSweepEnv(probe: Probe): () => JourneyEnv {
  let t: JourneyEnv;
  beforeAll(async () => {
    t = await sweepEnv(probe);
    await seed(t);
  });
  afterAll(async () => t?.close());
  return () => t;
}

describe('the segment sweep in pages of 100 over 2,000 customers', () => {
  const probe: Probe = { recomputed: new Map() };
  const env = seededSweepEnv(probe);

  it('finds what recomputing each customer finds, recomputes each once, and continues as new every few pages', async () => {
    const t = env();
    const before = await factsBefore(t.store);
    probe.recomputed.clear();
    const result = await sweep(t, 'segment-sweep-2000', { pageSize: PAGE, pagesPerRun: 8 });

    const changes = await expectSameAsEachRecomputed(t.store, before);
    expect(total(changes)).toEqual({ entered: 600, left: 200 });
    expect(result).toEqual({ customers: COUNT, ...total(changes) });
    expect([...probe.recomputed.keys()].sort()).toEqual(ids);
    expect(new Set(probe.recomputed.values())).toEqual(new Set([1]));

    // 21 pages (the 20th is full, so one more finds none) in runs of 8: the last run has 5,
    // and its history is small.
    const history = await t.env.client.workflow.getHandle(PAGES_ID).fetchHistory();
    expect(history.events?.[0].workflowExecutionStartedEventAttributes?.continuedExecutionRunId).toBeTruthy();
    expect(history.events?.filter((e) => e.activityTaskScheduledEventAttributes).length).toBe(5);
    expect(history.events?.length).toBeLessThan(50);
  });
});

describe('a page that fails, and a second sweep while one runs', () => {
  const probe: Probe = { recomputed: new Map() };
  const env = seededSweepEnv(probe);

  it('a store fault on page 3: the retry goes on after the last heartbeat, and no customer of an earlier page is recomputed again', async () => {
    const t = env();
    const before = await factsBefore(t.store);
    probe.recomputed.clear();
    probe.failOnce = 'c0250';
    const result = await sweep(t, 'segment-sweep-fault', { pageSize: PAGE });
    expect(probe.failOnce).toBeUndefined();

    const changes = await expectSameAsEachRecomputed(t.store, before);
    const count = (id: string) => probe.recomputed.get(id) ?? 0;
    const twice = ids.filter((id) => count(id) === 2);
    expect(ids.filter((id) => count(id) < 1 || count(id) > 2)).toEqual([]);
    // Pages 1 and 2 are in the workflow's history: never redone.
    expect(twice.filter((id) => id < 'c0200')).toEqual([]);
    // The failure carried the page's last heartbeat, the customers done before the failing
    // group: the retry went on from there. Only that group's customers after the fault, which
    // the failed attempt finished too, are recomputed again (a worker that dies instead loses
    // what it had not sent yet: at most a heartbeat interval of the page).
    const failing = Math.floor((250 - 2 * PAGE) / SWEEP_IN_FLIGHT) * SWEEP_IN_FLIGHT + 2 * PAGE;
    expect(twice).toEqual(ids.slice(250, failing + SWEEP_IN_FLIGHT));
    // The failed attempt's changes are made (and checked above); the retry finds the redone
    // customers' changes made already, so the page's counts leave them out.
    const redone = (id: string) => twice.includes(id) && id !== 'c0250';
    expect(result).toEqual({ customers: COUNT, ...total(changes, (id) => !redone(id)) });

    const attempts = (await t.env.client.workflow.getHandle(PAGES_ID).fetchHistory()).events?.flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(attempts).toEqual([1, 1, 2, ...Array(18).fill(1)]);
  });

  it('a sweep started while one runs, by the Schedule or by hand, skips; the sweep id refuses a second start; the next one runs', async () => {
    const t = env();
    let open!: () => void;
    let listing!: () => void;
    const listed = new Promise<void>((resolve) => (listing = resolve));
    probe.gate = new Promise<void>((resolve) => (open = resolve));
    probe.listing = () => listing();
    const first = sweep(t, 'segment-sweep-first', { pageSize: PAGE });
    await listed;

    expect(await sweep(t, 'segment-sweep-second', { pageSize: PAGE })).toEqual({ customers: 0, entered: 0, left: 0, skippedFor: PAGES_ID });
    await expect(sweep(t, PAGES_ID, { pageSize: PAGE })).rejects.toThrow(WorkflowExecutionAlreadyStartedError);

    open();
    expect(await first).toEqual({ customers: COUNT, entered: 0, left: 0 });
    probe.gate = undefined;
    expect(await sweep(t, 'segment-sweep-third', {})).toEqual({ customers: COUNT, entered: 0, left: 0 });
  });
});
