import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type SendStepInput } from '../activities';
import { buildPublicApi } from '../api/public';
import { compose } from '../compose';
import { ConfigError, PROJECT_ROOT, readConfig } from '../config';
import type { JourneyDefinitionInput } from '../domain/journey/types';
import { createTrackingSigner } from '../domain/delivery/tracking';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../journeys';
import type { CustomerEvent } from '../domain/customer/types';
import type journey from '../workflows';
import { trackingListener } from './support/trackingListener';
import { startJourneyEnv, TEST_UNSUBSCRIBE, testConfig, type JourneyEnv } from './support/journeyEnv';
import type { ReceivedEmail } from './support/mail';

/** An offer, then whether the customer clicks within 3 days: thanks if so, a nudge if not. */
const clickFollowUp: JourneyDefinitionInput = {
  id: 'clickFollowUp',
  name: 'Fixture: follow up on a click',
  trigger: { event: 'fixture.offer_requested' },
  steps: [
    { id: 'offer', kind: 'send', template: { rules: [], fallback: 'offer' } },
    { id: 'clicked', kind: 'waitFor', event: 'email.clicked', where: [{ attr: 'properties.journeyId', op: 'eq', value: 'clickFollowUp' }], timeout: '3d', onEvent: 'thanks', onTimeout: 'nudge' },
    { id: 'thanks', kind: 'send', template: { rules: [], fallback: 'thanks' }, next: 'done' },
    { id: 'nudge', kind: 'send', template: { rules: [], fallback: 'nudge' }, next: 'done' },
    { id: 'done', kind: 'exit' },
  ],
};
/** A journey that turned tracking off. */
const untrackedNews: JourneyDefinitionInput = {
  id: 'untrackedNews',
  name: 'Fixture: news without tracking',
  tracking: false,
  trigger: { event: 'fixture.news' },
  steps: [
    { id: 'news', kind: 'send', template: { rules: [], fallback: 'news' } },
    { id: 'done', kind: 'exit' },
  ],
};
const FIXTURE_TEMPLATES = join(__dirname, 'fixtures', 'tracking', 'templates');

const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SCANNER_WINDOW_MS = 10_000;

let t: JourneyEnv;
let api: FastifyInstance;
let address: string;
beforeAll(async () => {
  t = await startJourneyEnv({ catalogue: loadCatalogue([...shippedJourneys, clickFollowUp, untrackedNews], [TEMPLATES_DIR, FIXTURE_TEMPLATES]) });
  api = trackingListener(t, { scannerWindowMs: SCANNER_WINDOW_MS });
  address = await api.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await api?.close();
  await t?.close();
});

/** What a mail client does with a URL from the email: the same path, on the test's public listener, over real HTTP. */
const follow = (url: string, { method = 'GET', userAgent = BROWSER }: { method?: string; userAgent?: string } = {}) =>
  fetch(`${address}${new URL(url).pathname}`, { method, redirect: 'manual', headers: { 'user-agent': userAgent } });
const pixelOf = (email: ReceivedEmail) => {
  const pixels = [...email.html.matchAll(/<img src="(https:\/\/journeys\.test\/o\/[^"]+\.gif)" width="1" height="1" alt="">/g)].map((m) => m[1]);
  expect(pixels).toHaveLength(1);
  return pixels[0];
};
const clickLinksOf = (email: ReceivedEmail) => [...email.html.matchAll(/href="(https:\/\/journeys\.test\/c\/[^"]+)"/g)].map((m) => m[1]);
const engagementOf = async (customerId: string) => (await t.store.eventsOf(customerId)).filter((e) => e.type === 'email.opened' || e.type === 'email.clicked');

