import { expect, it } from 'vitest';
import type { SendClaim, SendKey } from '../store/types';
import { describeStores } from './support/stores';

const key: SendKey = { workflowId: 'cartAbandonment:c1:A', stepId: 'reminder1', customerId: 'c1', journeyId: 'cartAbandonment', topic: 'marketing' };
const message = { envelope: { from: 'shop@example.com', to: ['ada@example.com'] }, raw: Buffer.from('Subject: hi\r\n\r\nhello') };
const claim = (owner: string, at: string, overrides: Partial<SendClaim> = {}): SendClaim => ({
  workflowId: key.workflowId,
  stepId: key.stepId,
  from: 'reserved',
  owner,
  at,
  template: 'reminder1',
  messageId: '<m1@journeys>',
  message,
  recheck: { consent: [{ topic: 'marketing', unrecorded: 'granted' }], addressHash: 'hash-of-ada' },
  ...overrides,
});
const tracked = (links: string[], variants: Record<string, string>, recordedAt: string) => ({ workflowId: key.workflowId, stepId: key.stepId, customerId: 'c1', links, variants, recordedAt });

describeStores('tracked emails', ({ open }) => {
  it('records the links and variants with the claim that hands the email over, and only then', async () => {
    const store = await open();
    await store.reserveSend(key, '2026-12-01T10:00:00.000Z');
    expect(await store.trackedEmail(key.workflowId, key.stepId)).toBeUndefined();

    const tracking = { links: ['https://shop.example.com/cart?a=1&b=2', 'https://shop.example.com/sale'], variants: { subjectLine: 'short' } };
    expect(await store.claimSend(claim('run/1#1', '2026-12-01T10:00:01.000Z', { tracking }))).toEqual({ status: 'claimed' });
    expect(await store.trackedEmail(key.workflowId, key.stepId)).toEqual(tracked(tracking.links, tracking.variants, '2026-12-01T10:00:01.000Z'));
    // Another process reads the same; another step has none.
    expect((await (await open()).trackedEmail(key.workflowId, key.stepId))?.links).toEqual(tracking.links);
    expect(await store.trackedEmail(key.workflowId, 'reminder2')).toBeUndefined();

    // A claim the ledger refuses records nothing: the row is no longer reserved.
    expect(await store.claimSend(claim('run/1#2', '2026-12-01T10:00:02.000Z', { tracking: { links: ['https://evil.example/'], variants: {} } }))).toMatchObject({ status: 'lost' });
    expect((await store.trackedEmail(key.workflowId, key.stepId))?.links).toEqual(tracking.links);
  });

  it('a retry after a 4xx (nothing delivered) replaces the links; an operator’s resend of the kept message keeps them', async () => {
    const store = await open();
    await store.reserveSend(key, '2026-12-01T10:00:00.000Z');
    await store.claimSend(claim('run/1#1', '2026-12-01T10:00:01.000Z', { tracking: { links: ['https://shop.example.com/old'], variants: {} } }));
    // The server answered 4xx: the row is reserved again and the retry renders other links.
    expect(await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: 'run/1#1' }, { status: 'reserved', at: '2026-12-01T10:00:02.000Z' })).toBe(true);
    await store.claimSend(claim('run/1#2', '2026-12-01T10:01:00.000Z', { tracking: { links: ['https://shop.example.com/new'], variants: { subjectLine: 'long' } } }));
    expect(await store.trackedEmail(key.workflowId, key.stepId)).toEqual(tracked(['https://shop.example.com/new'], { subjectLine: 'long' }, '2026-12-01T10:01:00.000Z'));

    // In doubt, then resent by an operator: the same message, the same links.
    await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: 'run/1#2' }, { status: 'in_doubt', at: '2026-12-01T10:02:00.000Z' });
    expect(await store.claimSend(claim('resend/1#1', '2026-12-01T11:00:00.000Z', { from: 'in_doubt' }))).toEqual({ status: 'claimed' });
    expect((await store.trackedEmail(key.workflowId, key.stepId))?.links).toEqual(['https://shop.example.com/new']);
  });

  it('a retry that goes out untracked (TRACKING=off meanwhile) drops what an earlier attempt recorded', async () => {
    const store = await open();
    await store.reserveSend(key, '2026-12-01T10:00:00.000Z');
    await store.claimSend(claim('run/1#1', '2026-12-01T10:00:01.000Z', { tracking: { links: ['https://shop.example.com/old'], variants: {} } }));
    await store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: 'run/1#1' }, { status: 'reserved', at: '2026-12-01T10:00:02.000Z' });
    await store.claimSend(claim('run/1#2', '2026-12-01T10:01:00.000Z'));
    expect(await store.trackedEmail(key.workflowId, key.stepId)).toBeUndefined();
  });

  it('erasure removes the customer’s tracked emails and no one else’s', async () => {
    const store = await open();
    const ben: SendKey = { ...key, workflowId: 'cartAbandonment:c2:B', customerId: 'c2' };
    for (const send of [key, ben]) {
      await store.reserveSend(send, '2026-12-01T10:00:00.000Z');
      await store.claimSend(claim('run/1#1', '2026-12-01T10:00:01.000Z', { workflowId: send.workflowId, tracking: { links: ['https://shop.example.com/cart/secret-cart-id'], variants: {} } }));
    }
    await store.eraseCustomer('c1');
    expect(await store.trackedEmail(key.workflowId, key.stepId)).toBeUndefined();
    expect((await store.trackedEmail(ben.workflowId, ben.stepId))?.customerId).toBe('c2');
  });
});
