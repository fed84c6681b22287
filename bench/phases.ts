import type { Client } from '@temporalio/client';
import { buildHttpApi } from '../api/http';
import type { JourneyClient } from '../app/journeyClient';
import { compose } from '../compose';
import { PROJECT_ROOT, readConfig } from '../config';
import type { Catalogue } from '../journeys';
import type { Store } from '../store/types';
import type { baselineEmail } from './baselineWorkflow';
import { BENCH_EVENT } from './benchWelcome';
import { startCpuMeter, type CpuShares } from './cpu';
import { offerAll, offerAtRate, Phase, type PhaseResult } from './measure';
import type { ProbeReport, Probes } from './probes';
import type { BenchSettings } from './settings';
import { stageTimes, type StageTimes } from './stages';
import { WorkerProcess, type WorkerSpec } from './workerHandle';

export interface BenchContext {
  settings: BenchSettings;
  temporal: Client;
  /** The bench's store, timed by `probes`; the workers open the same SQLite file. */
  store: Store;
  probes: Probes;
  benchCatalogue: Catalogue;
  route: { current: Phase | undefined };
  worker: Omit<WorkerSpec, 'kind' | 'taskQueue' | 'bundlePath'>;
  bundles: { baseline: string; journeys: string };
  serverPid: number;
}

export interface PhaseReport extends PhaseResult {
  key: string;
  /** The bare-Temporal phase under the same offered load, which this one is a ratio to. */
  baselineKey?: string;
  cpu: CpuShares;
  workerRssMb: number;
  /** Where time went in the worker process and in this one (which runs JourneyClient, HTTP and SMTP). */
  worker: ProbeReport;
  bench: ProbeReport;
  stages: StageTimes;
}

/** A fresh queue per phase; the dev server's database is new on every run, so the names can be fixed. */
export const taskQueueOf = (key: string) => `bench-${key}`;

interface TimedPhase {
  key: string;
  baselineKey?: string;
  name: string;
  kind: WorkerSpec['kind'];
  count: number;
  /** Calls `submit(i)` for every i in 0..count-1 at the phase's offered load. */
  offer: (submit: (i: number) => Promise<void>) => Promise<void>;
  submit: (customerId: string, i: number) => Promise<unknown>;
  workflowIdOf: (customerId: string) => string;
}

/**
 * One phase: its own task queue and worker process (so phases never share a backlog or a
 * cache), every email waited for, and the queue drained before the worker stops.
 */
async function timedPhase(ctx: BenchContext, { key, baselineKey, name, kind, count, offer, submit, workflowIdOf }: TimedPhase): Promise<PhaseReport> {
  const taskQueue = taskQueueOf(key);
  const customerIds = Array.from({ length: count }, (_, i) => `${key}${i}`);
  const recipient = (customerId: string) => `${customerId}@bench.example`;
  // The send step reads the profile; seeding is not part of what is measured.
  if (kind === 'journeys') await ctx.store.upsertProfiles(customerIds.map((customerId) => ({ customerId, email: recipient(customerId), attributes: {} })));

  const worker = await WorkerProcess.start({ ...ctx.worker, kind, taskQueue, bundlePath: ctx.bundles[kind] });
  const phase = new Phase(name);
  ctx.route.current = phase;
  try {
    const cpu = startCpuMeter({ server: ctx.serverPid, worker: worker.pid, bench: process.pid });
    ctx.probes.reset();
    await offer(async (i) => {
      const to = recipient(customerIds[i]);
      phase.submitted(to);
      await submit(customerIds[i], i).then(
        () => phase.accepted(to),
        (err: unknown) => phase.failedToSubmit(to, err),
      );
    });
    await phase.allArrived();
    const [shares, bench, { probe: inWorker }] = [cpu(), ctx.probes.read(), await worker.status()];
    await untilNoneRunning(ctx.temporal, taskQueue);
    const stages = await stageTimes(ctx.temporal, customerIds.map(workflowIdOf));
    return { ...phase.result(), key, baselineKey, cpu: shares, workerRssMb: worker.memory().rssMb, worker: inWorker, bench, stages };
  } finally {
    ctx.route.current = undefined;
    await worker.stop();
  }
}

const closedLoop = (ctx: BenchContext) => (submit: (i: number) => Promise<void>) => offerAll(ctx.settings.n, ctx.settings.concurrency, submit);

/** The product's client on the bench's store and Temporal, starting journeys on `taskQueue`. */
export async function journeyClient(ctx: BenchContext, taskQueue: string, catalogue = ctx.benchCatalogue): Promise<JourneyClient> {
  const config = readConfig({ TEMPORAL_TASK_QUEUE: taskQueue, MAX_STARTS_IN_FLIGHT: String(ctx.settings.concurrency) }, PROJECT_ROOT);
  return (await compose(config, { store: ctx.store, catalogue, temporal: { client: ctx.temporal } })).journeys;
}

