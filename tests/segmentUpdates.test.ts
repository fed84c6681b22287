import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyVerifier, createApiKey } from '../app/apiKeys';
import { JourneyClient } from '../app/journeyClient';
import { segmentEventReads, SegmentTracker } from '../app/segmentTracker';
import type { CustomerEvent } from '../domain/customer/types';
import { createSendPolicy } from '../domain/delivery/sendPolicy';
import { computeRfm } from '../domain/rules/rfm';
import { membershipChanges, parseSegments } from '../domain/rules/segments';
import { loadCatalogue } from '../journeys';
import { ACTIVITY_EVENT_TYPES, shippedSegments } from '../journeys/segments';
import { migrate, migrations } from '../store/migrations';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { describeStores } from './support/stores';

// Segments recomputed off the request path: an ingest records the event (routed at once when
// no journey can take it) and marks the customer in the same write; the recomputation reads
// only what the rules read, in batches, after the answer, and survives a crash.

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-02T10:00:00.000Z');
const at = (ms: number) => new Date(ms).toISOString();
const segments = parseSegments(shippedSegments);

const view = (customerId: string, n: number, occurredAt: number, category = 'running-shoes'): CustomerEvent => ({
  id: `${customerId}-view-${n}`,
  type: 'product.viewed',
  customerId,
  occurredAt: at(occurredAt),
  properties: { sku: `sku-${n}`, category },
});

describeStores('segment marks and reads', ({ open }) => {
  it('marks the customer of an inserted event in its write; a repeat marks nothing; clearing the mark read leaves a later one', async () => {
    const store = await open();
    await store.recordEvent(view('c1', 1, NOW), { segmentsDirty: true });
    await store.recordEvent(view('c2', 1, NOW));
    const [first] = await store.dirtySegments({ customerIds: ['c1', 'c2'] });
    expect(first).toEqual({ customerId: 'c1', mark: expect.any(Number) });
    expect(await store.recordEvent(view('c1', 1, NOW), { segmentsDirty: true })).toMatchObject({ firstSeen: false });
    expect(await store.dirtySegments({ limit: 10 })).toEqual([first]);

    await store.recordEvent(view('c1', 2, NOW), { segmentsDirty: true });
    await store.clearDirtySegments([first]);
    const [later] = await store.dirtySegments({ limit: 10 });
    expect(later.mark).toBeGreaterThan(first.mark);
    await store.clearDirtySegments([later]);
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
  });

  it('records an event routed at insert: the routing sweep never finds it', async () => {
    const store = await open();
    expect(await store.recordEvent(view('c1', 1, NOW), { routed: true })).toEqual({ firstSeen: true, routed: true });
    expect(await store.recordEvent(view('c1', 1, NOW))).toEqual({ firstSeen: false, routed: true });
    await store.recordEvent(view('c1', 2, NOW));
    expect((await store.unroutedEvents('2999-01-01T00:00:00Z', 10)).map(({ event }) => event.id)).toEqual(['c1-view-2']);
  });

  it('marks upserted profiles when asked; erasure removes the mark with the rest', async () => {
    const store = await open();
    await store.upsertProfiles([{ customerId: 'c1', email: 'c1@example.com', attributes: {} }]);
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
    await store.upsertProfiles([{ customerId: 'c1', email: 'c1@example.com', attributes: { loyaltyTier: 'gold' } }], { segmentsDirty: true });
    expect((await store.dirtySegments({ limit: 10 })).map((m) => m.customerId)).toEqual(['c1']);
    await store.eraseCustomer('c1');
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
  });

  it('reads the windows and the latest of each type up to an instant, each event once, in time order, with profile, memberships and mark', async () => {
    const store = await open();
    const events: CustomerEvent[] = [
      { ...view('c1', 1, NOW - 30 * DAY), type: 'cart.updated' },
      { ...view('c1', 2, NOW - 20 * DAY), type: 'cart.updated' },
      view('c1', 3, NOW - 10 * DAY),
      view('c1', 4, NOW - 2 * DAY),
      view('c1', 5, NOW - DAY),
      { ...view('c1', 6, NOW + DAY), type: 'cart.updated' },
      { ...view('c1', 7, NOW - DAY), type: 'page.scrolled' },
      view('c2', 1, NOW - DAY),
    ];
    await store.recordHistory(events);
    await store.recordEvent(view('c1', 8, NOW), { segmentsDirty: true });
    await store.upsertProfiles([{ customerId: 'c1', email: 'c1@example.com', attributes: { tier: 'gold' } }]);
    await store.setSegments('c1', ['vip'], at(NOW - DAY));

    const read = { windows: [{ type: 'product.viewed', since: at(NOW - 7 * DAY) }], latest: ['cart.updated', 'product.viewed', 'order.completed'], until: at(NOW) };
    // Views of the last 7 days; the latest cart update up to now (not the future one), once.
    expect((await store.segmentEvents('c1', read)).map((e) => e.id)).toEqual(['c1-view-2', 'c1-view-4', 'c1-view-5', 'c1-view-8']);
    expect((await store.segmentEvents('c1', { windows: [{ type: 'cart.updated' }], latest: ['product.viewed'], until: at(NOW) })).map((e) => e.id)).toEqual([
      'c1-view-1',
      'c1-view-2',
      'c1-view-8',
      'c1-view-6',
    ]);
    expect((await store.segmentEvents('c1', 'all')).map((e) => e.id)).toEqual((await store.eventsOf('c1')).map((e) => e.id));

    const [c1, nobody] = await store.segmentInputs(['c1', 'nobody'], read);
    expect(c1).toEqual({
      customerId: 'c1',
      profile: { customerId: 'c1', email: 'c1@example.com', attributes: { tier: 'gold' } },
      events: await store.segmentEvents('c1', read),
      memberships: [{ segmentId: 'vip', enteredAt: at(NOW - DAY) }],
      dirtyMark: expect.any(Number),
    });
    expect(nobody).toEqual({ customerId: 'nobody', events: [], memberships: [] });
  });

  it('reads the latest consent of several topics in one call', async () => {
    const store = await open();
    await store.recordConsent({ customerId: 'c1', topic: 'all', status: 'withdrawn', source: 'a', at: at(NOW - 2 * DAY) });
    await store.recordConsent({ customerId: 'c1', topic: 'all', status: 'granted', source: 'b', at: at(NOW - DAY) });
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'c', at: at(NOW - DAY) });
    await store.recordConsent({ customerId: 'c1', topic: 'news', status: 'withdrawn', source: 'd', at: at(NOW) });
    const found = await store.consentsFor('c1', ['all', 'marketing', 'billing']);
    expect(found.map((r) => [r.topic, r.status, r.source]).sort()).toEqual([
      ['all', 'granted', 'b'],
      ['marketing', 'withdrawn', 'c'],
    ]);
  });
});

