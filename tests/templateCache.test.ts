import { compile } from 'html-to-text';
import { describe, expect, it } from 'vitest';
import { createLiquid, createTemplateRenderer, splitFrontMatter, TemplateError, type RenderedEmail } from '../domain/delivery/templates';
import { loadCatalogue } from '../journeys';
import { random, type Random } from './support/random';

// The renderer parses each template once and renders the parsed form through closures (see
// domain/delivery/templates.ts); here, against the way it rendered before: a LiquidJS without a
// cache parsing every template on every render, `parseAndRender` for subject and preheader,
// html-to-text's `convert` for the text part. Same email, or the same error, to the character.

const textOptions = {
  wordwrap: 78,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['[', ']'] as [string, string] } },
    { selector: '.preheader', format: 'skip' },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false, colSpacing: 2 } },
    { selector: 'img', format: 'skip' },
  ],
};
const convert = compile(textOptions);

/** The renderer as it was: nothing parsed ahead, nothing kept. */
function referenceRenderer(sources: Record<string, string>) {
  const bodies: Record<string, string> = {};
  const frontMatter: Record<string, Record<string, string>> = {};
  for (const [name, source] of Object.entries(sources)) {
    const { fields, body } = splitFrontMatter(source);
    bodies[name] = body;
    frontMatter[name] = fields;
  }
  const html = createLiquid(bodies);
  const text = createLiquid({}, 'text');
  return async (name: string, data: Record<string, unknown>): Promise<RenderedEmail> => {
    const subjectSource = frontMatter[name].subject;
    try {
      const subject = (await text.parseAndRender(subjectSource, data)).trim();
      const preheaderSource = frontMatter[name].preheader;
      const preheader = preheaderSource ? (await text.parseAndRender(preheaderSource, data)).trim() : undefined;
      const body = await html.renderFile(name, { ...data, subject, preheader: preheader ?? '' });
      return { subject, preheader, html: body, text: convert(body).replace(/\n{3,}/g, '\n\n').trim() };
    } catch (err) {
      throw new TemplateError(`template "${name}": ${(err as Error).message}`);
    }
  };
}

/** The email, or the error's message and the variable it names. */
async function outcome(render: () => Promise<RenderedEmail>): Promise<unknown> {
  try {
    return await render();
  } catch (err) {
    return { error: (err as Error).message, undefinedVariable: (err as TemplateError).undefinedVariable };
  }
}
/** The reference's error names no variable (the renderer adds it); compare the rest. */
const withoutVariable = (result: unknown) => (result && typeof result === 'object' && 'error' in result ? { error: (result as { error: string }).error } : result);


const item = (r: Random, i: number) => ({
  sku: `sku-${i}`,
  name: r.pick(['Trail shoes', 'Socks & "more"', "O'Brien's cap", '<b>bold</b>', '']),
  quantity: r.pick([1, 3, 0, undefined, '2']),
  price: r.pick([120, 9.5, 0, null, '49.90']),
  url: r.pick(['https://shop.example.com/p/1', 'javascript:alert(1)', undefined]),
  tags: r.pick([['a', 'b'], [], undefined]),
});

function data(r: Random): Record<string, unknown> {
  const items = Array.from({ length: r.pick([0, 1, 3]) }, (_, i) => item(r, i));
  return {
    profile: {
      customerId: 'c1',
      email: 'ada@example.com',
      attributes: {
        ...(r.chance(0.8) && { firstName: r.pick(['Ada', "D'Arcy", '<script>x</script>', '', '  ']) }),
        ...(r.chance(0.5) && { lastName: r.pick(['Lovelace', 'O&Brien']) }),
        ...(r.chance(0.5) && { tags: r.pick([['vip', 'runner'], [], 'solo']) }),
        ...(r.chance(0.5) && { orders: r.pick([0, 1, 12, '7', null]) }),
        ...(r.chance(0.3) && { nested: { deeper: r.pick(['x', null, 0, false]) } }),
        ...(r.chance(0.3) && { vip: r.pick([true, false]) }),
      },
    },
    event: {
      id: 'e1',
      type: 'cart.updated',
      customerId: 'c1',
      occurredAt: '2026-01-05T10:00:00Z',
      properties: {
        ...(r.chance(0.9) && { items }),
        ...(r.chance(0.8) && { total: r.pick([120, 0, '99.5', null]) }),
        ...(r.chance(0.7) && { currency: 'EUR' }),
        ...(r.chance(0.5) && { cartUrl: r.pick(['https://shop.example.com/cart/1', 'javascript:alert(1)', ' HTTPS://SHOP.EXAMPLE.COM/x ']) }),
      },
    },
    unsubscribeUrl: 'https://shop.example.com/u/token',
    ...(r.chance(0.8) && { recommendations: Array.from({ length: r.pick([0, 2, 3]) }, (_, i) => item(r, 10 + i)) }),
  };
}

