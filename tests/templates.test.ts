import { describe, expect, it } from 'vitest';
import { createTemplateRenderer, safeUrl, TemplateError } from '../domain/templates';
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

  it('fails the render on an unknown variable instead of sending an empty string', async () => {
    const strict = createTemplateRenderer({ 'x/hello': '---\nsubject: Hi\n---\n<p>Your code is {{ couponCode }}</p>' });
    await expect(strict.render('x/hello', { profile: profile(), event: cartEvent(), unsubscribeUrl })).rejects.toThrow(TemplateError);
    await expect(strict.render('x/hello', { profile: profile(), event: cartEvent(), unsubscribeUrl })).rejects.toThrow(/undefined variable: couponCode/);
  });
});
