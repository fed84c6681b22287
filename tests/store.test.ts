import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerEvent, Profile } from '../domain/customer';
import { migrate, migrations } from '../store/migrations';
import { openSqliteStore } from '../store/sqlite';
import type { SendKey, Store } from '../store/types';

let dir: string;
let file: string;
const opened: Store[] = [];

function open(): Store {
  const store = openSqliteStore(file);
  opened.push(store);
  return store;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-store-'));
  // A nested path also checks that the parent folder is created.
  file = path.join(dir, 'data', 'journeys.db');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const event = (id: string, occurredAt: string, properties: Record<string, unknown> = {}): CustomerEvent => ({
  id,
  type: 'cart.updated',
  customerId: 'c1',
  occurredAt,
  properties,
});

describe('profiles', () => {
  it('inserts, then merges attributes and replaces the email on a later upsert', async () => {
    const store = open();
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

  it('imports 100k profiles in one call', async () => {
    const store = open();
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

describe('events', () => {
  it('keeps the first copy of a duplicate id and reports whether it was routed', async () => {
    const store = open();
    expect(await store.recordEvent(event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' }))).toEqual({
      firstSeen: true,
      routed: false,
    });
    // A retry before routing finished: the caller must route it again.
    expect(await store.recordEvent(event('e1', '2025-01-01T11:00:00Z', { cartId: 'B' }))).toEqual({
      firstSeen: false,
      routed: false,
    });

    await store.markEventRouted('e1');
    expect(await store.recordEvent(event('e1', '2025-01-01T12:00:00Z'))).toEqual({ firstSeen: false, routed: true });

    expect(await store.eventsOf('c1')).toEqual([event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' })]);
  });

  it('lists a customer’s events by time, then by arrival, whatever their UTC offset', async () => {
    const store = open();
    await store.recordEvent(event('late', '2025-01-01T12:00:00Z'));
    await store.recordEvent(event('tie-1', '2025-01-01T10:00:00Z'));
    await store.recordEvent(event('tie-2', '2025-01-01T10:00:00Z'));
    // 10:30 in Paris is 09:30Z: earliest, although its text sorts last.
    await store.recordEvent(event('paris', '2025-01-01T10:30:00+01:00'));
    await store.recordEvent({ ...event('other', '2025-01-01T08:00:00Z'), customerId: 'c2' });

    expect((await store.eventsOf('c1')).map((e) => e.id)).toEqual(['paris', 'tie-1', 'tie-2', 'late']);
  });

  it('refuses to mark an unknown event routed', async () => {
    await expect(open().markEventRouted('missing')).rejects.toThrow(/never recorded/);
  });
});

describe('consent ledger', () => {
  it('answers with the latest change per topic and keeps every change in order', async () => {
    const store = open();
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

describe('journey runs', () => {
  it('records one row per workflow id and a new start time on re-entry', async () => {
    const store = open();
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
});

describe('send ledger', () => {
  const key: SendKey = {
    workflowId: 'cartAbandonment:c1:A',
    stepId: 'reminder1',
    customerId: 'c1',
    journeyId: 'cartAbandonment',
    topic: 'marketing',
  };

  it('hands a retried attempt the row its first attempt left', async () => {
    const store = open();
    const first = await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    expect(first.record).toEqual({ ...key, status: 'reserved', createdAt: '2025-01-01T10:00:00.000Z', updatedAt: '2025-01-01T10:00:00.000Z' });

    await store.updateSend(key.workflowId, key.stepId, { status: 'sending', template: 'reminder-gold', at: '2025-01-01T10:00:01.000Z' });
    await store.updateSend(key.workflowId, key.stepId, { status: 'sent', messageId: '<m1@journeys>', at: '2025-01-01T10:00:02.000Z' });

    // The activity is retried (e.g. the worker died before reporting success).
    const retried = await store.reserveSend(key, '2025-01-01T10:05:00.000Z');
    expect(retried.record).toEqual({
      ...key,
      status: 'sent',
      template: 'reminder-gold',
      messageId: '<m1@journeys>',
      createdAt: '2025-01-01T10:00:00.000Z',
      updatedAt: '2025-01-01T10:00:02.000Z',
    });
  });

  it('replaces the reason on each update and lists a customer’s sends by creation time', async () => {
    const store = open();
    await store.reserveSend({ ...key, stepId: 'reminder2' }, '2025-01-02T10:00:00.000Z');
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    await store.updateSend(key.workflowId, key.stepId, { status: 'in_doubt', reason: 'connection lost after DATA', at: '2025-01-01T10:00:01.000Z' });
    await store.updateSend(key.workflowId, key.stepId, { status: 'sent', at: '2025-01-01T10:00:02.000Z' });

    const sends = await store.sendsOf('c1');
    expect(sends.map((s) => [s.stepId, s.status])).toEqual([
      ['reminder1', 'sent'],
      ['reminder2', 'reserved'],
    ]);
    expect(sends[0].reason).toBeUndefined();
    await expect(store.updateSend('nope', 'x', { status: 'sent', at: '2025-01-01T00:00:00.000Z' })).rejects.toThrow(/reserve it/);
  });
});

describe('one file shared by two processes', () => {
  it('lets each store instance see the other’s writes', async () => {
    const cli = open();
    const server = open();

    await cli.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    expect(await server.getProfile('c1')).toMatchObject({ email: 'ada@example.com' });

    await server.recordEvent(event('e1', '2025-01-01T10:00:00Z'));
    expect(await cli.recordEvent(event('e1', '2025-01-01T10:00:00Z'))).toEqual({ firstSeen: false, routed: false });

    await cli.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'cli', at: '2025-01-01T10:00:00Z' });
    expect(await server.consentFor('c1', 'marketing')).toMatchObject({ status: 'withdrawn' });

    const key: SendKey = { workflowId: 'w', stepId: 's', customerId: 'c1', journeyId: 'j', topic: 'marketing' };
    await cli.reserveSend(key, '2025-01-01T10:00:00.000Z');
    await cli.updateSend('w', 's', { status: 'sending', at: '2025-01-01T10:00:01.000Z' });
    expect((await server.reserveSend(key, '2025-01-01T10:01:00.000Z')).record).toMatchObject({ status: 'sending' });
  });

  it('applies each migration once, however often the file is opened', async () => {
    await open().close();
    await open().close();
    open();
    open();

    const db = new Database(file, { readonly: true });
    const ids = db.prepare('SELECT id FROM schema_migrations ORDER BY id').pluck().all();
    db.close();
    expect(ids).toEqual(migrations.map((m) => m.id));

    const raw = new Database(path.join(dir, 'raw.db'));
    expect(migrate(raw)).toEqual(migrations.map((m) => m.id));
    expect(migrate(raw)).toEqual([]);
    raw.close();
  });

  it('works in memory too', async () => {
    const store = openSqliteStore(':memory:');
    opened.push(store);
    await store.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    expect(await store.countProfiles()).toBe(1);
  });
});
