import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EventIdConflictError, parseInput, ValidationError } from '../app/errors';
import { batchModeSchema, type JourneyClient } from '../app/journeyClient';
import { fromLoopback, registerCodecRoutes, type CodecRoutesOptions } from './codec';
import { unsubscribeRoutes, type UnsubscribeRoutesOptions } from './unsubscribe';

export interface HttpApiOptions {
  journeys: JourneyClient;
  /** Largest accepted request body in bytes; larger ones get 413 before they are read. */
  bodyLimit: number;
  /** Default true (Fastify's pino on stdout), so a 500 is never silent; false for quiet tests; an instance is used as it is. */
  logger?: boolean | FastifyBaseLogger;
  /** Serves the one-click unsubscribe endpoint and page at /u/<token>; absent, there is no /u route. */
  unsubscribe?: UnsubscribeRoutesOptions;
  /** Serves the Temporal Web UI's codec endpoint at /codec (PAYLOAD_KEYS set); `authorize` defaults to callers on loopback. Absent: no /codec route. */
  codec?: Omit<CodecRoutesOptions, 'authorize'> & Partial<Pick<CodecRoutesOptions, 'authorize'>>;
}

interface ErrorBody {
  error: string;
  message: string;
  problems?: { path: string; message: string }[];
  /** The event id a conflict is about. */
  eventId?: string;
}

/** Most events one batch may carry: a larger one gets 413, to be sent in parts. */
export const MAX_BATCH_EVENTS = 500;

const batchQuerySchema = z.object({ mode: batchModeSchema.default('live') });

/** The JSON API over JourneyClient. Returned not listening: the caller picks the address, tests use `inject`. */
export function buildHttpApi({ journeys, bodyLimit, logger = true, unsubscribe, codec }: HttpApiOptions): FastifyInstance {
  const sendError = (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const [status, body] = describeError(err, bodyLimit);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).send(body);
  };
  const options = {
    bodyLimit,
    // Fastify's default of 100 would answer 414 to valid 128-character customer IDs; up to 256, zod judges them.
    routerOptions: { maxParamLength: 256 },
    // Errors Fastify raises before routing (bad URL, over-long parameter) get the same JSON shape as the rest.
    frameworkErrors: sendError,
  };
  // Requests are not logged one by one; failures (5xx) are, at warn and above.
  const app: FastifyInstance =
    typeof logger === 'boolean' ? Fastify({ ...options, logger: logger && { level: 'warn' } }) : Fastify({ ...options, loggerInstance: logger });
  // Every body is JSON; without this, Fastify hands text/plain bodies through as strings.
  app.removeContentTypeParser('text/plain');

  app.get('/healthz', async () => ({ ok: true }));

  app.post('/v1/events', async (request, reply) => {
    const result = await journeys.ingest(request.body);
    return reply.code(202).send(result);
  });

  // `::` is a literal colon in a Fastify route (Google's custom-method style: /v1/events:batch).
  app.post('/v1/events::batch', async (request, reply) => {
    const { mode } = parseInput(batchQuerySchema, request.query, 'query');
    const events = (request.body as { events?: unknown } | null)?.events;
    if (Array.isArray(events) && events.length > MAX_BATCH_EVENTS) {
      return reply
        .code(413)
        .send({ error: 'batch_too_large', message: `a batch holds at most ${MAX_BATCH_EVENTS} events and this one has ${events.length}: send it in parts` } satisfies ErrorBody);
    }
    return reply.code(202).send(await journeys.ingestBatch(request.body, mode));
  });

  app.get('/v1/sends', async (request) => ({ sends: await journeys.sends(request.query) }));

  app.post('/v1/sends/resolve', async (request) => journeys.resolveSend(request.body));

  app.post('/v1/profiles', async (request) => {
    const profile = await journeys.upsertProfile(request.body);
    return { customerId: profile.customerId };
  });

  app.post('/v1/consent', async (request) => journeys.changeConsent(request.body));

  app.post('/v1/suppressions', async (request) => journeys.suppress(request.body));

  app.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/audit', async (request) => ({
    customerId: request.params.customerId,
    entries: await journeys.audit(request.params.customerId),
  }));

  app.delete<{ Params: { customerId: string } }>('/v1/customers/:customerId', async (request) => journeys.erase(request.params.customerId));

  app.get<{ Params: { customerId: string } }>('/v1/customers/:customerId/runs', async (request) => {
    const { customerId } = request.params;
    return { customerId, runs: await journeys.runsOf(customerId) };
  });

  if (unsubscribe) app.register(unsubscribeRoutes({ ...unsubscribe, journeys }));

  if (codec) registerCodecRoutes(app, { ...codec, authorize: codec.authorize ?? fromLoopback });

  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` } satisfies ErrorBody),
  );

  app.setErrorHandler(sendError);

  return app;
}

/** Turns a thrown error into the status and body a client can act on; only 4xx messages reach the client verbatim. */
function describeError(err: FastifyError, bodyLimit: number): [number, ErrorBody] {
  if (err instanceof ValidationError) {
    return [400, { error: 'invalid_request', message: err.message, problems: err.problems }];
  }
  if (err instanceof EventIdConflictError) {
    return [409, { error: 'event_id_conflict', message: err.message, eventId: err.eventId }];
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return [413, { error: 'payload_too_large', message: `the request body is larger than the limit of ${bodyLimit} bytes` }];
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return [415, { error: 'unsupported_media_type', message: 'send the body as JSON with "Content-Type: application/json"' }];
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY': {
      const message = err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'the body is empty; send a JSON object' : 'the body is not valid JSON';
      return [400, { error: 'invalid_json', message, problems: [{ path: '', message }] }];
    }
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return [err.statusCode, { error: 'bad_request', message: err.message }];
  }
  return [500, { error: 'internal_error', message: 'something went wrong on our side; the error is logged, try again later' }];
}
