import { WorkflowFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { SendRecord, SendStatus, Store } from '../store/types';
import type { ResendResult } from '../workflows/resendEmail';
import { parseInput, ValidationError } from './errors';

const statuses = ['reserved', 'sending', 'sent', 'skipped', 'in_doubt', 'failed'] as const satisfies readonly SendStatus[];

export const sendsQuerySchema = z.object({
  status: z.enum(statuses).default('in_doubt'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const sendResolutionSchema = z.object({
  workflowId: z.string().min(1).max(300),
  stepId: z.string().min(1).max(100),
  /** `delivered`: the operator knows it arrived. `resend`: send the kept message once more, same Message-ID. */
  resolution: z.enum(['delivered', 'resend']),
});

export type SendResolution = { workflowId: string; stepId: string; status: SendStatus; note: string };

/** Sends in one state across all customers, oldest change first: what an operator works through. */
export async function listSends(store: Store, query: unknown): Promise<SendRecord[]> {
  const { status, limit } = parseInput(sendsQuerySchema, query ?? {}, 'sends query');
  return store.sendsWithStatus(status, limit);
}

/**
 * Settles a send in doubt. `delivered` records the operator's answer; `resend` runs the
 * `resendEmail` workflow, whose activity sends the kept message through the same ledger
 * claim as a journey's send (consent and suppression re-checked), so it goes out at most once.
 */
export async function resolveSend(store: Store, temporal: Client, taskQueue: string, input: unknown, now: Date): Promise<SendResolution> {
  const { workflowId, stepId, resolution } = parseInput(sendResolutionSchema, input, 'send resolution');
  const row = await store.sendRecord(workflowId, stepId);
  if (row?.status !== 'in_doubt') {
    const found = row ? `its status is ${row.status}` : 'there is no such send';
    throw new ValidationError('send resolution', [{ path: 'stepId', message: `only a send in doubt can be resolved; ${found} (see \`journeys sends --status in_doubt\`)` }]);
  }
  if (resolution === 'delivered') {
    const moved = await store.moveSend(workflowId, stepId, { status: 'in_doubt' }, { status: 'sent', reason: 'an operator confirmed delivery', at: now.toISOString() });
    return { workflowId, stepId, status: moved ? 'sent' : ((await store.sendRecord(workflowId, stepId))?.status ?? 'in_doubt'), note: 'recorded as delivered' };
  }
  try {
    const result: ResendResult = await temporal.workflow.execute('resendEmail', {
      workflowId: `resend:${workflowId}:${stepId}`,
      taskQueue,
      args: [{ workflowId, stepId }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: `Resend ${stepId} of ${workflowId}, asked by an operator`,
    });
    return { workflowId, stepId, status: result.status, note: result.note };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // The SMTP server refused or broke off: the ledger says where the send stands now.
    const status = (await store.sendRecord(workflowId, stepId))?.status ?? 'in_doubt';
    return { workflowId, stepId, status, note: `not resent: ${innermost(err).message}` };
  }
}

/** The failure at the bottom of a chain (workflow ← activity ← SMTP), which says what happened. */
function innermost(err: Error): Error {
  let current = err;
  while (current.cause instanceof Error) current = current.cause;
  return current;
}
