import type { FastifyInstance } from 'fastify';
import { buildPublicApi } from '../../api/public';
import type { JourneyEnv } from './journeyEnv';

/**
 * The public listener of a journey env with tracking recorded, not yet listening. Sends are
 * stamped on Temporal's clock, which the test server skips ahead, so opens and clicks are too.
 */
export function trackingListener(t: JourneyEnv, options: { scannerWindowMs?: number } = {}): FastifyInstance {
  return buildPublicApi({
    journeys: t.client,
    bodyLimit: 64 * 1024,
    logger: false,
    listenHost: '127.0.0.1',
    unsubscribe: { signer: t.app.unsubscribeSigner(), store: t.store, policy: t.app.policy, topics: t.app.topics },
    tracking: {
      signer: t.app.trackingSigner(),
      store: t.store,
      linkHosts: t.app.config.linkHosts,
      scannerWindowMs: options.scannerWindowMs ?? 10_000,
      record: true,
      clock: async () => new Date(await t.env.currentTimeMs()),
    },
  });
}
