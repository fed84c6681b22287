import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JourneyClient } from '../app/journeyClient';
import { GLOBAL_TOPIC } from '../domain/customer/topics';
import type { SendPolicy, TopicConsent } from '../domain/delivery/sendPolicy';
import type { TokenRejection, UnsubscribeSigner } from '../domain/delivery/unsubscribeTokens';
import type { Store } from '../store/types';

export interface UnsubscribeRoutesOptions {
  signer: UnsubscribeSigner;
  store: Pick<Store, 'consentLedger'>;
  /** Topics every customer has (the catalogue's), listed even before the customer has a consent record. */
  topics: string[];
  /** What a topic without a record of the customer's means (opt-in topics show as unsubscribed). */
  policy: Pick<SendPolicy, 'topicConsents'>;
}

/** The parsed one-click body: true when it says `List-Unsubscribe=One-Click`. */
interface OneClickBody {
  oneClick: boolean;
}

type TokenRequest = FastifyRequest<{ Params: { '*': string }; Body: OneClickBody | undefined }>;

// A one-click body is 26 bytes; multipart framing adds a few hundred at most.
const ONE_CLICK_BODY_LIMIT = 8 * 1024;

/**
 * `GET /u/<token>` shows the customer's topics and a confirm button and changes nothing, so a
 * mail scanner that follows links unsubscribes nobody. `POST /u/<token>` with the RFC 8058
 * body `List-Unsubscribe=One-Click` withdraws consent at once and answers 200 without a page
 * to click or a redirect. Registered as an encapsulated plugin: its form parsers and plain
 * error answers stay inside, and the /v1 API keeps accepting JSON only.
 */
export function unsubscribeRoutes(options: UnsubscribeRoutesOptions & { journeys: JourneyClient }) {
  const { signer, journeys } = options;
  return async function routes(scope: FastifyInstance) {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, { oneClick: new URLSearchParams(body as string).getAll('List-Unsubscribe').includes('One-Click') } satisfies OneClickBody);
    });
    scope.addContentTypeParser('multipart/form-data', { parseAs: 'string' }, (request, body, done) => {
      done(null, { oneClick: multipartSaysOneClick(String(request.headers['content-type']), body as string) } satisfies OneClickBody);
    });

    scope.addHook('onRequest', async (_request, reply) => {
      // The token is a credential for this customer's consent: keep it out of caches, indexes and Referer headers.
      reply.headers({
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'x-robots-tag': 'noindex',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      });
    });

    scope.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return plain(reply, 415, 'Send List-Unsubscribe=One-Click as application/x-www-form-urlencoded or multipart/form-data.');
      }
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return plain(reply, err.statusCode, 'This request could not be read.');
      request.log.error({ err }, 'unsubscribe failed');
      return plain(reply, 500, 'Something went wrong on our side. Please try again in a minute.');
    });

    // A wildcard, not `:token`: tokens for long customer IDs run past the router's 256-character parameter limit.
    scope.get('/u/*', async (request: TokenRequest, reply) => {
      const target = verified(request, reply);
      if (!target) return reply;
      const token = request.params['*'];
      const globalToken = target.topic === GLOBAL_TOPIC ? undefined : signer.sign({ customerId: target.customerId, topic: GLOBAL_TOPIC });
      const topics = options.policy.topicConsents(await options.store.consentLedger(target.customerId), options.topics);
      return reply.type('text/html; charset=utf-8').send(preferencesPage({ topic: target.topic, token, globalToken, topics }));
    });

    scope.post('/u/*', { bodyLimit: ONE_CLICK_BODY_LIMIT }, async (request: TokenRequest, reply) => {
      const target = verified(request, reply);
      if (!target) return reply;
      if (!request.body?.oneClick) return plain(reply, 400, 'To unsubscribe, send List-Unsubscribe=One-Click in the body (RFC 8058).');
      await journeys.changeConsent({ customerId: target.customerId, topic: target.topic, status: 'withdrawn', source: 'one-click unsubscribe' });
      return reply.type('text/html; charset=utf-8').send(page('Unsubscribed', `<p>You are unsubscribed from ${escapeHtml(topicName(target.topic))}.</p>`));
    });
  };

  /** The token's customer and topic, or undefined once a 4xx has been sent; a refused token writes nothing. */
  function verified(request: TokenRequest, reply: FastifyReply) {
    const result = signer.verify(request.params['*']);
    if (result.ok) return result;
    request.log.info({ reason: result.reason }, 'refused an unsubscribe token');
    const [status, message] = refusal(result.reason);
    void plain(reply, status, message);
    return undefined;
  }
}

function refusal(reason: TokenRejection): [number, string] {
  switch (reason) {
    case 'malformed':
    case 'bad_payload':
      return [400, 'This unsubscribe link is incomplete or damaged. Copy the whole link from the email, or use the unsubscribe link in another of our emails.'];
    case 'unknown_key':
    case 'bad_signature':
      return [403, 'This unsubscribe link is not valid. Use the unsubscribe link in one of our recent emails.'];
  }
}

function plain(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

function topicName(topic: string): string {
  return topic === GLOBAL_TOPIC ? 'all topics' : topic;
}

function preferencesPage({ topic, token, globalToken, topics }: { topic: string; token: string; globalToken?: string; topics: TopicConsent[] }): string {
  const button = (action: string, label: string) =>
    `<form method="post" action="./${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">${escapeHtml(label)}</button></form>`;
  const rows = topics.map(({ topic: name, status }) => `<li>${escapeHtml(topicName(name))}: ${status === 'granted' ? 'subscribed' : 'unsubscribed'}</li>`);
  return page(
    'Unsubscribe',
    [
      `<h1>Unsubscribe from ${escapeHtml(topicName(topic))}?</h1>`,
      '<p>Nothing changes until you press a button.</p>',
      button(token, `Unsubscribe from ${topicName(topic)}`),
      globalToken ? button(globalToken, 'Unsubscribe from all topics') : '',
      '<h2>Your topics</h2>',
      `<ul>${rows.join('')}</ul>`,
    ].join('\n'),
  );
}

function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}form{margin:1rem 0}button{font-size:1rem;padding:.5rem 1rem}</style>',
    `</head><body>\n${body}\n</body></html>\n`,
  ].join('\n');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Reads just enough multipart/form-data to find a `List-Unsubscribe` field whose value is `One-Click`. */
function multipartSaysOneClick(contentType: string, body: string): boolean {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!boundary) return false;
  return body.split(`--${boundary[1] ?? boundary[2]}`).some((part) => {
    const split = /\r?\n\r?\n/.exec(part);
    if (!split) return false;
    const headers = part.slice(0, split.index);
    const value = part.slice(split.index + split[0].length).replace(/\r?\n$/, '');
    return /^content-disposition:\s*form-data;(.*;)?\s*name="?List-Unsubscribe"?\s*(;|$)/im.test(headers) && value === 'One-Click';
  });
}
