import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../api/http';
import { PROJECT_ROOT, readConfig } from '../config';
import { defaultLinkHosts, linkProblem, mailDomainOf, parseLinkHosts, withoutForeignLinks } from '../domain/delivery/linkHosts';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const SHOP = ['shop.example.com', 'journeys.test'];

describe('which values are links, and which links are kept', () => {
  it.each([
    ['https://shop.example.com/cart/42', undefined],
    ['http://shop.example.com/cart', undefined],
    ['https://www.shop.example.com/cart', undefined],
    ['https://a.b.shop.example.com:8443/x?y=1#z', undefined],
    ['HTTPS://SHOP.EXAMPLE.COM/Cart', undefined],
    ['https://shop.example.com./cart', undefined],
    ['  https://shop.example.com/cart\n', undefined],
    ['https://evil.example.net/phish', 'host evil.example.net is not in LINK_HOSTS'],
    ['https://evilshop.example.com/', 'host evilshop.example.com is not in LINK_HOSTS'],
    ['https://shop.example.com.evil.net/', 'host shop.example.com.evil.net is not in LINK_HOSTS'],
    ['https://shop.example.com@evil.net/', 'host evil.net is not in LINK_HOSTS'],
    ['https://shop.example.com:pw@evil.net/', 'host evil.net is not in LINK_HOSTS'],
    ['https://user@shop.example.com/', 'a link with user info (…@ before the host) is not allowed'],
    ['https://evil.net\\@shop.example.com/', 'host evil.net is not in LINK_HOSTS'],
    ['https:evil.net/x', 'host evil.net is not in LINK_HOSTS'],
    ['https:\\\\evil.net/x', 'host evil.net is not in LINK_HOSTS'],
    ['https://EVIL.example.NET./x', 'host evil.example.net is not in LINK_HOSTS'],
    ['https://bücher.example/', 'host xn--bcher-kva.example is not in LINK_HOSTS'],
    ['https://shоp.example.com/', 'host xn--shp-ted.example.com is not in LINK_HOSTS'], // Cyrillic "о"
    ['https://0x7f.1/', 'host 127.0.0.1 is not in LINK_HOSTS'],
    ['//evil.example.net/x', 'a link without a scheme (//host…) is not allowed: write https://'],
    ['\\\\evil.example.net/x', 'a link without a scheme (//host…) is not allowed: write https://'],
    ['javascript:alert(document.cookie)', 'javascript: links are not allowed (only https and http)'],
    ['  JaVaScRiPt:alert(1)', 'javascript: links are not allowed (only https and http)'],
    ['java\nscript:alert(1)', 'javascript: links are not allowed (only https and http)'],
    ['\u0001javascript:alert(1)', 'javascript: links are not allowed (only https and http)'],
    ['data:text/html;base64,PHNjcmlwdD4=', 'data: links are not allowed (only https and http)'],
    ['vbscript:msgbox(1)', 'vbscript: links are not allowed (only https and http)'],
    ['mailto:support@shop.example.com', 'mailto: links are not allowed (only https and http)'],
    ['ftp://shop.example.com/file', 'ftp: links are not allowed (only https and http)'],
    ['myapp://open/cart', 'myapp: links are not allowed (only https and http)'],
    ['https://', 'not a valid URL'],
    // Text stays: no link scheme before the colon, and no // after it.
    ['Note: leave at the door', undefined],
    ['note:leave it', undefined],
    ['urn:isbn:0451450523', undefined],
    ['10:30', undefined],
    ['Order 42: shipped', undefined],
    ['/cart/42', undefined],
    ['shop.example.com/cart', undefined],
    ['evil.example.net', undefined],
    ['ada@example.com', undefined],
    ['', undefined],
  ])('%j → %s', (value, reason) => {
    expect(linkProblem(value, SHOP)).toBe(reason);
  });

  it('drops refused values at any depth, naming each path; everything else is kept as it was', () => {
    const properties = {
      cartId: 'c-1',
      total: 12.5,
      note: 'Note: gift',
      cartUrl: 'https://evil.example.net/phish',
      items: [
        { name: 'Shoes', url: 'https://shop.example.com/p/shoes', price: 10 },
        { name: 'Hat', url: 'javascript:alert(1)', tags: ['new', 'data:,x'] },
      ],
      images: ['https://evil.example.net/a.png', 'https://cdn.shop.example.com/b.png'],
      nested: { deeper: { link: '//evil.example.net' }, empty: null, flag: true },
    };
    const { kept, dropped } = withoutForeignLinks(properties, SHOP, 'properties');
    expect(kept).toEqual({
      cartId: 'c-1',
      total: 12.5,
      note: 'Note: gift',
      items: [
        { name: 'Shoes', url: 'https://shop.example.com/p/shoes', price: 10 },
        { name: 'Hat', tags: ['new'] },
      ],
      images: ['https://cdn.shop.example.com/b.png'],
      nested: { deeper: {}, empty: null, flag: true },
    });
    expect(dropped.map((d) => d.path)).toEqual([
      'properties.cartUrl',
      'properties.items.1.url',
      'properties.items.1.tags.1',
      'properties.images.0',
      'properties.nested.deeper.link',
    ]);
    expect(dropped[0]).toEqual({ path: 'properties.cartUrl', reason: 'host evil.example.net is not in LINK_HOSTS' });
    // The input is left as it was.
    expect(properties.cartUrl).toBe('https://evil.example.net/phish');
  });

  it('keeps a "__proto__" key from JSON as a key, and screens what it holds', () => {
    const properties = JSON.parse('{"__proto__": {"url": "https://evil.example.net/", "n": 1}, "b": 2}') as Record<string, unknown>;
    const { kept, dropped } = withoutForeignLinks(properties, SHOP, 'properties');
    expect(JSON.stringify(kept)).toBe('{"__proto__":{"n":1},"b":2}');
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
    expect(dropped).toEqual([{ path: 'properties.__proto__.url', reason: 'host evil.example.net is not in LINK_HOSTS' }]);
  });

  it('an IP address in LINK_HOSTS allows itself only', () => {
    expect(linkProblem('http://127.0.0.1:3000/u/x', ['127.0.0.1'])).toBeUndefined();
    expect(linkProblem('http://[::1]:3000/u/x', ['[::1]'])).toBeUndefined();
    expect(linkProblem('http://127.0.0.2/', ['127.0.0.1'])).toBe('host 127.0.0.2 is not in LINK_HOSTS');
    expect(linkProblem('http://[::2]/', ['[::1]'])).toBe('host [::2] is not in LINK_HOSTS');
  });
});

