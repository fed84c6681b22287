// The open pixel and the click redirect on the public listener. Both turn what they see into
// `email.opened` / `email.clicked` events on the normal ingest path (JourneyClient.ingest),
// for the customer the send was for (the send ledger's), never from anything the request says.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JourneyClient } from '../app/journeyClient';
import { EMAIL_CLICKED, EMAIL_OPENED, type EngagementProperties } from '../domain/delivery/engagement';
import { linkProblem } from '../domain/delivery/linkHosts';
import { isMachineClick, isMachineOpen } from '../domain/delivery/machineTraffic';
import type { TrackingSigner, TrackingTarget } from '../domain/delivery/tracking';
import type { Store, TrackedEmail } from '../store/types';
import { escapeHtml } from './unsubscribe';

export interface TrackingRoutesOptions {
  signer: TrackingSigner;
  store: Pick<Store, 'sendRecord' | 'trackedEmail'>;
  /** LINK_HOSTS: a click's `url` property is kept only for links ingest would keep in any event. */
  linkHosts: readonly string[];
  /** TRACKING_SCANNER_WINDOW in milliseconds. */
  scannerWindowMs: number;
  /** False with TRACKING=off: links in emails sent before still redirect, and nothing is recorded. */
  record: boolean;
  /** The clock opens and clicks happen on (the wall clock; Temporal's in time-skipping tests). */
  clock?: () => Promise<Date>;
}

/** The classic transparent 1×1 GIF, 43 bytes. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const NOT_CACHED = {
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
  // The URL names a send: no Referer carries it on, and no index keeps it.
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex',
};

/**
 * `GET /o/<token>.gif` always answers the pixel, whatever the token, so a scanner learns nothing
 * about which tokens are valid; only a valid one for a tracked send is recorded. `GET /c/<token>`
 * redirects to the URL recorded for that send's link, and nowhere else: a token that fails its
 * signature, names no tracked send or a link index it did not have gets a short page, never a
 * redirect. HEAD answers as GET does and counts as a machine.
 */
export function trackingRoutes(options: TrackingRoutesOptions & { journeys: Pick<JourneyClient, 'ingest'> }) {
  const { signer, store, journeys, clock = async () => new Date() } = options;

  /** Ingests the open or click of a tracked send, for the customer the send ledger names. */
  async function record(target: TrackingTarget, tracked: TrackedEmail, machine: (sinceSendMs: number | undefined) => boolean, url?: string): Promise<void> {
    if (!options.record) return;
    const send = await store.sendRecord(target.workflowId, target.stepId);
    if (!send) return;
    const now = await clock();
    const sinceSendMs = send.status === 'sent' ? now.getTime() - Date.parse(send.updatedAt) : undefined;
    const clicked = target.linkIndex !== undefined;
    const properties: EngagementProperties = {
      workflowId: send.workflowId,
      journeyId: send.journeyId,
      stepId: send.stepId,
      ...(send.template !== undefined && { template: send.template }),
      ...(clicked && { linkIndex: target.linkIndex }),
      ...(url !== undefined && linkProblem(url, options.linkHosts) === undefined && { url }),
      machine: machine(sinceSendMs),
      ...(Object.keys(tracked.variants).length > 0 && { variants: tracked.variants }),
    };
    // Each open and click is an event of its own (a random id): unique opens and clicks are counted per send later.
    const type = clicked ? EMAIL_CLICKED : EMAIL_OPENED;
    await journeys.ingest({ id: `${type}:${randomUUID()}`, type, customerId: send.customerId, occurredAt: now.toISOString(), properties });
  }
  /** A failure to record is logged, never shown: the reader still gets the image or the page. */
  const logged = (request: FastifyRequest) => (err: unknown) => request.log.error({ err }, 'could not record an open or a click');

  const userAgentOf = (request: FastifyRequest) => request.headers['user-agent'];

  return async function routes(scope: FastifyInstance) {
    scope.route<{ Params: { '*': string } }>({
      method: ['GET', 'HEAD'],
      // Wildcards, not `:token`: tokens for long workflow ids run past the router's parameter limit.
      url: '/o/*',
      config: { scope: 'public', doc: { summary: 'Open pixel: a transparent GIF; records email.opened for a valid token', responses: { 200: 'image/gif, 43 bytes, never cached' } } },
      handler: async (request, reply) => {
        const target = signer.verify(request.params['*'].replace(/\.gif$/, ''));
        if (target.ok && target.linkIndex === undefined) {
          const machine = () => isMachineOpen({ method: request.method, userAgent: userAgentOf(request) });
          await store
            .trackedEmail(target.workflowId, target.stepId)
            .then((tracked) => tracked && record(target, tracked, machine))
            .catch(logged(request));
        }
        return reply.code(200).headers(NOT_CACHED).type('image/gif').send(PIXEL);
      },
    });

    scope.route<{ Params: { '*': string } }>({
      method: ['GET', 'HEAD'],
      url: '/c/*',
      config: {
        scope: 'public',
        doc: { summary: 'Click redirect: to the URL recorded at send time for the link; records email.clicked', responses: { 302: 'to the link as sent', 400: 'a damaged link', 404: 'a link that is not valid or no longer known' } },
      },
      handler: async (request, reply) => {
        const target = signer.verify(request.params['*']);
        if (!target.ok || target.linkIndex === undefined) {
          request.log.info({ reason: target.ok ? 'open token' : target.reason }, 'refused a click token');
          return target.ok || target.reason === 'unknown_key' || target.reason === 'bad_signature'
            ? page(reply, 404, 'This link is not valid. Use the link in the email as it arrived.')
            : page(reply, 400, 'This link is incomplete or damaged. Copy the whole link from the email.');
        }
        const tracked = await store.trackedEmail(target.workflowId, target.stepId);
        const url = tracked?.links[target.linkIndex];
        if (!tracked || url === undefined) return page(reply, 404, 'This link is no longer available.');
        const machine = (sinceSendMs: number | undefined) =>
          isMachineClick({ method: request.method, userAgent: userAgentOf(request), sinceSendMs, scannerWindowMs: options.scannerWindowMs });
        await record(target, tracked, machine, url).catch(logged(request));
        return reply.code(302).headers(NOT_CACHED).header('location', url).send();
      },
    });
  };
}

function page(reply: FastifyReply, status: number, message: string) {
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Link</title></head><body><p>${escapeHtml(message)}</p></body></html>\n`;
  return reply.code(status).headers(NOT_CACHED).type('text/html; charset=utf-8').send(html);
}
