// Conversions as ingest attributes them, the global control group as routing holds it out, and
// the report as the API and `journeys report` answer it.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../app/apiKeys';
import { inGlobalControl } from '../app/experiments';
import { JourneyClient } from '../app/journeyClient';
import { journeyReport } from '../app/reports/journeyReport';
import { runCli, type CliDeps } from '../cli';
import { remoteFromEnv } from '../cli/operator';
import { httpApi } from '../compose/apiRole';
import { loadCatalogue } from '../journeys';
import { Captured } from './support/captured';
import { clickedOffer, EXPERIMENT_TEMPLATES, paidReceipt, welcomeOffer } from './fixtures/experiments';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const catalogue = loadCatalogue([welcomeOffer, clickedOffer, paidReceipt], [FIXTURE_TEMPLATES, EXPERIMENT_TEMPLATES]);
let t: JourneyEnv;
let api: FastifyInstance;
let url: string;
let readKey: string;

const serverNow = async () => new Date(await t.env.currentTimeMs());
const ingest = (id: string, type: string, customerId: string, properties: Record<string, unknown> = {}) => t.client.ingest({ id, type, customerId, properties });
const sendOf = async (customerId: string, journeyId: string, stepId: string) => (await t.store.sendsOf(customerId)).find((s) => s.journeyId === journeyId && s.stepId === stepId)!;
/** The event a provider's webhook or the click redirect ingests for one of our emails. */
async function feedback(id: string, type: string, customerId: string, journeyId: string, stepId: string, extra: Record<string, unknown> = {}) {
  const send = await sendOf(customerId, journeyId, stepId);
  return ingest(id, type, customerId, { workflowId: send.workflowId, journeyId, stepId, template: send.template, ...extra });
}