describe('LINK_HOSTS', () => {
  it('parses names as compared (lower case, punycode, no trailing dot), deduplicated', () => {
    expect(parseLinkHosts(' Shop.Example.com, cdn.example.net. ,shop.example.com,bücher.example, localhost, 10.0.0.1, [::1],')).toEqual({
      hosts: ['shop.example.com', 'cdn.example.net', 'xn--bcher-kva.example', 'localhost', '10.0.0.1', '[::1]'],
      problems: [],
    });
  });

  it.each([
    ['https://shop.example.com', /"https:\/\/shop.example.com" has a scheme: write the host name alone, e.g. "shop.example.com"/],
    ['shop.example.com/cart', /has a path: write the host name alone, e.g. "shop.example.com"/],
    ['shop.example.com:443', /has a port/],
    ['*.shop.example.com', /has a wildcard: a name already allows its subdomains, so write "shop.example.com"/],
    ['user@shop.example.com', /has user info/],
    ['shop example.com', /has a space/],
    ['com', /"com" is a single label and would allow every host under it/],
    ['shop_.example.com', /is not a host name/],
    ['::1', /looks like an IPv6 address: write it in brackets/],
    [',', /name at least one host/],
  ])('refuses %j, naming LINK_HOSTS', (value, message) => {
    const read = () => readConfig({ LINK_HOSTS: value }, PROJECT_ROOT);
    expect(read).toThrow(/LINK_HOSTS: /);
    expect(read).toThrow(message);
  });

  it("defaults to PUBLIC_URL's host and MAIL_FROM's domain; a value replaces the default", () => {
    expect(readConfig({}, PROJECT_ROOT).linkHosts).toEqual(defaultLinkHosts(readConfig({}, PROJECT_ROOT).unsubscribe.publicUrl, 'Journeys demo <hello@shop.example.com>'));
    expect(readConfig({}, PROJECT_ROOT).linkHosts).toContain('shop.example.com');
    expect(readConfig({ PUBLIC_URL: 'https://Journeys.Shop.example.com/', MAIL_FROM: 'Shop <news@mail.example.org>' }, PROJECT_ROOT).linkHosts).toEqual([
      'journeys.shop.example.com',
      'mail.example.org',
    ]);
    expect(readConfig({ LINK_HOSTS: 'shop.example.com,cdn.example.net' }, PROJECT_ROOT).linkHosts).toEqual(['shop.example.com', 'cdn.example.net']);
    expect(mailDomainOf('Journeys demo <hello@shop.example.com>')).toBe('shop.example.com');
    expect(mailDomainOf('hello@Shop.Example.com')).toBe('shop.example.com');
    expect(mailDomainOf('no address')).toBeUndefined();
  });
});

