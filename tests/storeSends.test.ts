import { expect, it } from 'vitest';
import type { SendClaim, SendKey } from '../store/types';
import { describeStores } from './support/stores';

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
const settle = (status: 'sending' | 'in_doubt', owner: string | undefined, to: 'sent' | 'in_doubt' | 'reserved' | 'failed', at: string, reason?: string) => [
  key.workflowId,
  key.stepId,
  { status, owner },
  { status: to, at, reason },
] as const;

describeStores('send ledger', ({ open }) => {
  it('hands a retried attempt the row its first attempt left', async () => {
    const store = await open();
    const first = await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    expect(first.record).toEqual({ ...key, transactional: false, status: 'reserved', createdAt: '2025-01-01T10:00:00.000Z', updatedAt: '2025-01-01T10:00:00.000Z' });

    expect(await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z'))).toEqual({ status: 'claimed' });
    expect(await store.sendMessage(key.workflowId, key.stepId)).toEqual(message);
    expect(await store.moveSend(...settle('sending', 'run/1#1', 'sent', '2025-01-01T10:00:02.000Z'))).toBe(true);

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

  it('keeps a transactional send marked as one', async () => {
    const store = await open();
    const receipt = { ...key, workflowId: 'orderReceipt:c1:o1', topic: 'transactional', transactional: true };
    expect((await store.reserveSend(receipt, '2025-01-01T10:00:00.000Z')).record).toMatchObject({ transactional: true, status: 'reserved' });
    expect(await store.sendsOf('c1')).toMatchObject([{ workflowId: 'orderReceipt:c1:o1', transactional: true }]);
  });

  it('lets one of two racing attempts claim the row, and only the owner settle it', async () => {
    const store = await open();
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    const [a, b] = await Promise.all([store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z')), store.claimSend(claimBy('run/1#2', '2025-01-01T10:00:01.000Z'))]);
    expect([a.status, b.status].sort()).toEqual(['claimed', 'lost']);
    const owner = a.status === 'claimed' ? 'run/1#1' : 'run/1#2';
    const other = owner === 'run/1#1' ? 'run/1#2' : 'run/1#1';
    expect(a.status === 'lost' ? a : b).toMatchObject({ status: 'lost', record: { status: 'sending', owner } });

    expect(await store.moveSend(...settle('sending', other, 'sent', '2025-01-01T10:00:02.000Z'))).toBe(false);
    expect(await store.moveSend(...settle('sending', owner, 'in_doubt', '2025-01-01T10:00:02.000Z', 'no reply'))).toBe(true);
    // In doubt, the message stays for an operator's resend; a late reply to its owner still settles it.
    expect(await store.sendMessage(key.workflowId, key.stepId)).toEqual(message);
    expect(await store.moveSend(...settle('in_doubt', owner, 'sent', '2025-01-01T10:00:03.000Z'))).toBe(true);
    expect(await store.sendRecord(key.workflowId, key.stepId)).toMatchObject({ status: 'sent', updatedAt: '2025-01-01T10:00:03.000Z' });
    expect(await store.sendRecord(key.workflowId, 'never')).toBeUndefined();
  });

  it('lets exactly one of two store instances claim the row', async () => {
    const [a, b] = [await open(), await open()];
    await a.reserveSend(key, '2025-01-01T10:00:00.000Z');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).claimSend(claimBy(`run/1#${i}`, '2025-01-01T10:00:01.000Z'))));
    expect(results.filter((r) => r.status === 'claimed')).toHaveLength(1);
    expect(await a.claimSend(claimBy('late', '2025-01-01T10:00:02.000Z', { stepId: 'never-reserved' }))).toEqual({ status: 'lost' });
  });

  it('puts a row back to reserved when nothing was delivered (a 4xx), for the retry to claim again', async () => {
    const store = await open();
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z'));
    expect(await store.moveSend(...settle('sending', 'run/1#1', 'reserved', '2025-01-01T10:00:02.000Z', '451 try later'))).toBe(true);
    expect(await store.sendMessage(key.workflowId, key.stepId)).toBeUndefined();
    expect(await store.sendRecord(key.workflowId, key.stepId)).toMatchObject({ status: 'reserved', reason: '451 try later' });
    expect(await store.claimSend(claimBy('run/1#2', '2025-01-01T10:01:00.000Z'))).toEqual({ status: 'claimed' });
    expect(await store.sendRecord(key.workflowId, key.stepId)).toMatchObject({ status: 'sending', owner: 'run/1#2' });
    expect((await store.sendRecord(key.workflowId, key.stepId))?.reason).toBeUndefined();
  });

  it('re-checks consent and suppression in the claim, turning the row skipped', async () => {
    const store = await open();
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

  it('reads a topic without a record as the claim says: an opt-in topic is withdrawn until granted', async () => {
    const store = await open();
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    const optIn = { consent: [{ topic: 'marketing', unrecorded: 'withdrawn' as const }], addressHash: 'hash-of-ada' };
    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'granted', source: 'signup', at: '2025-01-01T09:00:00.000Z' });
    expect(await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z', { recheck: optIn }))).toEqual({ status: 'claimed' });

    await store.reserveSend({ ...key, customerId: 'c2', workflowId: 'cartAbandonment:c2:A' }, '2025-01-01T10:00:00.000Z');
    expect(await store.claimSend(claimBy('run/2#1', '2025-01-01T10:00:01.000Z', { workflowId: 'cartAbandonment:c2:A', recheck: optIn }))).toEqual({ status: 'skipped', reason: 'consent_withdrawn' });
  });

  it('an operator’s resend claims a row in doubt, and a withdrawal found then leaves it in doubt', async () => {
    const store = await open();
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z'));
    await store.moveSend(...settle('sending', 'run/1#1', 'in_doubt', '2025-01-01T10:00:02.000Z', 'no reply'));

    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'withdrawn', source: 'test', at: '2025-01-01T11:00:00.000Z' });
    expect(await store.claimSend(claimBy('resend/1', '2025-01-01T12:00:00.000Z', { from: 'in_doubt' }))).toEqual({ status: 'skipped', reason: 'consent_withdrawn' });
    expect(await store.sendRecord(key.workflowId, key.stepId)).toMatchObject({ status: 'in_doubt', owner: 'run/1#1' });

    await store.recordConsent({ customerId: 'c1', topic: 'marketing', status: 'granted', source: 'test', at: '2025-01-01T12:30:00.000Z' });
    expect(await store.claimSend(claimBy('resend/2', '2025-01-01T13:00:00.000Z', { from: 'in_doubt', template: undefined }))).toEqual({ status: 'claimed' });
    // A resend without a template keeps the one the row had.
    expect(await store.sendRecord(key.workflowId, key.stepId)).toMatchObject({ status: 'sending', owner: 'resend/2', template: 'reminder-gold' });
  });

  it('skips a send that will not happen, or a reserved row, but never one already on its way', async () => {
    const store = await open();
    await store.skipSend({ ...key, stepId: 'capped' }, 'capped: 1 per 24h', '2025-01-01T10:00:00.000Z');
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    await store.skipSend(key, 'sunset', '2025-01-01T10:00:01.000Z');
    await store.reserveSend({ ...key, stepId: 'sent' }, '2025-01-01T10:00:00.000Z');
    await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z', { stepId: 'sent' }));
    await store.skipSend({ ...key, stepId: 'sent' }, 'too late', '2025-01-01T10:00:02.000Z');

    expect((await store.sendsOf('c1')).map((s) => [s.stepId, s.status, s.reason ?? null])).toEqual([
      ['capped', 'skipped', 'capped: 1 per 24h'],
      ['reminder1', 'skipped', 'sunset'],
      ['sent', 'sending', null],
    ]);
  });

  it('counts a send in doubt against the frequency cap, and lists the rows in one state oldest change first', async () => {
    const store = await open();
    const limit = { max: 1, windowMs: 24 * 3600_000, label: '1 per 24h' };
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z', [limit]);
    await store.claimSend(claimBy('run/1#1', '2025-01-01T10:00:01.000Z'));
    await store.moveSend(...settle('sending', 'run/1#1', 'in_doubt', '2025-01-01T10:00:02.000Z', 'no reply'));
    const next = await store.reserveSend({ ...key, workflowId: 'onboarding:c1' }, '2025-01-01T12:00:00.000Z', [limit]);
    expect(next.capped).toEqual({ limit: '1 per 24h', until: '2025-01-02T10:00:00.000Z' });

    const earlier = { ...key, customerId: 'c2', workflowId: 'cartAbandonment:c2:A' };
    await store.reserveSend(earlier, '2025-01-01T09:00:00.000Z');
    await store.claimSend(claimBy('run/2#1', '2025-01-01T09:00:01.000Z', { workflowId: earlier.workflowId }));
    await store.moveSend(earlier.workflowId, earlier.stepId, { status: 'sending' }, { status: 'in_doubt', reason: 'worker died', at: '2025-01-01T09:00:02.000Z' });
    expect((await store.sendsWithStatus('in_doubt', 10)).map((s) => s.workflowId)).toEqual([earlier.workflowId, key.workflowId]);
    expect((await store.sendsWithStatus('in_doubt', 1)).map((s) => s.workflowId)).toEqual([earlier.workflowId]);
  });
});
