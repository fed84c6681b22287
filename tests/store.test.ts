import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerEvent, Profile } from '../domain/customer';
import { migrate, migrations } from '../store/migrations';
import { openSqliteStore } from '../store/sqlite';
import type { SendClaim, SendKey, Store } from '../store/types';

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
  it('keeps the first copy of a duplicate id, reports whether it was routed and how a copy under the same id differs', async () => {
    const store = open();
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
    // Without the sender's occurredAt, the arrival time stood in for it: not compared.
    expect(await store.recordEvent(event('e1', '2025-01-01T12:00:00Z', { cartId: 'A' }), { occurredAtGiven: false })).toEqual({ firstSeen: false, routed: false });

    await store.markEventRouted('e1');
    expect(await store.recordEvent(event('e1', '2025-01-01T10:00:00Z', { cartId: 'A' }))).toEqual({ firstSeen: false, routed: true });

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
  const message = { envelope: { from: 'shop@example.com', to: ['ada@example.com'] }, raw: Buffer.from('Subject: hi\r\n\r\nhello') };
  const claimBy = (owner: string, at: string, overrides: Partial<SendClaim> = {}): SendClaim => ({
    workflowId: key.workflowId,
    stepId: key.stepId,
    from: 'reserved',
    owner,
    at,
    template: 'reminder-gold',
    messageId: '<m1@journeys>',
    message,
    recheck: { consent: [{ topic: 'marketing', unrecorded: 'granted' }], addressHash: 'hash-of-ada' },
    ...overrides,
  });

  it('hands a retried attempt the row its first attempt left', async () => {
    const store = open();
    const first = await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    expect(first.record).toEqual({ ...key, transactional: false, status: 'reserved', createdAt: '2025-01-01T10:00:00.000Z', updatedAt: '2025-01-01T10:00:00.000Z' });

    expect(await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z'))).toEqual({ status: 'claimed' });
    expect(await store.sendMessage(key.workflowId, key.stepId)).toEqual(message);
    expect(await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: 'run/1#1' }, { status: 'sent', at: '2025-01-01T10:00:02.000Z' })).toBe(true);

    // The activity is retried (e.g. the worker died before reporting success).
    const retried = await store.reserveSend(key, '2025-01-01T10:05:00.000Z');
    expect(retried.record).toEqual({
      ...key,
      transactional: false,
      status: 'sent',
      template: 'reminder-gold',
      messageId: '<m1@journeys>',
      owner: 'run/1#1',
      createdAt: '2025-01-01T10:00:00.000Z',
      updatedAt: '2025-01-01T10:00:02.000Z',
    });
    // Once sent, the message is not kept.
    expect(await store.sendMessage(key.workflowId, key.stepId)).toBeUndefined();
  });

  it('lets one of two racing attempts claim the row, and only the owner settle it', async () => {
    const store = open();
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    const [a, b] = await Promise.all([store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z')), store.claimSend(claimBy('run/1#2', '2025-01-01T10:00:01.000Z'))]);
    expect([a.status, b.status].sort()).toEqual(['claimed', 'lost']);
    const owner = a.status === 'claimed' ? 'run/1#1' : 'run/1#2';
    const other = owner === 'run/1#1' ? 'run/1#2' : 'run/1#1';

    expect(await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: other }, { status: 'sent', at: '2025-01-01T10:00:02.000Z' })).toBe(false);
    expect(await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner }, { status: 'in_doubt', reason: 'no reply', at: '2025-01-01T10:00:02.000Z' })).toBe(true);
    // In doubt, the message stays for an operator's resend; a late reply to its owner still settles it.
    expect(await store.sendMessage(key.workflowId, key.stepId)).toEqual(message);
    expect(await store.moveSend(key.workflowId, key.stepId, { status: 'in_doubt', owner }, { status: 'sent', at: '2025-01-01T10:00:03.000Z' })).toBe(true);
    expect((await store.sendRecord(key.workflowId, key.stepId))?.status).toBe('sent');
  });

  it('re-checks consent and suppression in the claim, turning the row skipped', async () => {
    const store = open();
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    await store.recordConsent({ customerId: 'c1', topic: 'all', status: 'withdrawn', source: 'test', at: '2025-01-01T10:00:00.500Z' });
    const recheck = { consent: [{ topic: 'all', unrecorded: 'granted' as const }, { topic: 'marketing', unrecorded: 'granted' as const }], addressHash: 'hash-of-ada' };
    expect(await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z', { recheck }))).toEqual({ status: 'skipped', reason: 'consent_withdrawn' });
    expect(await store.sendRecord(key.workflowId, key.stepId)).toMatchObject({ status: 'skipped', reason: 'consent_withdrawn' });

    const other = { ...key, stepId: 'reminder2' };
    await store.reserveSend(other, '2025-01-01T10:00:00.000Z');
    await store.addSuppression({ addressHash: 'hash-of-ada', reason: 'bounce', source: 'test', at: '2025-01-01T10:00:00.000Z' });
    expect(await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z', { stepId: 'reminder2', recheck: { consent: [], addressHash: 'hash-of-ada' } }))).toEqual({ status: 'skipped', reason: 'suppressed: bounce' });
  });

  it('counts a send in doubt against the frequency cap', async () => {
    const store = open();
    const limit = { max: 1, windowMs: 24 * 3600_000, label: '1 per 24h' };
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z', [limit]);
    await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z'));
    await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: 'run/1#1' }, { status: 'in_doubt', reason: 'no reply', at: '2025-01-01T10:00:02.000Z' });
    const next = await store.reserveSend({ ...key, workflowId: 'onboarding:c1' }, '2025-01-01T12:00:00.000Z', [limit]);
    expect(next.capped).toEqual({ limit: '1 per 24h', until: '2025-01-02T10:00:00.000Z' });
    expect((await store.sendsWithStatus('in_doubt', 10)).map((s) => s.workflowId)).toEqual([key.workflowId]);
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
    const claim = { workflowId: 'w', stepId: 's', from: 'reserved' as const, owner: 'cli', at: '2025-01-01T10:00:01.000Z', messageId: '<m@j>' };
    await cli.claimSend({ ...claim, message: { envelope: { from: 'a@example.com', to: ['b@example.com'] }, raw: Buffer.from('x') }, recheck: { consent: [], addressHash: 'h' } });
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
