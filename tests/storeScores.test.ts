import { expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { describeStores } from './support/stores';

const at = (day: number, hour = 12) => new Date(Date.UTC(2026, 2, day, hour)).toISOString();
const event = (id: string, customerId: string, type: string, occurredAt: string): CustomerEvent => ({ id, type, customerId, occurredAt, properties: { n: id } });

describeStores('predictive scores in the store', ({ open }) => {
  it('reads the events of many customers in one call, of some types, up to a cutoff and after a start, in time order', async () => {
    const store = await open();
    await store.recordHistory([
      event('a1', 'ann', 'order.completed', at(1)),
      event('a2', 'ann', 'product.viewed', at(3)),
      // The same instant in another offset: ordered as an instant, then by arrival.
      event('b1', 'bob', 'order.completed', '2026-03-03T14:00:00+02:00'),
      event('a3', 'ann', 'order.completed', at(5)),
      event('a4', 'ann', 'segment.entered', at(2)),
      event('c1', 'cy', 'order.completed', at(2)),
      event('d1', 'dee', 'order.completed', at(9)),
    ]);
    const ids = (events: CustomerEvent[]) => events.map((e) => e.id);

    expect(ids(await store.eventsOfCustomers(['ann', 'bob', 'nobody'], { types: ['order.completed', 'product.viewed'], until: at(5) }))).toEqual(['a1', 'a2', 'b1', 'a3']);
    // The cutoff is inclusive, the start exclusive: (after, until].
    expect(ids(await store.eventsOfCustomers(['ann', 'bob'], { types: ['order.completed'], after: at(1), until: at(4) }))).toEqual(['b1']);
    // Every type when none is named; the events come back whole.
    const all = await store.eventsOfCustomers(['ann'], { until: at(30) });
    expect(ids(all)).toEqual(['a1', 'a4', 'a2', 'a3']);
    expect(all[0]).toEqual(event('a1', 'ann', 'order.completed', at(1)));
    expect(await store.eventsOfCustomers([], { until: at(30) })).toEqual([]);
    expect(ids(await store.eventsOfCustomers(['dee'], { types: ['order.completed'], until: at(8) }))).toEqual([]);
  });

  it('knows when the latest event occurred, as an instant', async () => {
    const store = await open();
    expect(await store.lastEventAt()).toBeUndefined();
    await store.recordHistory([event('e1', 'ann', 'x.y', at(4)), event('e2', 'bob', 'x.y', '2026-03-05T01:00:00+02:00'), event('e3', 'cy', 'x.y', at(2))]);
    expect(await store.lastEventAt()).toBe('2026-03-04T23:00:00.000Z');
  });

  it('merges scores into profiles without touching other attributes or other scores, skips customers without a profile, and can mark segments', async () => {
    const store = await open();
    await store.upsertProfiles([
      { customerId: 'ann', email: 'ann@example.com', attributes: { firstName: 'Ann', scores: { ltv: 420, churn: 0.1 } } },
      { customerId: 'bob', email: 'bob@example.com', attributes: { firstName: 'Bob', scores: 'legacy text' } },
      { customerId: 'cy', email: 'cy@example.com', attributes: {} },
    ]);
    const written = await store.writeScores(
      [
        { customerId: 'ann', scores: { churn: 0.82, modelVersion: 'v1' } },
        { customerId: 'bob', scores: { propensity: 0.3 } },
        { customerId: 'ghost', scores: { churn: 0.5 } },
        // Listed twice: the later keys win, as two writes in a row would.
        { customerId: 'cy', scores: { churn: 0.2, modelVersion: 'v0' } },
        { customerId: 'cy', scores: { modelVersion: 'v1' } },
      ],
      { segmentsDirty: true },
    );
    expect(written).toBe(3);
    expect((await store.getProfile('ann'))?.attributes).toEqual({ firstName: 'Ann', scores: { ltv: 420, churn: 0.82, modelVersion: 'v1' } });
    // A `scores` that is not an object starts afresh.
    expect((await store.getProfile('bob'))?.attributes).toEqual({ firstName: 'Bob', scores: { propensity: 0.3 } });
    expect((await store.getProfile('cy'))?.attributes).toEqual({ scores: { churn: 0.2, modelVersion: 'v1' } });
    expect(await store.getProfile('ghost')).toBeUndefined();
    expect((await store.dirtySegments({ customerIds: ['ann', 'bob', 'cy', 'ghost'] })).map((mark) => mark.customerId)).toEqual(['ann', 'bob', 'cy']);

    await store.writeScores([{ customerId: 'ann', scores: { churn: 0.5 } }]);
    expect((await store.getProfile('ann'))?.attributes.scores).toEqual({ ltv: 420, churn: 0.5, modelVersion: 'v1' });
    expect(await store.writeScores([])).toBe(0);
  });

  it('keeps trained models and gives back the latest by training time; a version trained again replaces its record', async () => {
    const store = await open();
    expect(await store.latestScoreModels()).toBeUndefined();
    await store.recordScoreModels({ version: 'b', trainedAt: '2026-03-02T10:00:00Z', content: { auc: 0.8, features: ['x'] } });
    await store.recordScoreModels({ version: 'a', trainedAt: '2026-03-01T10:00:00Z', content: { auc: 0.7 } });
    expect(await store.latestScoreModels()).toEqual({ version: 'b', trainedAt: '2026-03-02T10:00:00Z', content: { auc: 0.8, features: ['x'] } });
    await store.recordScoreModels({ version: 'a', trainedAt: '2026-03-03T10:00:00+01:00', content: { auc: 0.9 } });
    expect(await (await open()).latestScoreModels()).toEqual({ version: 'a', trainedAt: '2026-03-03T10:00:00+01:00', content: { auc: 0.9 } });
  });
});
