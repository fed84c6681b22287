import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
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
  rssMb: number;
  peakRssMb: number;
  status: WorkerStatus;
  /** From the first start until memory was read. */
  cpu: CpuShares;
}

/**
 * Leaves `settings.waiting` cart-abandonment journeys (shipped catalogue: the first step
 * waits 1 h) parked on a fresh worker, then reads the worker process's memory.
 */
export async function memoryPhase(ctx: BenchContext): Promise<MemoryReport> {
  const taskQueue = taskQueueOf('m');
  const worker = await WorkerProcess.start({ ...ctx.worker, kind: 'journeys', taskQueue, bundlePath: ctx.bundles.journeys });
  try {
    const idleRssMb = worker.memory().rssMb;
    const journeys = await journeyClient(ctx, taskQueue, loadCatalogue());
    const { waiting, concurrency } = ctx.settings;
    let failed = 0;
    let firstError: string | undefined;
    const cpu = startCpuMeter({ server: ctx.serverPid, worker: worker.pid, bench: process.pid });
    const started = performance.now();
    await offerAll(waiting, concurrency, async (i) => {
      const cart = { id: `m${i}-cart`, type: 'cart.updated', customerId: `m${i}`, properties: { cartId: `cart${i}`, total: 42 } };
      await journeys.ingest(cart).catch((err: Error) => {
        failed++;
        firstError ??= err.message;
      });
    });
    const startedPerSecond = (waiting - failed) / ((performance.now() - started) / 1000);
    const { status, drained, backlog } = await untilIdle(ctx.temporal, taskQueue, worker, DRAIN_DEADLINE_MS);
    const [{ rssMb, peakMb }, shares] = [worker.memory(), cpu()];
    const { count: running } = await ctx.temporal.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`);
    const runs = Array.from({ length: waiting }, (_, i) => journeys.workflowIdOf('cartAbandonment', `m${i}`, `cart${i}`));
    const stages = await stageTimes(ctx.temporal, runs);
    return { journeys: waiting, failed, firstError, startedPerSecond, running, drained, backlog, stages, idleRssMb, rssMb, peakRssMb: peakMb, status, cpu: shares };
  } finally {
    await worker.stop();
  }
}

// A worker that cannot keep up must not stall the whole run: past this, memory is read as it is.
const DRAIN_DEADLINE_MS = 60_000;

/**
 * Every journey has run its first workflow task (and is parked on its 1 h timer) once the
 * queue has no backlog and the worker has had nothing in flight for a few polls in a row.
 */
async function untilIdle(temporal: Client, taskQueue: string, worker: WorkerProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let quietPolls = 0;
  for (;;) {
    const status = await worker.status();
    const backlog = await workflowBacklog(temporal, taskQueue);
    quietPolls = status.inFlightActivations === 0 && backlog === 0 ? quietPolls + 1 : 0;
    if (quietPolls >= 4 || Date.now() > deadline) return { status, drained: quietPolls >= 4, backlog };
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
