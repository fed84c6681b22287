// Email providers' feedback webhooks on the public listener: no API key, each provider's own
// authentication instead (SNS signatures for Amazon SES, SendGrid's Signed Event Webhook,
// Mailgun's HMAC, Postmark's basic auth). A call that fails it gets 401 and changes nothing; a
// provider without settings answers 404. What passes is recorded by app/providerFeedback.ts.
import { X509Certificate } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError, parseInput } from '../app/errors';
import { recordFeedback, type ProviderFeedbackDeps } from '../app/providerFeedback';
import type { ProviderFeedbackSettings } from '../domain/delivery/providers/feedback';
import { mailgunFeedback, mailgunSignatureValid, mailgunWebhookSchema } from '../domain/delivery/providers/mailgun';
import { postmarkAuthValid, postmarkFeedback, postmarkRecordSchema } from '../domain/delivery/providers/postmark';
import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, sendgridEventsSchema, sendgridFeedback, sendgridPublicKey, sendgridSignatureValid } from '../domain/delivery/providers/sendgrid';
import { isSnsCertificateUrl, isSnsUrl, sesFeedback, snsMessageSchema, snsSignatureValid } from '../domain/delivery/providers/ses';
import type { ErrorBody } from './server';

/** GETs a URL and resolves with the body; rejects unless the answer is 2xx. */
export type FetchText = (url: string) => Promise<string>;

export interface ProviderWebhooksOptions {
  settings: ProviderFeedbackSettings;
  store: ProviderFeedbackDeps['store'];
  /** Fetches SNS signing certificates and visits SNS subscription URLs; only URLs on SNS's own hosts reach it. */
  fetchFromSns: FetchText;
}

/** SendGrid posts batches of up to 768 KB; SNS messages and Postmark bounce dumps stay well under. */
const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** SNS signs with one certificate per region at a time, so a handful covers every rotation. */
const CACHED_CERTIFICATES = 16;

