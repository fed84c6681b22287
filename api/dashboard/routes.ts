// The dashboard: server-rendered pages on the private listener for people who hold a read
// key. Pages are GET only; the one POST signs a browser in (see sessions.ts). Every page
// carries a strict CSP, and loads its scripts from /dashboard/assets (assets.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { scopeAllows, type ApiKeyVerifier } from '../../app/apiKeys';
import type { JourneyClient } from '../../app/journeyClient';
import { reportQuerySchema } from '../../app/reports/schema';
import type { Store } from '../../store/types';
import { registerAssets } from './assets';
import { customerPage } from './customerPage';
import { CONTENT_SECURITY_POLICY, html, page, sendPage } from './html';
import { journeyPage, overviewPage } from './journeyPages';
import { sessionCookie, type DashboardSessions } from './sessions';

export interface DashboardOptions {
  journeys: JourneyClient;
  store: Store;
  verifier: ApiKeyVerifier;
  sessions: DashboardSessions;
  now: () => Date;
}

const loginBody = z.object({ key: z.string().default(''), next: z.string().optional() });
const journeyParams = z.object({ journeyId: z.string() });
const customerParams = z.object({ customerId: z.string() });
const customerQuery = z.object({ customerId: z.string() });

/** Where a signed-in browser goes next: a dashboard page only, so the form cannot send it elsewhere. */
function safeNext(next: string | undefined): string {
  if (next === undefined || !/^\/dashboard(\/[^\\\s?]*)?(\?[^\\\s]*)?$/.test(next) || next.startsWith('/dashboard/login')) return '/dashboard';
  // Browsers resolve "..", also written "%2e%2e", before they follow a redirect.
  const segments = next.split('?')[0].split('/');
  return segments.some((segment) => /^(\.|%2e){1,2}$/i.test(segment)) ? '/dashboard' : next;
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function loginPage(message: string, next: string): string {
  return page({
    title: 'Sign in',
    nav: false,
    body: html`<form class="login card" method="post" action="/dashboard/login">
<p>${message}</p>
<label for="key">API key with scope read (or admin)</label>
<input id="key" type="password" name="key" autocomplete="off" required>
<input type="hidden" name="next" value="${next}">
<button>Open the dashboard</button>
</form>`,
  });
}

export function registerDashboard(app: FastifyInstance, options: DashboardOptions): void {
  const { verifier, sessions } = options;
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    scope.addHook('onSend', async (request, reply, payload) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      // The API-key check answers a browser without a session in JSON; a person gets the sign-in form, then comes back here.
      if (reply.statusCode === 401 && request.method === 'GET') {
        reply.type('text/html; charset=utf-8');
        const message = (await verifier.keysExist())
          ? 'Sign in to see the dashboard.'
          : 'No API key exists yet, so the dashboard answers browsers on this machine only. Create a read key with `journeys keys create --name NAME --scope read` to open it to others.';
        return loginPage(message, safeNext(request.url));
      }
      return payload;
    });

    registerAssets(scope);

    scope.get<{ Querystring: { next?: string } }>('/dashboard/login', { config: { scope: 'public', doc: { summary: 'The sign-in form for browsers', responses: { 200: 'HTML form' } } } }, async (request, reply) => {
      const next = safeNext(request.query.next);
      if (!(await verifier.keysExist())) return reply.redirect(next, 303);
      return sendPage(reply, loginPage('The dashboard shows journeys, experiments and customers to holders of a read key.', next));
    });

    scope.post('/dashboard/login', { config: { scope: 'public', doc: { summary: 'Sign a browser in with a read key: sets an HttpOnly session cookie, never the key', body: loginBody, responses: { 303: 'signed in: on to the page asked for', 401: 'not a read or admin key', 403: 'posted from another site' } } } }, async (request, reply) => {
      const origin = request.headers.origin;
      // A form of another site may not sign this browser in under a key of its choosing.
      if (origin !== undefined && origin !== 'null' && hostOf(origin) !== request.headers.host) {
        return sendPage(reply, loginPage(`Sign-in refused: the form was posted from ${origin}, not from this dashboard.`, '/dashboard'), 403);
      }
      const parsed = loginBody.safeParse(request.body ?? {});
      const { key, next } = parsed.success ? parsed.data : { key: '', next: undefined };
      const result = await verifier.verify(key);
      if ('refused' in result) return sendPage(reply, loginPage(`Not signed in: ${result.refused}.`, safeNext(next)), 401);
      if (!scopeAllows(result.key.scope, 'read')) {
        return sendPage(reply, loginPage(`Not signed in: key ${result.key.name} has scope ${result.key.scope}; the dashboard needs read (or admin).`, safeNext(next)), 401);
      }
      reply.header('set-cookie', sessionCookie(sessions.open(key), request.protocol === 'https'));
      return reply.redirect(safeNext(next), 303);
    });

    scope.get('/dashboard', { config: { scope: 'read', doc: { summary: 'Every journey of the catalogue with its funnel', query: reportQuerySchema, responses: { 200: 'HTML page' } } } }, async (request, reply) => overviewPage(reply, options, request.query));

    scope.get<{ Params: { journeyId: string } }>('/dashboard/journeys/:journeyId', { config: { scope: 'read', doc: { summary: "A journey's funnel per step and variant, its graph and its experiments", params: journeyParams, query: reportQuerySchema, responses: { 200: 'HTML page', 404: 'no such journey' } } } }, async (request, reply) =>
      journeyPage(reply, options, request.params.journeyId, request.query),
    );

    scope.get<{ Querystring: { customerId?: string } }>('/dashboard/customers', { config: { scope: 'read', doc: { summary: "Goes to a customer's page (the header's form)", query: customerQuery, responses: { 303: "to the customer's page" } } } }, async (request: FastifyRequest<{ Querystring: { customerId?: string } }>, reply) =>
      reply.redirect(`/dashboard/customers/${encodeURIComponent((request.query.customerId ?? '').trim())}`, 303),
    );

    scope.get<{ Params: { customerId: string } }>('/dashboard/customers/:customerId', { config: { scope: 'read', doc: { summary: "A customer's audit, journey runs and segments", params: customerParams, responses: { 200: 'HTML page', 400: 'not a customer id' } } } }, async (request, reply) =>
      customerPage(reply, options.journeys, request.params.customerId),
    );
  });
}
