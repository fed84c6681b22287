import { expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { describeStores } from './support/stores';

const T = Date.parse('2026-03-02T10:00:00.000Z');
const event = (customerId: string, n: number): CustomerEvent => ({
  id: `${customerId}-${n}`,
  type: 'product.viewed',
  customerId,
  occurredAt: new Date(T + n * 1000).toISOString(),
  properties: {},
});

/** Every page of `limit` from the first, following each page's last id. */
async function allPages(store: { customerIdsAfter(after: string | undefined, limit: number): Promise<string[]> }, limit: number) {
  const pages: string[][] = [];
  for (let page = await store.customerIdsAfter(undefined, limit); page.length > 0; page = await store.customerIdsAfter(page[page.length - 1], limit)) pages.push(page);
  return pages;
}

describeStores('customers page by page, for the segment sweep', ({ open }) => {
  it('pages every customer with a profile or an event once, in byte order, each page after the previous one\'s last id', async () => {
    const store = await open();
    await store.upsertProfiles(['b', 'd', 'E', 'f'].map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
    // Several events of one customer, a customer with events only, one with both.
    for (const [customerId, n] of [['a', 1], ['a', 2], ['a', 3], ['c', 1], ['d', 1], ['B', 1]] as const) await store.recordEvent(event(customerId, n));

    // Byte order (upper case first), as SQLite sorts text, whatever the database's locale.
    expect(await allPages(store, 3)).toEqual([['B', 'E', 'a'], ['b', 'c', 'd'], ['f']]);
    expect(await allPages(store, 100)).toEqual([['B', 'E', 'a', 'b', 'c', 'd', 'f']]);
    expect(await store.customerIdsAfter('c', 2)).toEqual(['d', 'f']);
    // A cursor need not be a customer's id: erased since, say.
    expect(await store.customerIdsAfter('bb', 10)).toEqual(['c', 'd', 'f']);
    expect(await store.customerIdsAfter('f', 10)).toEqual([]);
    expect(await (await open()).customerIdsAfter(undefined, 0)).toEqual([]);
  });

  it('leaves an erased customer out of later pages; a customer added behind the cursor waits for the next sweep', async () => {
    const store = await open();
    await store.upsertProfiles(['c1', 'c2', 'c3', 'c4'].map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
    const first = await store.customerIdsAfter(undefined, 2);
    expect(first).toEqual(['c1', 'c2']);
    await store.eraseCustomer('c3');
    await store.recordEvent(event('c0', 1));
    expect(await store.customerIdsAfter(first[first.length - 1], 2)).toEqual(['c4']);
    expect(await store.customerIdsAfter(undefined, 10)).toEqual(['c0', 'c1', 'c2', 'c4']);
  });

  it('pages 1,250 customers in pages of 100 without a gap or a repeat', async () => {
    const store = await open();
    const ids = Array.from({ length: 1250 }, (_, i) => `p${String(i).padStart(4, '0')}`);
    await store.upsertProfiles(ids.filter((_, i) => i % 2 === 0).map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
    // Odd ones have events only, even ones a profile, every sixth both.
    await store.recordHistory(ids.filter((_, i) => i % 2 === 1 || i % 3 === 0).map((customerId) => event(customerId, 1)));
    const pages = await allPages(store, 100);
    expect(pages.map((page) => page.length)).toEqual([...Array(12).fill(100), 50]);
    expect(pages.flat()).toEqual(ids);
  });
});
