import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../config';
import { metricsSinks } from '../observability/sinks';

// The interpreter's entry: TypeScript when run from the sources, JavaScript from a build (dist/).
export const WORKFLOWS_PATH = ['index.js', 'index.ts'].map((file) => join(__dirname, '..', 'workflows', file)).find((path) => existsSync(path)) ?? '';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** One webpack bundle of the interpreter per process, for the workers a process starts and stops (tests, simulate). */
export function journeyWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  return bundle;
}

export interface JourneyWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle, where start-up time matters (tests, benchmarks). */
  workflowBundle?: WorkflowBundleOption;
  /**
   * How many journeys the worker keeps in memory between their workflow tasks (about 1 MB
   * each). Journeys mostly wait hours or days, so keeping them buys little: an evicted one
   * replays its short history when its timer fires.
   */
  maxCachedWorkflows?: number;
  /** The payload codec of PAYLOAD_KEYS (compose builds it); absent: Temporal's default data converter. */
  dataConverter?: DataConverter;
}

export function createJourneyWorker(options: JourneyWorkerOptions): Promise<Worker> {
  const workflows = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: WORKFLOWS_PATH };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflows,
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    activities: createActivities(options.deps),
    sinks: metricsSinks(options.deps.metrics),
    ...(options.dataConverter && { dataConverter: options.dataConverter }),
  });
}
