// The dashboard as a reader meets it: over real HTTP, signed in with a read key or refused,
// every hostile value escaped, only the listed asset files served; and in headless Chromium,
// the funnel chart, the interval plot and the Mermaid graph drawn under the strict CSP.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../app/apiKeys';
import { buildHttpApi } from '../api/http';
import { httpApi } from '../compose/apiRole';
import { assignVariant } from '../domain/journey/split';
import type { JourneyDefinitionInput, SplitStep } from '../domain/journey/types';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../journeys';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailable } from './support/browser';
import { EXPERIMENT_TEMPLATES, launchOffer } from './fixtures/experiments';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';
import { trackingListener } from './support/trackingListener';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';
import type { ReceivedEmail } from './support/mail';

const HOSTILE_NAME = 'Offer test <img src=x onerror=alert(1)>';
const HOSTILE_SOURCE = '<script>alert("audit")</script>';

/** The experiment of tests/experiments.test.ts, under a name no page may turn into markup. */
const hostileLaunch: JourneyDefinitionInput = { ...launchOffer, name: HOSTILE_NAME };

let t: JourneyEnv;
let api: FastifyInstance;
let track: FastifyInstance;
let url: string;
const keys: Record<'read' | 'ingest', string> = { read: '', ingest: '' };

beforeAll(async () => {
  t = await startJourneyEnv({ catalogue: loadCatalogue([...shippedJourneys, hostileLaunch], [TEMPLATES_DIR, FIXTURE_TEMPLATES, EXPERIMENT_TEMPLATES]) });
  api = httpApi(t.app, { logger: false });
  track = trackingListener(t);
  url = await api.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);
afterAll(async () => {
  await api?.close();
  await track?.close();
  await t?.close();
});

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { redirect: 'manual', headers });
const signIn = (key: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  fetch(`${url}/dashboard/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ key, ...extra }).toString() });

/** The raw answer to a path as written, without the URL normalisation fetch applies ("/a/../b" stays). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Customers of each arm, found by the split's own hash, as the journey will assign them. */
function customersIn(arm: string, count: number): string[] {
  const split = hostileLaunch.steps[0] as SplitStep;
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) if (assignVariant(split, 'launchOffer', `dash-${i}`).name === arm) found.push(`dash-${i}`);
  return found;
}

const pixelOf = (email: ReceivedEmail) => /<img src="https:\/\/journeys\.test(\/o\/[^"]+\.gif)"/.exec(email.html)![1];
const clickOf = (email: ReceivedEmail) => /href="https:\/\/journeys\.test(\/c\/[^"]+)"/.exec(email.html)![1];
const engage = (path: string) => track.inject({ method: 'GET', url: path, headers: { 'user-agent': BROWSER } });

describe('the dashboard before any API key exists', () => {
  it('opens for a browser on this machine without signing in, under a strict Content-Security-Policy', async () => {
    const res = await get('/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const page = await res.text();
    expect(page).toContain('<a href="/dashboard/journeys/cartAbandonment">Cart abandonment</a>');
    expect(page).not.toMatch(/<script(?![^>]*(src="\/dashboard\/assets\/|type="application\/json"))/);
  });

  it('tells a browser a proxy forwarded that no key exists yet, rather than asking for one', async () => {
    const res = await get('/dashboard', { 'x-forwarded-for': '203.0.113.9' });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('No API key exists yet, so the dashboard answers browsers on this machine only.');
  });
});

describe('the dashboard once keys exist', () => {
  let cookie = '';
  beforeAll(async () => {
    keys.read = (await createApiKey(t.store, { name: 'dashboard-reader', scope: 'read' }, new Date())).key;
    keys.ingest = (await createApiKey(t.store, { name: 'dashboard-shop', scope: 'ingest' }, new Date())).key;
  });

  it('answers a browser without a session with the sign-in form, and signs in a read key with a session cookie that never holds the key', async () => {
    const refused = await get('/dashboard/journeys/cartAbandonment');
    expect(refused.status).toBe(401);
    const form = await refused.text();
    expect(form).toContain('<input id="key" type="password" name="key"');
    expect(form).toContain('<input type="hidden" name="next" value="/dashboard/journeys/cartAbandonment">');

    const ingest = await signIn(keys.ingest);
    expect([ingest.status, ingest.headers.get('set-cookie')]).toEqual([401, null]);
    expect(await ingest.text()).toContain('key dashboard-shop has scope ingest; the dashboard needs read (or admin)');
    expect((await signIn('jk_0123456789abcdef_not-a-key')).status).toBe(401);

    const signedIn = await signIn(keys.read, { next: '/dashboard/journeys/cartAbandonment' });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/dashboard/journeys/cartAbandonment');
    const setCookie = signedIn.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^journeys_dashboard=[A-Za-z0-9_-]{43}; Path=\/dashboard; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(setCookie).not.toContain(keys.read.slice(20));
    cookie = setCookie.split(';')[0];

    const page = await get('/dashboard/journeys/cartAbandonment', { cookie });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Cart abandonment</h1>');
    // A bearer key works as it does for the API; the session cookie opens the dashboard only.
    expect((await get('/dashboard', { authorization: `Bearer ${keys.read}` })).status).toBe(200);
    expect((await get('/v1/customers/dash-0/audit', { cookie })).status).toBe(401);
    expect((await get('/dashboard', { cookie: 'journeys_dashboard=forged' })).status).toBe(401);
  });

  it('sends a signed-in browser on to dashboard pages only, and refuses a sign-in form posted from another site', async () => {
    for (const next of ['https://evil.example/', '//evil.example/dashboard', '/dashboard/../v1/keys', '/v1/keys']) {
      const res = await signIn(keys.read, { next });
      expect([next, res.status, res.headers.get('location')]).toEqual([next, 303, '/dashboard']);
    }
    for (const origin of ['https://evil.example', 'not a url']) {
      const forged = await signIn(keys.read, {}, { origin });
      expect([origin, forged.status, forged.headers.get('set-cookie')]).toEqual([origin, 403, null]);
    }
  });

  it('escapes what customers, operators and authors wrote: a consent source, a customer id, a journey name', async () => {
    await t.client.upsertProfile({ customerId: 'dash-hostile', email: 'hostile@example.com', attributes: {} });
    await t.client.changeConsent({ customerId: 'dash-hostile', topic: 'marketing', status: 'withdrawn', source: HOSTILE_SOURCE });
    const audit = await (await get('/dashboard/customers/dash-hostile', { cookie })).text();
    expect(audit).toContain('<td>consent marketing withdrawn</td><td>&lt;script&gt;alert(&quot;audit&quot;)&lt;/script&gt;</td>');
    expect(audit).not.toContain(HOSTILE_SOURCE);

    const badId = await get(`/dashboard/customers/${encodeURIComponent('<script>alert(1)</script>')}`, { cookie });
    expect(badId.status).toBe(400);
    const badIdPage = await badId.text();
    expect(badIdPage).toContain('customerId &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;: use letters, digits');
    expect(badIdPage).not.toContain('<script>alert');

    for (const path of ['/dashboard', '/dashboard/journeys/launchOffer']) {
      const page = await (await get(path, { cookie })).text();
      expect(page).toContain('Offer test &lt;img src=x onerror=alert(1)&gt;');
      expect(page).not.toContain('<img src=x');
    }
    const badWindow = await get('/dashboard/journeys/launchOffer?since=yesterday', { cookie });
    expect(badWindow.status).toBe(400);
    expect(await badWindow.text()).toContain('since: a date (2026-12-01) or a date and time');
    expect((await get('/dashboard/journeys/noSuchJourney', { cookie })).status).toBe(404);
    const lookUp = await get('/dashboard/customers?customerId=dash-hostile', { cookie });
    expect([lookUp.status, lookUp.headers.get('location')]).toEqual([303, '/dashboard/customers/dash-hostile']);
  });

  it('ends a session when its key is revoked, and after 12 hours', async () => {
    let clock = Date.now();
    const api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 65_536, logger: false, now: () => new Date(clock) });
    const { key } = await createApiKey(t.store, { name: 'dashboard-leaver', scope: 'read' }, new Date());
    const session = async (secret: string) => {
      const res = await api.inject({ method: 'POST', url: '/dashboard/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${encodeURIComponent(secret)}` });
      return String(res.headers['set-cookie']).split(';')[0];
    };
    const status = async (cookie: string) => (await api.inject({ method: 'GET', url: '/dashboard/customers/dash-nobody', headers: { cookie } })).statusCode;
    const [leaver, reader] = [await session(key), await session(keys.read)];
    expect([await status(leaver), await status(reader)]).toEqual([200, 200]);
    await t.store.revokeApiKey('dashboard-leaver', new Date().toISOString());
    clock += 6_000;
    expect([await status(leaver), await status(reader)]).toEqual([401, 200]);
    clock += 12 * 60 * 60 * 1000;
    expect(await status(reader)).toBe(401);
    await api.close();
  });

  it('serves the listed asset files and nothing else, whatever the path says', async () => {
    for (const [name, type, start] of [
      ['chart.umd.min.js', 'text/javascript; charset=utf-8', 'Chart.js v4'],
      ['mermaid.min.js', 'text/javascript; charset=utf-8', 'mermaid'],
      ['dashboard.js', 'text/javascript; charset=utf-8', "'use strict'"],
      ['dashboard.css', 'text/css; charset=utf-8', ':root'],
    ]) {
      const res = await get(`/dashboard/assets/${name}`);
      expect([name, res.status, res.headers.get('content-type')]).toEqual([name, 200, type]);
      expect((await res.text()).slice(0, 2000)).toContain(start);
    }
    for (const path of [
      '/dashboard/assets/../../package.json',
      '/dashboard/assets/..%2F..%2Fpackage.json',
      '/dashboard/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/dashboard/assets/..%5C..%5Cpackage.json',
      '/dashboard/assets/chart.cjs',
      '/dashboard/assets/__proto__',
      '/dashboard/assets/constructor',
      '/dashboard/assets/',
      '/dashboard/assets/browser%2Fdashboard.js',
    ]) {
      const res = await rawGet(path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body).not.toContain('"name": "journeys"');
    }
  });
});

