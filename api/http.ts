// The private listener: the /v1 JSON API over JourneyClient, behind API keys (see auth.ts), and
// the Temporal Web UI's codec endpoint. Nothing here is for customers; /u lives on the public
// listener (public.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { apiKeyInputSchema, ApiKeyVerifier, createApiKey, listApiKeys } from '../app/apiKeys';
import { suppressionInputSchema } from '../app/customerRecords';
import { sendResolutionSchema, sendsQuerySchema } from '../app/sends';
import { PACKAGE_VERSION } from '../config';
import { consentChangeSchema, customerId as customerIdSchema, eventSchema, profileSchema } from '../domain/customer/schema';
import { parseInput } from '../app/errors';
import { batchModeSchema, type JourneyClient } from '../app/journeyClient';
import type { Store } from '../store/types';
import { registerApiKeyAuth, requireScope } from './auth';
import { codecAuthorizer, registerCodecRoutes, type CodecRoutesOptions } from './codec';
import { registerDashboard } from './dashboard/routes';
import { DashboardSessions } from './dashboard/sessions';
import { registerMetricsRoute } from './metrics';
import { collectOpenApi } from './openapi';
import { createServer, type ErrorBody, type ServerOptions } from './server';
import { registerScoreRoutes } from './scores';
import { registerReportRoutes } from './reports';
import { registerSourceRoutes, type SourceRoutesOptions } from './sources';

export interface HttpApiOptions extends Omit<ServerOptions, 'rateLimit'> {
  journeys: JourneyClient;
  /** Where API keys are kept; also checked for whether any exists (none: loopback callers only). */
  store: Store;
  /** Per key (per address for requests without one). */
  rateLimit?: { max: number; windowMs: number };
  /** Serves the Temporal Web UI's codec endpoint at /codec (PAYLOAD_KEYS set). Absent: no /codec route. */
  codec?: Omit<CodecRoutesOptions, 'authorize'>;
  /** The process's registry (compose's `metrics.registry`), served at GET /metrics to read keys. */
  metrics?: Registry;
  /** The clock key expiry and creation use; tests move it. */
  now?: () => Date;
  /** The secrets (and, for tests, the webhook mappings) of /v1/sources/*; absent: those routes answer that they are not configured. */
  sources?: Omit<SourceRoutesOptions, 'journeys' | 'now'>;
}

/** Most events one batch may carry: a larger one gets 413, to be sent in parts. */
export const MAX_BATCH_EVENTS = 500;

const batchQuerySchema = z.object({ mode: batchModeSchema.default('live') });
const batchBodySchema = z.object({ events: z.array(eventSchema).min(1).max(MAX_BATCH_EVENTS) });
const customerParams = z.object({ customerId: customerIdSchema });
const keyParams = z.object({ idOrName: z.string() });
const consentStatusOf = (body: unknown) => (body as { status?: unknown } | null)?.status;

