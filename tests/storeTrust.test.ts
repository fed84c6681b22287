import { expect, it } from 'vitest';
import { addressHash } from '../domain/delivery/address';
import type { FrequencyLimit, SendKey } from '../store/types';
import { describeStores } from './support/stores';

const HOUR = 3_600_000;
const oneADay: FrequencyLimit = { max: 1, windowMs: 24 * HOUR, label: '1 per 24h' };
const threeAWeek: FrequencyLimit = { max: 3, windowMs: 7 * 24 * HOUR, label: '3 per 7d' };
const key = (workflowId: string, stepId = 's1', topic = 'marketing'): SendKey => ({ workflowId, stepId, customerId: 'c1', journeyId: 'j', topic });
const iso = (hours: number) => new Date(Date.UTC(2026, 0, 1) + hours * HOUR).toISOString();

describeStores('frequency caps in the send ledger', ({ open }) => {
  it('caps per customer and topic across journeys, and says when the cap frees', async () => {
    const store = await open();
    expect((await store.reserveSend(key('cart'), iso(0), [oneADay, threeAWeek])).record?.status).toBe('reserved');
    expect(await store.reserveSend(key('onboarding'), iso(5), [oneADay, threeAWeek])).toEqual({ capped: { limit: '1 per 24h', until: iso(24) } });
    // Another topic has its own count; a retried attempt keeps its row whatever the cap.
    expect((await store.reserveSend(key('news', 's1', 'product'), iso(5), [oneADay])).record).toBeDefined();
    expect((await store.reserveSend(key('cart'), iso(6), [oneADay])).record?.status).toBe('reserved');

    expect((await store.reserveSend(key('a'), iso(30), [oneADay, threeAWeek])).record).toBeDefined();
    expect((await store.reserveSend(key('b'), iso(60), [oneADay, threeAWeek])).record).toBeDefined();
    // Three in the week: the next place frees when the first (hour 0) is 7 days old.
    expect(await store.reserveSend(key('c'), iso(90), [oneADay, threeAWeek])).toEqual({ capped: { limit: '3 per 7d', until: iso(168) } });
  });

  it('does not count skipped sends', async () => {
    const store = await open();
    await store.skipSend(key('cart'), 'consent_withdrawn', iso(0));
    expect((await store.reserveSend(key('onboarding'), iso(1), [oneADay])).record).toBeDefined();
    expect((await store.sendsOf('c1')).map((s) => [s.workflowId, s.status, s.reason ?? null])).toEqual([
      ['cart', 'skipped', 'consent_withdrawn'],
      ['onboarding', 'reserved', null],
    ]);
  });

  it('gives the last place to exactly one of two stores racing for it', async () => {
    const [a, b] = [await open(), await open()];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).reserveSend(key(`race-${i}`), iso(0), [oneADay])));
    expect(results.filter((r) => r.record).length).toBe(1);
  });

  it('lets exactly as many through as the limit allows when two stores race, each customer counted alone', async () => {
    const [a, b] = [await open(), await open()];
    const racer = (i: number) => ({ ...key(`race-${i}`), customerId: i < 12 ? 'c1' : 'c2' });
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).reserveSend(racer(i), iso(i % 5), [threeAWeek])));
    expect(results.filter((r, i) => r.record && i < 12)).toHaveLength(3);
    expect(results.filter((r, i) => r.record && i >= 12)).toHaveLength(3);
  });
});

describeStores('suppressions and erasure', ({ open }) => {
  it('keeps suppressions by address hash and finds customers by address', async () => {
    const store = await open();
    await store.upsertProfiles([{ customerId: 'c1', email: 'Ada@Example.com', attributes: {} }]);
    expect(await store.customersWithAddress('ada@example.com')).toEqual(['c1']);
    await store.addSuppression({ addressHash: addressHash('ada@example.com'), reason: 'bounce', source: 'smtp: 550 5.1.1', customerId: 'c1', at: iso(0) });
    expect(await store.suppressionFor(addressHash(' ADA@example.com'))).toMatchObject({ reason: 'bounce', customerId: 'c1' });
    expect(await store.suppressionFor(addressHash('bob@example.com'))).toBeUndefined();
  });

  it('lists every customer with an address, in id order, and none for an unknown one', async () => {
    const store = await open();
    await store.upsertProfiles([
      { customerId: 'c2', email: 'shared@example.com', attributes: {} },
      { customerId: 'c1', email: 'SHARED@example.com', attributes: {} },
      { customerId: 'c3', email: 'other@example.com', attributes: {} },
    ]);
    expect(await store.customersWithAddress(' Shared@Example.com ')).toEqual(['c1', 'c2']);
    expect(await store.customersWithAddress('nobody@example.com')).toEqual([]);
  });

  it('a later suppression of an address takes its reason and keeps the customer it named', async () => {
    const store = await open();
    const hash = addressHash('ada@example.com');
    await store.addSuppression({ addressHash: hash, reason: 'bounce', source: 'smtp', customerId: 'c1', at: iso(1) });
    await store.addSuppression({ addressHash: hash, reason: 'complaint', source: 'feed', at: iso(2) });
    await store.addSuppression({ addressHash: addressHash('old@example.com'), reason: 'manual', source: 'support', customerId: 'c1', at: iso(0) });
    expect(await store.suppressionFor(hash)).toEqual({ addressHash: hash, reason: 'complaint', source: 'feed', customerId: 'c1', at: iso(2) });
    expect((await store.suppressionsOf('c1')).map((s) => s.reason)).toEqual(['manual', 'complaint']);
  });

  it('erases a customer but keeps their address suppressed, without their ID', async () => {
    const store = await open();
    await store.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: { firstName: 'Ada' } }]);
    await store.recordEvent({ id: 'e1', type: 'cart.updated', customerId: 'c1', occurredAt: iso(0), properties: {} });
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'granted', source: 'signup', at: iso(0) });
    await store.reserveSend(key('cart'), iso(1));
    await store.recordJourneyRun({ workflowId: 'cart', journeyId: 'j', customerId: 'c1', topic: 'marketing', startedAt: iso(0) });
    await store.setSegments('c1', ['vip'], iso(0));
    await store.upsertProfiles([{ customerId: 'c2', email: 'bob@example.com', attributes: {} }]);
    await store.addSuppression({ addressHash: addressHash('ada@example.com'), reason: 'complaint', source: 'feed', customerId: 'c1', at: iso(2) });

    expect(await store.eraseCustomer('c1')).toEqual({ email: 'ada@example.com' });
    expect(await store.getProfile('c1')).toBeUndefined();
    expect(await store.eventsOf('c1')).toEqual([]);
    expect(await store.consentLedger('c1')).toEqual([]);
    expect(await store.sendsOf('c1')).toEqual([]);
    expect(await store.suppressionsOf('c1')).toEqual([]);
    expect(await store.journeyRuns('c1')).toEqual([]);
    expect(await store.segmentsOf('c1')).toEqual([]);
    expect(await store.eventById('e1')).toBeUndefined();
    expect(await store.customerIdsAfter(undefined, 10)).toEqual(['c2']);
    expect(await store.eraseCustomer('c1')).toEqual({});
    const kept = await store.suppressionFor(addressHash('ada@example.com'));
    expect(kept).toEqual({ addressHash: addressHash('ada@example.com'), reason: 'complaint', source: 'feed', at: iso(2) });
  });
});
