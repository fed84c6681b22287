import { describe, expect, it } from 'vitest';
import { createTemplateRenderer, safeUrl, TemplateError } from '../domain/delivery/templates';
import { loadCatalogue } from '../journeys';

const renderer = createTemplateRenderer(loadCatalogue().templates);
const unsubscribeUrl = 'https://shop.example.com/u/token123';

function cartEvent(properties: Record<string, unknown> = {}) {
  return {
    id: 'e1',
    type: 'cart.updated',
    customerId: 'c1',
    occurredAt: '2026-01-05T10:00:00Z',
    properties: { cartId: 'cart1', currency: 'EUR', total: 120, items: [{ name: 'Trail shoes', quantity: 1, price: 120 }], ...properties },
  };
}
const profile = (attributes: Record<string, unknown> = {}) => ({ customerId: 'c1', email: 'ada@example.com', attributes });

describe('templates', () => {
  it('escapes a hostile first name in the HTML', async () => {
    const email = await renderer.render('cartAbandonment/reminder1', {
      profile: profile({ firstName: '<script>alert(1)</script>' }),
      event: cartEvent(),
      unsubscribeUrl,
    });
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('Hi &lt;script&gt;alert(1)&lt;/script&gt;,');
  });

  // Escaping cannot help with `javascript:alert(1)` (nothing in it to escape), so shipped
  // templates pass links through `safe_url`, which turns anything but http(s)/mailto into "#".
  it('neutralises a javascript: cart URL in an href', async () => {
    const email = await renderer.render('cartAbandonment/reminder1', {
      profile: profile(),
      event: cartEvent({ cartUrl: 'javascript:alert(document.cookie)' }),
      unsubscribeUrl,
    });
    expect(email.html).not.toMatch(/javascript:/i);
    expect(email.html).toContain('<a href="#">Return to your cart</a>');
    expect(safeUrl(' JavaScript:alert(1)')).toBe('#');
    expect(safeUrl('data:text/html,<b>')).toBe('#');
    expect(safeUrl('https://shop.example.com/cart?a=1&b=2')).toBe('https://shop.example.com/cart?a=1&b=2');
  });

  it('generates a text part that reads well: links once as "text [url]", no hidden preheader', async () => {
    const email = await renderer.render('cartAbandonment/reminder1', {
      profile: profile({ firstName: 'Ada' }),
      event: cartEvent({ cartUrl: 'https://shop.example.com/cart/cart1' }),
      unsubscribeUrl,
    });
    expect(email.preheader).toBe('Your cart is saved and waiting for you.');
    expect(email.html).toContain('Your cart is saved and waiting for you.');
    expect(email.text).toBe(
      [
        'Hi Ada,',
        '',
        'You left these in your cart:',
        '',
        'Trail shoes  × 1  120 EUR',
        '',
        'Total: 120 EUR',
        '',
        'Return to your cart [https://shop.example.com/cart/cart1]',
        '',
        'Our shop · You get this email because you shop with us. Unsubscribe',
        '[https://shop.example.com/u/token123]',
      ].join('\n'),
    );
  });

  it('keeps an apostrophe in the subject as written, while the HTML escapes it once', async () => {
    const email = await renderer.render('dormancy/winBack', { profile: profile({ firstName: "D'Arcy" }), event: cartEvent(), unsubscribeUrl });
    expect(email.subject).toBe("We miss you, D'Arcy");
    expect(email.html).toContain('<title>We miss you, D&#39;Arcy</title>');
    expect(email.html).toContain('Hi D&#39;Arcy,');
    expect(email.text).toContain("Hi D'Arcy,");
  });

  it('renders subject and preheader as plain text: O\'Brien and <3 read as written, and the HTML carries them escaped, not twice', async () => {
    const own = createTemplateRenderer({
      ...loadCatalogue().templates,
      'x/family': [
        '---',
        'subject: For the {{ profile.attributes.lastName }} family <3',
        'preheader: {{ profile.attributes.lastName }} & co, this one is yours',
        '---',
        '{% layout "_layouts/email" %}{% block content %}<p>Dear {{ profile.attributes.lastName }}</p>{% endblock %}',
      ].join('\n'),
    });
    const email = await own.render('x/family', { profile: profile({ lastName: "O'Brien" }), event: cartEvent(), unsubscribeUrl });
    expect(email.subject).toBe("For the O'Brien family <3");
    expect(email.preheader).toBe("O'Brien & co, this one is yours");
    expect(email.html).toContain('<title>For the O&#39;Brien family &lt;3</title>');
    expect(email.html).toContain('O&#39;Brien &amp; co, this one is yours</div>');
    expect(email.html).toContain('<p>Dear O&#39;Brien</p>');
    expect(email.html).not.toContain('&amp;#39;');
  });

  it('fails the render on an unknown variable instead of sending an empty string', async () => {
    const strict = createTemplateRenderer({ 'x/hello': '---\nsubject: Hi\n---\n<p>Your code is {{ couponCode }}</p>' });
    await expect(strict.render('x/hello', { profile: profile(), event: cartEvent(), unsubscribeUrl })).rejects.toThrow(TemplateError);
    await expect(strict.render('x/hello', { profile: profile(), event: cartEvent(), unsubscribeUrl })).rejects.toThrow(/undefined variable: couponCode/);
    await expect(strict.render('x/hello', { profile: profile(), event: cartEvent(), unsubscribeUrl })).rejects.toMatchObject({ undefinedVariable: 'couponCode' });
  });
});
