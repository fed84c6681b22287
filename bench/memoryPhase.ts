import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { JourneyClient } from '../app/journeyClient';
import { loadCatalogue } from '../journeys';
import { startCpuMeter, type CpuShares } from './cpu';
import { offerAll } from './measure';
import { journeyClient, taskQueueOf, type BenchContext } from './phases';
import { stageTimes, type StageTimes } from './stages';
import { WorkerProcess, type WorkerStatus } from './workerHandle';

export interface MemoryReport {
  journeys: number;
  failed: number;
  firstError?: string;
  /** How fast the waiting journeys were started (ingest returned), per second. */
  startedPerSecond: number;
  running: number;
  /** False when the worker still had work queued at the deadline: the memory was read anyway. */
  drained: boolean;
  backlog: number;
  /** Start → first workflow task and the first task itself, sampled from histories. */
  stages: StageTimes;
  idleRssMb: number;
  /** The idle worker's own figures (heap, modules loaded), before the first journey. */
  idle: WorkerStatus;
  rssMb: number;
  peakRssMb: number;
  /** With --gc-probe on: the memory right after a full garbage collection in every thread. */
  afterGc?: AfterGc;
  status: WorkerStatus;
  /** From the first start until memory was read. */
  cpu: CpuShares;
}

/** One level of the waiting phase: what the worker held once `journeys` cart-abandonment journeys were parked on it. */
export interface WaitingLevel {
  journeys: number;
  failed: number;
  running: number;
  drained: boolean;
  backlog: number;
  startedPerSecond: number;
  /** Seconds from the level's first start until its memory was read. */
  seconds: number;
  rssMb: number;
  peakRssMb: number;
  /** With --gc-probe on: the memory right after a full garbage collection in every thread. */
  afterGc?: AfterGc;
  status: WorkerStatus;
  /** RSS growth per 1,000 more waiting journeys since the previous level (since the idle worker for the first). */
  mbPer1k: number;
  cpu: CpuShares;
}

export interface WaitingReport {
  idleRssMb: number;
  idle: WorkerStatus;
  levels: WaitingLevel[];
  firstError?: string;
}

/** `cart.updated` for customer `${prefix}${i}`: a cart-abandonment journey whose first step waits 1 h. */
const cartOf = (prefix: string, i: number) => ({ id: `${prefix}${i}-cart`, type: 'cart.updated', customerId: `${prefix}${i}`, properties: { cartId: `cart${i}`, total: 42 } });

/** Starts journeys `from`..`to - 1` with `concurrency` ingests in flight; counts refusals rather than failing. */
async function park(journeys: JourneyClient, prefix: string, from: number, to: number, concurrency: number) {
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await offerAll(to - from, concurrency, async (i) => {
    await journeys.ingest(cartOf(prefix, from + i)).catch((err: Error) => {
      failed++;
      firstError ??= err.message;
    });
  });
  return { failed, firstError, startedPerSecond: (to - from - failed) / ((performance.now() - started) / 1000) };
}

/**
 * Leaves `settings.waiting` cart-abandonment journeys (shipped catalogue: the first step
 * waits 1 h) parked on a fresh worker, then reads the worker process's memory.
 */
export async function memoryPhase(ctx: BenchContext): Promise<MemoryReport> {
  const taskQueue = taskQueueOf('m');
  const worker = await WorkerProcess.start({ ...ctx.worker, kind: 'journeys', taskQueue, bundlePath: ctx.bundles.journeys });
  try {
    const [idleRssMb, idle] = [worker.memory().rssMb, await worker.status()];
    const journeys = await journeyClient(ctx, taskQueue, { catalogue: loadCatalogue() });
    const { waiting, concurrency } = ctx.settings;
    const cpu = startCpuMeter({ server: ctx.serverPid, worker: worker.pid, bench: process.pid });
    const { failed, firstError, startedPerSecond } = await park(journeys, 'm', 0, waiting, concurrency);
    const { status, drained, backlog } = await untilIdle(ctx.temporal, taskQueue, worker);
    const [{ rssMb, peakMb }, shares] = [worker.memory(), cpu()];
    const afterGc = await collected(ctx, worker);
    const running = await runningOn(ctx.temporal, taskQueue);
    const runs = Array.from({ length: waiting }, (_, i) => journeys.workflowIdOf('cartAbandonment', `m${i}`, `cart${i}`));
    const stages = await stageTimes(ctx.temporal, runs);
    return { journeys: waiting, failed, firstError, startedPerSecond, running, drained, backlog, stages, idleRssMb, idle, rssMb, peakRssMb: peakMb, afterGc, status, cpu: shares };
  } finally {
    await worker.stop();
  }
}

