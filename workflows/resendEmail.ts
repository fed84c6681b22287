import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { SendStatus } from '../store/types';

const { resendStep } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface ResendInput {
  workflowId: string;
  stepId: string;
}

export interface ResendResult {
  /** The send's ledger status afterwards. */
  status: SendStatus;
  note: string;
}

/** An operator's resend of a send in doubt, run where every send runs: on a worker, retried, visible in the Temporal UI. */
export async function resendEmail(input: ResendInput): Promise<ResendResult> {
  return resendStep.executeWithOptions({ summary: `resend ${input.stepId} of ${input.workflowId}` }, [input]);
}
