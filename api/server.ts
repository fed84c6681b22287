// What both listeners share: Fastify with JSON errors a client can act on, no request logging
// (a key or a token in a URL must never reach a log), and the Host check that keeps a
// loopback-only listener from answering a page of another site after DNS rebinding.
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { EventIdConflictError, ValidationError } from '../app/errors';
import { isLoopbackHost } from '../config/hosts';

/** What each listener is built with, whoever serves it. */
export interface ServerOptions {
  /** Largest accepted request body in bytes; larger ones get 413 before they are read. */
  bodyLimit: number;
  /** Default true (Fastify's pino on stdout), so a 500 is never silent; false for quiet tests; an instance is used as it is. */
  logger?: boolean | FastifyBaseLogger;
  /** The interface the listener binds to: on loopback, requests must name a loopback host. Absent: no Host check (inject, tests). */
  listenHost?: string;
  /** At most `max` requests per `windowMs` per `keyOf` (default: the client address). Absent: no limit. */
  rateLimit?: { max: number; windowMs: number; keyOf?: (request: FastifyRequest) => string };
}

export interface ErrorBody {
  error: string;
  message: string;
  problems?: { path: string; message: string }[];
  /** The event id a conflict is about. */
  eventId?: string;
}

export function createServer({ bodyLimit, logger = true, listenHost, rateLimit: limit }: ServerOptions): FastifyInstance {
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
  // Requests are not logged one by one; failures (5xx) are, at warn and above, without headers.
  const app: FastifyInstance =
    typeof logger === 'boolean' ? Fastify({ ...options, logger: logger && { level: 'warn' } }) : Fastify({ ...options, loggerInstance: logger });
  // Every body is JSON; without this, Fastify hands text/plain bodies through as strings.
  app.removeContentTypeParser('text/plain');

  if (listenHost !== undefined && isLoopbackHost(listenHost)) {
    app.addHook('onRequest', async (request, reply) => {
      if (!isLoopbackHost(hostName(request.headers.host ?? ''))) {
        return reply.code(403).send({
          error: 'host_not_allowed',
          message: `this listener serves this machine only and answers requests for 127.0.0.1, localhost or [::1], not ${request.headers.host ?? 'no Host'}`,
        } satisfies ErrorBody);
      }
    });
  }
  // Loaded before the caller's routes, which it registers as a plugin of its own (see http.ts), so its limit reaches them.
  if (limit) {
    app.register(rateLimit, {
      max: limit.max,
      timeWindow: limit.windowMs,
      // After authentication, so a key's requests count against the key wherever they come from.
      hook: 'preHandler',
      keyGenerator: limit.keyOf ?? ((request) => request.ip),
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        error: 'rate_limited',
        message: `too many requests: at most ${context.max} in ${context.after}; retry in ${Math.ceil(context.ttl / 1000)} s`,
      }),
    });
  }

  app.get('/healthz', { config: { rateLimit: false } }, async () => ({ ok: true }));
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } satisfies ErrorBody),
  );
  app.setErrorHandler(sendError);
  return app;
}

/** The host name of a Host header: `[::1]:3000` → `::1`, `localhost:3000` → `localhost`. */
function hostName(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed) return bracketed[1];
  return header.replace(/:\d+$/, '').toLowerCase();
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
  if (err.statusCode === 403) return [403, { error: 'forbidden', message: err.message }];
  if (err.statusCode === 429) return [429, { error: 'rate_limited', message: err.message }];
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return [err.statusCode, { error: 'bad_request', message: err.message }];
  }
  return [500, { error: 'internal_error', message: 'something went wrong on our side; the error is logged, try again later' }];
}
