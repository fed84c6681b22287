// Event sources on the private listener: Segment-spec calls from a CDP's webhook destination
// (POST /v1/sources/segment) and signed webhooks mapped by journeys/webhooks.ts
// (POST /v1/sources/webhook/:name). Both need an ingest key and a signature over the raw body,
// so each route's scope parses JSON itself and keeps the bytes it was signed over; the rest of
// the API keeps Fastify's parser.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isInteger, isSafeNumber, parse as parseLossless } from 'lossless-json';
import { z } from 'zod';
import type { JourneyClient } from '../app/journeyClient';
import { ingestSegment, MAX_SEGMENT_BATCH, type SegmentIngestResult } from '../app/sources/segment';
import { ingestWebhook } from '../app/sources/webhooks';
import type { WebhookSecret } from '../config/sources';
import { segmentBodySchema } from '../domain/sources/segmentSpec';
import { parseWebhookMappings, WEBHOOK_NAME, type WebhookMappingInput } from '../domain/sources/webhookMapping';
import { shippedWebhooks } from '../journeys/webhooks';
import type { ErrorBody } from './server';

export interface SourceRoutesOptions {
  journeys: JourneyClient;
  /** SEGMENT_SHARED_SECRET; absent: the Segment route answers 503 not_configured. */
  segmentSecret?: string;
  /** WEBHOOK_SECRETS; a mapped webhook without one answers 503 not_configured. */
  webhookSecrets?: WebhookSecret[];
  /** The webhook mappings: journeys/webhooks.ts when absent. */
  webhooks?: WebhookMappingInput[];
  /** The clock signature timestamps are judged by. */
  now: () => Date;
}

/** How far a webhook's signed timestamp may be from our clock, either way: an older signature may be a replay. */
export const SIGNATURE_TOLERANCE_S = 300;

const webhookParams = z.object({ name: z.string().regex(WEBHOOK_NAME) });
const webhookBody = z.record(z.string(), z.unknown()).describe('the platform\'s JSON payload, as its webhook sends it');

export function registerSourceRoutes(app: FastifyInstance, options: SourceRoutesOptions): void {
  const { journeys, segmentSecret, webhookSecrets = [], now } = options;
  const mappings = parseWebhookMappings(options.webhooks ?? shippedWebhooks);
  for (const { name } of webhookSecrets) {
    if (!mappings.has(name)) throw new Error(`WEBHOOK_SECRETS has a secret for webhook "${name}", but journeys/webhooks.ts declares none of that name (it declares ${[...mappings.keys()].join(', ') || 'none'})`);
  }

  app.register(async (scope) => {
    const rawBodies = rawBodyParser(scope, (text) => JSON.parse(text) as unknown);
    scope.post(
      '/v1/sources/segment',
      {
        config: {
          scope: 'ingest',
          doc: {
            summary: 'Segment-spec track, identify, page and screen calls, one or a batch, signed with SEGMENT_SHARED_SECRET (X-Signature: hex HMAC-SHA1 of the body, or X-Shared-Secret)',
            body: segmentBodySchema,
            responses: {
              202: '`{batch, results}`: per call its outcome (`recorded`, `duplicate`, `profile_upserted`, `merged`, `ignored`, `error`); in a batch a bad call is its own error and the others go on',
              409: 'a single call whose messageId was recorded before with other contents',
              413: `a batch of more than ${MAX_SEGMENT_BATCH} calls`,
              503: 'SEGMENT_SHARED_SECRET is not set',
            },
          },
        },
      },
      async (request, reply) => {
        if (segmentSecret === undefined) return notConfigured(reply, 'POST /v1/sources/segment verifies a shared secret and none is set: set SEGMENT_SHARED_SECRET to the shared secret of the Segment or RudderStack destination');
        const refused = segmentSignatureProblem(request, rawBodies.get(request) ?? Buffer.alloc(0), segmentSecret);
        if (refused) return unauthorized(reply, refused);
        const calls = (request.body as { batch?: unknown } | null)?.batch;
        if (Array.isArray(calls) && calls.length > MAX_SEGMENT_BATCH) {
          return reply.code(413).send({ error: 'batch_too_large', message: `a batch holds at most ${MAX_SEGMENT_BATCH} calls and this one has ${calls.length}: send it in parts` } satisfies ErrorBody);
        }
        const answer = await ingestSegment(journeys, request.body);
        return refusedWhole(answer, reply) ?? reply.code(202).send(answer);
      },
    );
  });

  app.register(async (scope) => {
    // Shopify's order and customer ids have 18 digits, past what a JS number holds exactly: such integers arrive as their digits.
    const rawBodies = rawBodyParser(scope, (text) => parseLossless(text, null, (digits) => (isInteger(digits) && !isSafeNumber(digits) ? digits : Number(digits))));
    scope.post<{ Params: { name: string } }>(
      '/v1/sources/webhook/:name',
      {
        config: {
          scope: 'ingest',
          doc: {
            summary: 'A signed webhook mapped to an event by journeys/webhooks.ts (Webhook-Timestamp: unix seconds; Webhook-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">; older than five minutes: 401)',
            params: webhookParams,
            body: webhookBody,
            responses: {
              202: 'recorded (or a duplicate): `{eventId, duplicate, started, signalled, ignored?, routingPending?}`',
              404: 'no webhook of that name is declared',
              409: 'the mapped event id was recorded before with other contents',
              503: 'WEBHOOK_SECRETS has no secret for this webhook',
            },
          },
        },
      },
      async (request, reply) => {
        const { name } = request.params;
        const mapping = mappings.get(name);
        if (!mapping) {
          return reply.code(404).send({ error: 'not_found', message: `no webhook named ${name}: journeys/webhooks.ts declares ${[...mappings.keys()].join(', ') || 'none'}` } satisfies ErrorBody);
        }
        const secrets = webhookSecrets.filter((entry) => entry.name === name).map((entry) => entry.secret);
        if (secrets.length === 0) return notConfigured(reply, `webhook ${name} has no secret to verify its signature with: set WEBHOOK_SECRETS=${name}:<secret>`);
        const refused = webhookSignatureProblem(request, rawBodies.get(request) ?? Buffer.alloc(0), secrets, now());
        if (refused) return unauthorized(reply, refused);
        return reply.code(202).send(await ingestWebhook(journeys, mapping, request.body));
      },
    );
  });
}

