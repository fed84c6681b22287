import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { Pool } from 'undici';
import { buildHttpApi } from '../api/http';
import type { JourneyClient } from '../app/journeyClient';
import { compose } from '../compose';
import { PROJECT_ROOT, readConfig } from '../config';
import type { Catalogue } from '../journeys';
import type { Store } from '../store/types';
import type { baselineEmail, baselineEmailFloor, baselineEmailIndexed } from './baselineWorkflow';
import { openFloorLedger } from './floorLedger';
import { BENCH_EVENT } from './benchWelcome';
import { startCpuMeter, type CpuShares } from './cpu';
import { offerAll, offerAtRate, Phase, type PhaseResult } from './measure';
import type { ProbeReport, Probes } from './probes';
import { counterDelta, readServerMetrics, serverWorkPerEmail, type ServerWork } from './serverMetrics';
import type { BenchSettings } from './settings';
import { stageTimes, type StageTimes } from './stages';
import { WorkerProcess, type WorkerSpec } from './workerHandle';
import { CUSTOMER_ID, JOURNEY_ID, JOURNEY_STATUS, JOURNEY_STEP, JOURNEY_VERSION } from '../workflows/searchAttributes';

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
  /** The dev server's Prometheus endpoint: what it did per phase. */
  serverMetricsUrl: string;
  /** The run's scratch folder (removed at the end): phases that need a store of their own open it here. */
  dir: string;
  /** Progress lines on stderr. */
  log(line: string): void;
}

/** The phases that run in rounds, each a ratio to another of its round: ai, af, b, c to a; w2 to b; saf, s to sa. */
export type RoundKey = 'a' | 'ai' | 'af' | 'b' | 'c' | 'w2' | 'sa' | 'saf' | 's';

export interface PhaseReport extends PhaseResult {
  /** Unique in the run: the phase's key and its round, e.g. "b2". */
  key: string;
  group: RoundKey;
  round: number;
  /** The phase of the same round this one is a ratio to (bare Temporal, or one worker for w2). */
  baselineKey?: string;
  /** Journey worker processes on the phase's task queue. */
  workers: number;
  /** worker: the worker processes together. */
  cpu: CpuShares;
  /** CPU time (user + system) per email of the dev server, the worker processes together and this process. */
  cpuMsPerEmail: { server: number; worker: number; bench: number };
  /** The worker processes' RSS added up. */
  workerRssMb: number;
  /** Where time went in the worker processes (added up; loop delay: the worse one) and in this one (which runs JourneyClient, HTTP and SMTP). */
  worker: ProbeReport;
  bench: ProbeReport;
  stages: StageTimes;
  /** Per email, from the server's counters. */
  server: ServerWork;
}

/** A fresh queue per phase; the dev server's database is new on every run, so the names can be fixed. */
export const taskQueueOf = (key: string) => `bench-${key}`;

interface TimedPhase {
  group: RoundKey;
  round: number;
  baselineGroup?: RoundKey;
  name: string;
  kind: WorkerSpec['kind'];
  /** Worker processes polling the phase's task queue (1 unless said). */
  workers?: number;
  count: number;
  /** Calls `submit(i)` for every i in 0..count-1 at the phase's offered load. */
  offer: (submit: (i: number) => Promise<void>) => Promise<void>;
  submit: (customerId: string, i: number) => Promise<unknown>;
  /** A slot of the offer is held until the event's email arrives, not only until its submission returned. */
  holdsUntilEmail?: boolean;
  /**
   * The first this many submissions warm up fresh worker processes and are not timed: each new
   * SMTP connection waits ~100 ms for the outbox's greeting (smtp-server holds it back to catch
   * clients that talk first), and a worker opens its pool's connections in its first seconds.
   */
  warmup?: number;
  workflowIdOf: (customerId: string) => string;
}

/**
 * One phase: its own task queue and worker processes (so phases never share a backlog or a
 * cache), every email waited for, and the queue drained before the workers stop.
 */
