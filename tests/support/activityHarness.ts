import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type SendStepInput, type SendStepResult } from '../../activities';
import { createSmtpMailer } from '../../activities/smtp';
import type { Config } from '../../domain/config';
import { createUnsubscribeSigner, unsubscribeLinks } from '../../domain/unsubscribe';
import { loadCatalogue } from '../../journeys';
import type { Store } from '../../store/types';
import { createActivityDeps } from '../../worker/deps';
import { TEST_UNSUBSCRIBE } from './journeyEnv';

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
export function sendStepHarness(options: { store: Store; smtpUrl: string; quietHours?: Config['quietHours']; clock?: () => Promise<Date> }) {
  const { sendStep } = createActivities(
    createActivityDeps({
      store: options.store,
      mailer: createSmtpMailer({ url: options.smtpUrl }),
      catalogue: loadCatalogue(),
      config: { mailFrom: 'Shop <hello@shop.example.com>', consent: { optInTopics: [] }, frequencyCaps: [], quietHours: options.quietHours, defaultTimezone: 'UTC' },
      unsubscribe: unsubscribeLinks(createUnsubscribeSigner(TEST_UNSUBSCRIBE.keys), TEST_UNSUBSCRIBE),
      sweepSegments: () => Promise.reject(new Error('no segment sweep here')),
      routePendingEvents: () => Promise.reject(new Error('no event routing here')),
      clock: options.clock,
    }),
  );
  return (input: SendStepInput, { workflowId, attempt, scheduledAt = new Date() }: SendAttempt) =>
    new MockActivityEnvironment({
      attempt,
      activityId: '1',
      workflowExecution: { workflowId, runId: 'run-1' },
      currentAttemptScheduledTimestampMs: scheduledAt.getTime(),
    }).run(sendStep, input) as Promise<SendStepResult>;
}
