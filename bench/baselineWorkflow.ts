// The baseline: a bare Temporal workflow whose one activity sends one email, with none of the
// journey machinery (no store, no rules, no templates, no search attributes).
import { proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { JOURNEY_STATUS, JOURNEY_STEP } from '../workflows/searchAttributes';
import type { createBaselineActivities } from './baselineActivities';

const { sendEmail } = proxyActivities<ReturnType<typeof createBaselineActivities>>({ startToCloseTimeout: '1 minute' });
// The floor sends as a journey's send step first does: a local activity, in the workflow task that reaches it.
const { sendEmailOnce } = proxyLocalActivities<ReturnType<typeof createBaselineActivities>>({ startToCloseTimeout: '1 minute' });

export async function baselineEmail(to: string): Promise<void> {
  await sendEmail(to);
}

/**
 * The baseline with a journey's footprint in Temporal's visibility: started with the journey
 * search attributes, it sets the last step and the status in one upsert at its end, as a journey
 * ending on an exit step does. Beside `baselineEmail` it tells what indexing those attributes
 * costs the server.
 */
export async function baselineEmailIndexed(to: string): Promise<void> {
  await sendEmail(to);
  showEnded();
}

/** The last step and the status, in one upsert, as a journey ending on an exit step sets them. */
function showEnded(): void {
  upsertSearchAttributes([
    { key: JOURNEY_STEP, value: 'done' },
    { key: JOURNEY_STATUS, value: 'completed' },
  ]);
}

/**
 * The floor under a journey email: `baselineEmailIndexed` sending as a journey does (a local
 * activity), with what any journey email must read and write in a store around the send
 * (bench/floorLedger.ts), and nothing else: no interpreter, no rules, no templates. Beside
 * `baselineEmail` it tells what a journey's shape in Temporal and the product's guarantees cost
 * bare Temporal, whatever the code that keeps them.
 */
export async function baselineEmailFloor(to: string, customerId: string): Promise<void> {
  await sendEmailOnce(to, customerId);
  showEnded();
}
