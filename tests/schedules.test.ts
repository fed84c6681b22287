import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCORE_TRAINING_SCHEDULE, SEGMENT_SWEEP_SCHEDULE } from '../app/schedules';
import { compose } from '../compose';
import { configFromEnv } from '../config';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { requiredEnv } from './support/journeyEnv';
import { freePort } from './support/ports';

// A role starting with another SEGMENT_SWEEP_EVERY than the one the segment-sweep Schedule
// was created with, on the real Temporal dev server (the time-skipping server has no Schedules).
describe('the segment-sweep Schedule follows SEGMENT_SWEEP_EVERY', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-schedules-'));
  let devServer: DevServer;

  /** What a role does at its start, with SEGMENT_SWEEP_EVERY set to `every`: the lines it logs and the Schedule's description after. */
  const startRole = async (every: string) => {
    const app = await compose(configFromEnv({ DATA_DIR: dir, TEMPORAL_ADDRESS: devServer.address, SEGMENT_SWEEP_EVERY: every }));
    try {
      const lines: string[] = [];
      await app.ensureSchedules((line) => lines.push(line));
      return { lines, schedule: await app.temporal.schedule.getHandle(SEGMENT_SWEEP_SCHEDULE).describe() };
    } finally {
      await app.close();
    }
  };
  const intervals = (schedule: Awaited<ReturnType<typeof startRole>>['schedule']) => schedule.spec.intervals?.map((interval) => interval.every);

  beforeAll(async () => {
    devServer = await startDevServer({ cliPath: requiredEnv('TEMPORAL_CLI_PATH'), ip: '127.0.0.1', port: await freePort(), uiPort: await freePort(), dbFile: join(dir, 'temporal.db'), log: () => {} });
  }, 180_000);

  afterAll(async () => {
    await devServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates it every hour, changes it to every 15 minutes when the setting says so and logs the change, and then leaves it alone', async () => {
    const first = await startRole('1h');
    expect(intervals(first.schedule)).toEqual([3_600_000]);
    // A sweep still running when the next is due is not joined by a second one.
    expect(first.schedule.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(first.lines).toEqual([]);

    const changed = await startRole('15m');
    expect(intervals(changed.schedule)).toEqual([900_000]);
    expect(changed.schedule.state.note).toBe('Recomputes time-based segments every 15m (dormancy, "3 views in 7 days")');
    expect(changed.schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'segmentSweep', taskQueue: 'journeys' });
    expect(changed.lines).toEqual(['segment-sweep Schedule now runs every 15m (SEGMENT_SWEEP_EVERY), was every 1h']);

    const again = await startRole('15m');
    expect(intervals(again.schedule)).toEqual([900_000]);
    expect(again.lines).toEqual([]);
  });

  it('keeps a Schedule an operator paused paused, with the reason they gave, when its interval changes', async () => {
    await startRole('1h');
    const operator = await compose(configFromEnv({ DATA_DIR: dir, TEMPORAL_ADDRESS: devServer.address }));
    try {
      await operator.temporal.schedule.getHandle(SEGMENT_SWEEP_SCHEDULE).pause('paused during the store migration');
    } finally {
      await operator.close();
    }

    const { schedule } = await startRole('30m');
    expect(intervals(schedule)).toEqual([1_800_000]);
    expect(schedule.state).toMatchObject({ paused: true, note: 'paused during the store migration' });
  });

  it('gives a Schedule that lets sweeps overlap (made by hand, or by an older version) the overlap policy skip, keeping its interval', async () => {
    const operator = await compose(configFromEnv({ DATA_DIR: dir, TEMPORAL_ADDRESS: devServer.address }));
    try {
      await operator.temporal.schedule.getHandle(SEGMENT_SWEEP_SCHEDULE).delete();
      await operator.temporal.schedule.create({
        scheduleId: SEGMENT_SWEEP_SCHEDULE,
        spec: { intervals: [{ every: '1h' }] },
        action: { type: 'startWorkflow', workflowType: 'segmentSweep', taskQueue: 'journeys', args: [] },
        policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
        state: { paused: true },
      });
    } finally {
      await operator.close();
    }

    const { schedule, lines } = await startRole('1h');
    expect(schedule.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(intervals(schedule)).toEqual([3_600_000]);
    expect(schedule.state.paused).toBe(true);
    expect(lines).toEqual([]);
    // And is left alone after.
    expect((await startRole('1h')).schedule.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  });

  it('creates the score-training Schedule weekly, follows SCORE_TRAINING_EVERY, and deletes it when the setting is off', async () => {
    const startWith = async (env: Record<string, string>) => {
      const app = await compose(configFromEnv({ DATA_DIR: dir, TEMPORAL_ADDRESS: devServer.address, ...env }));
      try {
        const lines: string[] = [];
        await app.ensureSchedules((line) => lines.push(line));
        const schedule = await app.temporal.schedule.getHandle(SCORE_TRAINING_SCHEDULE).describe().catch((err: unknown) => {
          if (err instanceof ScheduleNotFoundError) return undefined;
          throw err;
        });
        return { lines, schedule };
      } finally {
        await app.close();
      }
    };
    const weekly = await startWith({});
    expect(weekly.schedule?.spec.intervals?.map((interval) => interval.every)).toEqual([7 * 86_400_000]);
    expect(weekly.schedule?.action).toMatchObject({ type: 'startWorkflow', workflowType: 'scoreTraining', taskQueue: 'journeys' });
    expect(weekly.schedule?.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);

    const daily = await startWith({ SCORE_TRAINING_EVERY: '1d' });
    expect(daily.schedule?.spec.intervals?.map((interval) => interval.every)).toEqual([86_400_000]);
    expect(daily.lines).toEqual(['score-training Schedule now runs every 1d (SCORE_TRAINING_EVERY), was every 1w']);

    const off = await startWith({ SCORE_TRAINING_EVERY: 'off' });
    expect(off.schedule).toBeUndefined();
    // Off again finds nothing to delete, and says nothing.
    expect(await startWith({ SCORE_TRAINING_EVERY: 'off' })).toEqual({ lines: [], schedule: undefined });
  });
});
