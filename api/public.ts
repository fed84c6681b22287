// The public listener: what customers and mailbox providers reach from the internet, and
// nothing else. The /v1 API is never served here, whatever its keys.
import type { FastifyInstance } from 'fastify';
import type { JourneyClient } from '../app/journeyClient';
import { createServer, type ServerOptions } from './server';
import { unsubscribeRoutes, type UnsubscribeRoutesOptions } from './unsubscribe';

export interface PublicApiOptions extends Omit<ServerOptions, 'rateLimit'> {
  journeys: JourneyClient;
  unsubscribe: UnsubscribeRoutesOptions;
  /** Per client address. */
  rateLimit?: { max: number; windowMs: number };
}

/** `/u/<token>` (one-click unsubscribe and its page) and `/healthz`. Returned not listening. */
export function buildPublicApi({ journeys, unsubscribe, ...server }: PublicApiOptions): FastifyInstance {
  const app = createServer(server);
  app.register(unsubscribeRoutes({ ...unsubscribe, journeys }));
  return app;
}
