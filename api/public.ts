// The public listener: what customers and mailbox providers reach from the internet, and
// nothing else. The /v1 API is never served here, whatever its keys.
import type { FastifyInstance } from 'fastify';
import type { JourneyClient } from '../app/journeyClient';
import { providerWebhookRoutes, type ProviderWebhooksOptions } from './providerWebhooks';
import { createServer, type ServerOptions } from './server';
import { trackingRoutes, type TrackingRoutesOptions } from './tracking';
import { unsubscribeRoutes, type UnsubscribeRoutesOptions } from './unsubscribe';

export interface PublicApiOptions extends Omit<ServerOptions, 'rateLimit'> {
  journeys: JourneyClient;
  unsubscribe: UnsubscribeRoutesOptions;
  /** The open pixel (/o) and the click redirect (/c); absent: neither is served. */
  tracking?: TrackingRoutesOptions;
  /** The email providers' feedback webhooks (/webhooks/ses, /sendgrid, /mailgun, /postmark); absent: none is served. */
  providerWebhooks?: ProviderWebhooksOptions;
  /** Per client address. */
  rateLimit?: { max: number; windowMs: number };
}

/** `/u/<token>` (one-click unsubscribe and its page), `/o` and `/c` (tracking) and `/healthz`. Returned not listening. */
export function buildPublicApi({ journeys, unsubscribe, tracking, providerWebhooks, ...server }: PublicApiOptions): FastifyInstance {
  const app = createServer(server);
  app.register(unsubscribeRoutes({ ...unsubscribe, journeys }));
  if (tracking) app.register(trackingRoutes({ ...tracking, journeys }));
  if (providerWebhooks) app.register(providerWebhookRoutes({ ...providerWebhooks, journeys }));
  return app;
}