async function timedPhase(ctx: BenchContext, { group, round, baselineGroup, name, kind, workers: workerCount = 1, count, offer, submit, workflowIdOf, holdsUntilEmail = false, warmup = 0 }: TimedPhase): Promise<PhaseReport> {
  const key = `${group}${round}`;
  const taskQueue = taskQueueOf(key);
  const customerIds = Array.from({ length: count }, (_, i) => `${key}-${i}`);
  const recipient = (customerId: string) => `${customerId}@bench.example`;
  // The send step reads the profile; seeding is not part of what is measured.
  if (kind === 'journeys') await ctx.store.upsertProfiles(customerIds.map((customerId) => ({ customerId, email: recipient(customerId), attributes: {} })));

  const workers = await Promise.all(Array.from({ length: workerCount }, () => WorkerProcess.start({ ...ctx.worker, kind, taskQueue, bundlePath: ctx.bundles[kind] })));
  const phase = new Phase(name);
  ctx.route.current = phase;
  try {
    const workerPids = Object.fromEntries(workers.map((worker, i) => [`worker${i}`, worker.pid]));
    const cpu = startCpuMeter({ server: ctx.serverPid, ...workerPids, bench: process.pid });
    const meteredFrom = performance.now();
    ctx.probes.reset();
    const countersBefore = await readServerMetrics(ctx.serverMetricsUrl);
    await offer(async (i) => {
      if (i < warmup) {
        await submit(customerIds[i], i);
        return;
      }
      const to = recipient(customerIds[i]);
      phase.submitted(to);
      await submit(customerIds[i], i).then(
        () => phase.accepted(to),
        (err: unknown) => phase.failedToSubmit(to, err),
      );
      if (holdsUntilEmail) await phase.arrival(to);
    });
    await phase.allArrived();
    const [shares, bench, inWorkers] = [cpu(), ctx.probes.read(), await Promise.all(workers.map(async (worker) => (await worker.status()).probe))];
    const meteredSeconds = (performance.now() - meteredFrom) / 1000;
    // Duplicates still count while the runs finish: a retried send would arrive here.
    await untilNoneRunning(ctx.temporal, taskQueue);
    // Read before the histories are: reading them is the bench's work, not the phase's.
    // CPU and the server's counters are metered over the warm-up too.
    const emailsMetered = phase.result().emails + warmup;
    const server = serverWorkPerEmail(counterDelta(countersBefore, await readServerMetrics(ctx.serverMetricsUrl)), emailsMetered);
    const byRecipient = new Map(customerIds.map((customerId) => [recipient(customerId), workflowIdOf(customerId)]));
    const stages = await stageTimes(ctx.temporal, customerIds.slice(warmup).map(workflowIdOf), STAGE_SAMPLE, { emails: phase.slowest(1), workflowIdOf: (to) => byRecipient.get(to)! });
    const workerShare = Object.keys(workerPids).reduce((sum, name) => sum + shares[name], 0);
    return {
      ...phase.result(),
      key,
      group,
      round,
      baselineKey: baselineGroup && `${baselineGroup}${round}`,
      workers: workerCount,
      cpu: { server: shares.server, worker: workerShare, bench: shares.bench, others: shares.others },
      cpuMsPerEmail: Object.fromEntries(
        Object.entries({ server: shares.server, worker: workerShare, bench: shares.bench }).map(([name, share]) => [name, (share / 100) * meteredSeconds * 1000 / Math.max(1, emailsMetered)]),
      ) as PhaseReport['cpuMsPerEmail'],
      workerRssMb: workers.reduce((sum, worker) => sum + worker.memory().rssMb, 0),
      worker: addProbes(inWorkers),
      bench,
      stages,
      server,
    };
  } finally {
    ctx.route.current = undefined;
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

// Histories read per phase for the stage breakdown; phases run once per round, so fewer than one run's worth.
const STAGE_SAMPLE = 200;

/** Several workers' probes as one: time in store calls adds up, the worst loop delay and slowest call stand. */
function addProbes(reports: ProbeReport[]): ProbeReport {
  const slowest = reports.reduce((worst, report) => (report.storeMaxMs > worst.storeMaxMs ? report : worst), reports[0]);
  return {
    loopP99Ms: Math.max(...reports.map((report) => report.loopP99Ms)),
    loopMaxMs: Math.max(...reports.map((report) => report.loopMaxMs)),
    storeMs: reports.reduce((sum, report) => sum + report.storeMs, 0),
    storeCalls: reports.reduce((sum, report) => sum + report.storeCalls, 0),
    storeMaxMs: slowest.storeMaxMs,
    storeMaxCall: slowest.storeMaxCall,
  };
}

const closedLoop = (ctx: BenchContext) => (submit: (i: number) => Promise<void>) => offerAll(ctx.settings.n, ctx.settings.concurrency, submit);

export interface JourneyClientOptions {
  /** The journeys it starts: the bench's own (benchWelcome) unless given. */
  catalogue?: Catalogue;
  /** The bench's shared store unless given (the ingest and sweep phases bring fresh ones). */
  store?: Store;
  /** The clock events are accepted on: the sweep phase seeds history as of yesterday. */
  clock?: () => Date;
}

/** The product's client, composed as the product composes it, on the bench's Temporal, starting journeys on `taskQueue`. */
export async function journeyClient(ctx: BenchContext, taskQueue: string, { catalogue = ctx.benchCatalogue, store = ctx.store, clock }: JourneyClientOptions = {}): Promise<JourneyClient> {
  const config = readConfig({ TEMPORAL_TASK_QUEUE: taskQueue, MAX_STARTS_IN_FLIGHT: String(ctx.settings.concurrency) }, PROJECT_ROOT);
  return (await compose(config, { store, catalogue, clock, temporal: { client: ctx.temporal } })).journeys;
}

const signup = (customerId: string, i: number) => ({ id: `${customerId}-signup-${i}`, type: BENCH_EVENT, customerId });

const startBaseline = (ctx: BenchContext, taskQueue: string) => (customerId: string) =>
  ctx.temporal.workflow.start<typeof baselineEmail>('baselineEmail', { taskQueue, workflowId: baselineRun(customerId), args: [`${customerId}@bench.example`] });
const baselineRun = (customerId: string) => `baseline:${customerId}`;

/** (a) bare one-activity workflows started straight with the Temporal client. */
export function baselinePhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  return timedPhase(ctx, {
    group: 'a',
    round,
    name: '(a) bare Temporal workflow',
    kind: 'baseline',
    count: ctx.settings.n,
    offer: closedLoop(ctx),
    holdsUntilEmail: ctx.settings.loop === 'email',
    submit: startBaseline(ctx, taskQueueOf(`a${round}`)),
    workflowIdOf: baselineRun,
  });
}

/**
 * (ai) the bare workflow with a journey's search attributes: started with all five, it sets the
 * step and the status at its end as a journey does. Between (a) and (b): what a journey's
 * indexing in Temporal's visibility costs, apart from everything else a journey does.
 */
export function indexedBaselinePhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  const taskQueue = taskQueueOf(`ai${round}`);
  return timedPhase(ctx, {
    group: 'ai',
    round,
    baselineGroup: 'a',
    name: '(ai) bare, journey search attributes',
    kind: 'baseline',
    count: ctx.settings.n,
    offer: closedLoop(ctx),
    holdsUntilEmail: ctx.settings.loop === 'email',
    submit: (customerId) =>
      ctx.temporal.workflow.start<typeof baselineEmailIndexed>('baselineEmailIndexed', {
        taskQueue,
        workflowId: baselineRun(customerId),
        args: [`${customerId}@bench.example`],
        typedSearchAttributes: journeySearchAttributes('baselineEmailIndexed', customerId),
      }),
    workflowIdOf: baselineRun,
  });
}

