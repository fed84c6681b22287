import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { addressHash } from '../domain/delivery/address';
import { ENGAGEMENT_EVENTS, EMAIL_CLICKED } from '../domain/delivery/engagement';
import { customerId as customerIdSchema } from '../domain/customer/schema';
import type { Store, SuppressionReason } from '../store/types';
import { parseInput } from './errors';

export const suppressionInputSchema = z.object({
  email: z.email(),
  reason: z.enum(['bounce', 'complaint', 'manual']),
  // 180, not 200: a complaint's source reaches the consent ledger as "complaint: <source>", which allows 200.
  source: z.string().min(1).max(180),
});

export interface AuditEntry {
  at: string;
  kind: 'journey' | 'send' | 'skip' | 'failure' | 'consent' | 'suppression' | 'dropped' | 'engagement';
  what: string;
  /** Where it came from: the journey and step, the consent source, or the event. */
  cause: string;
}

const customerIdInput = z.object({ customerId: customerIdSchema });

/** A customer's story from the store, in time order: what a GDPR access request returns. */
export async function auditOf(store: Store, customerId: unknown): Promise<AuditEntry[]> {
  const { customerId: id } = parseInput(customerIdInput, { customerId }, 'customer id');
  const [runs, sends, consent, suppressions, notes, engagement] = await Promise.all([
    store.journeyRuns(id),
    store.sendsOf(id),
    store.consentLedger(id),
    store.suppressionsOf(id),
    store.eventNotesOf(id),
    store.eventsSince(id, [...ENGAGEMENT_EVENTS], new Date(0).toISOString()),
  ]);
  const entries: AuditEntry[] = [
    // First: a drop happens as the event is recorded, before the journey it starts (the sort keeps ties in this order).
    ...notes.map((n) => ({ at: n.at, kind: 'dropped' as const, what: `dropped ${n.path}: ${n.reason}`, cause: `event ${n.eventId}` })),
    ...runs.map((run) => ({ at: run.startedAt, kind: 'journey' as const, what: `entered ${run.journeyId} (topic ${run.topic})`, cause: run.workflowId })),
    ...sends.map((send) => {
      const cause = `${send.workflowId} step ${send.stepId}`;
      if (send.status === 'sent') return { at: send.updatedAt, kind: 'send' as const, what: `sent ${send.template} (${send.messageId})`, cause };
      if (send.status === 'skipped') return { at: send.updatedAt, kind: 'skip' as const, what: `skipped: ${send.reason}`, cause };
      return { at: send.updatedAt, kind: 'failure' as const, what: `${send.status}${send.reason ? `: ${send.reason}` : ''}`, cause };
    }),
    ...consent.map((c) => ({ at: c.at, kind: 'consent' as const, what: `consent ${c.topic} ${c.status}`, cause: c.source })),
    ...suppressions.map((s) => ({ at: s.at, kind: 'suppression' as const, what: `address suppressed (${s.reason})`, cause: s.source })),
    // Opens and clicks are the customer's data too, so an access request shows them.
    ...engagement.map((e) => {
      const p = e.properties;
      const what = e.type === EMAIL_CLICKED ? `clicked link ${String(p.linkIndex)} in ${String(p.template)}` : `opened ${String(p.template)}`;
      return { at: e.occurredAt, kind: 'engagement' as const, what: p.machine === true ? `${what} (machine)` : what, cause: `${String(p.workflowId)} step ${String(p.stepId)}` };
    }),
  ];
  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/**
 * Adds an address to the suppression list (bounce and complaint feeds, operators). A
 * complaint also withdraws marketing consent of every customer with that address.
 */
export async function suppress(store: Store, input: unknown, withdrawMarketing: (customerId: string, source: string) => Promise<unknown>, now: Date) {
  const { email, reason, source } = parseInput(suppressionInputSchema, input, 'suppression');
  const customers = await store.customersWithAddress(email);
  await store.addSuppression({ addressHash: addressHash(email), reason, source, customerId: customers[0], at: now.toISOString() });
  if (reason === 'complaint') for (const customer of customers) await withdrawMarketing(customer, `complaint: ${source}`);
  return { suppressed: true, customers };
}

/**
 * Erases a customer (GDPR Art. 17): their running journeys are terminated, their profile,
 * events and ledgers deleted, and only a hash of their address is kept, suppressed, so
 * the address is never mailed again by mistake.
 */
export async function erase(store: Store, temporal: Client, customerId: unknown, now: Date) {
  const { customerId: id } = parseInput(customerIdInput, { customerId }, 'customer id');
  const terminated: string[] = [];
  for (const run of await store.journeyRuns(id)) {
    try {
      await temporal.workflow.getHandle(run.workflowId).terminate('customer erased');
      terminated.push(run.workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  const { email } = await store.eraseCustomer(id);
  const reason: SuppressionReason = 'erased';
  if (email) await store.addSuppression({ addressHash: addressHash(email), reason, source: 'journeys erase', at: now.toISOString() });
  return { customerId: id, terminated, erased: email !== undefined };
}
