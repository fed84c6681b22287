import { describe, expect, it } from 'vitest';
import { createTemplateRenderer, htmlToText, libraryTextPart } from '../domain/delivery/templates';
import { fastTextPart } from '../domain/delivery/textPart';
import { loadCatalogue } from '../journeys';
import { random, type Random } from './support/random';

// The text part's fast path (domain/delivery/textPart.ts) against html-to-text, its
// specification: wherever it handles a document, the same text to the character.

/** The fast path's text with templates.ts's post-processing, or undefined where it leaves the document to html-to-text. */
function fastText(html: string): string | undefined {
  const text = fastTextPart(html);
  return text === undefined ? undefined : text.replace(/\n{3,}/g, '\n\n').trim();
}

const LONG_URL = `https://shop.example.com/cart/${'c0ffee'.repeat(20)}?utm_source=email&utm_campaign=last-chance&token=${'x9'.repeat(30)}`;

/** Contexts for the shipped templates: the bench's, and the edges of what customers and events put in them. */
function contexts(): { name: string; data: Record<string, unknown> }[] {
  const items = [
    { sku: 'sku-1', name: 'Trail runner', price: 120, quantity: 1 },
    { sku: 'sku-2', name: 'Running socks', price: 12, quantity: 3 },
    { sku: 'sku-3', name: 'Water bottle', price: 9.5, quantity: 1 },
  ];
  const recommendations = [
    { sku: 'sku-7', name: 'Rain jacket', price: 89, url: 'https://shop.example.com/p/sku-7' },
    { sku: 'sku-8', name: 'Cap', price: 15, url: 'https://shop.example.com/p/sku-8' },
    { sku: 'sku-9', name: 'Headlamp', price: 35, url: 'https://shop.example.com/p/sku-9' },
  ];
  const base = (attributes: Record<string, unknown>, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    profile: { customerId: 'c-1', email: 'ada@example.com', attributes },
    event: {
      id: 'e-1',
      type: 'cart.updated',
      customerId: 'c-1',
      occurredAt: '2026-01-05T10:00:00Z',
      properties: { orderId: 'o-1', cartId: 'cart-1', total: 165.5, currency: 'EUR', cartUrl: 'https://shop.example.com/cart/cart-1', items, ...properties },
    },
    unsubscribeUrl: 'https://shop.example.com/u/eyJjIjoiYy0xIiwidCI6Im1hcmtldGluZyJ9.6Rk2m0Gf4vYtJ8cQ0xkq3yXH0bHk1d1QpC2W7bq9Zr0',
    recommendations,
    ...extra,
  });
  const longName = 'Ultralight waterproof breathable trail running shoe with reinforced toe cap and extra grip outsole, limited edition';
  return [
    { name: 'the bench', data: base({ firstName: 'Ada', company: 'Acme' }, {}) },
    { name: 'no first name', data: base({}, {}) },
    { name: 'an empty cart', data: base({ firstName: 'Ada' }, { items: [], total: 0 }) },
    {
      name: 'long product names',
      data: base({ firstName: 'Ada' }, { items: [{ sku: 'l', name: longName, price: 1234.5, quantity: 12 }, ...items] }, {
        recommendations: recommendations.map((r) => ({ ...r, name: `${r.name} — ${longName}` })),
      }),
    },
    {
      name: 'markup characters',
      data: base({ firstName: `O'Brien & "Sons" <Ltd>`, company: 'A&B <Co>' }, {
        items: [{ sku: 'q', name: `Socks "extra" & <tall> 'wool'`, price: '9 & 10', quantity: 2 }],
        currency: '€ & co',
      }, { brand: { name: 'Bäckerei Müller & Söhne' } }),
    },
    {
      name: 'non-ASCII',
      data: base({ firstName: 'Zoë Ångström 山田 🙂' }, { items: [{ sku: 'n', name: 'Café crème brûlée ×2 — 日本語の名前', price: 3, quantity: 1 }], currency: '¥' }),
    },
    { name: 'a very long URL', data: base({ firstName: 'Ada' }, { cartUrl: LONG_URL, appUrl: LONG_URL }, { unsubscribeUrl: `${LONG_URL}&u=1` }) },
    { name: 'no recommendations', data: base({ firstName: 'Ada' }, {}, { recommendations: [] }) },
    {
      name: 'sparse items',
      data: base({ firstName: 'Ada' }, { items: [{ sku: 's', name: 'Gift card' }, { sku: 't', name: '' }], total: undefined, currency: undefined }, {
        recommendations: [{ sku: 'sku-1' }, { sku: 'sku-2', name: 'Hat', url: 'javascript:alert(1)', price: 0 }],
      }),
    },
  ];
}