beforeAll(async () => {
  t = await startJourneyEnv({ catalogue });
  api = httpApi(t.app, { logger: false });
  url = await api.listen({ host: '127.0.0.1', port: 0 });
  readKey = (await createApiKey(t.store, { name: 'report-reader', scope: 'read' }, new Date())).key;
  await t.store.upsertProfiles(['r-1', 'r-2', 'r-3', 'r-4'].map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
}, 60_000);
afterAll(async () => {
  await api?.close();
  await t?.close();
});

describe('conversions', () => {
  beforeAll(async () => {
    for (const customerId of ['r-1', 'r-2', 'r-3']) await ingest(`welcome-${customerId}`, 'fixture.welcome', customerId);
    for (const customerId of ['r-1', 'r-2', 'r-3']) await t.mailbox.waitForCount(2, { to: `${customerId}@example.com` });
    await t.env.sleep('1d');
    for (const customerId of ['r-1', 'r-2', 'r-3']) await t.mailbox.waitForCount(3, { to: `${customerId}@example.com` });
    await t.env.sleep('1m');
  }, 120_000);

  it('go to the last email of the journey the customer received in the window: not a bounced one, and only a clicked one where the journey says so', async () => {
    await feedback('bounce-r-2', 'email.bounced', 'r-2', 'welcomeOffer', 'reminder', { provider: 'ses', bounceType: 'soft' });
    await feedback('click-r-3', 'email.clicked', 'r-3', 'clickedOffer', 'offer', { machine: false, linkIndex: 0, url: 'https://shop.example.com/offer' });
    await ingest('purchase-r-1', 'fixture.purchase', 'r-1', { total: 30 });
    await ingest('purchase-r-2', 'fixture.purchase', 'r-2', { total: 20.5 });
    await ingest('purchase-r-3', 'fixture.purchase', 'r-3', { total: 12 });
    // A redelivered purchase, and a purchase by a customer who never entered: neither counts.
    expect((await ingest('purchase-r-3', 'fixture.purchase', 'r-3', { total: 12 })).duplicate).toBe(true);
    await ingest('purchase-r-4', 'fixture.purchase', 'r-4', { total: 99 });

    const welcome = await t.store.journeyActivity('welcomeOffer');
    const attributed = Object.fromEntries(welcome.conversions.map((c) => [c.customerId, [c.email?.stepId, c.value]]));
    expect(attributed).toEqual({ 'r-1': ['reminder', 30], 'r-2': ['welcome', 20.5], 'r-3': ['reminder', 12] });
    const clicked = await t.store.journeyActivity('clickedOffer');
    expect(clicked.conversions.map((c) => [c.customerId, c.email?.stepId ?? null, c.value ?? null])).toEqual([
      ['r-1', null, null],
      ['r-2', null, null],
      ['r-3', 'offer', null],
    ]);
  });

  it('count only within the window after the email', async () => {
    await t.env.sleep('3d');
    await ingest('purchase-r-1-late', 'fixture.purchase', 'r-1', { total: 50 });
    expect((await t.store.journeyActivity('welcomeOffer')).conversions.map((c) => c.eventId)).not.toContain('purchase-r-1-late');
  });

  it('show per step in the report, with bounces, unsubscribes, revenue and rates', async () => {
    await t.client.changeConsent({ customerId: 'r-2', topic: 'marketing', status: 'withdrawn', source: 'one-click unsubscribe' });
    const report = await journeyReport(t.store, catalogue, 'welcomeOffer', { now: await serverNow() });
    expect(report.conversion).toEqual({ event: 'fixture.purchase', within: '2d', value: 'properties.total', requireClick: false });
    const steps = Object.fromEntries(report.steps.map((row) => [row.stepId, row]));
    expect(steps.welcome).toMatchObject({ kind: 'send', entered: 3, sent: 3, converted: 1, revenue: 20.5, bounced: 0, unsubscribed: 0 });
    expect(steps.reminder).toMatchObject({ kind: 'send', entered: 3, sent: 3, converted: 2, revenue: 42, bounced: 1, unsubscribed: 1 });
    expect(steps.reminder.rates).toMatchObject({ sent: 1, bounced: 1 / 3, converted: 2 / 3, unsubscribed: 1 / 3, revenuePerSent: 14 });
    expect(report.totals).toMatchObject({ entered: 3, sent: 6, converted: 3, revenue: 62.5 });
    expect(report.variants.map((row) => row.label)).toEqual(['welcome', 'reminder']);
    expect(report.experiments).toEqual([]);
  });
});

describe('the report over HTTP and on the command line', () => {
  const get = (path: string, key = readKey) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });

  it('GET /v1/journeys/:journeyId/report answers the report to a read key, and names what is wrong otherwise', async () => {
    // `until`: the API reads the wall clock, and the time-skipping server has run days ahead of it.
    const res = await get('/v1/journeys/welcomeOffer/report?since=2000-01-01&until=2100-01-01');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Awaited<ReturnType<typeof journeyReport>>;
    const local = await journeyReport(t.store, catalogue, 'welcomeOffer', { now: await serverNow(), since: new Date('2000-01-01'), until: new Date('2100-01-01') });
    expect({ ...body, generatedAt: '' }).toEqual({ ...local, generatedAt: '' });
    expect(body.steps.find((row) => row.stepId === 'reminder')).toMatchObject({ sent: 3, converted: 2 });

    const unknown = await get('/v1/journeys/noSuchJourney/report');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'not_found', message: 'no journey "noSuchJourney"; the journeys are welcomeOffer, clickedOffer, paidReceipt' });
    const badSince = await get('/v1/journeys/welcomeOffer/report?since=yesterday');
    expect(badSince.status).toBe(400);
    expect(await badSince.json()).toMatchObject({ problems: [{ path: 'since', message: expect.stringContaining('a date (2026-12-01)') }] });
    expect((await fetch(`${url}/v1/journeys/welcomeOffer/report`)).status).toBe(401);

    const openApi = (await (await get('/v1/openapi.json')).json()) as { paths: Record<string, { get: { 'x-scope': string; responses: Record<string, { content?: { 'application/json': { schema: { properties: Record<string, unknown> } } } }> } }> };
    const doc = openApi.paths['/v1/journeys/{journeyId}/report'].get;
    expect(doc['x-scope']).toBe('read');
    expect(Object.keys(doc.responses['200'].content!['application/json'].schema.properties)).toEqual(expect.arrayContaining(['totals', 'steps', 'variants', 'experiments', 'globalControl']));
  });

  it('journeys report prints a table, JSON or CSV, through JOURNEYS_URL', async () => {
    const run = async (...args: string[]) => {
      const stdout = new Captured();
      const stderr = new Captured();
      const unused = async (): Promise<never> => {
        throw new Error('through JOURNEYS_URL, nothing local is opened');
      };
      const deps: CliDeps = { connect: unused, openStore: unused, remote: remoteFromEnv({ JOURNEYS_URL: url, JOURNEYS_API_KEY: readKey }), stdout, stderr };
      return { code: await runCli(['report', ...args], deps), stdout: stdout.text, stderr: stderr.text };
    };
    const table = await run('welcomeOffer', '--until', '2100-01-01');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^Fixture: welcome offer in two emails \(welcomeOffer, version [0-9a-f]{12}\): entrants from the start to 2100-01-01T00:00:00.000Z\n/);
    expect(table.stdout).toMatch(/\nreminder \(send\) +3 +3 \(100\.0%\) +-/);

    const json = await run('welcomeOffer', '--format', 'json', '--since', '2000-01-01');
    expect(JSON.parse(json.stdout)).toMatchObject({ journeyId: 'welcomeOffer', window: { since: '2000-01-01T00:00:00.000Z' } });

    const csv = (await run('welcomeOffer', '--format', 'csv', '--until', '2100-01-01')).stdout.trim().split('\n');
    expect(csv[0]).toBe('section,step,template,variants,metric,arm,entered,sent,skipped,delivered,bounced,opened,clicked,converted,revenue,unsubscribed,exposed,successes,rate,lower,upper,lift,relative_lift,p_value,p_beats_control,more_needed,outcome');
    expect(csv).toContain('step,reminder,,,,,3,3,-,0,1,0,0,2,42,1');

    const wrong = await run('welcomeOffer', '--format', 'xml');
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringContaining('--format xml: use one of table, json, csv')]);
  });
});

