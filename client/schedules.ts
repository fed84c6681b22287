import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const SEGMENT_SWEEP_SCHEDULE = 'segment-sweep';

/**
 * Creates the Temporal Schedule that sweeps time-based segments, unless it exists: operators
 * see it (and can pause or trigger it) under Schedules in the Temporal UI.
 */
export async function ensureSegmentSweepSchedule(client: Client, taskQueue: string, every: string): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: SEGMENT_SWEEP_SCHEDULE,
      spec: { intervals: [{ every }] },
      action: { type: 'startWorkflow', workflowType: 'segmentSweep', taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: `Recomputes time-based segments every ${every} (dormancy, "3 views in 7 days")` },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
