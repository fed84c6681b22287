// The HTTP API role: the private listener (/v1, /codec, /metrics) and the public one (/u,
// /healthz). Both stop when their composition closes.
import type { FastifyInstance } from 'fastify';
import { buildHttpApi } from '../api/http';
import { buildPublicApi } from '../api/public';
import { fetchFromAmazonSns } from '../api/providerWebhooks';
import { ConfigError, type Config } from '../config';
import { isLoopbackHost, urlHost } from '../config/hosts';
import type { Composition } from './index';

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
    sources: app.config.sources,
  });
}

/** The public listener (/u, /o, /c, /healthz), not listening yet. */
export function publicApi(app: Composition, options: { logger?: boolean } = {}): FastifyInstance {
  const { public: listener, http } = app.config;
  return buildPublicApi({
    journeys: app.journeys,
    bodyLimit: http.bodyLimit,
    logger: options.logger,
    listenHost: listener.host,
    rateLimit: listener.rateLimit,
    unsubscribe: { signer: app.unsubscribeSigner(), store: app.store, policy: app.policy, topics: app.topics },
    // Served with TRACKING=off too, recording nothing, so links in emails sent before still lead where they did.
    tracking: {
      signer: app.trackingSigner(),
      store: app.store,
      linkHosts: app.config.linkHosts,
      scannerWindowMs: app.config.tracking.scannerWindowMs,
      record: app.config.tracking.enabled,
    },
    // The one place SNS is reached over the network; tests hand buildPublicApi a fetch of their own.
    providerWebhooks: { settings: app.config.providerFeedback, store: app.store, fetchFromSns: fetchFromAmazonSns },
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
