import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { migrate, migrations } from '../store/migrations';
import { postgresMigrations } from '../store/postgresMigrations';
import { openSqliteStore } from '../store/sqlite';
import type { SendKey } from '../store/types';
import { describeStores } from './support/stores';

const event = (id: string, occurredAt: string, properties: Record<string, unknown> = {}): CustomerEvent => ({
  id,
  type: 'cart.updated',
  customerId: 'c1',
  occurredAt,
  properties,
});
const FAR_FUTURE = '2999-01-01T00:00:00.000Z';

describeStores('profiles', ({ open }) => {
  it('inserts, then merges attributes and replaces the email on a later upsert', async () => {
    const store = await open();
    await store.upsertProfiles([
      { customerId: 'c1', email: 'ada@example.com', attributes: { tier: 'gold', city: 'Paris' } },
      { customerId: 'c2', email: 'bob@example.com', attributes: {} },
    ]);
    await store.upsertProfiles([
      { customerId: 'c1', email: 'ada@example.org', attributes: { tier: 'silver', vip: true, nickname: null } },
    ]);

    expect(await store.getProfile('c1')).toEqual({
      customerId: 'c1',
      email: 'ada@example.org',
      attributes: { tier: 'silver', city: 'Paris', vip: true, nickname: null },
    });
    expect(await store.getProfile('nobody')).toBeUndefined();
    expect(await store.countProfiles()).toBe(2);
  });

  it('merges a customer listed twice in one call as two calls would', async () => {
    const store = await open();
    await store.upsertProfiles([
      { customerId: 'c1', email: 'old@example.com', attributes: { tier: 'gold', city: 'Paris' } },
      { customerId: 'c1', email: 'new@example.com', attributes: { tier: 'silver' } },
    ]);
    expect(await store.getProfile('c1')).toEqual({ customerId: 'c1', email: 'new@example.com', attributes: { tier: 'silver', city: 'Paris' } });
  });

  it('imports 100k profiles in one call', async () => {
    const store = await open();
    const profiles: Profile[] = Array.from({ length: 100_000 }, (_, i) => ({
      customerId: `cust-${i}`,
      email: `cust-${i}@example.com`,
      attributes: { tier: i % 3 === 0 ? 'gold' : 'basic', signupDay: i % 365 },
    }));

    const started = performance.now();
    await store.upsertProfiles(profiles);
    const fresh = performance.now() - started;
    await store.upsertProfiles(profiles);
    const again = performance.now() - started - fresh;
    console.log(`100k profiles: insert ${fresh.toFixed(0)} ms, re-upsert (merge) ${again.toFixed(0)} ms`);

    expect(await store.countProfiles()).toBe(100_000);
    expect(await store.getProfile('cust-99999')).toMatchObject({ attributes: { tier: 'gold', signupDay: 354 } });
  }, 60_000);
});

