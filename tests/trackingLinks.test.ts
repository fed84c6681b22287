import { describe, expect, it } from 'vitest';
import { isMachineClick, isMachineOpen } from '../domain/delivery/machineTraffic';
import { createEmailTracker, createTrackingSigner, rewriteLinks } from '../domain/delivery/tracking';
import { createUnsubscribeSigner } from '../domain/delivery/unsubscribeTokens';

const key = { id: 'k1', secret: 'tracking-test-secret-at-least-32-characters' };
const signer = createTrackingSigner([key]);
const send = { workflowId: 'cartAbandonment:c-ada:cart-42', stepId: 'reminder1' };
const tracker = createEmailTracker(signer, 'https://journeys.shop.example.com/');

const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE_MAIL = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148';

describe('tracking tokens', () => {
  it('name the send and the link, are short, and verify only unaltered', () => {
    const click = signer.sign({ ...send, linkIndex: 2 });
    expect(signer.verify(click)).toEqual({ ok: true, ...send, linkIndex: 2 });
    expect(signer.verify(signer.sign(send))).toEqual({ ok: true, ...send });
    expect(click.length).toBeLessThan(120);
    expect(click).toMatch(/^[A-Za-z0-9_.-]+$/);
    // The same send signs the same token: a retried render sends the same links.
    expect(signer.sign({ ...send, linkIndex: 2 })).toBe(click);

    const [kid, , mac] = click.split('.');
    const payload = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    expect(signer.verify(`${kid}.${payload([send.workflowId, send.stepId, 3])}.${mac}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer.verify(`${kid}.${payload([send.workflowId, 'reminder2', 2])}.${mac}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer.verify(`k9.${click.split('.')[1]}.${mac}`)).toEqual({ ok: false, reason: 'unknown_key' });
    expect(signer.verify('not-a-token')).toEqual({ ok: false, reason: 'malformed' });
    expect(createTrackingSigner([{ id: 'k1', secret: 'someone-elses-secret-someone-elses-secret' }]).verify(click)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('never verify as unsubscribe tokens, or unsubscribe tokens as them, though the keys are the same', () => {
    const unsubscribe = createUnsubscribeSigner([key]);
    expect(unsubscribe.verify(signer.sign(send)).ok).toBe(false);
    expect(signer.verify(unsubscribe.sign({ customerId: 'c-ada', topic: 'marketing' })).ok).toBe(false);
  });

  it('refuse keys the settings would refuse', () => {
    expect(() => createTrackingSigner([{ id: 'k1', secret: 'short' }])).toThrow(/UNSUBSCRIBE_KEYS.*at least 32/);
  });
});

describe('the tracked email', () => {
  it('points every http(s) link at the click redirect, leaves mailto, anchors, comments and journeys’ own pages, and adds the pixel last in the body', () => {
    const html = [
      '<html><body>',
      '<a href="https://shop.example.com/cart?a=1&amp;b=2">cart</a>',
      "<a class=x href='https://shop.example.com/sale' title=\"href='https://evil.example'\">sale</a>",
      '<a href=https://shop.example.com/plain>plain</a>',
      '<a href="mailto:help@shop.example.com">mail</a> <a href="#">top</a>',
      '<!-- <a href="https://shop.example.com/draft">draft</a> -->',
      '<a href="https://journeys.shop.example.com/u/k1.abc.def">Unsubscribe</a>',
      '<AREA HREF="http://shop.example.com/map">',
      '</body></html>',
    ].join('\n');
    const tracked = tracker.track(html, send);
    expect(tracked.links).toEqual(['https://shop.example.com/cart?a=1&b=2', 'https://shop.example.com/sale', 'https://shop.example.com/plain', 'http://shop.example.com/map']);
    const click = (linkIndex: number) => `https://journeys.shop.example.com/c/${signer.sign({ ...send, linkIndex })}`;
    const pixel = `<img src="https://journeys.shop.example.com/o/${signer.sign(send)}.gif" width="1" height="1" alt="">`;
    expect(tracked.html).toBe(
      [
        '<html><body>',
        `<a href="${click(0)}">cart</a>`,
        `<a class=x href="${click(1)}" title="href='https://evil.example'">sale</a>`,
        `<a href="${click(2)}">plain</a>`,
        '<a href="mailto:help@shop.example.com">mail</a> <a href="#">top</a>',
        '<!-- <a href="https://shop.example.com/draft">draft</a> -->',
        '<a href="https://journeys.shop.example.com/u/k1.abc.def">Unsubscribe</a>',
        `<AREA href="${click(3)}">`,
        `${pixel}</body></html>`,
      ].join('\n'),
    );
  });

  it('appends the pixel to a fragment without a body, and rewrites only the first href of a tag', () => {
    const tracked = rewriteLinks('<p><a href="https://a.example/" href="https://b.example/">x</a></p>', { keep: () => false, href: (i) => `T${i}` });
    expect(tracked).toEqual({ html: '<p><a href="T0" href="https://b.example/">x</a></p>', links: ['https://a.example/'] });
    expect(tracker.track('<p>hi</p>', send).html).toMatch(/^<p>hi<\/p><img src="https:\/\/journeys\.shop\.example\.com\/o\/[^"]+\.gif" width="1" height="1" alt="">$/);
  });
});

describe('machine opens and clicks', () => {
  it('knows image proxies, Apple Mail Privacy Protection, bots and HEAD requests from people', () => {
    const open = (userAgent: string | undefined, method = 'GET') => isMachineOpen({ method, userAgent });
    expect(open('Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)')).toBe(true);
    expect(open('YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html')).toBe(true);
    expect(open('Mozilla/5.0')).toBe(true);
    expect(open(undefined)).toBe(true);
    expect(open('curl/8.5.0')).toBe(true);
    expect(open(CHROME, 'HEAD')).toBe(true);
    expect(open(CHROME)).toBe(false);
    expect(open(IPHONE_MAIL)).toBe(false);
  });

  it('counts HEAD, scanners by name and clicks within the scanner window as machines', () => {
    const click = (userAgent: string | undefined, sinceSendMs: number | undefined, method = 'GET') => isMachineClick({ method, userAgent, sinceSendMs, scannerWindowMs: 10_000 });
    expect(click(CHROME, 60_000)).toBe(false);
    expect(click(CHROME, undefined)).toBe(false);
    expect(click(CHROME, 3_000)).toBe(true);
    expect(click(CHROME, 60_000, 'HEAD')).toBe(true);
    expect(click(`${CHROME} Barracuda Sentinel (EE)`, 60_000)).toBe(true);
    expect(click('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36', 60_000)).toBe(true);
    expect(click('python-requests/2.31', 60_000)).toBe(true);
  });
});
