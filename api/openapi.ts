// The OpenAPI 3.1 description of the private API, built from the routes themselves: each /v1
// route carries its doc in its config, with the zod schemas JourneyClient validates with, so
// the document cannot drift from what the API accepts. A /v1 route without a doc cannot be
// registered.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiKeyScope } from '../store/types';

export interface RouteDoc {
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** Path parameters, as an object schema keyed by name. */
  params?: z.ZodObject;
  /** Status → what it means; 401/403 (and 429) are added for every route. */
  responses: Record<number, string>;
  /** The JSON body of the 200 answer, when the route documents it. */
  response?: z.ZodType;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    doc?: RouteDoc;
  }
}

interface DocumentedRoute {
  method: string;
  url: string;
  scope: ApiKeyScope;
  doc: RouteDoc;
}

/** Collects the documented routes as they are registered; call the result for the document. */
export function collectOpenApi(app: FastifyInstance, info: { title: string; version: string }): () => object {
  const routes: DocumentedRoute[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1') || route.method === 'HEAD') return;
    const { doc, scope } = route.config ?? {};
    if (!doc || !scope || scope === 'public') throw new Error(`${String(route.method)} ${route.url} needs config.doc and a key scope to be part of the API`);
    for (const method of [route.method].flat()) routes.push({ method: method.toLowerCase(), url: route.url, scope, doc });
  });
  return () => document(routes, info);
}

function document(routes: DocumentedRoute[], info: { title: string; version: string }): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const { method, url, scope, doc } of routes) {
    const path = openApiPath(url);
    (paths[path] ??= {})[method] = {
      summary: doc.summary,
      operationId: `${method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      description: `Needs an API key with scope \`${scope}\` (or \`admin\`).`,
      security: [{ apiKey: [] }],
      'x-scope': scope,
      parameters: [...parametersOf(doc.params, 'path'), ...parametersOf(doc.query, 'query')],
      ...(doc.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(doc.body) } } } }),
      responses: {
        ...Object.fromEntries(
          Object.entries(doc.responses).map(([status, description]) => [
            status,
            { description, ...(status === '200' && doc.response && { content: { 'application/json': { schema: jsonSchema(doc.response, 'output') } } }) },
          ]),
        ),
        400: { description: 'invalid request: `problems` names each field path and what is wrong', content: errorContent },
        401: { description: 'no API key, or an unknown or revoked one', content: errorContent },
        403: { description: `the key's scope does not allow this (needs ${scope})`, content: errorContent },
        429: { description: 'over API_RATE_LIMIT for this key', content: errorContent },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'The private API of journeys. The public listener serves only /u/*, /o/*, /c/* and /healthz.' },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from `journeys keys create`: jk_…' } },
      schemas: { Error: jsonSchema(errorSchema) },
    },
    paths,
  };
}

const errorSchema = z.object({
  error: z.string(),
  message: z.string(),
  problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

/** `/v1/customers/:customerId/runs` → `/v1/customers/{customerId}/runs`; `::` is Fastify's literal colon. */
function openApiPath(url: string): string {
  return url
    .split('::')
    .map((part) => part.replace(/:([A-Za-z]+)/g, '{$1}'))
    .join(':');
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): object[] {
  if (!schema) return [];
  const object = jsonSchema(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    schema: property,
  }));
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): object {
  // OpenAPI 3.1 speaks JSON Schema 2020-12 itself: the dialect line is left out.
  const described: Record<string, unknown> = { ...z.toJSONSchema(schema, { io, unrepresentable: 'any' }) };
  delete described.$schema;
  return described;
}
