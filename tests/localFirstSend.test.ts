import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type journey from '../workflows';
import { scriptedReplies } from './support/mail';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// A send's first attempt runs as a local activity in the workflow task that reaches the step
// (workflows/steps.ts): one workflow task and no activity task per email. One that fails in a way
// that may pass goes on as the sendStep activity, whose retries Temporal shows.
const scripted = scriptedReplies();
let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv({ mailbox: { onRecipient: scripted.onRecipient } });
});
afterAll(async () => {
  await t?.close();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const historyOf = async (workflowId: string): Promise<HistoryEvent[]> => (await t.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
const scheduledActivities = (events: HistoryEvent[]) => events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
const workflowTasks = (events: HistoryEvent[]) => events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
const markers = (events: HistoryEvent[]) => events.filter((e) => e.markerRecordedEventAttributes);

async function order(customerId: string, orderId: string) {
  await t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: { firstName: 'Ada' } });
  const result = await t.client.ingest({ id: `order-${orderId}`, type: 'order.completed', customerId, properties: { orderId, items: [{ sku: 'tent', name: 'Tent', category: 'camping' }], total: 250 } });
  expect(result.started).toEqual([`orderReceipt:${customerId}:${orderId}`]);
  return result.started[0];
}

describe('a journey email sent from the workflow task that reaches its step', () => {
  it('goes out in the one workflow task of a receipt: a local activity marker, no activity task', async () => {
    const workflowId = await order('local', 'o-1');
    const state = await t.env.client.workflow.getHandle<typeof journey>(workflowId).result();
    expect(state.status).toBe('completed');
    expect(await t.mailbox.waitForCount(1, { to: 'local@example.com' })).toHaveLength(1);

    const events = await historyOf(workflowId);
    expect(scheduledActivities(events)).toEqual([]);
    expect(workflowTasks(events)).toBe(1);
    expect(markers(events)).toHaveLength(1);
    expect((await t.store.sendRecord(workflowId, 'receipt'))?.status).toBe('sent');
  });

  it('goes on as the sendStep activity after a 4xx, which Temporal retries and records, and the email arrives once', async () => {
    // The local attempt and the activity's first attempt are refused; the activity's third goes through.
    scripted.replies.set('retried@example.com', { code: 451, text: '4.3.0 Try again later', times: 2 });
    const workflowId = await order('retried', 'o-2');
    const state = await t.env.client.workflow.getHandle<typeof journey>(workflowId).result();
    expect(state.status).toBe('completed');
    expect(await t.mailbox.waitForCount(1, { to: 'retried@example.com' })).toHaveLength(1);

    const events = await historyOf(workflowId);
    expect(markers(events)).toHaveLength(1);
    expect(scheduledActivities(events)).toEqual(['sendStep']);
    // The activity's own attempt count, as the Temporal UI shows it, and the story says why it ran.
    expect(events.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes?.attempt).toBe(2);
    const { currentDetails } = await t.env.client.workflow.getHandle(workflowId).query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(currentDetails).toContain('receipt: the first attempt failed (SMTP: ');
    expect(currentDetails).toContain('451 4.3.0 Try again later); retrying as the sendStep activity');
    expect(currentDetails).not.toContain('retried@example.com');
    expect(state.history.map((record) => record.outcome)).toContain('sent receipt');
    expect((await t.store.sendRecord(workflowId, 'receipt'))?.status).toBe('sent');
    // Nothing more arrives later: no attempt sent it twice.
    await t.env.sleep('1h');
    expect(await t.mailbox.emailsTo('retried@example.com')).toHaveLength(1);
  });

  it('ends the step without the activity when the local attempt fails for good (a 5xx recipient)', async () => {
    scripted.replies.set('gone@example.com', { code: 550, text: '5.1.1 No such user', times: 1 });
    const workflowId = await order('gone', 'o-3');
    const state = await t.env.client.workflow.getHandle<typeof journey>(workflowId).result();
    expect(scheduledActivities(await historyOf(workflowId))).toEqual([]);
    expect(state.history.find((record) => record.stepId === 'receipt')?.outcome).toMatch(/^failed: /);
    expect(await t.mailbox.emailsTo('gone@example.com')).toEqual([]);
  });
});