/** The private API. Returned not listening: the caller picks the address, tests use `inject`. */
export function buildHttpApi(options: HttpApiOptions): FastifyInstance {
  const now = options.now ?? (() => new Date());
  const verifier = new ApiKeyVerifier(options.store, () => now().getTime());
  const limit = options.rateLimit && { ...options.rateLimit, keyOf: (request: FastifyRequest) => (request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`) };
  const server = createServer({ bodyLimit: options.bodyLimit, logger: options.logger, listenHost: options.listenHost, rateLimit: limit });
  const sessions = new DashboardSessions(() => now().getTime());
  registerApiKeyAuth(server, verifier, sessions.keyOf);
  const openApi = collectOpenApi(server, { title: 'journeys', version: PACKAGE_VERSION });
  // A plugin, so the routes are added after the rate limiter has loaded and is told of each.
  server.register(async (app) => {
    app.get('/v1/openapi.json', { config: { scope: 'read', doc: { summary: 'This document', responses: { 200: 'OpenAPI 3.1' } } } }, async () => openApi());
    routes(app, options, verifier, now);
    registerDashboard(app, { journeys: options.journeys, store: options.store, verifier, sessions, now });
  });
  return server;
}

function routes(app: FastifyInstance, { journeys, store, codec, metrics, sources }: HttpApiOptions, verifier: ApiKeyVerifier, now: () => Date): void {

  app.post('/v1/events', { config: { scope: 'ingest', doc: { summary: 'Record an event and route it to its journeys', body: eventSchema, responses: { 202: 'recorded (or a duplicate): `{eventId, duplicate, started, signalled, ignored?, routingPending?}`', 409: 'the id was recorded before with other contents' } } } }, async (request, reply) => reply.code(202).send(await journeys.ingest(request.body)));

  // `::` is a literal colon in a Fastify route (Google's custom-method style: /v1/events:batch).
  app.post('/v1/events::batch', { config: { scope: 'ingest', doc: { summary: 'Record up to 500 events, live or as history', query: batchQuerySchema, body: batchBodySchema, responses: { 202: '`{mode, results}`, one result per event in order', 413: 'more than 500 events' } } } }, async (request, reply) => {
    const { mode } = parseInput(batchQuerySchema, request.query, 'query');
    const events = (request.body as { events?: unknown } | null)?.events;
    if (Array.isArray(events) && events.length > MAX_BATCH_EVENTS) {
      return reply
        .code(413)
        .send({ error: 'batch_too_large', message: `a batch holds at most ${MAX_BATCH_EVENTS} events and this one has ${events.length}: send it in parts` } satisfies ErrorBody);
    }
    return reply.code(202).send(await journeys.ingestBatch(request.body, mode));
  });

  app.post('/v1/profiles', { config: { scope: 'ingest', doc: { summary: 'Create or update a profile (attributes are merged)', body: profileSchema, responses: { 200: '`{customerId, dropped?}`: `dropped` names attributes whose links LINK_HOSTS does not allow' } } } }, async (request) => {
    const { customerId, dropped } = await journeys.upsertProfile(request.body);
    return dropped ? { customerId, dropped } : { customerId };
  });

  // Withdrawing is what a preference centre does with an ingest key; granting sends email, so it is admin's.
  app.post('/v1/consent', { config: { scope: 'ingest', doc: { summary: 'Record a consent change (withdrawing needs ingest, granting admin)', body: consentChangeSchema, responses: { 200: '`{signalled}`: the running journey runs told of a withdrawal' } } } }, async (request) => {
    if (consentStatusOf(request.body) === 'granted') requireScope(request, 'admin', 'a consent grant');
    return journeys.changeConsent(request.body);
  });

  app.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/runs', { config: { scope: 'read', doc: { summary: "A customer's journey runs with status, current step and next wake-up", params: customerParams, responses: { 200: '`{customerId, runs}`' } } } }, async (request) => {
    const { customerId } = request.params;
    return { customerId, runs: await journeys.runsOf(customerId) };
  });

  app.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/audit', { config: { scope: 'read', doc: { summary: "The customer's story in time order", params: customerParams, responses: { 200: '`{customerId, entries}`' } } } }, async (request) => ({
    customerId: request.params.customerId,
    entries: await journeys.audit(request.params.customerId),
  }));

  app.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/segments', { config: { scope: 'read', doc: { summary: 'The segments a customer is in, with when they entered each', params: customerParams, responses: { 200: '`{customerId, segments}`' } } } }, async (request) => ({
    customerId: request.params.customerId,
    segments: await journeys.segmentsOf(request.params.customerId),
  }));

  app.get('/v1/sends', { config: { scope: 'read', doc: { summary: 'Sends in one state, oldest change first (default: in doubt)', query: sendsQuerySchema, responses: { 200: '`{sends}`' } } } }, async (request) => ({ sends: await journeys.sends(request.query) }));

  app.post('/v1/sends/resolve', { config: { scope: 'admin', doc: { summary: 'Settle a send in doubt: delivered, or resend the kept message', body: sendResolutionSchema, responses: { 200: '`{workflowId, stepId, status, note}`' } } } }, async (request) => journeys.resolveSend(request.body));

  app.post('/v1/suppressions', { config: { scope: 'admin', doc: { summary: 'Never mail an address again (a complaint also withdraws marketing consent)', body: suppressionInputSchema, responses: { 200: '`{suppressed: true}`' } } } }, async (request) => {
    await journeys.suppress(request.body);
    // Which customers have the address stays in the store: the answer would map addresses to customers.
    return { suppressed: true };
  });

  app.delete<{ Params: { customerId: string } }>('/v1/customers/:customerId', { config: { scope: 'admin', doc: { summary: 'Erase a customer for good (GDPR Art. 17)', params: customerParams, responses: { 200: '`{customerId, terminated, erased}`' } } } }, async (request) =>
    journeys.erase(request.params.customerId),
  );

  app.get('/v1/keys', { config: { scope: 'admin', doc: { summary: 'The API keys, without their secrets', responses: { 200: '`{keys}`' } } } }, async () => ({ keys: await listApiKeys(store) }));

  app.post('/v1/keys', { config: { scope: 'admin', doc: { summary: 'Create an API key; the answer is the only place it is shown', body: apiKeyInputSchema, responses: { 201: '`{key, summary}`' } } } }, async (request, reply) => reply.code(201).send(await createApiKey(store, request.body, now())));

  app.delete<{ Params: { idOrName: string } }>('/v1/keys/:idOrName', { config: { scope: 'admin', doc: { summary: 'Revoke an API key by id or name', params: keyParams, responses: { 200: '`{revoked}`', 404: 'no unrevoked key has that id or name' } } } }, async (request, reply) => {
    const { idOrName } = request.params;
    if (await store.revokeApiKey(idOrName, now().toISOString())) return { revoked: idOrName };
    return reply.code(404).send({ error: 'not_found', message: `no unrevoked API key has the id or name ${idOrName}` } satisfies ErrorBody);
  });

  if (codec) registerCodecRoutes(app, { ...codec, authorize: codecAuthorizer(verifier), verifier });

  registerSourceRoutes(app, { ...sources, journeys, now });

  registerScoreRoutes(app, store);

  registerReportRoutes(app, { store, journeys, now });

  if (metrics) registerMetricsRoute(app, metrics, { config: { scope: 'read' } });
}
