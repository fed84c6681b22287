// The worker role: journeys' workflows and activities. It stops when its composition closes.
// The HTTP API role is in ./apiRole, so a worker never loads Fastify.
import { NativeConnection, type Worker } from '@temporalio/worker';
import { ConfigError, temporalConnectionOptions } from '../config';
import { cacheDir } from '../config/cacheDir';
import { cachedWorkflowBundle } from '../worker/bundle';
import { createJourneyWorker, limitWorkerHeapGrowth } from '../worker';
import { serveMetrics } from '../observability/server';
import type { Composition } from './index';

export interface RunningWorker {
  worker: Worker;
  /** Settles once the worker has stopped polling and finished the activities in hand. */
  stopped: Promise<void>;
}

/** Polls the configured task queue with every journey's workflows and the activities built from the composition. */
export async function startWorkerRole(app: Composition, log: (line: string) => void = () => {}): Promise<RunningWorker> {
  const { config, overrides } = app;
  // This process is a worker: its heaps stay close to what they hold (see worker/index.ts).
  limitWorkerHeapGrowth();
  await serveWorkerMetrics(app, log);
  let connection = overrides.temporal?.workerConnection;
  if (!connection) {
    const own = await NativeConnection.connect(temporalConnectionOptions(config));
    app.onClose(() => own.close());
    connection = own;
  }
  const worker = await createJourneyWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    maxCachedWorkflows: config.maxCachedWorkflows,
    workflowBundle: overrides.workflowBundle ?? (await cachedWorkflowBundle(cacheDir(), log)),
    deps: app.activityDeps(),
    dataConverter: app.dataConverter,
  });
  const stopped = worker.run();
  app.onClose(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await stopped;
  });
  return { worker, stopped };
}

/** METRICS_PORT: a worker has no HTTP API, so it serves the process's /metrics on a listener of its own. */
export async function serveWorkerMetrics(app: Composition, log: (line: string) => void): Promise<void> {
  const { host, port } = app.config.metrics;
  if (port === undefined) return;
  const server = await serveMetrics(app.metrics.registry, { host, port }).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot serve metrics on ${host}:${port} (METRICS_HOST, METRICS_PORT): ${err.code ?? err.message}`);
  });
  app.onClose(() => server.close());
  log(`metrics on ${server.url}`);
}