describe('the text part fast path on the shipped templates', () => {
  const templates = loadCatalogue().templates;
  const renderer = createTemplateRenderer(templates);
  const names = Object.keys(templates).filter((name) => !name.startsWith('_'));

  for (const { name: contextName, data } of contexts()) {
    it(`handles every template as html-to-text does: ${contextName}`, async () => {
      for (const name of names) {
        const { html, text } = await renderer.render(name, data);
        const fast = fastText(html);
        expect(fast, `${name} is left to html-to-text`).toBeTypeOf('string');
        expect(fast, name).toBe(libraryTextPart(html));
        expect(text, name).toBe(fast);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Generated documents, from the elements the fast path handles (and, rarely, one it does not).

const WORDS = ['cart', 'Trail', 'runner', 'x', 'a', 'über', 'café', '10%', 'off', '—', 'I', 'wait,', 'ok.', 'naïve', '山田', '🙂', 'it’s', 'A&amp;B', '&lt;tag&gt;', '&#39;q&#39;', '&quot;', '&nbsp;', 'a&nbsp;b', '&eacute;t&eacute;', '&#x2014;', '&#8203;', '&copy;', '&amp;amp;'];

function word(r: Random): string {
  if (r.chance(0.04)) {
    const length = 20 + Math.floor(r.next() * 120);
    const base = r.chance(0.3) ? 'https://example.com/undefined/path-' : r.chance(0.5) ? 'https://shop.example.com/p/' : 'x';
    let long = base;
    while (long.length < length) long += r.pick(['a', 'b', '-', '/', 'undefined', '0', 'é']);
    return long;
  }
  return r.pick(WORDS);
}

function spaces(r: Random): string {
  return r.pick([' ', ' ', ' ', '', '  ', '\n', '\n\n  ', '\t', ' \r\n ', '\f', '\u200b', '&#32;', '&#10;']);
}

function text(r: Random, maxWords = 12): string {
  const count = Math.floor(r.next() * maxWords);
  let out = r.chance(0.3) ? spaces(r) : '';
  for (let i = 0; i < count; i++) out += word(r) + (i < count - 1 || r.chance(0.3) ? spaces(r) : '');
  return out;
}

function href(r: Random, linkText: string): string {
  return r.pick([
    'https://shop.example.com/cart',
    LONG_URL.replace(/&/g, '&amp;'),
    'mailto:help@example.com',
    '#top',
    '',
    linkText,
    'https://shop.example.com/?a=1&amp;b=2',
    'https://shop.example.com/p/caf&eacute;',
  ]);
}

function inline(r: Random, depth: number): string {
  const parts: string[] = [];
  const count = 1 + Math.floor(r.next() * 4);
  for (let i = 0; i < count; i++) {
    const roll = r.next();
    if (roll < 0.4 || depth <= 0) parts.push(text(r));
    else if (roll < 0.55) {
      const tag = r.pick(['strong', 'b', 'em', 'i', 'span', 'u', 'small', 'kbd', 'code', 'sup']);
      parts.push(`<${tag}${r.chance(0.2) ? ' style="color:red"' : ''}>${inline(r, depth - 1)}</${tag}>`);
    } else if (roll < 0.72) {
      const linkText = r.chance(0.3) ? r.pick(['https://shop.example.com/cart', 'help@example.com', 'Return', '']) : inline(r, depth - 1);
      const target = href(r, linkText);
      parts.push(r.chance(0.1) ? `<a>${linkText}</a>` : `<a href="${target}">${linkText}</a>`);
    } else if (roll < 0.8) parts.push(r.pick(['<br>', '<br/>', '<br />', '</br>']));
    else if (roll < 0.85) parts.push(r.pick(['<img src="https://example.com/a.png" alt="A picture">', '<img alt="x">', '<style>p { color: red }</style>', '<script>if (a < b) x();</script>']));
    else if (roll < 0.9) parts.push(`<span class="${r.pick(['preheader', 'x preheader', 'preheader\ty', 'x\npreheader', 'preheaders'])}">${text(r)}</span>`);
    else if (roll < 0.93) parts.push(r.pick(['<!-- a comment -->', '<![CDATA[x]]>', '<?php x ?>', '</p>', '</br>', '</li>', '</td>', '</tr>', '</div>', '<span/>']));
    else if (roll < 0.95) parts.push(r.pick(['<a href="https://a.example/" href="https://b.example/">twice</a>', '<a href=https://shop.example.com/x>unquoted</a>', '<span class="x" class="preheader">first class</span>', '<span class="x&#32;preheader">entity</span>', '<span class="&#x70;reheader">entity</span>', '<span CLASS="preheader">upper</span>', '<A HREF="https://shop.example.com/">Upper</A>']));
    else parts.push(text(r, 3));
  }
  return parts.join(r.chance(0.5) ? '' : spaces(r));
}

function list(r: Random, depth: number): string {
  const tag = r.pick(['ul', 'ol']);
  const items = Math.floor(r.next() * (tag === 'ol' ? 10 : 6));
  let out = `<${tag}>${r.chance(0.5) ? '\n' : ''}`;
  for (let i = 0; i < items; i++) {
    const content = depth > 0 && r.chance(0.2) ? inline(r, 1) + list(r, depth - 1) : depth > 0 && r.chance(0.2) ? block(r, depth - 1) : inline(r, 2);
    out += `<li${r.chance(0.05) ? ' class="preheader"' : ''}>${content}${r.chance(0.8) ? '</li>' : ''}${r.pick(['', '', '\n  ', ' &nbsp; ', '\u00a0'])}`;
  }
  return out + `</${tag}>`;
}

function table(r: Random, depth: number): string {
  const rows = Math.floor(r.next() * 5);
  const width = 1 + Math.floor(r.next() * 4);
  let out = `<table${r.chance(0.3) ? ' style="width:100%"' : ''}>${r.chance(0.5) ? '\n' : ''}`;
  const section = r.chance(0.3);
  if (section) out += r.pick(['<tbody>', '<thead>']);
  for (let j = 0; j < rows; j++) {
    out += r.chance(0.5) ? '\n  <tr>' : '<tr>';
    const cells = r.chance(0.2) ? Math.floor(r.next() * 5) : width;
    for (let i = 0; i < cells; i++) {
      const tag = r.chance(0.2) ? 'th' : 'td';
      const content = r.chance(0.15) && depth > 0 ? block(r, depth - 1) : r.chance(0.3) ? `${text(r, 4)}<br>${text(r, 4)}` : inline(r, 1);
      out += `<${tag}${r.chance(0.1) ? ' colspan="1"' : ''}>${content}${r.chance(0.9) ? `</${tag}>` : ''}`;
    }
    out += r.chance(0.8) ? '</tr>' : '';
  }
  if (section) out += r.chance(0.5) ? '</tbody>' : '';
  if (r.chance(0.1)) out += `<tfoot><tr>${'<td>foot</td>'.repeat(width)}</tr></tfoot>`;
  if (r.chance(0.05)) out += `<center><tr>${'<th>centred</th>'.repeat(width)}</tr></center>`;
  if (r.chance(0.1)) out += 'stray text <caption>a caption</caption>';
  return out + '</table>';
}

function block(r: Random, depth: number): string {
  const roll = r.next();
  if (roll < 0.3) return `<p>${inline(r, 2)}</p>`;
  if (roll < 0.4) {
    const tag = r.pick(['div', 'section', 'header', 'footer', 'article', 'main', 'nav', 'aside']);
    return `<${tag}>${depth > 0 && r.chance(0.5) ? block(r, depth - 1) + block(r, depth - 1) : inline(r, 2)}</${tag}>`;
  }
  if (roll < 0.48) {
    const tag = r.pick(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
    return `<${tag}>${inline(r, 1)}</${tag}>`;
  }
  if (roll < 0.6) return list(r, depth);
  if (roll < 0.74) return table(r, depth);
  if (roll < 0.78) return '<hr>';
  if (roll < 0.82) return `<div class="preheader" style="display:none">${inline(r, 1)}</div>`;
  if (roll < 0.84) return r.pick([`<p>${text(r)}`, `<p>${text(r)}<p>${text(r)}`, `<p>${text(r)}<div>${text(r)}</div>`, '<p/>', '<div/>', `<a href="https://shop.example.com/">${block(r, 0)}</a>`]);
  if (roll < 0.85) return r.pick(['<pre>  kept\n  as is</pre>', 'a<wbr>b', '<td colspan="2">x</td>', '<blockquote>q</blockquote>']);
  return inline(r, 2);
}

/** What a body holds: blocks, as a template renders them. */
function contentOf(r: Random): string {
  let content = '';
  const blocks = 1 + Math.floor(r.next() * 8);
  for (let i = 0; i < blocks; i++) content += block(r, 2) + (r.chance(0.5) ? '\n' : '');
  return content;
}

/** Tag and attribute names in any case, as htmlparser2 lowercases them. */
const anyCase = (r: Random, html: string) => html.replace(/<(\/?)([a-z][a-z0-9]*)|\b(class|href)=/g, (m) => (r.chance(0.5) ? m.toUpperCase() : m));

function documentOf(r: Random): string {
  const body = contentOf(r);
  const head = r.chance(0.7) ? `<head><meta charset="utf-8"><title>${text(r, 4)}</title><style>p { color: red }</style>${r.chance(0.8) ? '</head>' : ''}\n` : '';
  const html = `${r.chance(0.8) ? '<!doctype html>\n' : ''}<html>\n${head}<body${r.chance(0.2) ? ' style="margin:0"' : ''}>\n${body}\n</body>\n</html>\n${r.chance(0.1) ? '<p>after the end</p>' : ''}`;
  return r.chance(0.15) ? anyCase(r, html) : html;
}

/** A template without a layout: a body's content and nothing around it, now and then a comment or doctype-less text first. */
function fragmentOf(r: Random): string {
  const fragment = `${r.chance(0.2) ? r.pick(['<!-- a note -->', 'Hello,\n', '  ']) : ''}${contentOf(r)}`;
  return r.chance(0.15) ? anyCase(r, fragment) : fragment;
}

/** Compares the fast path with html-to-text on `documents` made by `make`; the share of them the fast path handled. */
function handledShare(documents: number, make: () => string): number {
  let handled = 0;
  for (let n = 0; n < documents; n++) {
    const html = make();
    const fast = fastText(html);
    if (fast === undefined) continue;
    handled++;
    expect(fast, `document ${n}:\n${html}`).toBe(libraryTextPart(html));
  }
  return handled / documents;
}

describe('the text part fast path on generated documents', () => {
  it('writes what html-to-text writes wherever it handles a document', () => {
    const r = random(20260105);
    // Only a few generated constructs are left to html-to-text (see `block`): most documents are handled.
    expect(handledShare(4000, () => documentOf(r))).toBeGreaterThan(0.6);
  });

  it('writes what html-to-text writes for fragments, which it converts whole for want of a body', () => {
    const r = random(20261205);
    expect(handledShare(4000, () => fragmentOf(r))).toBeGreaterThan(0.6);
    const welcome = '<p>Hello c1, thanks for signing up.</p>\n';
    expect(fastTextPart(welcome)).toBeDefined();
    expect(htmlToText(welcome)).toBe('Hello c1, thanks for signing up.');
  });
});

// Markup soup: the pieces of tags in any order, for the elements htmlparser2's Parser makes of
// broken markup (implied closes and opens, stray ends, comments, bogus tags), which the fast
// path builds from the tokenizer's tokens itself.
const SOUP = [
  '<', '>', '/', '!', '-', '?', '=', '"', "'", ' ', '\n', 'a', 'word', 'x y', '<p', '</p', '<a href', '<a HREF="https://a.example/?b=1&amp;c=2"', ' href=x',
  ' class="c"', ' CLASS=preheader', ' colspan=1', ' style="x"', '<!--', '-->', '<!doctype html>', '<![CDATA[', ']]>', '<?', '<br/>', '</br>', '<p/>',
  '&amp;', '&#65;', '&nbsp;', '<td>', '<tr>', '<th>', '</td>', '</tr>', '<table>', '</table>', '<tbody>', '</tbody>', '<li>', '</li>', '<ul>', '</ul>',
  '<ol>', '</ol>', '<b>', '</b>', '<img src=x>', '</img>', '\t', '<!x>', '<!-->', '</ >', '</>', '<3', '< p>', '<P\n>', '<A>', '</A>', '<h1>', '</h2>',
  '<hr>', '</hr>', '<div>', '</div>', '<span>', '</span>', '<style>', '</style>',
];

function soupOf(r: Random): string {
  let soup = '';
  const pieces = 1 + Math.floor(r.next() * 24);
  for (let i = 0; i < pieces; i++) soup += r.pick(SOUP);
  return soup;
}

describe('the text part fast path on markup soup', () => {
  it('writes what html-to-text writes wherever it handles a document', () => {
    const r = random(7);
    expect(handledShare(4000, () => `<html><head><title>t</title></head><body>${soupOf(r)}</body></html>`)).toBeGreaterThan(0.4);
  });

  it('writes what html-to-text writes wherever it handles a fragment of it', () => {
    const r = random(1205);
    expect(handledShare(4000, () => soupOf(r))).toBeGreaterThan(0.4);
  });
});

describe('what the fast path leaves to html-to-text', () => {
  const body = (content: string) => `<html><body><p>Before</p>${content}<p>After</p></body></html>`;
  const unsupported = {
    pre: body('<pre>  two\n    lines</pre>'),
    colspan: body('<table><tr><td colspan="2">wide</td></tr><tr><td>a</td><td>b</td></tr></table>'),
    rowspan: body('<table><tr><td rowspan="2">tall</td><td>a</td></tr><tr><td>b</td></tr></table>'),
    'a nested table': body('<table><tr><td><table><tr><td>inner</td></tr></table></td></tr></table>'),
    blockquote: body('<blockquote>quoted</blockquote>'),
    wbr: body('<p>long<wbr>word</p>'),
    'an unknown tag': body('<custom-element>x</custom-element>'),
    'an ordered list with a start': body('<ol start="3"><li>c</li></ol>'),
    'an ordered list of ten': body(`<ol>${'<li>item</li>'.repeat(10)}</ol>`),
    'text directly in a list': body('<ul>loose<li>item</li></ul>'),
    'a comment directly in a list': body('<ul><!-- c --><li>item</li></ul>'),
    'an entity without its semicolon': body('<p><a href="https://example.com/?a=1&copy=2">x</a></p>'),
    textarea: body('<textarea><b>raw</b></textarea>'),
    'an html element but no body': '<html><p>Only a paragraph</p></html>',
    'a head but no body': '<head><title>t</title></head><p>Only a paragraph</p>',
    'two bodies': '<html><body><p>one</p></body><body><p>two</p></body></html>',
  };

  for (const [name, html] of Object.entries(unsupported)) {
    it(`${name}: html-to-text converts it`, () => {
      expect(fastTextPart(html)).toBeUndefined();
      expect(htmlToText(html)).toBe(libraryTextPart(html));
    });
  }
});
