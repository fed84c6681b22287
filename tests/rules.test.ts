import { describe, expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { parseDuration } from '../domain/time/duration';
import { computeRfm } from '../domain/rules/rfm';
import { ruleSchema, ruleSetSchema } from '../domain/rules/schema';
import { evaluateRule, RuleFactsError, type RuleFacts } from '../domain/rules/evaluate';
import { decide, requiredFacts } from '../domain/rules/decide';
import type { Rule, RuleSet, RuleTrace } from '../domain/rules/types';
import { z } from 'zod';

const now = '2024-06-10T12:00:00.000Z';
const ago = (duration: string, from = now) => new Date(Date.parse(from) - parseDuration(duration)).toISOString();
let seq = 0;
const event = (type: string, occurredAt: string, properties: Record<string, unknown> = {}): CustomerEvent => ({ id: `e${++seq}`, type, customerId: 'ada', occurredAt, properties });

const history = [
  event('product.viewed', ago('1d'), { productId: 'shoe-1' }),
  event('product.viewed', ago('3d'), { productId: 'shoe-1' }),
  event('product.viewed', ago('6d'), { productId: 'shoe-1' }),
  event('product.viewed', ago('2d'), { productId: 'shoe-2' }),
  event('product.viewed', ago('10d'), { productId: 'shoe-2' }),
  event('order.completed', ago('45d'), { total: 80 }),
];
const facts: RuleFacts = {
  now,
  profile: {
    customerId: 'ada',
    email: 'ada@example.com',
    attributes: { tier: 'gold', orders: 12, spend: '149.90', zip: '02134', tags: ['runner', 'vip'], name: 'Ada Lovelace', lastLoginAt: ago('3d'), renewsAt: '2024-06-12T00:00:00Z', nickname: null },
  },
  event: event('cart.updated', ago('1h'), { cartId: 'c1', total: 250 }),
  events: history,
  segments: ['vip', 'runners'],
  rfm: computeRfm(history, now),
};

/** The trace as an author reads it: "yes"/"no", the rule, why, and its parts indented. */
function explain(trace: RuleTrace, indent = ''): string {
  const line = `${indent}${trace.matched ? 'yes' : 'no'}: ${trace.rule}${trace.because ? ` — ${trace.because}` : ''}`;
  return [line, ...(trace.children ?? []).map((child) => explain(child, `${indent}  `))].join('\n');
}

const tier = 'profile.attributes.tier';
const window7d = '(2024-06-03T12:00:00.000Z to 2024-06-10T12:00:00.000Z)';
const cases: [string, Rule, string][] = [
  ['eq', { attr: tier, op: 'eq', value: 'gold' }, 'yes: profile.attributes.tier eq "gold" — profile.attributes.tier is "gold"'],
  ['neq', { attr: tier, op: 'neq', value: 'gold' }, 'no: profile.attributes.tier neq "gold" — profile.attributes.tier is "gold"'],
  ['gt', { attr: 'profile.attributes.orders', op: 'gt', value: 12 }, 'no: profile.attributes.orders gt 12 — profile.attributes.orders is at most 12'],
  ['gte', { attr: 'profile.attributes.orders', op: 'gte', value: 12 }, 'yes: profile.attributes.orders gte 12 — profile.attributes.orders is at least 12'],
  ['lt', { attr: 'event.properties.total', op: 'lt', value: 100 }, 'no: event.properties.total lt 100 — event.properties.total is at least 100'],
  ['lte', { attr: 'event.properties.total', op: 'lte', value: 250 }, 'yes: event.properties.total lte 250 — event.properties.total is at most 250'],
  ['a decimal string compares as a number', { attr: 'profile.attributes.spend', op: 'gte', value: 100 }, 'yes: profile.attributes.spend gte 100 — profile.attributes.spend is at least 100'],
  ['ordering text is no match', { attr: tier, op: 'gt', value: 1 }, 'no: profile.attributes.tier gt 1 — profile.attributes.tier is not a number'],
  ['eq is strict: a ZIP code is not a number', { attr: 'profile.attributes.zip', op: 'eq', value: 2134 }, 'no: profile.attributes.zip eq 2134 — profile.attributes.zip is not 2134'],
  ['in', { attr: tier, op: 'in', value: ['gold', 'platinum'] }, 'yes: profile.attributes.tier in ["gold","platinum"] — profile.attributes.tier is one of ["gold","platinum"]'],
  ['contains (list)', { attr: 'profile.attributes.tags', op: 'contains', value: 'vip' }, 'yes: profile.attributes.tags contains "vip" — profile.attributes.tags contains "vip"'],
  ['contains (text)', { attr: 'profile.attributes.name', op: 'contains', value: 'Love' }, 'yes: profile.attributes.name contains "Love" — profile.attributes.name contains "Love"'],
  ['matches', { attr: 'profile.email', op: 'matches', value: '@example\\.com$' }, 'yes: profile.email matches /@example\\.com$/ — profile.email matches /@example\\.com$/'],
  ['exists', { attr: tier, op: 'exists' }, 'yes: profile.attributes.tier exists — profile.attributes.tier is set'],
  ['exists: false on a missing attribute', { attr: 'profile.attributes.coupon', op: 'exists', value: false }, 'yes: profile.attributes.coupon does not exist — profile.attributes.coupon is missing'],
  ['exists: false on null', { attr: 'profile.attributes.nickname', op: 'exists', value: false }, 'yes: profile.attributes.nickname does not exist — profile.attributes.nickname is empty'],
  ['after, now-relative', { attr: 'profile.attributes.lastLoginAt', op: 'after', value: { ago: '7d' } }, 'yes: profile.attributes.lastLoginAt after 7d ago — profile.attributes.lastLoginAt is after 7d ago (2024-06-03T12:00:00.000Z)'],
  ['before, fixed date', { attr: 'profile.attributes.lastLoginAt', op: 'before', value: '2024-01-01' }, 'no: profile.attributes.lastLoginAt before "2024-01-01" — profile.attributes.lastLoginAt is not before "2024-01-01"'],
  ['before, fromNow', { attr: 'profile.attributes.renewsAt', op: 'before', value: { fromNow: '3d' } }, 'yes: profile.attributes.renewsAt before 3d from now — profile.attributes.renewsAt is before 3d from now (2024-06-13T12:00:00.000Z)'],
  ['within the last', { attr: 'profile.attributes.lastLoginAt', op: 'within', value: { last: '7d' } }, `yes: profile.attributes.lastLoginAt within the last 7d — profile.attributes.lastLoginAt is within the last 7d ${window7d}`],
  ['within the next', { attr: 'profile.attributes.renewsAt', op: 'within', value: { next: '1d' } }, 'no: profile.attributes.renewsAt within the next 1d — profile.attributes.renewsAt is not within the next 1d (2024-06-10T12:00:00.000Z to 2024-06-11T12:00:00.000Z)'],
  ['a date op on text that is no date', { attr: tier, op: 'after', value: 'now' }, 'no: profile.attributes.tier after now — profile.attributes.tier is not a date'],
  ['missing attribute: eq', { attr: 'profile.attributes.coupon', op: 'eq', value: 'X' }, 'no: profile.attributes.coupon eq "X" — profile.attributes.coupon is missing'],
  ['missing attribute: neq never matches either', { attr: 'profile.attributes.coupon', op: 'neq', value: 'X' }, 'no: profile.attributes.coupon neq "X" — profile.attributes.coupon is missing'],
  ['missing attribute: not', { not: { attr: 'profile.attributes.coupon', op: 'eq', value: 'X' } }, 'yes: not (profile.attributes.coupon eq "X")\n  no: profile.attributes.coupon eq "X" — profile.attributes.coupon is missing'],
  ['missing entry event', { attr: 'event.properties.nothing.deeper', op: 'gt', value: 1 }, 'no: event.properties.nothing.deeper gt 1 — event.properties.nothing.deeper is missing'],
  [
    'viewed product X 3+ times in 7 days',
    { event: { type: 'product.viewed', where: [{ attr: 'properties.productId', op: 'eq', value: 'shoe-1' }], count: { gte: 3 }, within: '7d' } },
    `yes: product.viewed where properties.productId eq "shoe-1" at least 3 times in the last 7d — 3 matching product.viewed events in the last 7d ${window7d}`,
  ],
  [
    'an older view is outside the window',
    { event: { type: 'product.viewed', where: [{ attr: 'properties.productId', op: 'eq', value: 'shoe-2' }], count: { gte: 2 }, within: '7d' } },
    `no: product.viewed where properties.productId eq "shoe-2" at least 2 times in the last 7d — 1 matching product.viewed event in the last 7d ${window7d}`,
  ],
  [
    'no purchase in 30 days',
    { not: { event: { type: 'order.completed', within: '30d' } } },
    'yes: not (order.completed at least once in the last 30d)\n  no: order.completed at least once in the last 30d — 0 matching order.completed events in the last 30d (2024-05-11T12:00:00.000Z to 2024-06-10T12:00:00.000Z)',
  ],
  [
    'no purchase in 60 days',
    { not: { event: { type: 'order.completed', within: '60d' } } },
    'no: not (order.completed at least once in the last 60d)\n  yes: order.completed at least once in the last 60d — 1 matching order.completed event in the last 60d (2024-04-11T12:00:00.000Z to 2024-06-10T12:00:00.000Z)',
  ],
  ['count bounds, whole history', { event: { type: 'product.viewed', count: { gte: 2, lte: 4 } } }, 'no: product.viewed between 2 and 4 times ever — 5 matching product.viewed events up to 2024-06-10T12:00:00.000Z'],
  ['exact count with a numeric filter', { event: { type: 'order.completed', where: [{ attr: 'properties.total', op: 'gte', value: 50 }], count: { eq: 1 } } }, 'yes: order.completed where properties.total gte 50 exactly once ever — 1 matching order.completed event up to 2024-06-10T12:00:00.000Z'],
  ['segment member', { segment: 'vip' }, 'yes: in segment "vip" — segments are ["vip","runners"]'],
  ['segment non-member', { segment: 'dormant' }, 'no: in segment "dormant" — segments are ["vip","runners"]'],
  ['rfm value', { attr: 'rfm.recencyDays', op: 'gt', value: 30 }, 'yes: rfm.recencyDays gt 30 — rfm.recencyDays is more than 30'],
  ['rfm score', { attr: 'rfm.monetaryScore', op: 'gte', value: 3 }, 'no: rfm.monetaryScore gte 3 — rfm.monetaryScore is less than 3'],
  [
    'nested AND / OR / NOT',
    { all: [{ attr: tier, op: 'eq', value: 'gold' }, { any: [{ segment: 'dormant' }, { not: { event: { type: 'order.completed', within: '30d' } } }] }] },
    [
      'yes: all of (profile.attributes.tier eq "gold", any of (in segment "dormant", not (order.completed at least once in the last 30d)))',
      '  yes: profile.attributes.tier eq "gold" — profile.attributes.tier is "gold"',
      '  yes: any of (in segment "dormant", not (order.completed at least once in the last 30d))',
      '    no: in segment "dormant" — segments are ["vip","runners"]',
      '    yes: not (order.completed at least once in the last 30d)',
      '      no: order.completed at least once in the last 30d — 0 matching order.completed events in the last 30d (2024-05-11T12:00:00.000Z to 2024-06-10T12:00:00.000Z)',
    ].join('\n'),
  ],
  [
    'all fails on one part, any needs one',
    { any: [{ all: [{ segment: 'vip' }, { attr: 'profile.attributes.orders', op: 'lt', value: 5 }] }, { attr: 'profile.attributes.coupon', op: 'exists' }] },
    [
      'no: any of (all of (in segment "vip", profile.attributes.orders lt 5), profile.attributes.coupon exists)',
      '  no: all of (in segment "vip", profile.attributes.orders lt 5)',
      '    yes: in segment "vip" — segments are ["vip","runners"]',
      '    no: profile.attributes.orders lt 5 — profile.attributes.orders is at least 5',
      '  no: profile.attributes.coupon exists — profile.attributes.coupon is missing',
    ].join('\n'),
  ],
];

describe('rule evaluation', () => {
  it.each(cases)('%s', (_name, rule, expected) => {
    expect(ruleSchema.parse(rule)).toEqual(rule);
    expect(explain(evaluateRule(rule, facts))).toBe(expected);
  });

  it('a trace names the attribute and the rule\'s own constant, never the customer\'s email address, phone number or other profile value', () => {
    const customer: RuleFacts = {
      now,
      profile: { customerId: 'ada', email: 'ada.lovelace@example.com', attributes: { phone: '+44 20 7946 0958', postcode: 'NW1 6XE', orders: 7, lastLoginAt: ago('3d') } },
    };
    const email = 'profile.email';
    const phone = 'profile.attributes.phone';
    const rules: Rule[] = [
      { attr: email, op: 'matches', value: '@example\\.com$' },
      { attr: email, op: 'matches', value: '@shop\\.example$' },
      { attr: email, op: 'eq', value: 'ceo@shop.example' },
      { attr: email, op: 'neq', value: 'ceo@shop.example' },
      { attr: email, op: 'in', value: ['a@shop.example', 'b@shop.example'] },
      { attr: email, op: 'contains', value: 'lovelace' },
      { attr: email, op: 'exists' },
      { attr: email, op: 'gt', value: 3 },
      { attr: email, op: 'before', value: 'now' },
      { attr: phone, op: 'matches', value: '^\\+1' },
      { attr: phone, op: 'eq', value: '+1 555 0100' },
      { attr: phone, op: 'contains', value: '7946' },
      { attr: phone, op: 'within', value: { last: '7d' } },
      { attr: 'profile.attributes.postcode', op: 'in', value: ['SW1A 1AA'] },
      { attr: 'profile.attributes.orders', op: 'lt', value: 5 },
      { attr: 'profile.attributes.lastLoginAt', op: 'after', value: '2024-01-01' },
    ];
    const traces = JSON.stringify(rules.map((rule) => evaluateRule(rule, customer)));
    for (const value of ['ada.lovelace@example.com', 'ada.lovelace', '+44 20 7946 0958', '0958', 'NW1 6XE', ago('3d')]) expect(traces).not.toContain(value);
    expect(explain(evaluateRule(rules[0], customer))).toBe('yes: profile.email matches /@example\\.com$/ — profile.email matches /@example\\.com$/');
    expect(explain(evaluateRule(rules[10], customer))).toBe('no: profile.attributes.phone eq "+1 555 0100" — profile.attributes.phone is not "+1 555 0100"');
    // The rule's own constant may be shown, even where it is part of the customer's value.
    expect(explain(evaluateRule(rules[11], customer))).toBe('yes: profile.attributes.phone contains "7946" — profile.attributes.phone contains "7946"');
  });

  it('"viewed product X 3+ times in 7 days" holds from the third view until the first view is 7 days old', () => {
    const rule: Rule = { event: { type: 'product.viewed', where: [{ attr: 'properties.productId', op: 'eq', value: 'X' }], count: { gte: 3 }, within: '7d' } };
    const first = '2024-06-01T09:00:00.000Z';
    const views = [first, '2024-06-02T09:00:00.000Z', '2024-06-03T09:00:00.000Z'].map((at) => event('product.viewed', at, { productId: 'X' }));
    const other = event('product.viewed', '2024-06-02T10:00:00.000Z', { productId: 'Y' });
    const holds = (at: string, seen: CustomerEvent[]) => evaluateRule(rule, { now: at, events: [...seen, other] }).matched;

    expect(holds('2024-06-02T09:00:00.000Z', views.slice(0, 2))).toBe(false);
    expect(holds('2024-06-03T09:00:00.000Z', views)).toBe(true);
    expect(holds('2024-06-08T08:59:59.999Z', views)).toBe(true);
    expect(holds('2024-06-08T09:00:00.000Z', views)).toBe(false);
    // A replay that evaluates at the second view's time does not count views that came later.
    expect(holds('2024-06-02T09:00:00.000Z', views)).toBe(false);
  });
});

describe('decide', () => {
  const offers: RuleSet<string> = {
    rules: [
      { name: 'winBack', when: { all: [{ segment: 'vip' }, { not: { event: { type: 'order.completed', within: '30d' } } }] }, use: 'winBackVip' },
      { name: 'bigSpender', when: { attr: 'rfm.monetary90d', op: 'gte', value: 50 }, use: 'thanks' },
    ],
    fallback: 'content',
  };

  it('picks the first matching rule, reports it as chosenBy and traces only the rules it tried', () => {
    const decision = decide(offers, facts);
    expect(decision).toMatchObject({ choice: 'winBackVip', chosenBy: 'winBack' });
    expect(decision.trace.map((t) => `${t.matched}: ${t.rule}`)).toEqual(['true: winBack: all of (in segment "vip", not (order.completed at least once in the last 30d))']);
  });

  it('falls through to a later rule, then to the fallback', () => {
    const later = decide(offers, { ...facts, segments: [] });
    expect(later).toMatchObject({ choice: 'thanks', chosenBy: 'bigSpender' });
    expect(later.trace.map((t) => t.matched)).toEqual([false, true]);
    const none = decide(offers, { ...facts, segments: [], rfm: computeRfm([], now) });
    expect(none).toMatchObject({ choice: 'content', chosenBy: 'fallback' });
    expect(explain(none.trace[1])).toBe('no: bigSpender: rfm.monetary90d gte 50 — rfm.monetary90d is less than 50');
  });

  it('names the facts a rule set reads and refuses to decide without them', () => {
    expect(requiredFacts(offers).sort()).toEqual(['events', 'now', 'rfm', 'segments']);
    const withoutHistory = { ...facts, events: undefined };
    expect(() => decide(offers, withoutHistory)).toThrow(RuleFactsError);
    expect(() => decide(offers, withoutHistory)).toThrow("facts.events (the customer's event history, [] when there is none)");
  });

  it('needs nothing but profile and event for rules that read only them (today\'s cart abandonment)', () => {
    const vip: RuleSet<string> = { rules: [{ name: 'vip', when: { attr: 'event.properties.total', op: 'gt', value: 200 }, use: 'reminder1Vip' }], fallback: 'reminder1' };
    expect(requiredFacts(vip)).toEqual([]);
    const legacyFacts = { profile: facts.profile, event: facts.event } as RuleFacts;
    expect(decide(vip, legacyFacts)).toMatchObject({ choice: 'reminder1Vip', chosenBy: 'vip' });
  });
});

describe('rule schema', () => {
  const templates = ruleSetSchema(z.string());
  const issues = (when: unknown) => templates.safeParse({ rules: [{ name: 'r', when, use: 't' }], fallback: 'f' }).error?.issues.map((i) => [i.path.join('.'), i.message]);

  it('rejects an invalid regex at the rule\'s path when the journey is validated', () => {
    expect(issues({ all: [{ segment: 'vip' }, { attr: 'profile.email', op: 'matches', value: '([a-z]+' }] })).toEqual([
      ['rules.0.when.all.1.value', 'not a valid regular expression: Invalid regular expression: /([a-z]+/: Unterminated group'],
    ]);
  });

  it('says what is wrong and where in malformed rules', () => {
    expect(issues({ attr: 'profile.attributes.lastSeenAt', op: 'before', value: { ago: '30 days' } })).toEqual([['rules.0.when.value.ago', 'a duration such as "90m", "24h" or "7d"']]);
    expect(issues({ all: [] })).toEqual([['rules.0.when.all', 'an empty "all" always matches: put its choice in the fallback instead']]);
    expect(issues({ any: [{ attr: 'event.properties.total', op: 'gt', value: '200' }] })).toEqual([['rules.0.when', 'any.0: value: a number (use before / after / within for dates)']]);
    expect(issues({ attr: 'x', op: 'like', value: 'a' })?.[0][1]).toMatch(/^op: Invalid discriminator value/);
    expect(issues({ all: [{ segment: 'vip' }], any: [{ segment: 'vip' }] })).toEqual([['rules.0.when', 'a rule has one kind, found all and any: combine them inside "all" or "any"']]);
    expect(issues({ segment: 'vip', extra: true })).toEqual([['rules.0.when', 'Unrecognized key: "extra"']]);
    expect(issues({ event: { type: 'order.completed', count: { eq: 0, gte: 1 } } })).toEqual([['rules.0.when.event.count', 'eq stands alone: use either eq or gte/lte']]);
    expect(issues({ allOf: [] })?.[0][1]).toMatch(/^a rule is one of \{ all: \[\.\.\.\] \}.*; got keys allOf$/);
  });

  it('requires a fallback', () => {
    expect(templates.safeParse({ rules: [] }).error?.issues[0].path).toEqual(['fallback']);
  });
});