/** The real fetch: https only (the URL says so), no redirects (they could lead off SNS's hosts), 10 s at most. */
export const fetchFromAmazonSns: FetchText = async (url) => {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${new URL(url).origin} answered ${response.status}`);
  return response.text();
};

export function providerWebhookRoutes(options: ProviderWebhooksOptions & { journeys: ProviderFeedbackDeps['journeys'] }) {
  const { settings, fetchFromSns } = options;
  const deps: ProviderFeedbackDeps = { store: options.store, journeys: options.journeys };
  const sendgridKey = settings.sendgrid && sendgridPublicKey(settings.sendgrid.publicKey);
  const certificates = new Map<string, X509Certificate>();

  const certificateAt = async (url: string) => {
    const cached = certificates.get(url);
    if (cached) return cached;
    const certificate = new X509Certificate(await fetchFromSns(url));
    if (certificates.size >= CACHED_CERTIFICATES) certificates.delete(certificates.keys().next().value as string);
    certificates.set(url, certificate);
    return certificate;
  };

  return async function routes(scope: FastifyInstance) {
    // Signatures cover the bytes sent, so every body stays raw until checked, whatever its type
    // (SNS posts its JSON as text/plain). Encapsulated: the rest of the listener is unchanged.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const routeOptions = (summary: string, setting: string, body: z.ZodType) => ({
      bodyLimit: WEBHOOK_BODY_LIMIT,
      config: {
        scope: 'public' as const,
        doc: {
          summary,
          body,
          responses: {
            200: 'accepted: `{recorded, duplicates, unmatched}`, the event ids recorded now and before, and the notifications about no send of ours',
            401: "the call failed the provider's authentication: nothing was recorded",
            404: `not configured: set ${setting}`,
          },
        },
      },
    });

    scope.post('/webhooks/ses', routeOptions('Amazon SES feedback through an SNS subscription (signed by SNS)', 'SES_SNS_TOPIC_ARNS', snsMessageSchema), async (request, reply) => {
      if (!settings.ses) return notConfigured(reply, 'Amazon SES', 'SES_SNS_TOPIC_ARNS');
      const parsed = snsMessageSchema.safeParse(jsonOf(request.body));
      if (!parsed.success) return refuse(reply, 'this is not a signed Amazon SNS message');
      const message = parsed.data;
      if (!settings.ses.topicArns.includes(message.TopicArn)) return refuse(reply, `topic ${message.TopicArn} is not in SES_SNS_TOPIC_ARNS`);
      if (!isSnsCertificateUrl(message.SigningCertURL)) return refuse(reply, 'SigningCertURL is not a certificate on an Amazon SNS host');
      let certificate: X509Certificate;
      try {
        certificate = await certificateAt(message.SigningCertURL);
      } catch (err) {
        // Unavailable, not refused: SNS retries, and a real notification gets through once Amazon answers again.
        request.log.warn({ err: (err as Error).message }, 'could not fetch the SNS signing certificate');
        return reply.code(503).send({ error: 'unavailable', message: 'the SNS signing certificate could not be fetched; try again later' } satisfies ErrorBody);
      }
      if (!snsSignatureValid(message, certificate)) return refuse(reply, 'the SNS signature does not match the message');
      if (message.Type === 'SubscriptionConfirmation') {
        if (!message.SubscribeURL || !isSnsUrl(message.SubscribeURL)) return refuse(reply, 'SubscribeURL is not on an Amazon SNS host');
        await fetchFromSns(message.SubscribeURL);
        return { confirmed: message.TopicArn };
      }
      if (message.Type === 'UnsubscribeConfirmation') return { unsubscribed: message.TopicArn };
      return recordFeedback(deps, sesFeedback(message.Message));
    });

    scope.post('/webhooks/sendgrid', routeOptions("SendGrid's Signed Event Webhook", 'SENDGRID_WEBHOOK_PUBLIC_KEY', sendgridEventsSchema), async (request, reply) => {
      if (!sendgridKey) return notConfigured(reply, 'SendGrid', 'SENDGRID_WEBHOOK_PUBLIC_KEY');
      const signature = headerOf(request, SENDGRID_SIGNATURE_HEADER);
      const timestamp = headerOf(request, SENDGRID_TIMESTAMP_HEADER);
      if (!signature || !timestamp) return refuse(reply, `unsigned: send the ${SENDGRID_SIGNATURE_HEADER} and ${SENDGRID_TIMESTAMP_HEADER} headers (enable the Signed Event Webhook)`);
      if (!sendgridSignatureValid(sendgridKey, signature, timestamp, bodyOf(request))) return refuse(reply, 'the SendGrid signature does not match the body: check SENDGRID_WEBHOOK_PUBLIC_KEY');
      return recordFeedback(deps, sendgridFeedback(parseBody(sendgridEventsSchema, request, 'SendGrid events')));
    });

    scope.post('/webhooks/mailgun', routeOptions('Mailgun webhooks (delivered, permanent and temporary failure, spam complaint)', 'MAILGUN_WEBHOOK_SIGNING_KEY', mailgunWebhookSchema), async (request, reply) => {
      if (!settings.mailgun) return notConfigured(reply, 'Mailgun', 'MAILGUN_WEBHOOK_SIGNING_KEY');
      const signed = mailgunWebhookSchema.pick({ signature: true }).safeParse(jsonOf(request.body));
      if (!signed.success) return refuse(reply, 'unsigned: a Mailgun webhook carries signature.timestamp, .token and .signature');
      if (!mailgunSignatureValid(settings.mailgun.signingKey, signed.data.signature)) return refuse(reply, 'the Mailgun signature does not match: check MAILGUN_WEBHOOK_SIGNING_KEY');
      return recordFeedback(deps, mailgunFeedback(parseBody(mailgunWebhookSchema, request, 'Mailgun webhook')));
    });

    scope.post('/webhooks/postmark', routeOptions('Postmark webhooks (Delivery, Bounce, SpamComplaint), with basic auth', 'POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD', postmarkRecordSchema), async (request, reply) => {
      if (!settings.postmark) return notConfigured(reply, 'Postmark', 'POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD');
      if (!postmarkAuthValid(request.headers.authorization, settings.postmark)) {
        reply.header('www-authenticate', 'Basic realm="journeys provider feedback"');
        return refuse(reply, 'send the basic-auth credentials set on the Postmark webhook (POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD)');
      }
      return recordFeedback(deps, postmarkFeedback(parseBody(postmarkRecordSchema, request, 'Postmark record')));
    });
  };
}

function bodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** The body as JSON, or undefined when it is none. */
function jsonOf(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** An authenticated body that is not what the provider documents: 400 naming the field. */
function parseBody<T extends z.ZodType>(schema: T, request: FastifyRequest, what: string): z.infer<T> {
  const json = jsonOf(request.body);
  if (json === undefined) throw new ValidationError(what, [{ path: '', message: 'the body is not valid JSON' }]);
  return parseInput(schema, json, what);
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function refuse(reply: FastifyReply, message: string) {
  return reply.code(401).send({ error: 'unauthorized', message } satisfies ErrorBody);
}

function notConfigured(reply: FastifyReply, provider: string, setting: string) {
  return reply.code(404).send({ error: 'not_found', message: `${provider} feedback is not configured: set ${setting}` } satisfies ErrorBody);
}
