import { createHmac, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPublicApi } from '../api/public';
import { dkimOptions, loadUnsubscribeKeys } from '../config/secrets';
import { ConfigError, readConfig } from '../config';
import { createUnsubscribeSigner, unsubscribeHeaders, unsubscribeLinks, unsubscribeUrl } from '../domain/delivery/unsubscribeTokens';
import type journey from '../workflows';
import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailable } from './support/browser';
import { startJourneyEnv, TEST_UNSUBSCRIBE, type JourneyEnv } from './support/journeyEnv';

const current = { id: 'k2', secret: 'current-secret-current-secret-0123456789' };
const previous = { id: 'k1', secret: 'previous-secret-previous-secret-012345678' };
const retired = { id: 'k0', secret: 'retired-secret-retired-secret-0123456789' };
const stranger = { id: 'k9', secret: 'someone-elses-secret-someone-elses-secret' };
// The server signs with k2 and still honours k1 links and those in the test worker's emails; k0 has been dropped.
const signer = createUnsubscribeSigner([current, previous, ...TEST_UNSUBSCRIBE.keys]);

let t: JourneyEnv;
let api: FastifyInstance;
beforeAll(async () => {
  t = await startJourneyEnv();
  api = buildPublicApi({ journeys: t.client, bodyLimit: 64 * 1024, logger: false, unsubscribe: { signer, store: t.store, policy: t.app.policy, topics: ['marketing', 'product'] } });
});
afterAll(async () => {
  await api?.close();
  await t?.close();
});

