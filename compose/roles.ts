// The roles a composition runs: the worker (journeys' workflows and activities) and the HTTP
// API (with the public unsubscribe pages). Each stops when its composition closes.
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { buildHttpApi } from '../api/http';
import { buildPublicApi } from '../api/public';
import { ConfigError, temporalConnectionOptions, type Config } from '../config';
import { isLoopbackHost, urlHost } from '../config/hosts';
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

/** The private API (/v1, /codec), not listening yet: tests `inject` into it. */
export function httpApi(app: Composition, options: { logger?: boolean } = {}): FastifyInstance {
  const { http } = app.config;
  return buildHttpApi({
    journeys: app.journeys,
    store: app.store,
    bodyLimit: http.bodyLimit,
    logger: options.logger,
    listenHost: http.host,
    rateLimit: http.rateLimit,
    codec: app.payloadCodec && { codec: app.payloadCodec, allowedOrigins: webUiOrigins(app.config) },
    metrics: app.metrics.registry,
  });
}

/** The public listener (/u, /healthz), not listening yet. */
export function publicApi(app: Composition, options: { logger?: boolean } = {}): FastifyInstance {
  const { public: listener, http } = app.config;
  return buildPublicApi({
    journeys: app.journeys,
    bodyLimit: http.bodyLimit,
    logger: options.logger,
    listenHost: listener.host,
    rateLimit: listener.rateLimit,
    unsubscribe: { signer: app.unsubscribeSigner(), store: app.store, policy: app.policy, topics: app.topics },
  });
}

/** The Web UIs whose pages call /codec: the embedded dev server's (unless TEMPORAL_ADDRESS names a Temporal of one's own) and TEMPORAL_UI_ORIGINS. */
function webUiOrigins(config: Config): string[] {
  if (config.temporal.address) return config.temporalUiOrigins;
  const host = config.temporal.devServerHost;
  const hosts = new Set([urlHost(host)]);
  if (isLoopbackHost(host)) hosts.add('127.0.0.1').add('localhost');
  return [...[...hosts].map((name) => `http://${name}:${config.temporal.uiPort}`), ...config.temporalUiOrigins];
}

export interface HttpListeners {
  private: FastifyInstance;
  public: FastifyInstance;
  /** What to tell the operator about who may call the private API. */
  access: string;
}

/**
 * Both listeners, where the settings say. The private one goes beyond loopback only once an
 * API key exists: otherwise anyone who reaches the port could erase customers.
 */
export async function startHttpApi(app: Composition): Promise<HttpListeners> {
  const { http, public: listener } = app.config;
  const keysExist = await app.store.hasActiveApiKeys();
  if (!isLoopbackHost(http.host) && !keysExist) {
    throw new ConfigError(
      `HOST=${http.host} would serve the private API (/v1) beyond this machine, but no API key exists: ` +
        'create one with `journeys keys create --name NAME --scope admin` first, or keep HOST on 127.0.0.1',
    );
  }
  const started: FastifyInstance[] = [];
  for (const [api, { host, port }] of [
    [httpApi(app), http],
    [publicApi(app), listener],
  ] as const) {
    await api.listen({ host, port });
    app.onClose(() => api.close());
    started.push(api);
  }
  const access = keysExist ? 'API keys required' : 'no API key yet: loopback callers only (journeys keys create --name NAME --scope SCOPE)';
  return { private: started[0], public: started[1], access };
}

/** METRICS_PORT: a worker has no HTTP API, so it serves the process's /metrics on a listener of its own. */
async function serveWorkerMetrics(app: Composition, log: (line: string) => void): Promise<void> {
  const { host, port } = app.config.metrics;
  if (port === undefined) return;
  const server = await serveMetrics(app.metrics.registry, { host, port }).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot serve metrics on ${host}:${port} (METRICS_HOST, METRICS_PORT): ${err.code ?? err.message}`);
  });
  app.onClose(() => server.close());
  log(`metrics on ${server.url}`);
}