describe('SMTP_URL needs an https PUBLIC_URL', () => {
  it('refuses SMTP_URL without PUBLIC_URL, or with an http one, naming both settings and the fix', () => {
    for (const env of [{ SMTP_URL: 'smtps://u:p@smtp.example.com:465' }, { SMTP_URL: 'smtp://smtp.example.com', PUBLIC_URL: 'http://journeys.shop.example.com' }]) {
      const read = () => readConfig(env, PROJECT_ROOT);
      expect(read).toThrow(/PUBLIC_URL: SMTP_URL sends real email, so PUBLIC_URL must be the https address where customers reach \/u\/… \(RFC 8058\)/);
      expect(read).toThrow(/set PUBLIC_URL=https:\/\//);
    }
    expect(() => readConfig({ SMTP_URL: 'smtp://smtp.example.com', PUBLIC_URL: 'http://x.example.com' }, PROJECT_ROOT)).toThrow(/"http:\/\/x.example.com" is not https/);
    expect(() => readConfig({ SMTP_URL: 'smtp://smtp.example.com' }, PROJECT_ROOT)).toThrow(/it is unset/);
    expect(readConfig({ SMTP_URL: 'smtp://smtp.example.com', PUBLIC_URL: 'https://journeys.shop.example.com' }, PROJECT_ROOT).unsubscribe.publicUrl).toBe('https://journeys.shop.example.com');
    // The embedded outbox keeps email on this machine: the local http default is fine there.
    expect(() => readConfig({}, PROJECT_ROOT)).not.toThrow();
  });
});

// The suite's settings: PUBLIC_URL https://journeys.test and MAIL_FROM hello@shop.example.com,
// so LINK_HOSTS is journeys.test and shop.example.com.
describe('a link to another host never reaches an email', () => {
  let t: JourneyEnv;
  let api: FastifyInstance;
  beforeAll(async () => {
    t = await startJourneyEnv();
    api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 256 * 1024, logger: false });
  });
  afterAll(async () => {
    await api?.close();
    await t?.close();
  });

  /**
   * Where the email's links lead: each tracked link (`/c/<token>`) to the URL recorded for it
   * when the email was sent, the only place the click redirect goes; any other link as it is.
   */
  const linkTargets = async (html: string) =>
    Promise.all(
      [...html.matchAll(/href="([^"]+)"/g)].map(async ([, href]) => {
        if (!href.startsWith('https://journeys.test/c/')) return href;
        const target = t.app.trackingSigner().verify(href.slice('https://journeys.test/c/'.length));
        if (!target.ok || target.linkIndex === undefined) throw new Error(`${href} is no valid click link`);
        return (await t.store.trackedEmail(target.workflowId, target.stepId))?.links[target.linkIndex];
      }),
    );

  const cart = (id: string, customerId: string, cartId: string, extra: Record<string, unknown>) => ({
    id,
    type: 'cart.updated',
    customerId,
    properties: { cartId, items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR', ...extra },
  });

  it('drops a cartUrl on another host at ingest: the journey starts, the answer and the audit name the drop, the email links to the default cart', async () => {
    await t.client.upsertProfile({ customerId: 'phished', email: 'phished@example.com', attributes: { firstName: 'Pat' } });
    const event = cart('link-1', 'phished', 'cart-p', { cartUrl: 'https://evil.example.net/phish', items: [{ name: 'Trail shoes', quantity: 1, price: 80, url: 'javascript:alert(1)' }] });
    const first = await t.client.ingest(event);
    expect(first).toEqual({
      eventId: 'link-1',
      duplicate: false,
      started: ['cartAbandonment:phished:cart-p'],
      signalled: [],
      dropped: [
        { path: 'properties.items.0.url', reason: 'javascript: links are not allowed (only https and http)' },
        { path: 'properties.cartUrl', reason: 'host evil.example.net is not in LINK_HOSTS' },
      ],
    });
    const stored = await t.store.eventById('link-1');
    expect(stored?.properties).toEqual({ cartId: 'cart-p', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' });

    // The same event again, the refused link included, is a duplicate, not an id conflict, and notes nothing twice.
    const again = await t.client.ingest(event);
    expect(again).toEqual({ ...first, duplicate: true, started: [] });

    await t.env.sleep('61m');
    const [email] = await t.mailbox.waitForCount(1, { to: 'phished@example.com' });
    expect(email.journeyStep).toBe('reminder1');
    const targets = await linkTargets(email.html);
    for (const part of [email.html, email.text, ...targets]) {
      expect(part).not.toContain('evil.example.net');
      expect(part).not.toContain('javascript:');
    }
    expect(email.text).toContain('https://shop.example.com/cart');
    expect(targets).toContain('https://shop.example.com/cart');

    const audit = await t.client.audit('phished');
    expect(audit.filter((e) => e.kind === 'dropped')).toEqual([
      { at: expect.any(String), kind: 'dropped', what: 'dropped properties.items.0.url: javascript: links are not allowed (only https and http)', cause: 'event link-1' },
      { at: expect.any(String), kind: 'dropped', what: 'dropped properties.cartUrl: host evil.example.net is not in LINK_HOSTS', cause: 'event link-1' },
    ]);
    expect(audit.map((e) => e.kind)).toEqual(['dropped', 'dropped', 'journey', 'send']);

    // Erasure takes the notes with the events.
    await t.client.erase('phished');
    expect(await t.store.eventNotesOf('phished')).toEqual([]);
    expect(await t.client.audit('phished')).toEqual([]);
  });

  it("keeps a cartUrl on the shop's host, which the email then links to", async () => {
    await t.client.upsertProfile({ customerId: 'honest', email: 'honest@example.com', attributes: {} });
    const answer = await t.client.ingest(cart('link-2', 'honest', 'cart-h', { cartUrl: 'https://www.shop.example.com/cart/cart-h?utm_source=email' }));
    expect(answer).toEqual({ eventId: 'link-2', duplicate: false, started: ['cartAbandonment:honest:cart-h'], signalled: [] });
    await t.env.sleep('61m');
    const [email] = await t.mailbox.waitForCount(1, { to: 'honest@example.com' });
    expect(await linkTargets(email.html)).toContain('https://www.shop.example.com/cart/cart-h?utm_source=email');
    expect(email.text).toContain('https://www.shop.example.com/cart/cart-h?utm_source=email');
    expect((await t.client.audit('honest')).filter((e) => e.kind === 'dropped')).toEqual([]);
  });

  it('a first copy recorded with the link (before the rule, or under a LINK_HOSTS that allowed it) still makes a resend a duplicate', async () => {
    const event = cart('link-3', 'before', 'cart-b', { cartUrl: 'https://old-partner.example.org/cart' });
    await t.store.recordEvent({ ...event, occurredAt: '2026-01-01T10:00:00Z' });
    await t.store.markEventRouted('link-3');
    const again = await t.client.ingest({ ...event, occurredAt: '2026-01-01T11:00:00+01:00' });
    expect(again).toMatchObject({ eventId: 'link-3', duplicate: true, started: [], dropped: [{ path: 'properties.cartUrl' }] });
    // Other contents under the id are still a conflict.
    await expect(t.client.ingest({ ...event, occurredAt: '2026-01-01T10:00:00Z', properties: { ...event.properties, total: 1 } })).rejects.toThrow(/event_id|different properties/);
  });

  it('drops links in history and in profile attributes the same way', async () => {
    const batch = await t.client.ingestBatch(
      {
        events: [
          { id: 'link-h1', type: 'order.completed', customerId: 'hist', occurredAt: '2026-01-02T10:00:00Z', properties: { orderId: 'o1', items: [{ sku: 'lamp', url: 'https://evil.example.net/lamp' }, { sku: 'bulb', url: 'https://shop.example.com/p/bulb' }] } },
        ],
      },
      'history',
    );
    expect(batch.results).toEqual([{ eventId: 'link-h1', duplicate: false, started: [], signalled: [], dropped: [{ path: 'properties.items.0.url', reason: 'host evil.example.net is not in LINK_HOSTS' }] }]);
    expect((await t.store.eventById('link-h1'))?.properties).toEqual({ orderId: 'o1', items: [{ sku: 'lamp' }, { sku: 'bulb', url: 'https://shop.example.com/p/bulb' }] });
    expect((await t.store.eventNotesOf('hist')).map((n) => [n.eventId, n.path])).toEqual([['link-h1', 'properties.items.0.url']]);

    const profile = await t.client.upsertProfile({ customerId: 'prof', email: 'prof@example.com', attributes: { homepage: 'https://shop.example.com/me', avatar: 'data:image/png;base64,AAAA', plan: 'pro' } });
    expect(profile.dropped).toEqual([{ path: 'attributes.avatar', reason: 'data: links are not allowed (only https and http)' }]);
    expect((await t.store.getProfile('prof'))?.attributes).toEqual({ homepage: 'https://shop.example.com/me', plan: 'pro' });
  });

  it('POST /v1/events answers with dropped', async () => {
    const res = await api.inject({ method: 'POST', url: '/v1/events', payload: cart('link-http', 'http-link', 'cart-x', { cartUrl: 'https://evil.example.net/phish' }) });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ eventId: 'link-http', duplicate: false, dropped: [{ path: 'properties.cartUrl', reason: 'host evil.example.net is not in LINK_HOSTS' }] });
    const audit = await api.inject({ method: 'GET', url: '/v1/customers/http-link/audit' });
    expect(audit.json()).toMatchObject({ entries: expect.arrayContaining([expect.objectContaining({ kind: 'dropped', what: 'dropped properties.cartUrl: host evil.example.net is not in LINK_HOSTS' })]) });
  });

  it('POST /v1/profiles answers with dropped', async () => {
    const res = await api.inject({ method: 'POST', url: '/v1/profiles', payload: { customerId: 'http-prof', email: 'p@example.com', attributes: { site: 'https://evil.example.net/' } } });
    expect(res.json()).toEqual({ customerId: 'http-prof', dropped: [{ path: 'attributes.site', reason: 'host evil.example.net is not in LINK_HOSTS' }] });
  });
});
