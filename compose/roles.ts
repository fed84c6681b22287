// The roles a composition runs: the worker (journeys' workflows and activities) and the HTTP
// API (with the public unsubscribe pages). Each stops when its composition closes.
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { buildHttpApi } from '../api/http';
import { temporalConnectionOptions, type Config } from '../config';
import { cacheDir } from '../config/cacheDir';
import { cachedWorkflowBundle } from '../worker/bundle';
import { createJourneyWorker } from '../worker';
import type { Composition } from './index';

export interface RunningWorker {
  worker: Worker;
  /** Settles once the worker has stopped polling and finished the activities in hand. */
  stopped: Promise<void>;
}

/** Polls the configured task queue with every journey's workflows and the activities built from the composition. */
export async function startWorkerRole(app: Composition, log: (line: string) => void = () => {}): Promise<RunningWorker> {
  const { config, overrides } = app;
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

/** The HTTP API and the unsubscribe pages on one listener, not listening yet: tests `inject` into it. */
export function httpApi(app: Composition, options: { logger?: boolean } = {}): FastifyInstance {
  return buildHttpApi({
    journeys: app.journeys,
    bodyLimit: app.config.http.bodyLimit,
    logger: options.logger,
    unsubscribe: { signer: app.unsubscribeSigner(), store: app.store, policy: app.policy, topics: app.topics },
    codec: app.payloadCodec && { codec: app.payloadCodec, allowedOrigins: embeddedWebUiOrigins(app.config) },
  });
}

/** The origins of the embedded dev server's Web UI, whose pages call /codec; none when TEMPORAL_ADDRESS names a Temporal of one's own. */
function embeddedWebUiOrigins(config: Config): string[] {
  if (config.temporal.address) return [];
  const { host } = config.http;
  const hosts = new Set([host.includes(':') ? `[${host}]` : host]);
  if (host === '127.0.0.1' || host === 'localhost' || host === '::1') hosts.add('127.0.0.1').add('localhost');
  return [...hosts].map((name) => `http://${name}:${config.temporal.uiPort}`);
}

/** The HTTP API listening where the settings say. */
export async function startHttpApi(app: Composition): Promise<FastifyInstance> {
  const api = httpApi(app);
  await api.listen({ host: app.config.http.host, port: app.config.http.port });
  app.onClose(() => api.close());
  return api;
}