/**
 * Worker RSS as the waiting journeys pile up on one worker: parks journeys up to each of
 * `settings.waitingLevels` in turn and reads the memory at each, so the growth per 1,000
 * journeys between levels tells flat (a cache of bounded size) from linear (each waiting
 * journey holds memory). The journeys stay parked on the server when the phase ends.
 */
export async function waitingPhase(ctx: BenchContext): Promise<WaitingReport> {
  const taskQueue = taskQueueOf('w');
  const worker = await WorkerProcess.start({ ...ctx.worker, kind: 'journeys', taskQueue, bundlePath: ctx.bundles.journeys });
  try {
    const [idleRssMb, idle] = [worker.memory().rssMb, await worker.status()];
    const journeys = await journeyClient(ctx, taskQueue, { catalogue: loadCatalogue() });
    const levels: WaitingLevel[] = [];
    let firstError: string | undefined;
    let [parked, previousRss, failed] = [0, idleRssMb, 0];
    for (const level of ctx.settings.waitingLevels) {
      const cpu = startCpuMeter({ server: ctx.serverPid, worker: worker.pid, bench: process.pid });
      const started = performance.now();
      const offered = await park(journeys, 'w', parked, level, ctx.settings.concurrency);
      failed += offered.failed;
      firstError ??= offered.firstError;
      const { status, drained, backlog } = await untilIdle(ctx.temporal, taskQueue, worker);
      const [{ rssMb, peakMb }, shares] = [worker.memory(), cpu()];
      const seconds = (performance.now() - started) / 1000;
      const afterGc = await collected(ctx, worker);
      const running = await runningOn(ctx.temporal, taskQueue);
      levels.push({ journeys: level, failed, running, drained, backlog, startedPerSecond: offered.startedPerSecond, seconds, rssMb, peakRssMb: peakMb, afterGc, status, mbPer1k: ((rssMb - previousRss) * 1000) / (level - parked), cpu: shares });
      ctx.log(`waiting: ${running} journeys waiting, worker RSS ${rssMb.toFixed(0)} MB (${seconds.toFixed(0)} s for this level)`);
      [parked, previousRss] = [level, rssMb];
    }
    return { idleRssMb, idle, levels, firstError };
  } finally {
    await worker.stop();
  }
}

/** What the worker holds once its garbage is collected: RSS, and the V8 heap used by its main and workflow threads. */
export interface AfterGc {
  rssMb: number;
  heapUsedMb: number;
  threadHeapUsedMb: number;
}

/** With --gc-probe on: the worker's memory after a full garbage collection in each of its threads. */
async function collected(ctx: BenchContext, worker: WorkerProcess): Promise<AfterGc | undefined> {
  if (!ctx.settings.gcProbe) return undefined;
  await worker.collectGarbage();
  const { heapUsedMb, threadHeapUsedMb } = await worker.status();
  return { rssMb: worker.memory().rssMb, heapUsedMb, threadHeapUsedMb };
}

// A worker that stops making progress must not stall the whole run: once its backlog has not
// shrunk for this long, memory is read as it is (and the level is reported as not drained).
const STALL_MS = 60_000;

async function runningOn(temporal: Client, taskQueue: string): Promise<number> {
  return (await temporal.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`)).count;
}

/**
 * Every journey has run its first workflow task (and is parked on its 1 h timer) once the
 * queue has no backlog and the worker has had nothing in flight for a few polls in a row.
 * A slow worker is waited for as long as its backlog keeps shrinking (parking 100,000
 * journeys takes many minutes); one whose backlog has not shrunk for `stallMs` is not.
 */
async function untilIdle(temporal: Client, taskQueue: string, worker: WorkerProcess, stallMs = STALL_MS) {
  let [quietPolls, lowest, progressAt] = [0, Infinity, Date.now()];
  for (;;) {
    const status = await worker.status();
    const backlog = await workflowBacklog(temporal, taskQueue);
    if (backlog < lowest) [lowest, progressAt] = [backlog, Date.now()];
    quietPolls = status.inFlightActivations === 0 && backlog === 0 ? quietPolls + 1 : 0;
    if (quietPolls >= 4 || Date.now() - progressAt > stallMs) return { status, drained: quietPolls >= 4, backlog };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function workflowBacklog(temporal: Client, taskQueue: string): Promise<number> {
  const { stats } = await temporal.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    reportStats: true,
  });
  return Number(stats?.approximateBacklogCount ?? 0);
}