const PATHS = [
  'profile.attributes.firstName',
  'profile.attributes.lastName',
  'profile.attributes.tags',
  'profile.attributes.tags.size',
  'profile.attributes.tags.first',
  'profile.attributes.orders',
  'profile.attributes.nested.deeper',
  'profile.attributes.vip',
  'profile.attributes.missing',
  'profile.email',
  'profile["email"]',
  'event.properties.items',
  'event.properties.items.size',
  'event.properties.items.first.name',
  'event.properties.items.last.price',
  'event.properties.items[0].name',
  'event.properties.items[-1].sku',
  'event.properties.total',
  'event.properties.cartUrl',
  'event.type.size',
  'recommendations',
  'recommendations.size',
  'unsubscribeUrl',
  'brand.name',
  'nothing',
];
const LOOP_PATHS = ['x', 'x.name', 'x.price', 'x.quantity', 'x.tags', 'x.missing', 'forloop.index', 'forloop.last', 'forloop.rindex0', 'forloop.length', 'forloop'];
const LITERALS = ['"text"', "'it''s'", '42', '-1.5', 'nil', 'empty', 'blank', 'true', 'false'];
const FILTERS = [
  '',
  '',
  ' | default: "none"',
  ' | default: profile.email',
  ' | default: nothing.here',
  ' | default: false, allow_false: true',
  ' | upcase',
  ' | append: "!"',
  ' | prepend: x',
  ' | size',
  ' | escape',
  ' | safe_url',
  ' | join: ", "',
  ' | plus: 1',
  ' | json',
  ' | raw',
  ' | strip_html',
  ' | map: "name"',
  ' | where: "name", "Trail shoes"',
  ' | first',
  ' | date: "%Y-%m-%d"',
  ' | unknown_filter',
  ' | default: "a" | upcase',
];
const OPERATORS = ['==', '!=', '>', '<', '>=', '<=', 'contains'];

function expression(r: Random, inLoop: boolean): string {
  const roll = r.next();
  if (roll < 0.15) return r.pick(LITERALS);
  if (inLoop && roll < 0.45) return r.pick(LOOP_PATHS);
  return r.pick(PATHS);
}
const output = (r: Random, inLoop: boolean) => `{{ ${expression(r, inLoop)}${r.pick(FILTERS)} }}`;
function condition(r: Random, inLoop: boolean): string {
  const roll = r.next();
  if (roll < 0.3) return expression(r, inLoop);
  if (roll < 0.45) return `${expression(r, inLoop)} | default: false`;
  if (roll < 0.6) return `${expression(r, inLoop)} ${r.pick(['and', 'or'])} ${expression(r, inLoop)}`;
  if (roll < 0.65) return `not ${expression(r, inLoop)}`;
  return `${expression(r, inLoop)} ${r.pick(OPERATORS)} ${expression(r, inLoop)}`;
}