const signup = (customerId: string, i: number) => ({ id: `${customerId}-signup-${i}`, type: BENCH_EVENT, customerId });

const startBaseline = (ctx: BenchContext, key: string) => (customerId: string) =>
  ctx.temporal.workflow.start<typeof baselineEmail>('baselineEmail', { taskQueue: taskQueueOf(key), workflowId: baselineRun(customerId), args: [`${customerId}@bench.example`] });
const baselineRun = (customerId: string) => `baseline:${customerId}`;

/** (a) bare one-activity workflows started straight with the Temporal client. */
export function baselinePhase(ctx: BenchContext): Promise<PhaseReport> {
  return timedPhase(ctx, {
    key: 'a',
    name: '(a) bare Temporal workflow',
    kind: 'baseline',
    count: ctx.settings.n,
    offer: closedLoop(ctx),
    submit: startBaseline(ctx, 'a'),
    workflowIdOf: baselineRun,
  });
}

/** (b) the same load as events through JourneyClient.ingest. */
export async function clientPhase(ctx: BenchContext): Promise<PhaseReport> {
  const journeys = await journeyClient(ctx, taskQueueOf('b'));
  return timedPhase(ctx, {
    key: 'b',
    baselineKey: 'a',
    name: '(b) JourneyClient.ingest',
    kind: 'journeys',
    count: ctx.settings.n,
    offer: closedLoop(ctx),
    submit: (customerId, i) => journeys.ingest(signup(customerId, i)),
    workflowIdOf: (customerId) => journeys.workflowIdOf('benchWelcome', customerId),
  });
}

/** (c) the same load as POST /v1/events to the HTTP API, served from this process as a deployed API runs beside its client. */
export async function httpPhase(ctx: BenchContext): Promise<PhaseReport> {
  const journeys = await journeyClient(ctx, taskQueueOf('c'));
  // No rate limit, as API_RATE_LIMIT=off: the bench measures what the path can do.
  const api = buildHttpApi({ journeys, store: ctx.store, bodyLimit: 256 * 1024 });
  const url = `${await api.listen({ host: '127.0.0.1', port: 0 })}/v1/events`;
  try {
    return await timedPhase(ctx, {
      key: 'c',
      baselineKey: 'a',
      name: '(c) HTTP POST /v1/events',
      kind: 'journeys',
      count: ctx.settings.n,
      offer: closedLoop(ctx),
      submit: async (customerId, i) => {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signup(customerId, i)) });
        if (response.status !== 202) throw new Error(`POST /v1/events answered ${response.status}: ${await response.text()}`);
      },
      workflowIdOf: (customerId) => journeys.workflowIdOf('benchWelcome', customerId),
    });
  } finally {
    await api.close();
  }
}

/** The bare workflow at the steady rate: the floor the steady journey latency is compared with. */
export function steadyBaselinePhase(ctx: BenchContext): Promise<PhaseReport> {
  const { rate, duration } = ctx.settings;
  return timedPhase(ctx, {
    key: 'sa',
    name: `steady ${rate}/s × ${duration} s (bare Temporal)`,
    kind: 'baseline',
    count: Math.round(rate * duration),
    offer: (submit) => offerAtRate(rate, duration, submit),
    submit: startBaseline(ctx, 'sa'),
    workflowIdOf: baselineRun,
  });
}

/** A steady offered rate through JourneyClient, for latency when the system is not saturated. */
export async function steadyPhase(ctx: BenchContext): Promise<PhaseReport> {
  const { rate, duration } = ctx.settings;
  const journeys = await journeyClient(ctx, taskQueueOf('s'));
  return timedPhase(ctx, {
    key: 's',
    baselineKey: 'sa',
    name: `steady ${rate}/s × ${duration} s (JourneyClient)`,
    kind: 'journeys',
    count: Math.round(rate * duration),
    offer: (submit) => offerAtRate(rate, duration, submit),
    submit: (customerId, i) => journeys.ingest(signup(customerId, i)),
    workflowIdOf: (customerId) => journeys.workflowIdOf('benchWelcome', customerId),
  });
}

/** Polls visibility until no workflow on the queue is running, so the next phase starts on a quiet server. */
export async function untilNoneRunning(temporal: Client, taskQueue: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { count } = await temporal.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`);
    if (count === 0) return;
    if (Date.now() > deadline) throw new Error(`${count} workflows on ${taskQueue} still running after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