let seq = 0;
async function customerWithCart(customerId: string) {
  await t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: { firstName: 'Ada' } });
  await t.client.ingest({ id: `tr-evt-${++seq}`, type: 'cart.updated', customerId, properties: { cartId: 'cart-1', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' } });
  // Just to reminder 1's wait: the email then goes out at once, as the test goes on.
  await t.env.sleep('60m');
  const [email] = await t.mailbox.waitForCount(1, { to: `${customerId}@example.com` });
  expect(email.journeyStep).toBe('reminder1');
  return { email, workflowId: `cartAbandonment:${customerId}:cart-1` };
}

describe('the open pixel', () => {
  it('is in every marketing email; loading it records email.opened for the customer the email went to', async () => {
    const { email, workflowId } = await customerWithCart('tr-ada');
    const pixel = pixelOf(email);
    // The pixel closes the body; the unsubscribe link is left as it is.
    expect(email.html).toMatch(/alt=""><\/body>/);
    expect(email.html).toMatch(/<a href="https:\/\/journeys\.test\/u\/[^"]+">Unsubscribe<\/a>/);

    const res = await follow(pixel);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('cache-control')).toContain('no-store');
    const gif = Buffer.from(await res.arrayBuffer());
    expect(gif).toHaveLength(43);
    expect(gif.subarray(0, 6).toString()).toBe('GIF89a');

    expect(await engagementOf('tr-ada')).toEqual([
      {
        id: expect.stringMatching(/^email\.opened:/),
        type: 'email.opened',
        customerId: 'tr-ada',
        occurredAt: expect.any(String),
        properties: { workflowId, journeyId: 'cartAbandonment', stepId: 'reminder1', template: 'reminder1', machine: false },
      },
    ]);
    expect((await t.client.audit('tr-ada')).filter((e) => e.kind === 'engagement')).toEqual([{ at: expect.any(String), kind: 'engagement', what: 'opened reminder1', cause: `${workflowId} step reminder1` }]);

    // Each load counts; image proxies and Apple Mail Privacy Protection are machines.
    for (const userAgent of ['Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)', 'Mozilla/5.0', BROWSER]) await (await follow(pixel, { userAgent })).arrayBuffer();
    expect((await engagementOf('tr-ada')).map((e) => e.properties.machine)).toEqual([false, true, true, false]);
  });

  it('answers the same image for a forged or unknown token, and records nothing', async () => {
    const { email } = await customerWithCart('tr-forged-open');
    const pixel = new URL(pixelOf(email));
    const [kid, payload, mac] = pixel.pathname.slice('/o/'.length, -'.gif'.length).split('.');
    const otherStep = Buffer.from(JSON.stringify([`cartAbandonment:tr-forged-open:cart-1`, 'reminder2'])).toString('base64url');
    for (const path of [`/o/${kid}.${otherStep}.${mac}.gif`, `/o/${kid}.${payload}.${mac.slice(1)}x.gif`, '/o/nothing.gif', '/o/a.b.c.gif']) {
      const res = await fetch(`${address}${path}`, { headers: { 'user-agent': BROWSER } });
      expect(res.status, path).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toHaveLength(43);
    }
    expect(await engagementOf('tr-forged-open')).toEqual([]);
  });
});

describe('the click redirect', () => {
  it('leads to the URL recorded at send time and records email.clicked; HEAD and a click within seconds of the send are machines', async () => {
    const { email, workflowId } = await customerWithCart('tr-ben');
    const recorded = await t.store.trackedEmail(workflowId, 'reminder1');
    expect(recorded).toMatchObject({ customerId: 'tr-ben', variants: {} });
    const cart = recorded?.links.indexOf('https://shop.example.com/cart') ?? -1;
    expect(cart).toBeGreaterThanOrEqual(0);
    const links = clickLinksOf(email);
    expect(links).toHaveLength(recorded?.links.length ?? 0);
    // Only the HTML part's links are rewritten: the text part shows where they lead.
    expect(email.html).not.toContain('href="https://shop.example.com');
    expect(email.text).toContain('https://shop.example.com/cart');

    // A mail security gateway follows the link as the email arrives: first a HEAD, then a GET.
    const sentAt = Date.parse((await t.store.sendRecord(workflowId, 'reminder1'))?.updatedAt ?? '');
    expect((await t.env.currentTimeMs()) - sentAt).toBeLessThan(SCANNER_WINDOW_MS);
    for (const method of ['HEAD', 'GET']) {
      const res = await follow(links[cart], { method });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('https://shop.example.com/cart');
    }
    // The recipient clicks a minute later.
    await t.env.sleep('1m');
    expect((await follow(links[cart])).headers.get('location')).toBe('https://shop.example.com/cart');

    const clicks = (await engagementOf('tr-ben')).filter((e) => e.type === 'email.clicked');
    const expected = { workflowId, journeyId: 'cartAbandonment', stepId: 'reminder1', template: 'reminder1', linkIndex: cart, url: 'https://shop.example.com/cart' };
    expect(clicks.map((e) => e.properties)).toEqual([
      { ...expected, machine: true },
      { ...expected, machine: true },
      { ...expected, machine: false },
    ]);
    expect(clicks.every((e) => e.customerId === 'tr-ben')).toBe(true);
    expect((await t.client.audit('tr-ben')).filter((e) => e.kind === 'engagement').map((e) => e.what)).toEqual([
      `clicked link ${cart} in reminder1 (machine)`,
      `clicked link ${cart} in reminder1 (machine)`,
      `clicked link ${cart} in reminder1`,
    ]);
  });

  it('never redirects for a forged or altered token, a link index the email did not have, or a step that was not sent', async () => {
    const { email, workflowId } = await customerWithCart('tr-forged');
    const [link] = clickLinksOf(email);
    const [kid, payload, mac] = new URL(link).pathname.slice('/c/'.length).split('.');
    const encode = (claims: unknown) => Buffer.from(JSON.stringify(claims)).toString('base64url');
    const testSigner = createTrackingSigner(TEST_UNSUBSCRIBE.keys);
    const stranger = createTrackingSigner([{ id: TEST_UNSUBSCRIBE.keys[0].id, secret: 'someone-elses-secret-someone-elses-secret' }]);
    const cases: [string, string, number][] = [
      ['another link index, same signature', `${kid}.${encode([workflowId, 'reminder1', 5])}.${mac}`, 404],
      ['another step, same signature', `${kid}.${encode([workflowId, 'reminder2', 0])}.${mac}`, 404],
      ['another customer, same signature', `${kid}.${encode(['cartAbandonment:tr-ben:cart-1', 'reminder1', 0])}.${mac}`, 404],
      ['a signature one character off', `${kid}.${payload}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`, 404],
      ['signed with a key journeys does not have', stranger.sign({ workflowId, stepId: 'reminder1', linkIndex: 0 }), 404],
      ['the open pixel’s token', testSigner.sign({ workflowId, stepId: 'reminder1' }), 404],
      ['a link index the email did not have, validly signed', testSigner.sign({ workflowId, stepId: 'reminder1', linkIndex: 7 }), 404],
      ['a step not sent yet, validly signed', testSigner.sign({ workflowId, stepId: 'reminder2', linkIndex: 0 }), 404],
      ['cut short', `${kid}.${payload}`, 400],
      ['not base64url', `${kid}.${payload}!.${mac}`, 400],
    ];
    for (const [name, token, status] of cases) {
      const res = await fetch(`${address}/c/${token}`, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
      expect(res.status, name).toBe(status);
      expect(res.headers.get('location'), name).toBeNull();
      expect(res.headers.get('content-type'), name).toBe('text/html; charset=utf-8');
      expect(await res.text(), name).toMatch(/<p>This link is .+<\/p>/);
    }
    expect(await engagementOf('tr-forged')).toEqual([]);
  });

  it('keeps the public listener’s Host rule', async () => {
    const { email } = await customerWithCart('tr-host');
    const { port } = new URL(address);
    // A page of another site reaching the loopback listener after DNS rebinding names its own host.
    const answer = await new Promise<IncomingMessage>((resolve, reject) =>
      request({ host: '127.0.0.1', port, path: new URL(clickLinksOf(email)[0]).pathname, headers: { host: 'evil.example', 'user-agent': BROWSER } }, resolve).on('error', reject).end(),
    );
    answer.resume();
    expect(answer.statusCode).toBe(403);
    expect(answer.headers.location).toBeUndefined();
    expect(await engagementOf('tr-host')).toEqual([]);
  });
});

describe('a journey waiting for email.clicked', () => {
  const offer = async (customerId: string) => {
    await t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: {} });
    const started = await t.client.ingest({ id: `tr-offer-${customerId}`, type: 'fixture.offer_requested', customerId, properties: {} });
    expect(started.started).toEqual([`clickFollowUp:${customerId}`]);
    const [email] = await t.mailbox.waitForCount(1, { to: `${customerId}@example.com` });
    expect(email.journeyStep).toBe('offer');
    return email;
  };
  const stepsOf = async (customerId: string) => (await t.mailbox.emailsTo(`${customerId}@example.com`)).map((e) => e.journeyStep);

  it('takes the clicked branch after the recipient clicks', async () => {
    const email = await offer('tr-clicker');
    // The offer's links as recorded: the entity in the template is decoded, comments and mailto are no links.
    expect((await t.store.trackedEmail('clickFollowUp:tr-clicker', 'offer'))?.links).toEqual(['https://shop.example.com/collection?utm_source=email&utm_campaign=offer', 'https://shop.example.com/sale']);
    expect(email.html).toContain('href="mailto:help@shop.example.com"');
    expect(email.html).toContain('<!-- <a href="https://shop.example.com/draft">not a link</a> -->');

    await t.env.sleep('2h');
    const res = await follow(clickLinksOf(email)[0]);
    expect(res.headers.get('location')).toBe('https://shop.example.com/collection?utm_source=email&utm_campaign=offer');
    const result = await t.env.client.workflow.getHandle<typeof journey>('clickFollowUp:tr-clicker').result();
    expect(result.history.find((h) => h.stepId === 'clicked')?.outcome).toMatch(/^email\.clicked arrived \(email\.clicked:/);
    await t.mailbox.waitForCount(2, { to: 'tr-clicker@example.com' });
    expect(await stepsOf('tr-clicker')).toEqual(['offer', 'thanks']);
  });

  it('times out when only a security scanner clicked', async () => {
    const email = await offer('tr-scanned');
    const [link] = clickLinksOf(email);
    // As the email arrives: a HEAD, a GET within seconds, and a named scanner later.
    await follow(link, { method: 'HEAD' });
    await follow(link);
    await t.env.sleep('1h');
    expect((await follow(link, { userAgent: `${BROWSER} Barracuda Sentinel (EE)` })).status).toBe(302);
    expect((await engagementOf('tr-scanned')).map((e) => [e.type, e.properties.machine])).toEqual([
      ['email.clicked', true],
      ['email.clicked', true],
      ['email.clicked', true],
    ]);

    const result = await t.env.client.workflow.getHandle<typeof journey>('clickFollowUp:tr-scanned').result();
    expect(result.history.find((h) => h.stepId === 'clicked')?.outcome).toBe('no email.clicked within 3d');
    await t.mailbox.waitForCount(2, { to: 'tr-scanned@example.com' });
    expect(await stepsOf('tr-scanned')).toEqual(['offer', 'nudge']);
  });
});

describe('with tracking off', () => {
  it('a journey with tracking: false, and a transactional receipt, go out as rendered: no pixel, links unchanged', async () => {
    await t.client.upsertProfile({ customerId: 'tr-quiet', email: 'tr-quiet@example.com', attributes: {} });
    await t.client.ingest({ id: 'tr-news-1', type: 'fixture.news', customerId: 'tr-quiet', properties: {} });
    await t.client.ingest({ id: 'tr-order-1', type: 'order.completed', customerId: 'tr-quiet', properties: { orderId: 'o-1', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' } });
    const emails = await t.mailbox.waitForCount(2, { to: 'tr-quiet@example.com' });
    expect(emails.map((e) => e.journeyStep).sort()).toEqual(['news', 'receipt']);
    for (const email of emails) {
      expect(email.html).not.toContain('journeys.test/o/');
      expect(email.html).not.toContain('journeys.test/c/');
    }
    expect(emails.find((e) => e.journeyStep === 'news')?.html).toContain('<a href="https://shop.example.com/news">Read the news</a>');
    expect(await t.store.trackedEmail('untrackedNews:tr-quiet', 'news')).toBeUndefined();
    expect(await t.store.trackedEmail('orderReceipt:tr-quiet:o-1', 'receipt')).toBeUndefined();
  });

  it('TRACKING=off sends marketing email as rendered, and links sent before still redirect without being recorded', async () => {
    expect(readConfig({ TRACKING: 'off' }, PROJECT_ROOT).tracking).toEqual({ enabled: false, scannerWindowMs: 10_000 });
    expect(readConfig({ TRACKING_SCANNER_WINDOW: '30s' }, PROJECT_ROOT).tracking).toEqual({ enabled: true, scannerWindowMs: 30_000 });
    expect(() => readConfig({ TRACKING: 'maybe' }, PROJECT_ROOT)).toThrow(ConfigError);
    expect(() => readConfig({ TRACKING: 'maybe' }, PROJECT_ROOT)).toThrow(/TRACKING: write "on" or "off"/);

    // The shipped send activity of a deploy with TRACKING=off, on the suite's store and SMTP server.
    const base = testConfig();
    const off = await compose({ ...base, tracking: { ...base.tracking, enabled: false } }, { store: t.store, smtpUrl: t.mailbox.url });
    try {
      await t.client.upsertProfile({ customerId: 'tr-off', email: 'tr-off@example.com', attributes: {} });
      const event: CustomerEvent = { id: 'tr-off-cart', type: 'cart.updated', customerId: 'tr-off', occurredAt: new Date().toISOString(), properties: { cartId: 'k', items: [], total: 1, currency: 'EUR' } };
      const input: SendStepInput = { journeyId: 'cartAbandonment', topic: 'marketing', customerId: 'tr-off', stepId: 'reminder1', template: { rules: [], fallback: 'reminder1' }, event };
      const { sendStep } = createActivities(off.activityDeps());
      const sent = await new MockActivityEnvironment({ attempt: 1, activityId: '1', workflowExecution: { workflowId: 'cartAbandonment:tr-off:k', runId: 'run-1' } }).run(sendStep, input);
      expect(sent).toMatchObject({ status: 'sent' });
    } finally {
      await off.close();
    }
    const [email] = await t.mailbox.waitForCount(1, { to: 'tr-off@example.com' });
    expect(email.html).toContain('href="https://shop.example.com/cart"');
    expect(email.html).not.toContain('journeys.test/o/');
    expect(await t.store.trackedEmail('cartAbandonment:tr-off:k', 'reminder1')).toBeUndefined();

    // An email tracked before the switch: its link still leads to the cart, and nothing is recorded.
    const { email: before } = await customerWithCart('tr-before-off');
    const notRecording = buildPublicApi({
      journeys: t.client,
      bodyLimit: 64 * 1024,
      logger: false,
      unsubscribe: { signer: t.app.unsubscribeSigner(), store: t.store, policy: t.app.policy, topics: t.app.topics },
      tracking: { signer: t.app.trackingSigner(), store: t.store, linkHosts: t.app.config.linkHosts, scannerWindowMs: SCANNER_WINDOW_MS, record: false },
    });
    const click = await notRecording.inject({ method: 'GET', url: new URL(clickLinksOf(before)[0]).pathname, headers: { 'user-agent': BROWSER } });
    const open = await notRecording.inject({ method: 'GET', url: new URL(pixelOf(before)).pathname, headers: { 'user-agent': BROWSER } });
    await notRecording.close();
    expect([click.statusCode, click.headers.location]).toEqual([302, 'https://shop.example.com/cart']);
    expect(open.statusCode).toBe(200);
    expect(await engagementOf('tr-before-off')).toEqual([]);
  });
});