describeStores('events', ({ open }) => {
  it('keeps the first copy of a duplicate id, reports whether it was routed and how a copy under the same id differs', async () => {
    const store = await open();
    expect(await store.recordEvent(event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' }))).toEqual({
      firstSeen: true,
      routed: false,
    });
    // A retry before routing finished: the caller must route it again.
    expect(await store.recordEvent(event('e1', '2025-01-01T11:00:00+01:00', { cartId: 'A' }))).toEqual({
      firstSeen: false,
      routed: false,
    });
    expect(await store.recordEvent(event('e1', '2025-01-01T11:00:00Z', { cartId: 'B' }))).toEqual({
      firstSeen: false,
      routed: false,
      differsIn: ['properties', 'occurredAt'],
    });
    expect(await store.recordEvent({ ...event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' }), customerId: 'c2', type: 'order.completed' })).toMatchObject({
      differsIn: ['customerId', 'type'],
    });
    // Without the sender's occurredAt, the arrival time stood in for it: not compared.
    expect(await store.recordEvent(event('e1', '2025-01-01T12:00:00Z', { cartId: 'A' }), { occurredAtGiven: false })).toEqual({ firstSeen: false, routed: false });

    await store.markEventRouted('e1');
    expect(await store.recordEvent(event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' }))).toEqual({ firstSeen: false, routed: true });

    expect(await store.eventsOf('c1')).toEqual([event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' })]);
  });

  it('lists a customer’s events by time, then by arrival, whatever their UTC offset', async () => {
    const store = await open();
    await store.recordEvent(event('late', '2025-01-01T12:00:00Z'));
    await store.recordEvent(event('tie-1', '2025-01-01T10:00:00Z'));
    await store.recordEvent(event('tie-2', '2025-01-01T10:00:00Z'));
    // 10:30 in Paris is 09:30Z: earliest, although its text sorts last.
    await store.recordEvent(event('paris', '2025-01-01T10:30:00+01:00'));
    await store.recordEvent({ ...event('other', '2025-01-01T08:00:00Z'), customerId: 'c2' });

    expect((await store.eventsOf('c1')).map((e) => e.id)).toEqual(['paris', 'tie-1', 'tie-2', 'late']);
  });

  it('finds an event by id, a customer’s events of some types since an instant, and the latest of a type across customers', async () => {
    const store = await open();
    const order = (id: string, customerId: string, occurredAt: string): CustomerEvent => ({ id, type: 'order.completed', customerId, occurredAt, properties: { total: 10 } });
    await store.recordEvent(event('cart', '2025-01-01T09:00:00Z', { cartId: 'A' }));
    await store.recordEvent(order('o1', 'c1', '2025-01-01T10:00:00Z'));
    await store.recordEvent(order('o2', 'c2', '2025-01-01T12:00:00+01:00'));
    await store.recordEvent(order('o3', 'c1', '2025-01-01T11:30:00Z'));

    expect(await store.eventById('cart')).toEqual(event('cart', '2025-01-01T09:00:00Z', { cartId: 'A' }));
    expect(await store.eventById('missing')).toBeUndefined();
    // 10:00 in Paris is 09:00Z: the cart counts from then on, as an instant.
    expect((await store.eventsSince('c1', ['cart.updated', 'order.completed'], '2025-01-01T10:00:00+01:00')).map((e) => e.id)).toEqual(['cart', 'o1', 'o3']);
    expect((await store.eventsSince('c1', ['order.completed'], '2025-01-01T10:00:00.001Z')).map((e) => e.id)).toEqual(['o3']);
    expect(await store.eventsSince('c1', [], '2025-01-01T00:00:00Z')).toEqual([]);
  });

  it('records history as already routed, one answer per event, keeping the first copy of a repeated id', async () => {
    const store = await open();
    await store.recordEvent(event('live', '2025-01-01T10:00:00Z'));
    const answers = await store.recordHistory([
      event('h1', '2024-06-01T10:00:00Z', { cartId: 'A' }),
      event('live', '2025-01-01T10:00:00Z'),
      event('h1', '2024-06-01T12:00:00+02:00', { cartId: 'A' }),
      event('h1', '2024-06-01T10:00:00Z', { cartId: 'B' }),
      event('h2', '2024-06-02T10:00:00Z'),
    ]);
    expect(answers).toEqual([
      { firstSeen: true, routed: true },
      { firstSeen: false, routed: false },
      { firstSeen: false, routed: true },
      { firstSeen: false, routed: true, differsIn: ['properties'] },
      { firstSeen: true, routed: true },
    ]);
    expect(await store.recordHistory([])).toEqual([]);
    expect((await store.eventsOf('c1')).map((e) => e.id)).toEqual(['h1', 'h2', 'live']);
    expect((await store.unroutedEvents(FAR_FUTURE, 10)).map((u) => u.event.id)).toEqual(['live']);
  });

  it('lists events never routed, recorded before an instant, in the order they arrived, with when they arrived', async () => {
    const store = await open();
    const before = Date.now();
    await store.recordEvent(event('b', '2025-01-01T12:00:00Z'));
    await store.recordEvent(event('a', '2025-01-01T08:00:00Z'));
    await store.recordEvent(event('routed', '2025-01-01T09:00:00Z'));
    await store.markEventRouted('routed');

    const unrouted = await store.unroutedEvents(FAR_FUTURE, 10);
    expect(unrouted.map((u) => u.event)).toEqual([event('b', '2025-01-01T12:00:00Z'), event('a', '2025-01-01T08:00:00Z')]);
    for (const { recordedAt } of unrouted) {
      expect(recordedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(recordedAt)).toBeGreaterThanOrEqual(before - 1000);
    }
    expect((await store.unroutedEvents(FAR_FUTURE, 1)).map((u) => u.event.id)).toEqual(['b']);
    expect(await store.unroutedEvents(new Date(before - 60_000).toISOString(), 10)).toEqual([]);
  });

  it('refuses to mark an unknown event routed', async () => {
    await expect((await open()).markEventRouted('missing')).rejects.toThrow(/never recorded/);
  });
});

describeStores('consent ledger', ({ open }) => {
  it('answers with the latest change per topic and keeps every change in order', async () => {
    const store = await open();
    const at = (time: string) => `2025-01-01T${time}Z`;
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'granted', source: 'signup', at: at('09:00:00') });
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'unsubscribe', at: at('10:00:00') });
    // Same instant as the withdrawal: the row recorded later wins.
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'granted', source: 'preferences', at: at('10:00:00') });
    // Arrives late but happened earlier: it must not override the newer rows.
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'import', at: at('08:00:00') });
    await store.recordConsent({ customerId: 'c1', topic: 'product', status: 'withdrawn', source: 'signup', at: at('09:30:00') });

    expect(await store.consentFor('c1', 'marketing')).toMatchObject({ status: 'granted', source: 'preferences' });
    expect(await store.consentFor('c1', 'product')).toMatchObject({ status: 'withdrawn' });
    expect(await store.consentFor('c1', 'billing')).toBeUndefined();
    expect((await store.consentLedger('c1')).map((row) => row.source)).toEqual([
      'import',
      'signup',
      'signup',
      'unsubscribe',
      'preferences',
    ]);
  });
});