let seq = 0;
/** A customer with a cart left behind: cartAbandonment starts and waits an hour before reminder 1. */
async function customerWithCart(customerId: string, cartId = 'cart-1') {
  const email = `${customerId}@example.com`;
  await t.client.upsertProfile({ customerId, email, attributes: { firstName: 'Ada' } });
  const started = await t.client.ingest({ id: `evt-${++seq}`, type: 'cart.updated', customerId, properties: { cartId, items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' } });
  expect(started.started).toEqual([`cartAbandonment:${customerId}:${cartId}`]);
  return { email, workflowId: `cartAbandonment:${customerId}:${cartId}` };
}

const runStatus = async (workflowId: string) => (await t.env.client.workflow.getHandle(workflowId).describe()).status.name;
const journeyResult = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId).result();
const ledger = async (customerId: string) => (await t.store.consentLedger(customerId)).map((r) => [r.topic, r.status, r.source]);

const oneClick = (path: string) =>
  api.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
const linkPath = (token: string) => new URL(unsubscribeUrl(token, 'https://journeys.shop.example.com')).pathname;
/** Where a form on the page posts to, resolved against the page's own URL as a browser does. */
const formActions = (html: string, pagePath: string) => [...html.matchAll(/<form method="post" action="([^"]+)">/g)].map((m) => new URL(m[1], `https://shop.example.com${pagePath}`).pathname);
/** The List-* header lines of the emails to one address, unfolded, exactly as they went over SMTP. */
async function listHeadersTo(address: string) {
  const raw = t.mailbox.outbox.messages.filter((m) => m.to.includes(address)).map((m) => m.raw);
  return Promise.all(
    raw.map(async (message) => {
      const { headerLines } = await simpleParser(message);
      const lines = headerLines.filter((h) => h.key.startsWith('list-')).map((h) => [h.key, h.line.replace(/\r?\n(?=[ \t])/g, '').replace(/^[^:]+:\s*/, '')]);
      return Object.fromEntries(lines) as Record<string, string>;
    }),
  );
}
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hmac = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('base64url');

describe('one-click unsubscribe (RFC 8058)', () => {
  it('the one-click POST to the link in the email stops the waiting journey, and the next reminder never arrives', async () => {
    const { email, workflowId } = await customerWithCart('oc-ada');
    // The same cart for a customer who does not click: the reminders do go out to them.
    const control = await customerWithCart('oc-control');
    await t.env.sleep('61m');
    const [reminder1] = await t.mailbox.waitForCount(1, { to: email });
    await t.mailbox.waitForCount(1, { to: control.email });
    expect(reminder1.journeyStep).toBe('reminder1');

    const [headers] = await listHeadersTo(email);
    expect(headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const [, link, mailto] = /^<(https:\/\/[^>]+)>, <(mailto:[^>]+)>$/.exec(headers['list-unsubscribe']) ?? [];
    expect(mailto).toMatch(/^mailto:unsubscribe@shop\.example\.com\?subject=unsubscribe%20test\./);
    expect(reminder1.html).toContain(`href="${link}"`);
    expect(link).not.toContain('@');

    // Exactly what a mailbox provider sends (RFC 8058 section 3.2): no cookies, no page, one POST.
    const res = await oneClick(new URL(link).pathname);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('You are unsubscribed from marketing.');
    expect(res.body).not.toMatch(/<form|<a /);
    expect(await ledger('oc-ada')).toEqual([['marketing', 'withdrawn', 'one-click unsubscribe']]);
    expect((await journeyResult(workflowId)).status).toBe('consent_withdrawn');

    await t.env.sleep('100h');
    const reminders = await t.mailbox.waitForCount(3, { to: control.email });
    expect(reminders.map((e) => e.journeyStep)).toEqual(['reminder1', 'reminder2', 'lastChance']);
    expect((await t.mailbox.emailsTo(email)).map((e) => e.journeyStep)).toEqual(['reminder1']);
  });

  it('accepts the same body sent as multipart/form-data', async () => {
    const { workflowId } = await customerWithCart('oc-multi');
    const boundary = '----journeys-7MA4YWxkTrZu0gW';
    const payload = `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`;
    const res = await api.inject({
      method: 'POST',
      url: linkPath(signer.sign({ customerId: 'oc-multi', topic: 'marketing' })),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect(await ledger('oc-multi')).toEqual([['marketing', 'withdrawn', 'one-click unsubscribe']]);
    expect((await journeyResult(workflowId)).status).toBe('consent_withdrawn');
  });

  it('refuses a POST whose body does not say List-Unsubscribe=One-Click, and writes nothing', async () => {
    const { workflowId } = await customerWithCart('oc-body');
    const path = linkPath(signer.sign({ customerId: 'oc-body', topic: 'marketing' }));
    const cases = [
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=Maybe', status: 400 },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '', status: 400 },
      { headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\nContent-Disposition: form-data; name="Other"\r\n\r\nOne-Click\r\n--x--\r\n', status: 400 },
      { headers: {}, payload: '', status: 400 },
      { headers: { 'content-type': 'text/plain' }, payload: 'List-Unsubscribe=One-Click', status: 415 },
      { headers: { 'content-type': 'application/json' }, payload: '{"List-Unsubscribe":"One-Click"}', status: 415 },
    ];
    for (const { headers, payload, status } of cases) {
      const res = await api.inject({ method: 'POST', url: path, headers, payload });
      expect(res.statusCode, JSON.stringify({ headers, payload })).toBe(status);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
    expect(await ledger('oc-body')).toEqual([]);
    expect(await runStatus(workflowId)).toBe('RUNNING');
  });
});

describe('the unsubscribe page', () => {
  it('a GET changes nothing and shows the confirm button; pressing it unsubscribes', async () => {
    const { email, workflowId } = await customerWithCart('page-bo');
    const path = linkPath(signer.sign({ customerId: 'page-bo', topic: 'marketing' }));

    // What a link-scanning mail filter does: GET (and HEAD) the link, perhaps several times.
    for (const method of ['GET', 'HEAD', 'GET'] as const) expect((await api.inject({ method, url: path })).statusCode).toBe(200);
    expect(await ledger('page-bo')).toEqual([]);
    expect(await runStatus(workflowId)).toBe('RUNNING');

    const page = await api.inject({ method: 'GET', url: path });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('Unsubscribe from marketing?');
    expect(page.body).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe from marketing</button>');
    expect(page.body).toContain('<li>marketing: subscribed</li><li>product: subscribed</li>');
    expect(page.body).not.toContain(email);
    expect(page.body).not.toContain('@');

    const [confirm] = formActions(page.body, path);
    expect(confirm).toBe(path);
    const pressed = await oneClick(confirm);
    expect(pressed.statusCode).toBe(200);
    expect(pressed.body).toContain('You are unsubscribed from marketing.');
    expect(await ledger('page-bo')).toEqual([['marketing', 'withdrawn', 'one-click unsubscribe']]);
    expect((await journeyResult(workflowId)).status).toBe('consent_withdrawn');

    const after = await api.inject({ method: 'GET', url: path });
    expect(after.body).toContain('<li>marketing: unsubscribed</li><li>product: subscribed</li>');
  });

  it.runIf(chromiumAvailable())('works in a real browser: the page loads under its CSP, and the button unsubscribes', async () => {
    const { workflowId } = await customerWithCart('page-chrome');
    const address = await api.listen({ host: '127.0.0.1', port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const blocked: string[] = [];
      page.on('console', (message) => void (message.type() === 'error' && blocked.push(message.text())));
      await page.goto(`${address}${linkPath(signer.sign({ customerId: 'page-chrome', topic: 'marketing' }))}`);
      await page.getByRole('heading', { name: 'Unsubscribe from marketing?' }).waitFor();
      expect(await ledger('page-chrome')).toEqual([]);
      await page.getByRole('button', { name: 'Unsubscribe from marketing' }).click();
      await page.getByText('You are unsubscribed from marketing.').waitFor();
      expect(blocked).toEqual([]);
    } finally {
      await browser.close();
    }
    expect(await ledger('page-chrome')).toEqual([['marketing', 'withdrawn', 'one-click unsubscribe']]);
    expect((await journeyResult(workflowId)).status).toBe('consent_withdrawn');
  });

  it('offers a second button that opts out of every topic with a token signed for topic "all"', async () => {
    const path = linkPath(signer.sign({ customerId: 'page-all', topic: 'product' }));
    const page = await api.inject({ method: 'GET', url: path });
    expect(page.body).toContain('Unsubscribe from all topics</button>');
    const [, everything] = formActions(page.body, path);
    expect(signer.verify(everything.slice('/u/'.length))).toEqual({ ok: true, customerId: 'page-all', topic: 'all' });
    expect(await ledger('page-all')).toEqual([]);

    const res = await oneClick(everything);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('You are unsubscribed from all topics.');
    expect(await ledger('page-all')).toEqual([['all', 'withdrawn', 'one-click unsubscribe']]);
    expect((await api.inject({ method: 'GET', url: path })).body).toContain('<li>all topics: unsubscribed</li><li>marketing: subscribed</li>');
  });

  it('escapes what it shows from the ledger, and never echoes a hostile token', async () => {
    const hostile = '"><img src=x onerror=alert(1)>';
    await t.store.recordConsent({ customerId: 'page-eve', topic: hostile, status: 'withdrawn', source: 'import', at: new Date().toISOString() });
    const page = await api.inject({ method: 'GET', url: linkPath(signer.sign({ customerId: 'page-eve', topic: 'marketing' })) });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('&#34;&#62;&#60;img src=x onerror=alert(1)&#62;: unsubscribed');
    expect(page.body).not.toContain('<img');

    // Correctly signed, but naming no valid customer: refused before anything is shown.
    const payload = b64({ c: '<script>alert(1)</script>', t: 'marketing', iat: 1 });
    const res = await api.inject({ method: 'GET', url: `/u/k2.${payload}.${hmac(current.secret, `k2.${payload}`)}` });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain('<script');
  });
});

describe('refused links change nothing', () => {
  // Each case aims at a customer of its own, whose waiting journey must survive it.
  const valid = (victim: string) => signer.sign({ customerId: victim, topic: 'marketing' });
  const forge = (key: { id: string; secret: string }, claims: unknown) => `${key.id}.${b64(claims)}.${hmac(key.secret, `${key.id}.${b64(claims)}`)}`;
  const refused: { name: string; token: (victim: string) => string; status: number }[] = [
    { name: 'a forged signature', token: (victim) => `${valid(victim).split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`, status: 403 },
    {
      name: 'a payload altered to name another customer',
      token: (victim) => {
        const [kid, , signature] = signer.sign({ customerId: 'ref-mallory', topic: 'marketing' }).split('.');
        return `${kid}.${b64({ c: victim, t: 'marketing', iat: Math.floor(Date.now() / 1000) })}.${signature}`;
      },
      status: 403,
    },
    { name: 'a key id swapped for the other valid key', token: (victim) => `k1.${valid(victim).split('.').slice(1).join('.')}`, status: 403 },
    { name: 'a key the server never had', token: (victim) => forge(stranger, { c: victim, t: 'marketing', iat: 1 }), status: 403 },
    { name: 'a key rotated out', token: (victim) => createUnsubscribeSigner([retired]).sign({ customerId: victim, topic: 'marketing' }), status: 403 },
    { name: 'a truncated token', token: (victim) => valid(victim).split('.').slice(0, 2).join('.'), status: 400 },
    { name: 'a payload that is not base64url', token: (victim) => `k2.${b64({ c: victim, t: 'marketing', iat: 1 })}%21.${'A'.repeat(43)}`, status: 400 },
    { name: 'a signed payload that is not JSON', token: (victim) => forge(current, `{"c":"${victim}",`), status: 400 },
  ];

  it.each(refused)('$status for $name, on GET and on the one-click POST', async ({ token, status }) => {
    const victim = `ref-victim-${++seq}`;
    const { workflowId } = await customerWithCart(victim);
    for (const res of [await api.inject({ method: 'GET', url: `/u/${token(victim)}` }), await oneClick(`/u/${token(victim)}`)]) {
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.body).toMatch(/^This unsubscribe link is/);
    }
    expect(await ledger(victim)).toEqual([]);
    expect(await runStatus(workflowId)).toBe('RUNNING');
  });

  it('serves no /v1 route on the public listener, whatever the body', async () => {
    for (const [method, url] of [['POST', '/v1/consent'], ['POST', '/v1/events'], ['DELETE', '/v1/customers/ref-victim'], ['GET', '/v1/customers/ref-victim/audit']] as const) {
      const body = method === 'POST' ? { headers: { 'content-type': 'application/json' }, payload: '{"customerId":"ref-victim"}' } : {};
      const res = await api.inject({ method, url, ...body });
      expect([url, res.statusCode]).toEqual([url, 404]);
    }
    expect(await t.store.consentLedger('ref-victim')).toEqual([]);
  });
});

describe('unsubscribe tokens', () => {
  it('name the customer and topic and nothing else: no address, no "@"', () => {
    const token = signer.sign({ customerId: 'tok-ada', topic: 'marketing' });
    const [kid, payload, signature] = token.split('.');
    expect(kid).toBe('k2');
    expect(Object.keys(JSON.parse(Buffer.from(payload, 'base64url').toString()))).toEqual(['c', 't', 'iat']);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain('@');
    expect(signer.verify(token)).toEqual({ ok: true, customerId: 'tok-ada', topic: 'marketing' });
    expect(() => signer.sign({ customerId: 'ada@example.com', topic: 'marketing' })).toThrow();
  });

  it('survive key rotation while the old key stays in the list, and not after', () => {
    const before = createUnsubscribeSigner([previous]).sign({ customerId: 'tok-rot', topic: 'marketing' });
    expect(signer.verify(before)).toEqual({ ok: true, customerId: 'tok-rot', topic: 'marketing' });
    expect(signer.sign({ customerId: 'tok-rot', topic: 'marketing' }).startsWith('k2.')).toBe(true);
    expect(createUnsubscribeSigner([current]).verify(before)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('refuse short secrets and duplicate key ids', () => {
    expect(() => createUnsubscribeSigner([])).toThrow(/at least one key/);
    expect(() => createUnsubscribeSigner([{ id: 'k1', secret: 'short' }])).toThrow(/at least 32/);
    expect(() => createUnsubscribeSigner([current, current])).toThrow(/appears twice/);
  });

  it('go into the RFC 8058 headers with an https link and a mailto fallback', () => {
    const token = signer.sign({ customerId: 'tok-hdr', topic: 'marketing' });
    expect(unsubscribeHeaders(token, { publicUrl: 'https://journeys.shop.example.com/', mailto: 'unsubscribe@shop.example.com' })).toEqual({
      'List-Unsubscribe': `<https://journeys.shop.example.com/u/${token}>, <mailto:unsubscribe@shop.example.com?subject=unsubscribe%20${token}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
    const links = unsubscribeLinks(signer, { publicUrl: 'https://journeys.shop.example.com', mailto: 'unsubscribe@shop.example.com' })('tok-hdr', 'marketing');
    expect(links.url).toMatch(/^https:\/\/journeys\.shop\.example\.com\/u\/k2\.[^/]+$/);
    expect(links.headers['List-Unsubscribe']).toContain(`<${links.url}>`);
  });

  it('fit a 128-character customer ID and a 64-character topic, beyond the router\'s parameter limit', async () => {
    const customerId = 'x'.repeat(128);
    const path = linkPath(signer.sign({ customerId, topic: 'm'.repeat(64) }));
    expect(path.length).toBeGreaterThan(256);
    const page = await api.inject({ method: 'GET', url: path });
    expect(page.statusCode).toBe(200);
  });
});

describe('unsubscribe settings', () => {
  const root = '/srv/journeys';

  it('default to the public listener\'s local URL, the shop mailto, no keys and no DKIM', () => {
    const config = readConfig({ PUBLIC_HOST: '127.0.0.1', PUBLIC_PORT: '3101', HOST: '127.0.0.1', PORT: '3100' }, root);
    expect(config.unsubscribe).toEqual({ publicUrl: 'http://127.0.0.1:3101', mailto: 'unsubscribe@shop.example.com', keys: [] });
    expect(config.dkim).toBeUndefined();
  });

  it('read PUBLIC_URL, UNSUBSCRIBE_MAILTO and UNSUBSCRIBE_KEYS (first signs)', () => {
    const config = readConfig(
      { PUBLIC_URL: 'https://journeys.shop.example.com/', UNSUBSCRIBE_MAILTO: 'optout@shop.example.com', UNSUBSCRIBE_KEYS: `k2:${current.secret}, k1:${previous.secret}` },
      root,
    );
    expect(config.unsubscribe).toEqual({ publicUrl: 'https://journeys.shop.example.com', mailto: 'optout@shop.example.com', keys: [current, previous] });
  });

  it('refuse short secrets and half-configured DKIM with messages that say what to do, without quoting secrets', () => {
    expect(() => readConfig({ UNSUBSCRIBE_KEYS: 'k1:tooshortsecret' }, root)).toThrow(ConfigError);
    expect(() => readConfig({ UNSUBSCRIBE_KEYS: 'k1:tooshortsecret' }, root)).toThrow(/UNSUBSCRIBE_KEYS: key "k1": the secret has 14 characters, use at least 32/);
    expect(() => readConfig({ UNSUBSCRIBE_KEYS: 'k1:tooshortsecret' }, root)).not.toThrow(/tooshortsecret/);
    expect(() => readConfig({ UNSUBSCRIBE_KEYS: 'justasecretwithoutakeyidjustasecret' }, root)).toThrow(/write each key as kid:secret/);
    expect(() => readConfig({ PUBLIC_URL: 'ftp://shop.example.com' }, root)).toThrow(/PUBLIC_URL/);
    expect(() => readConfig({ DKIM_DOMAIN: 'shop.example.com' }, root)).toThrow(/DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE together; set DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE too/);
  });

  it('generate one key on first start, keep it in the data folder, and reuse it on the next start', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'journeys-keys-')), 'data');
    try {
      const config = readConfig({ DATA_DIR: dataDir }, root);
      const first = loadUnsubscribeKeys(config);
      expect(first).toEqual([{ id: 'local', secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) }]);
      expect(statSync(join(dataDir, 'unsubscribe-keys')).mode & 0o777).toBe(0o600);
      const token = createUnsubscribeSigner(first).sign({ customerId: 'keys-ada', topic: 'marketing' });
      expect(createUnsubscribeSigner(loadUnsubscribeKeys(config)).verify(token)).toMatchObject({ ok: true });

      const configured = readConfig({ DATA_DIR: join(dataDir, 'other'), UNSUBSCRIBE_KEYS: `k2:${current.secret}` }, root);
      expect(loadUnsubscribeKeys(configured)).toEqual([current]);
      expect(existsSync(join(dataDir, 'other', 'unsubscribe-keys'))).toBe(false);
    } finally {
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  it('give nodemailer a DKIM option that signs both List-Unsubscribe headers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'journeys-dkim-'));
    try {
      const keyFile = join(dir, 'dkim.pem');
      writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const config = readConfig({ DKIM_DOMAIN: 'shop.example.com', DKIM_SELECTOR: 's2025', DKIM_PRIVATE_KEY_FILE: keyFile }, root);
      const dkim = dkimOptions(config);
      expect(dkim).toMatchObject({ domainName: 'shop.example.com', keySelector: 's2025', privateKey: readFileSync(keyFile, 'utf8') });
      expect(dkim?.headerFieldNames?.split(':')).toEqual(expect.arrayContaining(['From', 'To', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Content-Type', 'List-Unsubscribe', 'List-Unsubscribe-Post']));
      expect(dkimOptions(readConfig({}, root))).toBeUndefined();

      // What nodemailer then puts on the wire: a signature whose h= names both headers.
      const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, dkim });
      const token = signer.sign({ customerId: 'dkim-ada', topic: 'marketing' });
      const headers = unsubscribeHeaders(token, { publicUrl: 'https://journeys.shop.example.com', mailto: 'unsubscribe@shop.example.com' });
      const sent = await transport.sendMail({ from: 'hello@shop.example.com', to: 'ada@example.com', subject: 'Hi', text: 'Hi', headers });
      const signature = /^DKIM-Signature:(.*(?:\r\n[ \t].*)*)/m.exec(sent.message.toString())?.[1].replace(/\r\n[ \t]+/g, '') ?? '';
      expect(signature).toMatch(/d=shop\.example\.com;.*s=s2025;/);
      expect(/;\s*h=([^;]+)/.exec(signature)?.[1].split(':')).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post']));
      expect(() => dkimOptions(readConfig({ DKIM_DOMAIN: 'shop.example.com', DKIM_SELECTOR: 's', DKIM_PRIVATE_KEY_FILE: join(dir, 'missing.pem') }, root))).toThrow(/DKIM_PRIVATE_KEY_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