/** A JSON parser for this scope only that keeps each request's raw bytes for its signature check. */
function rawBodyParser(scope: FastifyInstance, parse: (text: string) => unknown): WeakMap<object, Buffer> {
  const rawBodies = new WeakMap<object, Buffer>();
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    rawBodies.set(request, raw);
    if (raw.length === 0) return done(Object.assign(new Error('the body is empty'), { code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }), undefined);
    try {
      done(null, parse(raw.toString('utf8')));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }), undefined);
    }
  });
  return rawBodies;
}

/**
 * Segment's webhook destinations sign with the shared secret: `X-Signature`, the hex HMAC-SHA1
 * of the body. A sender that can only add fixed headers (RudderStack's webhook destination)
 * sends the secret itself as `X-Shared-Secret`, which only https keeps private.
 */
function segmentSignatureProblem(request: FastifyRequest, raw: Buffer, secret: string): string | undefined {
  const signature = header(request, 'x-signature');
  if (signature !== undefined) {
    const expected = createHmac('sha1', secret).update(raw).digest('hex');
    return sameText(signature.toLowerCase(), expected) ? undefined : 'X-Signature does not match the body: it must be the hex HMAC-SHA1 of the exact body with SEGMENT_SHARED_SECRET';
  }
  const shared = header(request, 'x-shared-secret');
  if (shared !== undefined) return sameText(shared, secret) ? undefined : 'X-Shared-Secret is not SEGMENT_SHARED_SECRET';
  return 'sign the body: X-Signature with the hex HMAC-SHA1 of the body and SEGMENT_SHARED_SECRET (as Segment sends it), or X-Shared-Secret with the secret itself';
}

/** `Webhook-Timestamp` (unix seconds) and `Webhook-Signature: v1=<hex>`, several separated by commas or spaces while a secret rotates. */
function webhookSignatureProblem(request: FastifyRequest, raw: Buffer, secrets: string[], now: Date): string | undefined {
  const timestamp = header(request, 'webhook-timestamp');
  const signatures = header(request, 'webhook-signature');
  if (timestamp === undefined || signatures === undefined) {
    return 'sign the webhook: Webhook-Timestamp with the unix time in seconds, and Webhook-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the webhook\'s secret>';
  }
  if (!/^\d{1,12}$/.test(timestamp)) return 'Webhook-Timestamp must be the unix time in whole seconds';
  const age = Math.round(now.getTime() / 1000) - Number(timestamp);
  if (Math.abs(age) > SIGNATURE_TOLERANCE_S) {
    return age > 0
      ? `Webhook-Timestamp is ${age} s old: signatures older than ${SIGNATURE_TOLERANCE_S / 60} minutes are refused, so a captured request cannot be replayed; sign when sending`
      : `Webhook-Timestamp is ${-age} s in the future: more than ${SIGNATURE_TOLERANCE_S / 60} minutes ahead is refused; check the sender's clock`;
  }
  const given = signatures
    .split(/[\s,]+/)
    .filter((part) => part.startsWith('v1='))
    .map((part) => part.slice(3).toLowerCase());
  if (given.length === 0) return 'Webhook-Signature has no v1=<hex> signature';
  const signed = Buffer.concat([Buffer.from(`${timestamp}.`), raw]);
  const expected = secrets.map((secret) => createHmac('sha256', secret).update(signed).digest('hex'));
  // Every comparison runs, so the time taken tells nothing about which one matched.
  const matches = given.flatMap((signature) => expected.map((hex) => sameText(signature, hex)));
  return matches.includes(true) ? undefined : 'Webhook-Signature does not match: v1 must be the hex HMAC-SHA256 of "<Webhook-Timestamp>.<exact body>" with the webhook\'s secret';
}

/** Compares in constant time: both sides are hashed first, so neither length nor content shows in the time taken. */
function sameText(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const text = Array.isArray(value) ? value.join(',') : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/** A single call (or a malformed batch) that failed is refused as a whole, as POST /v1/events refuses an event: 400 or 409. */
function refusedWhole({ batch, results }: SegmentIngestResult, reply: FastifyReply) {
  const [only] = results;
  if (batch || only?.outcome !== 'error') return undefined;
  if (only.error === 'event_id_conflict') return reply.code(409).send({ error: 'event_id_conflict', message: only.message, eventId: only.messageId } satisfies ErrorBody);
  return reply.code(400).send({ error: 'invalid_request', message: only.message, problems: only.problems } satisfies ErrorBody);
}

function unauthorized(reply: FastifyReply, message: string) {
  return reply.code(401).send({ error: 'invalid_signature', message } satisfies ErrorBody);
}

function notConfigured(reply: FastifyReply, message: string) {
  return reply.code(503).send({ error: 'not_configured', message } satisfies ErrorBody);
}
