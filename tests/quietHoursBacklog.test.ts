import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { sendStepHarness } from './support/activityHarness';
import { startMailbox, type Mailbox } from './support/mail';

describe('quiet hours judged when the send attempt actually starts', () => {
  let dir: string;
  let store: Store;
  let mailbox: Mailbox;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-backlog-'));
    store = openSqliteStore(join(dir, 'journeys.db'));
    await store.upsertProfiles([{ customerId: 'night', email: 'night@example.com', attributes: { timezone: 'Europe/Berlin' } }]);
    mailbox = await startMailbox();
  });
  afterAll(async () => {
    await mailbox.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defers a reminder scheduled at 20:50 that a worker picks up at 21:10 (a backlog) to 08:00 the next morning', async () => {
    const scheduledAt = new Date('2026-12-02T19:50:00Z'); // 20:50 in Berlin
    const startedAt = new Date('2026-12-02T20:10:00Z'); // 21:10 in Berlin: the workers were down
    const send = await sendStepHarness({ store, smtpUrl: mailbox.url, quietHours: { start: '21:00', end: '08:00' }, clock: async () => startedAt });
    const result = await send(
      {
        journeyId: 'cartAbandonment',
        topic: 'marketing',
        customerId: 'night',
        stepId: 'reminder1',
        template: { rules: [], fallback: 'reminder1' },
        event: { id: 'night-cart', type: 'cart.updated', customerId: 'night', occurredAt: '2026-12-02T18:50:00Z', properties: { cartId: 'n1', total: 10, items: [] } },
      },
      { workflowId: 'cartAbandonment:night:n1', attempt: 1, scheduledAt },
    );
    await send.close();
    expect(result).toEqual({ status: 'deferred', until: '2026-12-03T07:00:00.000Z', reason: 'quiet hours 21:00–08:00 in Europe/Berlin' });
    expect(mailbox.outbox.messages).toEqual([]);
    expect(await store.sendsOf('night')).toEqual([]);
  });
});
