import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const SEGMENT_SWEEP_SCHEDULE = 'segment-sweep';
export const EVENT_ROUTING_SWEEP_SCHEDULE = 'event-routing-sweep';
/** Events whose routing failed wait at most about this long, once Temporal is reachable again. */
const EVENT_ROUTING_SWEEP_EVERY = '1m';

/**
 * Creates the Temporal Schedule that sweeps time-based segments, unless it exists: operators
 * see it (and can pause or trigger it) under Schedules in the Temporal UI.
 */
export function ensureSegmentSweepSchedule(client: Client, taskQueue: string, every: string): Promise<void> {
  return ensureSweepSchedule(client, taskQueue, {
    scheduleId: SEGMENT_SWEEP_SCHEDULE,
    workflowType: 'segmentSweep',
    every,
    note: `Recomputes time-based segments every ${every} (dormancy, "3 views in 7 days")`,
  });
}

/** Creates the Temporal Schedule that routes events recorded while Temporal could not be reached, unless it exists. */
export function ensureEventRoutingSweepSchedule(client: Client, taskQueue: string): Promise<void> {
  return ensureSweepSchedule(client, taskQueue, {
    scheduleId: EVENT_ROUTING_SWEEP_SCHEDULE,
    workflowType: 'eventRoutingSweep',
    every: EVENT_ROUTING_SWEEP_EVERY,
    note: `Routes events recorded but never routed (Temporal was unreachable), every ${EVENT_ROUTING_SWEEP_EVERY}`,
  });
}

// Overlap skip: a sweep still running (a long backlog, a retrying failure) is not joined by a second one.
async function ensureSweepSchedule(client: Client, taskQueue: string, sweep: { scheduleId: string; workflowType: string; every: string; note: string }) {
  try {
    await client.schedule.create({
      scheduleId: sweep.scheduleId,
      spec: { intervals: [{ every: sweep.every }] },
      action: { type: 'startWorkflow', workflowType: sweep.workflowType, taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: sweep.note },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