describeStores('journey runs and versions', ({ open }) => {
  it('records one row per workflow id and a new start time on re-entry', async () => {
    const store = await open();
    const run = { workflowId: 'cartAbandonment:c1:A', journeyId: 'cartAbandonment', customerId: 'c1', topic: 'marketing' };
    await store.recordJourneyRun({ ...run, startedAt: '2025-01-01T10:00:00.000Z' });
    await store.recordJourneyRun({ ...run, workflowId: 'onboarding:c1', journeyId: 'onboarding', startedAt: '2025-01-02T10:00:00.000Z' });
    await store.recordJourneyRun({ ...run, startedAt: '2025-01-03T10:00:00.000Z' });

    expect(await store.journeyRuns('c1')).toEqual([
      { workflowId: 'onboarding:c1', journeyId: 'onboarding', customerId: 'c1', topic: 'marketing', startedAt: '2025-01-02T10:00:00.000Z' },
      { ...run, startedAt: '2025-01-03T10:00:00.000Z' },
    ]);
    expect(await store.journeyRuns('c2')).toEqual([]);
  });

  it('keeps the templates of a journey version as first recorded', async () => {
    const store = await open();
    await store.recordJourneyVersion({ journeyId: 'cartAbandonment', version: 'v1', templates: { reminder1: 'Hello {{ firstName }}' } });
    await store.recordJourneyVersion({ journeyId: 'cartAbandonment', version: 'v1', templates: { reminder1: 'edited' } });
    await store.recordJourneyVersion({ journeyId: 'cartAbandonment', version: 'v2', templates: { reminder1: 'edited' } });

    expect(await store.journeyVersionTemplates('cartAbandonment', 'v1')).toEqual({ reminder1: 'Hello {{ firstName }}' });
    expect(await store.journeyVersionTemplates('cartAbandonment', 'v2')).toEqual({ reminder1: 'edited' });
    expect(await store.journeyVersionTemplates('onboarding', 'v1')).toBeUndefined();
  });
});

describeStores('one store shared by several processes', ({ backend, open, location }) => {
  it('lets each store instance see the other’s writes', async () => {
    const cli = await open();
    const server = await open();

    await cli.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    expect(await server.getProfile('c1')).toMatchObject({ email: 'ada@example.com' });

    await server.recordEvent(event('e1', '2025-01-01T10:00:00Z'));
    expect(await cli.recordEvent(event('e1', '2025-01-01T10:00:00Z'))).toEqual({ firstSeen: false, routed: false });

    await cli.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'cli', at: '2025-01-01T10:00:00Z' });
    expect(await server.consentFor('c1', 'marketing')).toMatchObject({ status: 'withdrawn' });

    const key: SendKey = { workflowId: 'w', stepId: 's', customerId: 'c1', journeyId: 'j', topic: 'marketing' };
    await cli.reserveSend(key, '2025-01-01T10:00:00.000Z');
    const claim = { workflowId: 'w', stepId: 's', from: 'reserved' as const, owner: 'cli', at: '2025-01-01T10:00:01.000Z', messageId: '<m@j>' };
    await cli.claimSend({ ...claim, message: { envelope: { from: 'a@example.com', to: ['b@example.com'] }, raw: Buffer.from('x') }, recheck: { consent: [], addressHash: 'h' } });
    expect((await server.reserveSend(key, '2025-01-01T10:01:00.000Z')).record).toMatchObject({ status: 'sending' });
  });

  it('records an event that arrives at two instances at once exactly once', async () => {
    const [a, b] = [await open(), await open()];
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).recordEvent(event('twice', '2025-01-01T10:00:00Z'))));
    expect(answers.filter((answer) => answer.firstSeen)).toHaveLength(1);
    expect(answers.filter((answer) => answer.differsIn)).toEqual([]);
    expect(await a.eventsOf('c1')).toHaveLength(1);
  });

  it('applies each migration once, however often and however many at once open it', async () => {
    // Processes starting together on an empty database: the later ones wait for the first to
    // migrate, then find it done.
    await Promise.all([open(), open(), open()]);
    await (await open()).close();
    await (await open()).close();

    const list = backend.name === 'postgres' ? postgresMigrations : migrations;
    expect(await location().appliedMigrations()).toEqual(list.map((m) => m.id));
  });
});

