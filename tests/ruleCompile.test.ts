import { describe, expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { evaluateRule, evaluateUncompiled, type RuleFacts } from '../domain/rules/evaluate';
import { computeRfm } from '../domain/rules/rfm';
import type { Comparison, Rule } from '../domain/rules/types';
import { loadCatalogue } from '../journeys';
import { shippedSegments } from '../journeys/segments';
import { random, type Random } from './support/random';

// The compiled evaluation (rules compiled once per rule object, histories indexed once per
// events array) against the reference, which computes everything on every call: the same
// traces, to the last character, and the same errors, over rules and facts drawn at random.


const NOWS = ['2024-06-10T12:00:00.000Z', '2024-06-10T12:00:00Z', '2024-06-12T08:30:00.000Z'];
const ago = (now: string, days: number) => new Date(Date.parse(now) - days * 86_400_000).toISOString();
const TYPES = ['product.viewed', 'order.completed', 'cart.updated', 'user.logged_in'];
const DURATIONS = ['1h', '36h', '3d', '7d', '30d', '60d', '2w', '1.5d'];
/** Days ago on the edge of a window of DURATIONS, or of `now` itself. */
const EDGES = [0, 1 / 24, 1.5, 3, 7, 14, 30, 60, -1 / 24, -1.5, -3];
const SCALARS = ['gold', 'silver', '', 'vip', 'shoe-1', '02134', 2134, 12, 0, 149.9, true, false];

function comparison(r: Random, attrs: readonly string[]): Comparison {
  const attr = r.pick(attrs);
  switch (r.pick(['eq', 'neq', 'contains', 'in', 'gt', 'gte', 'lt', 'lte', 'exists', 'matches', 'before', 'after', 'within'] as const)) {
    case 'eq':
      return { attr, op: 'eq', value: r.pick(SCALARS) };
    case 'neq':
      return { attr, op: 'neq', value: r.pick(SCALARS) };
    case 'contains':
      return { attr, op: 'contains', value: r.pick(SCALARS) };
    case 'in':
      return { attr, op: 'in', value: [r.pick(SCALARS), r.pick(SCALARS)] };
    case 'gt':
      return { attr, op: 'gt', value: r.pick([0, 5, 12, 100, 149.9]) };
    case 'gte':
      return { attr, op: 'gte', value: r.pick([0, 5, 12, 100, 149.9]) };
    case 'lt':
      return { attr, op: 'lt', value: r.pick([0, 5, 12, 100, 149.9]) };
    case 'lte':
      return { attr, op: 'lte', value: r.pick([0, 5, 12, 100, 149.9]) };
    case 'exists':
      return r.chance(0.3) ? { attr, op: 'exists' } : { attr, op: 'exists', value: r.chance(0.5) };
    case 'matches':
      return { attr, op: 'matches', value: r.pick(['^g', 'old$', '@example\\.com$', '\\d+', 'shoe']) };
    case 'before':
    case 'after': {
      const value = r.pick(['now', '2024-01-01', '2024-06-08T00:00:00Z', { ago: r.pick(DURATIONS) }, { fromNow: r.pick(DURATIONS) }] as const);
      return { attr, op: r.chance(0.5) ? 'before' : 'after', value };
    }
    case 'within':
      return { attr, op: 'within', value: r.chance(0.5) ? { last: r.pick(DURATIONS) } : { next: r.pick(DURATIONS) } };
  }
}

const PROFILE_ATTRS = [
  'profile.attributes.tier',
  'profile.attributes.orders',
  'profile.attributes.spend',
  'profile.attributes.tags',
  'profile.attributes.name',
  'profile.attributes.lastLoginAt',
  'profile.attributes.renewsAt',
  'profile.attributes.nickname',
  'profile.attributes.empty',
  'profile.attributes.coupon',
  'profile.email',
  'profile',
  'event.properties.total',
  'event.occurredAt',
  'rfm.recencyDays',
  'rfm.monetaryScore',
  'rfm',
  'now',
];
const EVENT_ATTRS = ['properties.productId', 'properties.total', 'properties.category', 'properties.seenAt', 'occurredAt', 'type', 'properties.missing'];

function rule(r: Random, depth = 0): Rule {
  const kind = r.pick(depth > 2 ? ['attr', 'event', 'segment'] : ['all', 'any', 'not', 'attr', 'attr', 'event', 'event', 'segment']);
  switch (kind) {
    case 'all':
      return { all: Array.from({ length: 1 + Math.floor(r.next() * 4) }, () => rule(r, depth + 1)) };
    case 'any':
      return { any: Array.from({ length: 1 + Math.floor(r.next() * 4) }, () => rule(r, depth + 1)) };
    case 'not':
      return { not: rule(r, depth + 1) };
    case 'segment':
      return { segment: r.pick(['vip', 'dormant', 'runners']) };
    case 'event': {
      const count = r.pick([undefined, { gte: r.pick([0, 1, 2, 3]) }, { lte: r.pick([0, 1, 4]) }, { eq: r.pick([0, 1, 2]) }, { gte: 1, lte: 3 }]);
      return {
        event: {
          type: r.pick(TYPES),
          ...(r.chance(0.4) && { where: Array.from({ length: 1 + Math.floor(r.next() * 2) }, () => comparison(r, EVENT_ATTRS)) }),
          ...(count && { count }),
          ...(r.chance(0.6) && { within: r.pick(DURATIONS) }),
        },
      };
    }
    default:
      return comparison(r, PROFILE_ATTRS);
  }
}

function facts(r: Random): RuleFacts {
  const now = r.pick(NOWS);
  const events: CustomerEvent[] = Array.from({ length: Math.floor(r.next() * 25) }, (_, i) => ({
    id: `e${i}`,
    type: r.pick(TYPES),
    customerId: 'ada',
    // Some in the future of `now`, some exactly on the edge of a window, one in a while not a date at all.
    occurredAt: r.chance(0.03) ? 'yesterday' : ago(now, r.chance(0.3) ? r.pick(EDGES) : r.next() * 100 - 5),
    properties: {
      productId: r.pick(['shoe-1', 'shoe-2', undefined]),
      total: r.pick([12, 49.9, '149.90', 250, null, undefined]),
      category: r.pick(['running-shoes', 'accessories']),
      seenAt: r.pick([ago(now, r.next() * 10), ago(now, r.pick(EDGES)), 'not a date', undefined]),
    },
  }));
  const full: RuleFacts = {
    now,
    profile: {
      customerId: 'ada',
      email: r.pick(['ada@example.com', 'ben@shop.example']),
      attributes: {
        tier: r.pick(['gold', 'silver', undefined]),
        orders: r.pick([0, 5, 12, '12', undefined]),
        spend: r.pick(['149.90', 'lots', 20]),
        tags: r.pick([['runner', 'vip'], [], undefined]),
        name: 'Ada Lovelace',
        lastLoginAt: r.pick([ago(now, 3), ago(now, 40), ago(now, r.pick(EDGES)), 'never', undefined]),
        renewsAt: r.pick(['2024-06-12T00:00:00Z', '2024-07-30', undefined]),
        nickname: null,
        empty: '',
      },
    },
    event: { id: 'c', type: 'cart.updated', customerId: 'ada', occurredAt: ago(now, 0.1), properties: { total: r.pick([80, 250, '199.5']) } },
    events,
    segments: r.pick([[], ['vip'], ['vip', 'runners'], ['a-very-long-segment-name-number-one', 'a-very-long-segment-name-number-two', 'and-three']]),
    rfm: computeRfm(events, now),
  };
  // Now and then a fact is missing or `now` is not a date: both evaluations must throw the same.
  if (r.chance(0.05)) delete full.events;
  if (r.chance(0.05)) delete full.segments;
  if (r.chance(0.05)) delete full.rfm;
  if (r.chance(0.03)) full.now = r.pick(['soon', undefined as unknown as string]);
  return full;
}

/** The trace as JSON, or the error as its name and message. */
function outcome(evaluate: () => unknown): string {
  try {
    return JSON.stringify(evaluate());
  } catch (err) {
    return `throws ${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('compiled rule evaluation', () => {
  it('gives the reference trace for every shipped segment and rule set rule', () => {
    const r = random(7);
    const rules: Rule[] = [...shippedSegments.map((s) => s.rule as Rule)];
    for (const { definition } of loadCatalogue().journeys) {
      for (const step of definition.steps) {
        if (step.kind === 'send') rules.push(...step.template.rules.map((x) => x.when));
        if (step.kind === 'branch') rules.push(...step.rules.map((x) => x.when));
      }
    }
    for (let i = 0; i < 200; i++) {
      const f = facts(r);
      for (const x of rules) {
        expect(outcome(() => evaluateRule(x, f))).toBe(outcome(() => evaluateUncompiled(x, f)));
        // Plain objects like the reference's, with no key it lacks (not even one left undefined).
        if (!outcome(() => evaluateUncompiled(x, f)).startsWith('throws')) expect(evaluateRule(x, f)).toStrictEqual(evaluateUncompiled(x, f));
      }
    }
  });

  it('gives the reference trace, or throws the reference error, for random rules over random facts', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = random(seed);
      const rules = Array.from({ length: 40 }, () => rule(r));
      const factSets = Array.from({ length: 12 }, () => facts(r));
      // Each rule against each set of facts, twice over, so compiled rules and indexed histories are reused.
      for (let pass = 0; pass < 2; pass++) {
        for (const f of factSets) {
          for (const x of rules) {
            const [compiled, reference] = [outcome(() => evaluateRule(x, f)), outcome(() => evaluateUncompiled(x, f))];
            if (compiled !== reference) expect({ seed, rule: x, facts: f, compiled }).toEqual({ seed, rule: x, facts: f, compiled: reference });
          }
        }
      }
    }
  });

  it('sees an events array changed in place since it was last evaluated', () => {
    const now = NOWS[0];
    const view = (daysAgo: number, productId = 'shoe-1'): CustomerEvent => ({ id: `v${daysAgo}`, type: 'product.viewed', customerId: 'ada', occurredAt: ago(now, daysAgo), properties: { productId } });
    const threeViews: Rule = { event: { type: 'product.viewed', count: { gte: 3 }, within: '7d' } };
    const events = [view(1), view(2)];
    const f = { now, events };
    expect(evaluateRule(threeViews, f).matched).toBe(false);
    events.push(view(3));
    expect(evaluateRule(threeViews, f).matched).toBe(true);
    events[2] = view(30);
    expect(evaluateRule(threeViews, f).matched).toBe(false);
    events[2].occurredAt = ago(now, 4);
    expect(evaluateRule(threeViews, f).matched).toBe(true);
    events[2].type = 'order.completed';
    expect(evaluateRule(threeViews, f).matched).toBe(false);
    expect(JSON.stringify(evaluateRule(threeViews, f))).toBe(JSON.stringify(evaluateUncompiled(threeViews, f)));
  });

  it('words times relative to the `now` of each call, whatever was evaluated before', () => {
    const rules: Rule[] = [
      { attr: 'profile.attributes.lastLoginAt', op: 'after', value: { ago: '7d' } },
      { attr: 'profile.attributes.lastLoginAt', op: 'within', value: { last: '7d' } },
      { event: { type: 'order.completed', within: '30d' } },
    ];
    for (const now of [...NOWS, ...NOWS.reverse()]) {
      const f: RuleFacts = { now, profile: { customerId: 'a', email: 'a@example.com', attributes: { lastLoginAt: ago(now, 1) } }, events: [] };
      for (const x of rules) expect(JSON.stringify(evaluateRule(x, f))).toBe(JSON.stringify(evaluateUncompiled(x, f)));
    }
  });
});