function body(r: Random, depth: number, inLoop: boolean): string {
  const parts: string[] = [];
  for (let i = 0, n = 1 + Math.floor(r.next() * 4); i < n; i++) {
    const roll = r.next();
    if (depth > 2 || roll < 0.25) parts.push(r.pick(['<p>Hi ', '</p>\n', ' & more', '<br>', '\n\n\n', '<a href="', '">link</a>', '  ']));
    else if (roll < 0.5) parts.push(output(r, inLoop));
    else if (roll < 0.62) {
      const branches = [`{% if ${condition(r, inLoop)} %}${body(r, depth + 1, inLoop)}`];
      if (r.chance(0.4)) branches.push(`{% elsif ${condition(r, inLoop)} %}${body(r, depth + 1, inLoop)}`);
      if (r.chance(0.5)) branches.push(`{% else %}${body(r, depth + 1, inLoop)}`);
      parts.push(`${branches.join('')}{% endif %}`);
    } else if (roll < 0.67) parts.push(`{% unless ${condition(r, inLoop)} %}${body(r, depth + 1, inLoop)}${r.chance(0.3) ? `{% else %}${body(r, depth + 1, inLoop)}` : ''}{% endunless %}`);
    else if (roll < 0.77) {
      const collection = r.pick(['event.properties.items', 'recommendations', 'profile.attributes.tags', 'profile.attributes', '"text"', 'nothing', 'event.properties.items limit: 1', '(1..3)']);
      parts.push(`{% for x in ${collection} %}${body(r, depth + 1, true)}${r.chance(0.3) ? `{% else %}${body(r, depth + 1, inLoop)}` : ''}{% endfor %}`);
    } else if (roll < 0.82) parts.push(`{% assign y = ${expression(r, inLoop)}${r.pick(FILTERS)} %}{{ y }}`);
    else if (roll < 0.9) parts.push(`{% render "_partials/${r.pick(['item', 'greeting', 'loop'])}", x: ${expression(r, inLoop)}, profile: profile %}`);
    else if (roll < 0.93) parts.push(r.pick(['{% raw %}{{ not rendered }}{% endraw %}', '{% comment %}{{ nothing }}{% endcomment %}', '{%- if true -%}  trimmed  {%- endif -%}', '{% # a note %}']));
    // Tags the compiled form leaves to LiquidJS.
    else if (roll < 0.96) parts.push(r.pick(['{% case profile.attributes.firstName %}{% when "Ada" %}A{% else %}B{% endcase %}', '{% capture c %}{{ profile.email }}{% endcapture %}{{ c }}', '{% increment n %}', '{% echo profile.email %}']));
    else parts.push(inLoop ? r.pick(['{% break %}', '{% continue %}']) : output(r, inLoop));
  }
  return parts.join('');
}

const PARTIALS = {
  '_partials/item': '<li>{{ x }}{% if x.name %} ({{ x.name | default: "?" }}){% endif %}</li>',
  '_partials/greeting': '<p>{% if profile.attributes.firstName %}Hi {{ profile.attributes.firstName }},{% else %}Hello there,{% endif %}</p>',
  '_partials/loop': '{% for t in profile.attributes.tags %}[{{ forloop.index }}:{{ t }}]{% endfor %}{{ x | size }}',
  '_layouts/one': '<html><title>{{ subject }}</title>{% if preheader != blank %}<div class="preheader">{{ preheader }}</div>{% endif %}{% block content %}default{% endblock %}<footer>{% block footer %}{{ unsubscribeUrl | safe_url }}{% endblock %}</footer>{% block %}{% endblock %}</html>',
  '_layouts/super': '<main>{% block content %}parent{% endblock %}</main>',
};

function email(r: Random): string {
  const subject = r.chance(0.8) ? `Hi {{ ${r.pick(['profile.attributes.firstName | default: "there"', 'profile.attributes.lastName', 'profile.attributes.missing', '"<3"'])} }}` : 'Plain & simple';
  const preheader = r.chance(0.5) ? `\npreheader: ${r.pick(['{{ event.properties.total }} & co', 'Just text', '{{ nothing }}'])}` : '';
  const roll = r.next();
  const content =
    roll < 0.45
      ? `{% layout "_layouts/one" %}${r.chance(0.3) ? body(r, 1, false) : ''}{% block content %}${body(r, 0, false)}{% endblock %}${r.chance(0.3) ? `{% block footer %}${body(r, 1, false)}{% endblock %}` : ''}\n`
      : roll < 0.5
        ? `{% layout "_layouts/super" %}{% block content %}${r.pick(['{{ block.super }} and child', 'child'])}{% endblock %}`
        : body(r, 0, false);
  return `---\nsubject: ${subject}${preheader}\n---\n${content}`;
}