describe('migrations', () => {
  it('PostgreSQL has a migration for each of SQLite’s, under the same id', () => {
    expect(postgresMigrations.map((m) => m.id)).toEqual(migrations.map((m) => m.id));
  });

  it('SQLite applies what a file lacks and nothing twice; an in-memory store works too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-migrate-'));
    try {
      const raw = new Database(path.join(dir, 'raw.db'));
      expect(migrate(raw)).toEqual(migrations.map((m) => m.id));
      expect(migrate(raw)).toEqual([]);
      raw.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    const store = openSqliteStore(':memory:');
    await store.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    expect(await store.countProfiles()).toBe(1);
    await store.close();
  });
});

describe('SQLite group commit', () => {
  const withStoreFile = async (body: (file: string) => Promise<void>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-group-commit-'));
    try {
      await body(path.join(dir, 'journeys.db'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const pageView = (id: string, customerId = 'c1'): CustomerEvent => ({ id, type: 'product.viewed', customerId, occurredAt: '2025-01-01T10:00:00.000Z', properties: { sku: id } });

  it('writes events that arrive together in shared commits: fewer WAL pages per event than one commit each', async () => {
    await withStoreFile(async (file) => {
      const store = openSqliteStore(file);
      // Empties the WAL, so its size afterwards is what the events wrote (every frame a page and its header).
      const other = new Database(file);
      other.pragma('wal_checkpoint(TRUNCATE)');
      const events = Array.from({ length: 100 }, (_, i) => pageView(`e${i}`, `c${i % 20}`));
      const answers = await Promise.all(events.map((e) => store.recordEvent(e, { routed: true, segmentsDirty: true })));
      expect(answers.every((answer) => answer.firstSeen && answer.routed)).toBe(true);

      const pagesPerEvent = fs.statSync(`${file}-wal`).size / (4096 + 24) / events.length;
      // One commit per event wrote 5–6 pages each (the row, its four indexes, the segment mark),
      // groups of 4 about 1.3, groups of 8 about 0.75.
      expect(pagesPerEvent).toBeLessThan(1);
      expect(other.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 100 });
      expect(other.prepare('SELECT count(*) AS n FROM segment_dirty').get()).toEqual({ n: 20 });
      other.close();
      await store.close();
    });
  });

  it('lets a burst of commits grow the WAL to 4,000 pages before one of them copies it back into the database', async () => {
    await withStoreFile(async (file) => {
      const store = openSqliteStore(file);
      // One event at a time: a commit each, 5–6 pages each, some 2,500 pages in all.
      for (let i = 0; i < 450; i++) await store.recordEvent(pageView(`e${i}`, `c${i}`), { routed: true, segmentsDirty: true });
      const other = new Database(file);
      // `log`: the frames written since the last checkpoint reset the WAL.
      const [{ log }] = other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      expect(log).toBeGreaterThan(2000);
      other.close();
      await store.close();
    });
  });

  it('answers each event of a group for itself: a copy under the same id, one that differs, one that fails', async () => {
    await withStoreFile(async (file) => {
      const store = openSqliteStore(file);
      const answers = await Promise.allSettled([
        store.recordEvent(pageView('a')),
        store.recordEvent(pageView('a')),
        store.recordEvent({ ...pageView('a'), properties: { sku: 'other' } }),
        store.recordEvent({ ...pageView('bad'), occurredAt: 'not a time' }),
        store.recordEvent(pageView('b')),
      ]);
      expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      const values = answers.map((a) => (a.status === 'fulfilled' ? a.value : undefined));
      expect(values[0]).toEqual({ firstSeen: true, routed: false });
      expect(values[1]).toEqual({ firstSeen: false, routed: false });
      expect(values[2]).toMatchObject({ firstSeen: false, differsIn: ['properties'] });
      expect(String((answers[3] as PromiseRejectedResult).reason)).toMatch(/occurredAt/);
      expect(values[4]).toEqual({ firstSeen: true, routed: false });
      expect((await store.eventsOf('c1')).map((e) => e.id)).toEqual(['a', 'b']);
      await store.close();
    });
  });

  it('commits what waits for its group when the store closes', async () => {
    await withStoreFile(async (file) => {
      const store = openSqliteStore(file);
      const recorded = store.recordEvent(pageView('last'));
      await store.close();
      expect(await recorded).toEqual({ firstSeen: true, routed: false });
      const reopened = openSqliteStore(file);
      expect((await reopened.eventsOf('c1')).map((e) => e.id)).toEqual(['last']);
      await reopened.close();
    });
  });
});
