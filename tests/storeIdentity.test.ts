import { expect, it } from 'vitest';
import { describeStores } from './support/stores';

const at = '2026-12-01T10:00:00.000Z';
const event = (id: string, customerId: string, type = 'product.viewed') => ({ id, type, customerId, occurredAt: at, properties: { sku: id } });

describeStores('merging an anonymous visitor into a customer', ({ open }) => {
  it("moves the visitor's events and notes to the customer, drops the visitor's segments, marks the customer's, and remembers the link", async () => {
    const store = await open();
    await store.recordEvent(event('v-1', 'anon-v'), { segmentsDirty: true });
    await store.recordEvent(event('v-2', 'anon-v'));
    await store.recordEvent(event('c-1', 'ada'));
    await store.recordEventNotes([{ eventId: 'v-1', customerId: 'anon-v', path: 'properties.url', reason: 'host not allowed', at }]);
    await store.setSegments('anon-v', ['browsers'], at);
    await store.clearDirtySegments(await store.dirtySegments({ customerIds: ['anon-v', 'ada'] }));
    expect(await store.mergedInto('anon-v')).toBeUndefined();

    expect(await store.mergeCustomer('anon-v', 'ada', at)).toEqual({ events: 2 });
    expect((await store.eventsOf('ada')).map((e) => e.id).sort()).toEqual(['c-1', 'v-1', 'v-2']);
    expect(await store.eventsOf('anon-v')).toEqual([]);
    expect((await store.eventById('v-1'))?.customerId).toBe('ada');
    expect((await store.eventNotesOf('ada')).map((n) => n.eventId)).toEqual(['v-1']);
    expect(await store.segmentsOf('anon-v')).toEqual([]);
    expect((await store.dirtySegments({ customerIds: ['anon-v', 'ada'] })).map((d) => d.customerId)).toEqual(['ada']);
    // Another process sees the link.
    expect(await (await open()).mergedInto('anon-v')).toBe('ada');

    // A redelivered identify moves only what arrived since; a later merge into another customer relinks.
    expect(await store.mergeCustomer('anon-v', 'ada', at)).toEqual({ events: 0 });
    await store.recordEvent(event('v-3', 'anon-v'));
    expect(await store.mergeCustomer('anon-v', 'ben', at)).toEqual({ events: 1 });
    expect(await store.mergedInto('anon-v')).toBe('ben');
    expect(await store.mergeCustomer('ben', 'ben', at)).toEqual({ events: 0 });
  });

  it('erasing the customer forgets which visitors were theirs', async () => {
    const store = await open();
    await store.recordEvent(event('e-1', 'anon-w'));
    await store.mergeCustomer('anon-w', 'kim', at);
    await store.mergeCustomer('anon-x', 'lou', at);
    await store.eraseCustomer('kim');
    expect(await store.mergedInto('anon-w')).toBeUndefined();
    expect(await store.eventById('e-1')).toBeUndefined();
    expect(await store.mergedInto('anon-x')).toBe('lou');
  });
});
