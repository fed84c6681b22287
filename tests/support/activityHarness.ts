import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type SendStepInput, type SendStepResult } from '../../activities';
import { compose } from '../../compose';
import type { Config } from '../../config';
import type { Store } from '../../store/types';
import { testConfig } from './journeyEnv';

export interface SendAttempt {
  workflowId: string;
  attempt: number;
  /** When Temporal scheduled the attempt; the worker's clock may be later (a backlog). */
  scheduledAt?: Date;
}

/**
 * The shipped send activity with real dependencies (the store, an SMTP server on loopback),
 * run as one chosen attempt in Temporal's MockActivityEnvironment: for races between
 * attempts and for an attempt that starts long after it was scheduled.
 */
export async function sendStepHarness(options: { store: Store; smtpUrl: string; quietHours?: Config['quietHours']; clock?: () => Promise<Date> }) {
  // No Temporal is reached: the composition's client connects lazily, and the activity only uses the store and SMTP.
  const app = await compose(testConfig({ quietHours: options.quietHours }), { store: options.store, smtpUrl: options.smtpUrl, workerClock: options.clock });
  const { sendStep } = createActivities(app.activityDeps());
  const send = (input: SendStepInput, { workflowId, attempt, scheduledAt = new Date() }: SendAttempt) =>
    new MockActivityEnvironment({
      attempt,
      activityId: '1',
      workflowExecution: { workflowId, runId: 'run-1' },
      currentAttemptScheduledTimestampMs: scheduledAt.getTime(),
    }).run(sendStep, input) as Promise<SendStepResult>;
  // Closing quits the mailer's pooled SMTP connections, so the test's SMTP server can close at once.
  return Object.assign(send, { close: () => app.close() });
}
