import { setFlagsFromString } from 'node:v8';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../config';
import { metricsSinks } from '../observability/sinks';
import { bundleJourneyWorkflows } from './bundle';
import { WORKFLOWS_PATH } from './paths';

export { WORKFLOWS_PATH };

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** One webpack bundle of the interpreter per process, for the workers a process starts and stops (tests, simulate). */
export function journeyWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleJourneyWorkflows();
  return bundle;
}

/**
 * The V8 young generation (per semi-space, in MB) of a worker's two threads. V8's default lets
 * it grow to 16 MB per semi-space, 32 MB per thread, and a worker keeps them grown: RSS that
 * holds nothing but short-lived garbage. The workflow thread (every journey's code, a V8 isolate
 * createJourneyWorker makes) allocates little per task and gets 1 MB. The main thread runs the
 * activities, whose sends allocate far more: at 1 MB it spent a fifth of its time in GC and the
 * bench's (b) phase lost 10–20 % of its throughput, so it gets 4 MB, from the command line
 * only: a worker is started as `node --max-semi-space-size=4 dist/cli/index.js worker`
 * (WORKER_NODE_FLAGS).
 */
export const WORKER_SEMI_SPACE_MB = { workflowThread: 1, mainThread: 4 };

/**
 * How far (in %) a V8 heap of the worker process may grow past what its last full GC kept
 * before the next one. V8 otherwise lets it reach up to 4 times that, and a worker's heaps are
 * mostly garbage of the workflow tasks and activities gone by: with 5,000 journeys parked, its
 * threads kept ~30 MB each and held 80 MB (main) and 75 MB (workflow thread). V8 reads it at
 * every GC, in every thread: startWorkerRole sets it for the worker process.
 *
 * Measured with `npm run bench -- --phases memory,waiting` (compiled JS, 5,000 waiting): RSS
 * 344 MB with neither setting, 271 MB with the young generation at 1 MB, 231 MB with both; a
 * worker's throughput in the bench's (b) phase did not change measurably (it spends a few %
 * more CPU in GC).
 */
export const WORKER_HEAP_GROWING_PERCENT = 30;

/** The Node flags a worker process is started with: `node ${WORKER_NODE_FLAGS} dist/cli/index.js worker`. */
export const WORKER_NODE_FLAGS = [`--max-semi-space-size=${WORKER_SEMI_SPACE_MB.mainThread}`];

export interface JourneyWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle, where start-up time matters (tests, benchmarks). */
  workflowBundle?: WorkflowBundleOption;
  /**
   * How many journeys the worker keeps in memory between their workflow tasks (about 0.3 MB
   * each, measured with the shared V8 context). Journeys mostly wait hours or days, so keeping
   * them buys little: an evicted one replays its short history when its timer fires.
   */
  maxCachedWorkflows?: number;
  /** The payload codec of PAYLOAD_KEYS (compose builds it); absent: Temporal's default data converter. */
  dataConverter?: DataConverter;
}

export function createJourneyWorker(options: JourneyWorkerOptions): Promise<Worker> {
  const workflows = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: WORKFLOWS_PATH };
  return withSmallWorkflowThreadHeap(() =>
    Worker.create({
      connection: options.connection,
      namespace: options.namespace,
      taskQueue: options.taskQueue,
      ...workflows,
      // The SDK's default (1.24), stated because memory depends on it: every cached journey
      // shares one V8 context in one workflow thread, instead of a context of its own.
      reuseV8Context: true,
      maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
      activities: createActivities(options.deps),
      sinks: metricsSinks(options.deps.metrics),
      ...(options.dataConverter && { dataConverter: options.dataConverter }),
    }),
  );
}

/**
 * The worker process's V8 heaps grow by WORKER_HEAP_GROWING_PERCENT past what they keep, from
 * now on (a process started with --heap-growing-percent of its own keeps the operator's choice).
 * For the process that is a worker (startWorkerRole), not for each Worker a test creates.
 */
export function limitWorkerHeapGrowth(): void {
  if (!nodeFlagChosen('heap-growing-percent')) setFlagsFromString(`--heap-growing-percent=${WORKER_HEAP_GROWING_PERCENT}`);
}

/** Whether the process was started with this V8 flag (on its command line or in NODE_OPTIONS). */
function nodeFlagChosen(name: string): boolean {
  return nodeFlags(name).length > 0;
}

/** The value the process was started with for a `--name=value` V8 flag, if any. */
function nodeFlagValue(name: string): string | undefined {
  return nodeFlags(name).at(-1)?.split('=')[1];
}

function nodeFlags(name: string): string[] {
  const pattern = new RegExp(`^--${name.replace(/-/g, '[-_]')}\\b`);
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((flag) => pattern.test(flag));
}

/**
 * Creates the worker, whose workflow thread (a V8 isolate of its own, made inside Worker.create)
 * then gets the small young generation of WORKER_SEMI_SPACE_MB: V8 reads the flag when it makes
 * an isolate, and the flag goes back to what the process started with afterwards, so nothing
 * else in the process is touched.
 */
async function withSmallWorkflowThreadHeap<T>(create: () => Promise<T>): Promise<T> {
  setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB.workflowThread}`);
  try {
    return await create();
  } finally {
    setFlagsFromString(`--max-semi-space-size=${nodeFlagValue('max-semi-space-size') ?? 0}`); // 0: V8's own sizing
  }
}
