import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * `GET /metrics` in Prometheus's text format: the process's registry (compose's
 * `metrics.registry`). `routeOptions` is merged into the route definition, e.g.
 * `{ config: { scope: 'read' } }` on the private listener.
 */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry, routeOptions: RouteShorthandOptions = {}): void {
  app.get('/metrics', routeOptions, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}