const journeySearchAttributes = (journeyId: string, customerId: string) => [
  { key: JOURNEY_ID, value: journeyId },
  { key: JOURNEY_VERSION, value: 'bench' },
  { key: CUSTOMER_ID, value: customerId },
  { key: JOURNEY_STEP, value: 'send' },
  { key: JOURNEY_STATUS, value: 'running' },
];

/**
 * A phase of the floor's workflow (baselineEmailFloor) on its own task queue, each event
 * recorded in the bench's SQLite file before the start returns, as JourneyClient.ingest
 * records it; the workflow's activity does the rest (bench/floorLedger.ts).
 */
async function floorPhase(ctx: BenchContext, round: number, phase: Omit<TimedPhase, 'round' | 'kind' | 'submit' | 'workflowIdOf'>): Promise<PhaseReport> {
  const taskQueue = taskQueueOf(`${phase.group}${round}`);
  const ledger = openFloorLedger(ctx.worker.storeFile);
  try {
    return await timedPhase(ctx, {
      ...phase,
      round,
      kind: 'baseline',
      submit: (customerId, i) => {
        const event = signup(customerId, i);
        ledger.recordEvent(event.id, customerId, event.type);
        return ctx.temporal.workflow.start<typeof baselineEmailFloor>('baselineEmailFloor', {
          taskQueue,
          workflowId: baselineRun(customerId),
          args: [`${customerId}@bench.example`, customerId],
          typedSearchAttributes: journeySearchAttributes('baselineEmailFloor', customerId),
        });
      },
      workflowIdOf: baselineRun,
    });
  } finally {
    ledger.close();
  }
}

