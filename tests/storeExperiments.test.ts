import { expect, it } from 'vitest';
import type { Conversion, Exposure, SplitWinner } from '../store/types';
import { describeStores } from './support/stores';

const exposure = (customerId: string, arm: string, at: string, overrides: Partial<Exposure> = {}): Exposure => ({
  workflowId: `offer:${customerId}`,
  stepId: 'subjectLine',
  journeyId: 'offer',
  version: 'v1',
  customerId,
  arm,
  at,
  ...overrides,
});

describeStores('experiments', ({ open }) => {
  it('keeps the first exposure of a run’s split, whatever a replayed activity records after it', async () => {
    const store = await open();
    await store.recordExposure(exposure('c1', 'short', '2026-12-01T10:00:00.000Z'));
    await store.recordExposure(exposure('c1', 'long', '2026-12-01T11:00:00.000Z'));
    await store.recordExposure(exposure('c2', 'holdout', '2026-12-01T09:00:00+01:00'));
    await store.recordExposure(exposure('c1', 'long', '2026-12-02T10:00:00.000Z', { workflowId: 'other:c1', journeyId: 'other' }));
    expect(await store.exposuresOf('c1')).toEqual([exposure('c1', 'short', '2026-12-01T10:00:00.000Z'), exposure('c1', 'long', '2026-12-02T10:00:00.000Z', { workflowId: 'other:c1', journeyId: 'other' })]);
    // Another process reads the same; exposures are ordered as instants, whatever their offset.
    const activity = await (await open()).journeyActivity('offer');
    expect(activity.exposures.map((e) => [e.customerId, e.arm])).toEqual([['c2', 'holdout'], ['c1', 'short']]);
  });

  it('keeps a conversion once per event and journey, with the email it is attributed to', async () => {
    const store = await open();
    const attributed: Conversion = {
      eventId: 'order-1',
      journeyId: 'offer',
      customerId: 'c1',
      occurredAt: '2026-12-01T12:00:00.000Z',
      value: 49.5,
      email: { workflowId: 'offer:c1', stepId: 'shortOffer', template: 'short', variants: { subjectLine: 'short' } },
    };
    expect(await store.recordConversion(attributed)).toBe(true);
    expect(await store.recordConversion({ ...attributed, value: 1 })).toBe(false);
    const unattributed: Conversion = { eventId: 'order-1', journeyId: 'other', customerId: 'c1', occurredAt: '2026-12-01T12:00:00.000Z' };
    expect(await store.recordConversion(unattributed)).toBe(true);
    expect((await store.journeyActivity('offer')).conversions).toEqual([attributed]);
    expect((await store.journeyActivity('other')).conversions).toEqual([unattributed]);
  });

  it('records a split’s winner once: a second decision returns the first', async () => {
    const store = await open();
    const first: SplitWinner = { journeyId: 'offer', stepId: 'subjectLine', winner: 'short', metric: 'conversion', reason: 'short is better', version: 'v2', decidedAt: '2026-12-01T12:00:00.000Z' };
    expect(await store.recordWinner(first)).toEqual(first);
    expect(await store.recordWinner({ ...first, winner: 'long', decidedAt: '2026-12-01T13:00:00.000Z' })).toEqual(first);
    expect(await store.winnersOf('offer')).toEqual([first]);
    expect(await store.winnersOf('other')).toEqual([]);
  });

  it('reads what a report counts, and erasure leaves no exposure, held-out entry or conversion of the customer', async () => {
    const store = await open();
    await store.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    await store.recordJourneyRun({ workflowId: 'offer:c1', journeyId: 'offer', customerId: 'c1', topic: 'marketing', startedAt: '2026-12-01T10:00:00.000Z' });
    await store.reserveSend({ workflowId: 'offer:c1', stepId: 'shortOffer', customerId: 'c1', journeyId: 'offer', topic: 'marketing' }, '2026-12-01T10:00:01.000Z');
    await store.recordExposure(exposure('c1', 'short', '2026-12-01T10:00:00.000Z'));
    await store.recordHeldOut({ workflowId: 'offer:c9', journeyId: 'offer', customerId: 'c9', at: '2026-12-01T10:00:00.000Z' });
    await store.recordHeldOut({ workflowId: 'offer:c9', journeyId: 'offer', customerId: 'c9', at: '2026-12-02T10:00:00.000Z' });
    await store.recordConversion({ eventId: 'order-1', journeyId: 'offer', customerId: 'c1', occurredAt: '2026-12-01T12:00:00.000Z' });
    for (const [id, type, journeyId] of [['e1', 'email.opened', 'offer'], ['e2', 'email.clicked', 'offer'], ['e3', 'email.opened', 'other'], ['e4', 'cart.updated', 'offer']]) {
      await store.recordEvent({ id, type, customerId: 'c1', occurredAt: '2026-12-01T11:00:00.000Z', properties: { journeyId, workflowId: 'offer:c1', stepId: 'shortOffer' } });
    }
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'one-click unsubscribe', at: '2026-12-01T13:00:00.000Z' });
    await store.recordConsent({ customerId: 'c2', topic: 'marketing', status: 'withdrawn', source: 'support', at: '2026-12-01T13:00:00.000Z' });

    const activity = await store.journeyActivity('offer');
    expect(activity.runs.map((r) => r.workflowId)).toEqual(['offer:c1']);
    expect(activity.sends.map((s) => [s.stepId, s.status])).toEqual([['shortOffer', 'reserved']]);
    expect(activity.heldOut).toEqual([{ workflowId: 'offer:c9', journeyId: 'offer', customerId: 'c9', at: '2026-12-01T10:00:00.000Z' }]);
    expect(activity.emailEvents.map((e) => e.id)).toEqual(['e1', 'e2']);
    expect(activity.withdrawals.map((w) => w.customerId)).toEqual(['c1']);

    await store.eraseCustomer('c1');
    await store.eraseCustomer('c9');
    const erased = await store.journeyActivity('offer');
    expect([erased.exposures, erased.heldOut, erased.conversions, await store.exposuresOf('c1'), await store.heldOutOf('c9')]).toEqual([[], [], [], [], []]);
  });
});
