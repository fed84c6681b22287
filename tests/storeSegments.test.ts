import { expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { describeStores } from './support/stores';

const DAY = 86_400_000;
const T = Date.parse('2026-03-02T10:00:00.000Z');
const at = (ms: number) => new Date(ms).toISOString();
const view = (customerId: string, n: number): CustomerEvent => ({
  id: `${customerId}-view-${n}`,
  type: 'product.viewed',
  customerId,
  occurredAt: at(T),
  properties: { category: 'running-shoes' },
});

describeStores('segment memberships', ({ open }) => {
  it('enters and leaves, keeps the first entry time of a segment the customer stays in, and reports only changes', async () => {
    const store = await open();
    expect(await store.segmentsOf('c1')).toEqual([]);
    expect(await store.setSegments('c1', ['vip', 'browsedRunningShoes'], at(T))).toEqual({ entered: ['vip', 'browsedRunningShoes'], left: [] });
    expect(await store.setSegments('c1', ['vip', 'dormant60d'], at(T + DAY))).toEqual({ entered: ['dormant60d'], left: ['browsedRunningShoes'] });
    expect(await store.setSegments('c1', ['vip', 'dormant60d'], at(T + 2 * DAY))).toEqual({ entered: [], left: [] });
    expect(await store.segmentsOf('c1')).toEqual([
      { segmentId: 'vip', enteredAt: at(T) },
      { segmentId: 'dormant60d', enteredAt: at(T + DAY) },
    ]);
    expect(await store.segmentsOf('c2')).toEqual([]);
    expect(await store.setSegments('c1', [], at(T + 3 * DAY))).toEqual({ entered: [], left: ['vip', 'dormant60d'] });
    expect(await store.segmentsOf('c1')).toEqual([]);
  });

  it('reports an entry once when two store instances recompute one customer at the same moment', async () => {
    const [a, b] = [await open(), await open()];
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).setSegments('c1', ['vip'], at(T + i))));
    expect(results.flatMap((r) => r.entered)).toEqual(['vip']);
    expect(await a.segmentsOf('c1')).toHaveLength(1);
  });

  it('lists every customer with a profile or an event once, for the sweep; erasure erases their segments', async () => {
    const store = await open();
    await store.upsertProfiles([{ customerId: 'b', email: 'b@example.com', attributes: {} }]);
    await store.recordEvent(view('a', 1));
    await store.recordEvent(view('b', 1));
    await store.recordEvent(view('B', 1));
    // Byte order (upper case first), as SQLite sorts text, whatever the database's locale.
    expect(await store.customerIdsAfter(undefined, 10)).toEqual(['B', 'a', 'b']);
    await store.setSegments('b', ['vip'], at(T));
    await store.eraseCustomer('b');
    expect(await store.segmentsOf('b')).toEqual([]);
  });

  it('keeps memberships across reopening the store', async () => {
    const store = await open();
    await store.setSegments('c1', ['vip'], at(T));
    await store.close();
    expect(await (await open()).segmentsOf('c1')).toEqual([{ segmentId: 'vip', enteredAt: at(T) }]);
  });
});