/**
 * (af) the floor under a journey email: (ai) with the event recorded in SQLite before the start
 * returns, and the consent read and the two send-ledger writes around the email in the activity
 * (bench/floorLedger.ts), written by hand. What the product's guarantees cost bare Temporal on
 * this machine, whatever the code that keeps them: where (af) is below a target for (b), so is
 * any journey.
 */
export function floorBaselinePhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  return floorPhase(ctx, round, {
    group: 'af',
    baselineGroup: 'a',
    name: '(af) bare + what a journey email must store',
    count: ctx.settings.n,
    offer: closedLoop(ctx),
    holdsUntilEmail: ctx.settings.loop === 'email',
  });
}

/** (b) the same load as events through JourneyClient.ingest, on one journey worker. */
export function clientPhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  return ingestingPhase(ctx, { group: 'b', round, baselineGroup: 'a', name: '(b) JourneyClient.ingest', workers: 1 });
}

/** The (b) load on two journey worker processes polling one task queue: every email must still go out exactly once. */
export function twoWorkersPhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  return ingestingPhase(ctx, { group: 'w2', round, baselineGroup: 'b', name: '(w2) JourneyClient.ingest, 2 workers', workers: 2 });
}

async function ingestingPhase(ctx: BenchContext, phase: { group: RoundKey; round: number; baselineGroup: RoundKey; name: string; workers: number }): Promise<PhaseReport> {
  const journeys = await journeyClient(ctx, taskQueueOf(`${phase.group}${phase.round}`));
  return timedPhase(ctx, {
    ...phase,
    kind: 'journeys',
    count: ctx.settings.n,
    offer: closedLoop(ctx),
    holdsUntilEmail: ctx.settings.loop === 'email',
    submit: (customerId, i) => journeys.ingest(signup(customerId, i)),
    workflowIdOf: (customerId) => journeys.workflowIdOf('benchWelcome', customerId),
  });
}