describe('a journey with an experiment, on the dashboard', () => {
  const plain = customersIn('plain', 8);
  const bold = customersIn('bold', 8);
  const held = customersIn('holdout', 2);
  let cookie = '';

  /** 18 customers through the split; opens and clicks through the real pixel and redirect, a person's, after the scanner window; then 4 purchases. */
  beforeAll(async () => {
    let seq = 0;
    for (const customerId of [...plain, ...bold, ...held]) {
      await t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: {} });
      await t.client.ingest({ id: `dash-launch-${++seq}`, type: 'fixture.launch', customerId, properties: {} });
    }
    const emails = new Map<string, ReceivedEmail>();
    for (const customerId of [...plain, ...bold]) emails.set(customerId, (await t.mailbox.waitForCount(1, { to: `${customerId}@example.com` }))[0]);
    await t.env.sleep('1m');
    for (const customerId of [...plain.slice(0, 6), ...bold.slice(0, 3)]) expect((await engage(pixelOf(emails.get(customerId)!))).statusCode).toBe(200);
    for (const customerId of [...plain.slice(0, 4), ...bold.slice(0, 1)]) expect((await engage(clickOf(emails.get(customerId)!))).statusCode).toBe(302);
    for (const customerId of [...plain.slice(0, 3), ...bold.slice(0, 1)]) await t.client.ingest({ id: `dash-purchase-${++seq}`, type: 'fixture.order', customerId, properties: { total: 40 } });
    cookie = (await signIn(keys.read)).headers.get('set-cookie')!.split(';')[0];
  }, 120_000);

  const chartsOf = (page: string) => (JSON.parse(/<script type="application\/json" id="dashboard-data">(.*?)<\/script>/s.exec(page)![1]) as { charts: Record<string, Record<string, unknown>> }).charts;

  it("shows the journey's funnel, its rows and its experiment's arms with their intervals", async () => {
    const page = await (await get('/dashboard/journeys/launchOffer', { cookie })).text();
    const charts = chartsOf(page);
    expect(charts.funnel).toEqual({ kind: 'funnel', labels: ['entered', 'sent', 'opened', 'clicked', 'converted'], values: [18, 16, 9, 5, 4] });
    expect(charts.steps).toMatchObject({ labels: ['plainOffer', 'boldOffer'], series: [{ label: 'sent', values: [8, 8] }, { label: 'opened', values: [6, 3] }, { label: 'clicked', values: [4, 1] }, { label: 'converted', values: [3, 1] }] });
    expect(page).toMatch(/<tr><td>whole journey<\/td><td class="num">18<\/td><td class="num">16 <span class="muted">88\.9\u00a0%<\/span>/);

    const clicks = charts['experiment-0-click'] as { labels: string[]; rates: number[]; lower: number[]; upper: number[] };
    const byArm = Object.fromEntries(clicks.labels.map((label, i) => [label.replace(' (control)', ''), [clicks.rates[i], clicks.lower[i] < clicks.rates[i], clicks.upper[i] > clicks.rates[i]]]));
    expect(byArm).toEqual({ plain: [0.5, true, true], bold: [0.125, true, true] });
    expect(page).toContain('<strong>click rate (per sent email):</strong> not significant yet');
    expect(page).toContain('<pre class="mermaid">---\ntitle: Offer test #lt;img src=x onerror=alert(1)#gt; (launchOffer)');

    const overview = chartsOf(await (await get('/dashboard', { cookie })).text());
    expect(Object.values(overview).map((chart) => chart.values)).toContainEqual([18, 16, 9, 5, 4]);
  });

  it("shows a customer's journey runs and audit", async () => {
    const page = await (await get(`/dashboard/customers/${plain[0]}`, { cookie })).text();
    // The time-skipping test server lists no workflows; the page says so and shows the rest.
    expect(page).toContain('<p class="problem">Temporal did not list the runs:');
    expect(page).toMatch(/<td>journey<\/td><td>entered launchOffer \(topic marketing\)<\/td>/);
    expect(page).toMatch(/<td>send<\/td><td>sent plain \([^)]+\)<\/td><td>launchOffer:dash-\d+ step plainOffer<\/td>/);
    expect(page).toContain('<td>engagement</td><td>clicked link 0 in plain</td>');
  });

  it.runIf(chromiumAvailable())('draws the funnel, the intervals and the graph in headless Chromium, with no console error and no CSP violation', async () => {
    const dir = process.env.DASHBOARD_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'dashboard-screenshots-'));
    mkdirSync(dir, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      await page.addInitScript({ content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))" });

      // Signed in through the form, as a person would: the page answers 401 with it.
      await page.goto(`${url}/dashboard/journeys/launchOffer`);
      await page.locator('#key').fill(keys.read);
      await page.getByRole('button', { name: 'Open the dashboard' }).click();
      await page.waitForURL(`${url}/dashboard/journeys/launchOffer`);
      await waitForDrawing(page);
      expect(await page.locator('pre.mermaid svg').textContent()).toContain('subjectLine');
      expect(await page.locator('canvas').count()).toBe(4);
      // The browser reports the 401 of the first navigation, which showed the sign-in form; nothing else may be reported.
      expect(problems.filter((p) => !p.includes('status of 401'))).toEqual([]);

      await screenshotOf(page, ['#funnel', '#steps'], join(dir, 'funnel.png'));
      await page.locator('article.experiment').first().screenshot({ path: join(dir, 'experiment.png') });
    } finally {
      await browser.close();
    }
  }, 90_000);
});

async function waitForDrawing(page: Page) {
  await page.locator('body[data-charts="drawn"]').waitFor({ state: 'attached', timeout: 30_000 });
  await page.locator('body[data-graph="drawn"]').waitFor({ state: 'attached', timeout: 30_000 });
  await page.locator('pre.mermaid svg').waitFor({ timeout: 10_000 });
}

/** One image around the sections holding these elements. */
async function screenshotOf(page: Page, selectors: string[], path: string) {
  const boxes = [];
  for (const selector of selectors) boxes.push((await page.locator('section').filter({ has: page.locator(selector) }).boundingBox())!);
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  const width = Math.max(...boxes.map((b) => b.x + b.width)) - x;
  const height = Math.max(...boxes.map((b) => b.y + b.height)) - y;
  await page.screenshot({ path, clip: { x, y, width, height }, fullPage: true });
}