describe('the segment marks migration', () => {
  it('marks the customers of events whose routing never finished, which were recomputed when routed before', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-segment-marks-'));
    try {
      const file = path.join(dir, 'journeys.db');
      const before = migrations.findIndex((m) => m.id === '0011_segment_dirty');
      const db = new Database(file);
      migrate(db, migrations.slice(0, before));
      const insert = db.prepare('INSERT INTO events (id, customer_id, type, occurred_at, occurred_at_ms, properties, routed_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
      insert.run('e1', 'routed', 'product.viewed', at(NOW), NOW, '{}', at(NOW));
      insert.run('e2', 'unrouted', 'product.viewed', at(NOW), NOW, '{}', null);
      db.close();
      const store = openSqliteStore(file);
      expect((await store.dirtySegments({ limit: 10 })).map((m) => m.customerId)).toEqual(['unrouted']);
      await store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what segment rules read, derived from their definitions', () => {
  it('shipped: views of 7 days (running shoes) and orders of 90 days (RFM), else only the latest activity of each type (dormancy)', () => {
    const reads = segmentEventReads(segments);
    expect(reads).toEqual({
      all: false,
      windows: new Map([
        ['order.completed', 90 * DAY],
        ['product.viewed', 7 * DAY],
      ]),
      latest: new Set([...ACTIVITY_EVENT_TYPES]),
    });
  });

  it('a count or a where reads the window; a window of all time makes the latest redundant; reading events as an attribute reads them all', () => {
    const parsed = (rule: object) => parseSegments([{ id: 'x', name: 'x', rule: rule as never }]);
    expect(segmentEventReads(parsed({ all: [{ event: { type: 'a', count: { gte: 2 } } }, { event: { type: 'a' } }, { event: { type: 'b', count: { eq: 0 }, within: '3d' } }] }))).toEqual({
      all: false,
      windows: new Map([['a', Infinity]]),
      latest: new Set(['b']),
    });
    expect(segmentEventReads(parsed({ attr: 'events.length', op: 'gt', value: 3 }))).toEqual({ all: true });
  });

  it('recomputing from what the rules read finds what recomputing from the whole history finds', async () => {
    const store = openSqliteStore(':memory:');
    const tracker = new SegmentTracker(store, segments);
    // A deterministic spread of histories: views (some of running shoes), carts, orders, sign-ups, over a year.
    let seed = 7;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    const types = ['product.viewed', 'product.viewed', 'cart.updated', 'order.completed', 'user.signed_up', 'page.scrolled'];
    const events: CustomerEvent[] = [];
    for (let c = 0; c < 300; c++) {
      for (let k = random(12); k > 0; k--) {
        const type = types[random(types.length)];
        const occurredAt = NOW - random(400) * DAY + random(DAY) + (random(20) === 0 ? 3 * DAY : 0);
        events.push({ id: `e${events.length}`, type, customerId: `c${c}`, occurredAt: at(occurredAt), properties: { category: random(2) ? 'running-shoes' : 'socks', total: random(500) } });
      }
    }
    await store.recordHistory(events);
    const read = tracker.eventsRead(at(NOW));
    const ids = Array.from({ length: 300 }, (_, c) => `c${c}`);
    const inputs = await store.segmentInputs(ids, read);
    let members = 0;
    for (const [c, customerId] of ids.entries()) {
      const all = await store.eventsOf(customerId);
      const expected = membershipChanges(segments, { now: at(NOW), events: all, rfm: computeRfm(all, at(NOW)) }, []).members;
      const { events: someEvents } = inputs[c];
      expect(someEvents.length).toBeLessThanOrEqual(all.length);
      expect({ customerId, members: membershipChanges(segments, { now: at(NOW), events: someEvents, rfm: computeRfm(someEvents, at(NOW)) }, []).members }).toEqual({ customerId, members: expected });
      members += expected.length;
    }
    // The spread reaches every segment, so the comparison means something.
    expect(members).toBeGreaterThan(50);
    await store.close();
  });
});

describe('JourneyClient recomputes segments after the ingest, from the windows, in batches, and after a crash', () => {
  let dir: string;
  let store: Store;
  let calls: string[];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-segment-updates-'));
    store = openSqliteStore(path.join(dir, 'journeys.db'));
    calls = [];
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The real store with every call's name noted. */
  const counted = (real: Store): Store =>
    new Proxy(real, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  // No journey listens to anything here, so no Temporal is ever called.
  const client = (on: Store = counted(store)) =>
    new JourneyClient({
      temporal: {} as Client,
      store: on,
      catalogue: loadCatalogue([]),
      taskQueue: 'unused',
      policy: createSendPolicy({ optInTopics: [], frequencyCaps: [], defaultTimezone: 'UTC' }),
      linkHosts: ['shop.example.com'],
      now: () => new Date(NOW),
    });
  const historyReads = () => calls.filter((call) => ['eventsOf', 'eventsSince', 'segmentEvents', 'segmentInputs'].includes(call));

  it('an event type no segment rule reads (nor any journey) is one store call, and no history is ever read for it', async () => {
    const journeys = client();
    expect(await journeys.ingest({ id: 'n1', type: 'newsletter.opened', customerId: 'c1', occurredAt: at(NOW) })).toEqual({ eventId: 'n1', duplicate: false, started: [], signalled: [] });
    expect(calls).toEqual(['recordEvent']);
    expect(await journeys.settle()).toEqual([]);
    expect(historyReads()).toEqual([]);
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
    expect(await store.unroutedEvents('2999-01-01T00:00:00Z', 10)).toEqual([]);
  });

  it('an event a rule reads is one store call in the request; the customer is recomputed after, in one batch read of the windows', async () => {
    const journeys = client();
    await store.upsertProfiles([{ customerId: 'ana', email: 'ana@example.com', attributes: {} }]);
    // A long history of the same type, out of every window: never read.
    await store.recordHistory(Array.from({ length: 200 }, (_, n) => view('ana', 100 + n, NOW - 300 * DAY + n * 60_000)));
    for (const n of [1, 2, 3]) {
      calls = [];
      expect(await journeys.ingest(view('ana', n, NOW - (3 - n) * DAY))).toMatchObject({ started: [], signalled: [] });
      expect(calls).toEqual(['recordEvent']);
    }
    calls = [];
    const changes = await journeys.settle();
    expect(changes).toEqual([{ customerId: 'ana', result: { eventId: `segment:ana:browsedRunningShoes:entered:${at(NOW)}`, duplicate: false, started: [], signalled: [] } }]);
    expect(historyReads()).toEqual(['segmentInputs']);
    expect(calls.filter((call) => call !== 'recordEvent')).toEqual(['segmentInputs', 'setSegments', 'clearDirtySegments']);
    const [inputs] = await store.segmentInputs(['ana'], new SegmentTracker(store, segments).eventsRead(at(NOW)));
    expect(inputs.events.map((e) => e.id)).toEqual(['ana-view-1', 'ana-view-2', 'ana-view-3']);
    expect((await journeys.segmentsOf('ana')).map((s) => s.segmentId)).toEqual(['browsedRunningShoes']);

    // Recomputing a customer whose facts did not change changes nothing.
    await store.upsertProfiles([{ customerId: 'ana', email: 'ana@example.com', attributes: {} }], { segmentsDirty: true });
    await journeys.upsertProfile({ customerId: 'ana', email: 'ana@example.com' });
    expect(await journeys.settle()).toEqual([]);
    expect((await store.eventsOf('ana')).filter((e) => e.type.startsWith('segment.'))).toHaveLength(1);
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
  });

  it('history brings memberships to now silently, but never swallows a change a live event made before it', async () => {
    const journeys = client();
    await store.recordHistory([view('dee', 1, NOW - 2 * DAY), view('dee', 2, NOW - DAY)]);
    await journeys.ingest(view('dee', 3, NOW - 1000));
    // Not recomputed yet when the history arrives: the third view's entry is told first.
    const batch = await journeys.ingestBatch({ events: [{ id: 'dee-order', type: 'order.completed', customerId: 'dee', occurredAt: at(NOW - 30 * DAY), properties: { total: 5 } }] }, 'history');
    expect(batch.results).toEqual([{ eventId: 'dee-order', duplicate: false, started: [], signalled: [] }]);
    expect((await store.eventsOf('dee')).filter((e) => e.type.startsWith('segment.')).map((e) => `${e.type} ${String(e.properties.segment)}`)).toEqual(['segment.entered browsedRunningShoes']);
    expect(await journeys.settle()).toHaveLength(1);
  });

  it('marks a client left behind (it crashed before recomputing) are recomputed by the next client that starts, or by the sweep', async () => {
    const crashed = client(store);
    for (const n of [1, 2, 3]) await crashed.ingest(view('ben', n, NOW - n * DAY));
    expect((await store.dirtySegments({ limit: 10 })).map((m) => m.customerId)).toEqual(['ben']);
    expect(await store.segmentsOf('ben')).toEqual([]);

    const next = client(store);
    next.startSegmentUpdates();
    const changes = await next.settle();
    expect(changes.map((change) => change.result.eventId)).toEqual([`segment:ben:browsedRunningShoes:entered:${at(NOW)}`]);
    expect((await store.segmentsOf('ben')).map((m) => m.segmentId)).toEqual(['browsedRunningShoes']);
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
    await next.stopSegmentUpdates();

    // Left marked again, with nobody started: the sweep takes it first, at the current time.
    await store.recordEvent(view('cy', 1, NOW - DAY), { segmentsDirty: true, routed: true });
    await store.recordEvent(view('cy', 2, NOW - DAY), { segmentsDirty: true, routed: true });
    await store.recordEvent(view('cy', 3, NOW - DAY), { segmentsDirty: true, routed: true });
    await client(store).sweepSegments(at(NOW));
    expect((await store.segmentsOf('cy')).map((m) => m.segmentId)).toEqual(['browsedRunningShoes']);
    expect(await store.dirtySegments({ limit: 10 })).toEqual([]);
    expect((await store.eventsOf('cy')).filter((e) => e.type === 'segment.entered')).toHaveLength(1);
  });
});

describe('the API key verifier: "no key exists" is kept for a second', () => {
  it('reads the store once a second in loopback-only mode, and at once after this process creates a key', async () => {
    const store = openSqliteStore(':memory:');
    let reads = 0;
    const counted = Object.assign(Object.create(store) as Store, {
      hasActiveApiKeys: () => {
        reads++;
        return store.hasActiveApiKeys();
      },
    });
    let clock = NOW;
    const verifier = new ApiKeyVerifier(counted, () => clock);
    expect([await verifier.keysExist(), await verifier.keysExist()]).toEqual([false, false]);
    expect(reads).toBe(1);
    clock += 1_001;
    expect(await verifier.keysExist()).toBe(false);
    expect(reads).toBe(2);
    // A key another process created is seen once the second is over; one created here at once.
    await createApiKey(store, { name: 'here', scope: 'ingest' }, new Date(clock));
    expect(await verifier.keysExist()).toBe(true);
    expect(reads).toBe(3);
    await store.close();
  });
});
