// The baseline: a bare Temporal workflow whose one activity sends one email, with none of the
// journey machinery (no store, no rules, no templates, no search attributes).
import { proxyActivities } from '@temporalio/workflow';
import type { createBaselineActivities } from './baselineActivities';

const { sendEmail } = proxyActivities<ReturnType<typeof createBaselineActivities>>({ startToCloseTimeout: '1 minute' });

export async function baselineEmail(to: string): Promise<void> {
  await sendEmail(to);
}