describe('template renderer', () => {
  it('renders every shipped email as LiquidJS without a cache did, render after render', async () => {
    const sources = loadCatalogue().templates;
    const renderer = createTemplateRenderer(sources);
    const reference = referenceRenderer(sources);
    const r = random(3);
    const names = Object.keys(sources).filter((name) => !name.startsWith('_'));
    for (let i = 0; i < 12; i++) {
      const context = data(r);
      for (const name of names) {
        expect(withoutVariable(await outcome(() => renderer.render(name, context)))).toEqual(await outcome(() => reference(name, context)));
      }
    }
  });

  it('renders generated templates as LiquidJS does: the same email, or the same error', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = random(seed);
      const sources: Record<string, string> = { ...PARTIALS };
      for (let i = 0; i < 10; i++) sources[`gen/t${i}`] = email(r);
      const renderer = createTemplateRenderer(sources);
      const uncompiled = createTemplateRenderer(sources, { compiled: false });
      const reference = referenceRenderer(sources);
      const contexts = Array.from({ length: 6 }, () => data(r));
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < 10; i++) {
          for (const context of contexts) {
            const name = `gen/t${i}`;
            const [compiled, parsedOnce, expected] = [await outcome(() => renderer.render(name, context)), await outcome(() => uncompiled.render(name, context)), await outcome(() => reference(name, context))];
            if (JSON.stringify(withoutVariable(compiled)) !== JSON.stringify(expected)) {
              expect({ seed, template: sources[name], context, compiled: withoutVariable(compiled) }).toEqual({ seed, template: sources[name], context, compiled: expected });
            }
            expect(compiled).toEqual(parsedOnce);
          }
        }
      }
    }
  });

  it('renders an edited template with the same name as edited: another version is another renderer with caches of its own', async () => {
    const layout = { '_layouts/email': '<body>{% block content %}{% endblock %}<p>{{ unsubscribeUrl }}</p></body>' };
    const before = createTemplateRenderer({ ...layout, 'x/hello': '---\nsubject: Hello {{ name }}\n---\n{% layout "_layouts/email" %}{% block content %}<p>Hi {{ name }}</p>{% endblock %}' });
    const after = createTemplateRenderer({
      '_layouts/email': '<body>{% block content %}{% endblock %}<footer>{{ unsubscribeUrl }}</footer></body>',
      'x/hello': '---\nsubject: Welcome {{ name }}\npreheader: New\n---\n{% layout "_layouts/email" %}{% block content %}<p>Welcome, {{ name }}</p>{% endblock %}',
    });
    const data = { name: 'Ada', unsubscribeUrl: 'https://shop.example.com/u/t' };
    // Interleaved, as a worker renders the pinned templates of older runs next to the current ones.
    for (let i = 0; i < 3; i++) {
      expect(await before.render('x/hello', data)).toEqual({ subject: 'Hello Ada', preheader: undefined, html: '<body><p>Hi Ada</p><p>https://shop.example.com/u/t</p></body>', text: 'Hi Ada\n\nhttps://shop.example.com/u/t' });
      expect(await after.render('x/hello', data)).toEqual({ subject: 'Welcome Ada', preheader: 'New', html: '<body><p>Welcome, Ada</p><footer>https://shop.example.com/u/t</footer></body>', text: 'Welcome, Ada\n\nhttps://shop.example.com/u/t' });
    }
  });

  it('keeps a renderer to the sources it was made from, even if the object they came in changes afterwards', async () => {
    const sources: Record<string, string> = { 'x/hi': '---\nsubject: Hi\n---\n<p>one</p>' };
    const renderer = createTemplateRenderer(sources);
    expect((await renderer.render('x/hi', {})).html).toBe('<p>one</p>');
    sources['x/hi'] = '---\nsubject: Hi\n---\n<p>two</p>';
    expect((await renderer.render('x/hi', {})).html).toBe('<p>one</p>');
    expect((await createTemplateRenderer(sources).render('x/hi', {})).html).toBe('<p>two</p>');
  });

  it('fails a render the same way each time: an unknown variable, a template that does not parse, a missing partial', async () => {
    const renderer = createTemplateRenderer({
      'x/unknown': '---\nsubject: Hi\n---\n<p>{{ couponCode }}</p>',
      'x/broken': '---\nsubject: Hi\n---\n<p>{% if %}</p>',
      'x/partial': '---\nsubject: Hi\n---\n{% if show %}{% render "_partials/none" %}{% endif %}',
      'x/subject': '---\nsubject: Hi {{ couponCode }}\n---\n<p>x</p>',
    });
    for (let i = 0; i < 2; i++) {
      await expect(renderer.render('x/unknown', {})).rejects.toMatchObject({ message: expect.stringContaining('undefined variable: couponCode'), undefinedVariable: 'couponCode' });
      await expect(renderer.render('x/broken', {})).rejects.toThrow(TemplateError);
      await expect(renderer.render('x/partial', { show: true })).rejects.toThrow(/_partials\/none/);
      expect((await renderer.render('x/partial', { show: false })).html).toBe('');
      await expect(renderer.render('x/subject', {})).rejects.toMatchObject({ undefinedVariable: 'couponCode' });
    }
  });
});
