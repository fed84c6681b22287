import { expect, it } from 'vitest';
import type { EventNote } from '../store/types';
import { describeStores } from './support/stores';

const note = (eventId: string, customerId: string, path: string, at: string, reason = 'host evil.example.net is not in LINK_HOSTS'): EventNote => ({ eventId, customerId, path, reason, at });

describeStores('event notes', ({ open }) => {
  it('keeps notes per customer in the order kept; the same event and path again keeps the first note', async () => {
    const store = await open();
    expect(await store.eventNotesOf('ada')).toEqual([]);
    await store.recordEventNotes([note('e1', 'ada', 'properties.cartUrl', '2026-12-01T10:00:00.000Z'), note('e1', 'ada', 'properties.items.0.url', '2026-12-01T10:00:00.000Z', 'javascript: links are not allowed (only https and http)')]);
    await store.recordEventNotes([note('e2', 'ben', 'properties.cartUrl', '2026-12-01T10:01:00.000Z')]);
    // A retry of e1 (later, with another reason) adds nothing and changes nothing; a new path is added.
    await store.recordEventNotes([note('e1', 'ada', 'properties.cartUrl', '2026-12-01T11:00:00.000Z', 'other'), note('e3', 'ada', 'properties.link', '2026-12-01T09:00:00.000Z')]);
    await store.recordEventNotes([]);

    expect(await store.eventNotesOf('ada')).toEqual([
      note('e1', 'ada', 'properties.cartUrl', '2026-12-01T10:00:00.000Z'),
      note('e1', 'ada', 'properties.items.0.url', '2026-12-01T10:00:00.000Z', 'javascript: links are not allowed (only https and http)'),
      note('e3', 'ada', 'properties.link', '2026-12-01T09:00:00.000Z'),
    ]);
    // Another process reads the same.
    expect(await (await open()).eventNotesOf('ben')).toEqual([note('e2', 'ben', 'properties.cartUrl', '2026-12-01T10:01:00.000Z')]);
  });

  it('erasure removes the customer’s notes and no one else’s', async () => {
    const store = await open();
    await store.recordEvent({ id: 'e1', type: 'cart.updated', customerId: 'ada', occurredAt: '2026-12-01T10:00:00Z', properties: { cartId: 'c' } });
    await store.recordEventNotes([note('e1', 'ada', 'properties.cartUrl', '2026-12-01T10:00:00.000Z'), note('e2', 'ben', 'properties.cartUrl', '2026-12-01T10:00:00.000Z')]);
    await store.eraseCustomer('ada');
    expect(await store.eventNotesOf('ada')).toEqual([]);
    expect(await store.eventById('e1')).toBeUndefined();
    expect(await store.eventNotesOf('ben')).toHaveLength(1);
  });
});
