import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { formatDuration, parseDuration } from '../domain/time/duration';

export const SEGMENT_SWEEP_SCHEDULE = 'segment-sweep';
export const EVENT_ROUTING_SWEEP_SCHEDULE = 'event-routing-sweep';
export const SCORE_TRAINING_SCHEDULE = 'score-training';
/** Events whose routing failed wait at most about this long, once Temporal is reachable again. */
const EVENT_ROUTING_SWEEP_EVERY = '1m';

/**
 * Creates the Temporal Schedule that sweeps time-based segments, or sets its interval to
 * `every` and its overlap policy to skip: operators see it (and can pause or trigger it) under
 * Schedules in the Temporal UI. Resolves to the interval it had, when that was another one.
 * (The workflow itself also keeps a second sweep from starting: see workflows/segmentSweep.ts.)
 */
export function ensureSegmentSweepSchedule(client: Client, taskQueue: string, every: string): Promise<string | undefined> {
  return ensureSweepSchedule(client, taskQueue, {
    scheduleId: SEGMENT_SWEEP_SCHEDULE,
    workflowType: 'segmentSweep',
    every,
    note: `Recomputes time-based segments every ${every} (dormancy, "3 views in 7 days")`,
  });
}

/** Creates the Temporal Schedule that routes events recorded while Temporal could not be reached, or sets its interval. */
export function ensureEventRoutingSweepSchedule(client: Client, taskQueue: string): Promise<string | undefined> {
  return ensureSweepSchedule(client, taskQueue, {
    scheduleId: EVENT_ROUTING_SWEEP_SCHEDULE,
    workflowType: 'eventRoutingSweep',
    every: EVENT_ROUTING_SWEEP_EVERY,
    note: `Routes events recorded but never routed (Temporal was unreachable), every ${EVENT_ROUTING_SWEEP_EVERY}`,
  });
}

/**
 * Creates the Temporal Schedule that retrains the predictive scores (churn, propensity) and
 * rescores every profile, or sets its interval; with `every` undefined (SCORE_TRAINING_EVERY=off)
 * deletes it, so scores change only when an operator trains. Resolves to the interval it had,
 * when that was another one.
 */
export async function ensureScoreTrainingSchedule(client: Client, taskQueue: string, every: string | undefined): Promise<string | undefined> {
  if (every === undefined) {
    await client.schedule
      .getHandle(SCORE_TRAINING_SCHEDULE)
      .delete()
      .catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
    return undefined;
  }
  return ensureSweepSchedule(client, taskQueue, {
    scheduleId: SCORE_TRAINING_SCHEDULE,
    workflowType: 'scoreTraining',
    every,
    note: `Retrains churn and purchase propensity on the shop's history and rescores every profile, every ${every}`,
  });
}

// Overlap skip: a sweep still running (a long backlog, a retrying failure) is not joined by a
// second one. A Schedule created with another policy (by hand, or by an older version) gets it.
async function ensureSweepSchedule(client: Client, taskQueue: string, sweep: { scheduleId: string; workflowType: string; every: string; note: string }): Promise<string | undefined> {
  try {
    await client.schedule.create({
      scheduleId: sweep.scheduleId,
      spec: { intervals: [{ every: sweep.every }] },
      action: { type: 'startWorkflow', workflowType: sweep.workflowType, taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: sweep.note },
    });
    return undefined;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(sweep.scheduleId);
  const described = await handle.describe();
  const intervals = described.spec.intervals ?? [];
  // Temporal keeps whole seconds.
  const seconds = (ms: number) => Math.round(ms / 1000);
  const sameInterval = intervals.length === 1 && seconds(intervals[0].every) === seconds(parseDuration(sweep.every));
  if (sameInterval && described.policies.overlap === ScheduleOverlapPolicy.SKIP) return undefined;
  await handle.update((previous) => ({
    ...previous,
    spec: sameInterval ? previous.spec : { ...previous.spec, intervals: [{ every: sweep.every }] },
    policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP },
    // A paused Schedule's note is the operator's reason for pausing it: kept.
    state: { ...previous.state, note: previous.state.paused ? previous.state.note : sweep.note },
  }));
  if (sameInterval) return undefined;
  return intervals.map((interval) => formatDuration(interval.every)).join(', ') || 'none';
}