describe('the global control group', () => {
  it('holds a fixed share of customers out of marketing journeys, records that they would have entered, and still sends them receipts', async () => {
    const client = new JourneyClient({
      temporal: t.env.client,
      store: t.store,
      catalogue,
      policy: t.app.policy,
      taskQueue: t.app.config.temporal.taskQueue,
      linkHosts: t.app.config.linkHosts,
      globalControlPercent: 30,
    });
    const ids = Array.from({ length: 20 }, (_, i) => `g-${i}`);
    const held = ids.filter((id) => inGlobalControl(id, 30));
    // The same customers at any percent that holds them: raising it only adds to the group.
    expect(held.every((id) => inGlobalControl(id, 40)) && !ids.some((id) => inGlobalControl(id, 0))).toBe(true);
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(ids.length);
    await t.store.upsertProfiles(ids.map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
    const at = (await serverNow()).toISOString();
    for (const customerId of ids) {
      const result = await client.ingest({ id: `gc-welcome-${customerId}`, type: 'fixture.welcome', customerId, occurredAt: at, properties: {} });
      if (held.includes(customerId)) {
        expect(result.started).toEqual([]);
        expect(result.ignored).toHaveLength(2);
        expect(result.ignored).toContainEqual({ journeyId: 'welcomeOffer', reason: 'global_control', message: `${customerId} is in the global control group (GLOBAL_CONTROL_PERCENT=30): held out of marketing journeys` });
        expect(result.ignored).toContainEqual({ journeyId: 'clickedOffer', reason: 'global_control', message: expect.stringContaining('global control group') });
      } else {
        expect(result.started.sort()).toEqual([`clickedOffer:${customerId}`, `welcomeOffer:${customerId}`]);
      }
    }
    const receipt = await client.ingest({ id: `gc-paid-${held[0]}`, type: 'fixture.paid', customerId: held[0], occurredAt: at, properties: {} });
    expect(receipt.started).toEqual([`paidReceipt:${held[0]}`]);

    // One held-out customer and two who entered buy.
    const entered = ids.filter((id) => !held.includes(id));
    for (const customerId of [held[0], entered[0], entered[1]]) await client.ingest({ id: `gc-purchase-${customerId}`, type: 'fixture.purchase', customerId, occurredAt: at, properties: { total: 10 } });
    const report = await journeyReport(t.store, catalogue, 'welcomeOffer', { now: await serverNow(), since: new Date(at), globalControlPercent: 30 });
    expect(report.globalControl).toMatchObject({
      percent: 30,
      heldOut: { customers: held.length, converted: 1, rate: 1 / held.length },
      entered: { customers: entered.length, converted: 2, rate: 2 / entered.length },
    });
    expect(report.globalControl!.analysis!.comparisons[0]).toMatchObject({ arm: 'entered', outcome: 'not_significant_yet' });
    expect(report.totals.entered).toBe(entered.length);
  }, 60_000);
});