/** (c) the same load as POST /v1/events to the HTTP API, served from this process as a deployed API runs beside its client. */
export async function httpPhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  const journeys = await journeyClient(ctx, taskQueueOf(`c${round}`));
  // No rate limit, as API_RATE_LIMIT=off: the bench measures what the path can do.
  const api = buildHttpApi({ journeys, store: ctx.store, bodyLimit: 256 * 1024 });
  const url = new URL(`${await api.listen({ host: '127.0.0.1', port: 0 })}/v1/events`);
  // A client as light as the baseline's gRPC start: global fetch spends several times the CPU
  // of undici's pool per request, in this process, beside the API it measures.
  const pool = new Pool(url.origin, { connections: ctx.settings.concurrency, pipelining: 1 });
  try {
    return await timedPhase(ctx, {
      group: 'c',
      round,
      baselineGroup: 'a',
      name: '(c) HTTP POST /v1/events',
      kind: 'journeys',
      count: ctx.settings.n,
      offer: closedLoop(ctx),
      holdsUntilEmail: ctx.settings.loop === 'email',
      submit: async (customerId, i) => {
        const response = await pool.request({ method: 'POST', path: url.pathname, headers: { 'content-type': 'application/json' }, body: JSON.stringify(signup(customerId, i)) });
        const answer = await response.body.text();
        if (response.statusCode !== 202) throw new Error(`POST /v1/events answered ${response.statusCode}: ${answer}`);
      },
      workflowIdOf: (customerId) => journeys.workflowIdOf('benchWelcome', customerId),
    });
  } finally {
    await pool.close();
    await api.close();
  }
}

/** Seconds of the steady rate offered before the timed `duration`, to the same worker processes. */
const STEADY_WARMUP_S = 2;
/**
 * Events offered at once when a steady phase starts, before its warm-up rate: enough sends at
 * the same time that a worker's SMTP pool opens every connection it may hold (5 in the product
 * and in the baseline). At 20/s sends seldom overlap, so the pool otherwise grew during the
 * timed seconds, and each connection it added waited ~100 ms for the outbox's greeting.
 */
const STEADY_WARMUP_BURST = 10;

/** A burst and the steady rate for the warm-up, then `duration` seconds at the rate, only the latter timed. */
const steadyOffer = (rate: number, duration: number) => ({
  // As many as offerAtRate offers after the burst.
  count: STEADY_WARMUP_BURST + Math.round(rate * (STEADY_WARMUP_S + duration)),
  warmup: STEADY_WARMUP_BURST + Math.round(rate * STEADY_WARMUP_S),
  offer: async (submit: (i: number) => Promise<void>) => {
    await Promise.all(Array.from({ length: STEADY_WARMUP_BURST }, (_, i) => submit(i)));
    await offerAtRate(rate, STEADY_WARMUP_S + duration, (i) => submit(STEADY_WARMUP_BURST + i));
  },
});

/** The bare workflow at the steady rate: the floor the steady journey latency is compared with. */
export function steadyBaselinePhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  const { rate, duration } = ctx.settings;
  return timedPhase(ctx, {
    group: 'sa',
    round,
    name: `steady ${rate}/s × ${duration} s (bare Temporal)`,
    kind: 'baseline',
    ...steadyOffer(rate, duration),
    submit: startBaseline(ctx, taskQueueOf(`sa${round}`)),
    workflowIdOf: baselineRun,
  });
}

/**
 * The floor (af) at the steady rate: its p99 beside the bare one is the least a journey's steady
 * p99 ratio can be on this machine, whatever the code that keeps a journey email's guarantees.
 */
export function steadyFloorPhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  const { rate, duration } = ctx.settings;
  return floorPhase(ctx, round, { group: 'saf', baselineGroup: 'sa', name: `steady ${rate}/s × ${duration} s (floor)`, ...steadyOffer(rate, duration) });
}

/** A steady offered rate through JourneyClient, for latency when the system is not saturated. */
export async function steadyPhase(ctx: BenchContext, round: number): Promise<PhaseReport> {
  const { rate, duration } = ctx.settings;
  const journeys = await journeyClient(ctx, taskQueueOf(`s${round}`));
  return timedPhase(ctx, {
    group: 's',
    round,
    baselineGroup: 'sa',
    name: `steady ${rate}/s × ${duration} s (JourneyClient)`,
    kind: 'journeys',
    ...steadyOffer(rate, duration),
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
