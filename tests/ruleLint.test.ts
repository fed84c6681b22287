import { describe, expect, it } from 'vitest';
import { journeySchema } from '../domain/journey/schema';
import { lintRuleSet } from '../domain/rules/lint';
import type { Rule } from '../domain/rules/types';
import { cartAbandonment } from '../journeys/cartAbandonment';

const tier = 'profile.attributes.loyaltyTier';
const total = 'event.properties.total';
const noPurchaseIn = (within: string): Rule => ({ not: { event: { type: 'order.completed', within } } });
const viewed = (times: number, within: string): Rule => ({
  event: { type: 'product.viewed', where: [{ attr: 'properties.productId', op: 'eq', value: 'X' }], count: { gte: times }, within },
});
/** A two-rule set: does `first` shadow `second`? */
const pair = (first: Rule, second: Rule) => ({
  rules: [
    { name: 'first', when: first, use: 'a' },
    { name: 'second', when: second, use: 'b' },
  ],
  fallback: 'c',
});
const shadowed = (first: Rule, second: Rule) => lintRuleSet(pair(first, second)).some((p) => p.message.startsWith('rule "second" is never chosen'));

describe('rule set lint', () => {
  it('finds the planted shadowed rule, says which earlier rule hides it and where', () => {
    const ruleSet = {
      rules: [
        { name: 'bigCart', when: { attr: total, op: 'gt', value: 100 }, use: 'bigCart' },
        { name: 'gold', when: { attr: tier, op: 'eq', value: 'gold' }, use: 'gold' },
        { name: 'hugeCart', when: { attr: total, op: 'gt', value: 200 }, use: 'hugeCart' },
      ],
      fallback: 'standard',
    };
    expect(lintRuleSet(ruleSet)).toEqual([
      {
        severity: 'error',
        path: ['rules', 2],
        message: 'rule "hugeCart" is never chosen: the earlier rule "bigCart" matches whenever it does; move it up or narrow the earlier rule',
      },
    ]);
  });

  it.each<[string, Rule, Rule]>([
    ['identical rules, keys in another order', { attr: tier, op: 'eq', value: 'gold' }, { value: 'gold', op: 'eq', attr: tier } as Rule],
    ['gte 100 shadows gt 100', { attr: total, op: 'gte', value: 100 }, { attr: total, op: 'gt', value: 100 }],
    ['lt 50 shadows lte 20', { attr: total, op: 'lt', value: 50 }, { attr: total, op: 'lte', value: 20 }],
    ['an earlier any containing the later rule', { any: [{ segment: 'vip' }, { attr: tier, op: 'eq', value: 'gold' }] }, { attr: tier, op: 'eq', value: 'gold' }],
    ['a later all that adds conditions', { segment: 'vip' }, { all: [{ segment: 'vip' }, { attr: total, op: 'gt', value: 10 }] }],
    ['an earlier always-true rule', { any: [{ attr: tier, op: 'exists' }, { attr: tier, op: 'exists', value: false }] }, { segment: 'vip' }],
    ['in shadows eq of a member', { attr: tier, op: 'in', value: ['gold', 'platinum'] }, { attr: tier, op: 'eq', value: 'gold' }],
    ['exists shadows any comparison on the attribute', { attr: tier, op: 'exists' }, { attr: tier, op: 'matches', value: '^gold' }],
    ['neq shadows eq of another value', { attr: tier, op: 'neq', value: 'silver' }, { attr: tier, op: 'eq', value: 'gold' }],
    ['a longer login window shadows a shorter one', { attr: 'profile.attributes.lastLoginAt', op: 'within', value: { last: '30d' } }, { attr: 'profile.attributes.lastLoginAt', op: 'within', value: { last: '7d' } }],
    ['an earlier date cut-off', { attr: 'profile.attributes.lastLoginAt', op: 'before', value: { ago: '30d' } }, { attr: 'profile.attributes.lastLoginAt', op: 'before', value: { ago: '60d' } }],
    ['"no purchase in 30 days" shadows "no purchase in 60 days"', noPurchaseIn('30d'), noPurchaseIn('60d')],
    ['"viewed 3+ times in 7 days" shadows "viewed 5+ times in 3 days"', viewed(3, '7d'), viewed(5, '3d')],
    ['"never bought in 30 days" (count eq 0) shadows the same in 60 days', { event: { type: 'order.completed', count: { eq: 0 }, within: '30d' } }, { event: { type: 'order.completed', count: { lte: 0 }, within: '60d' } }],
    ['rfm score bands', { attr: 'rfm.monetaryScore', op: 'gte', value: 4 }, { attr: 'rfm.monetaryScore', op: 'eq', value: 5 }],
  ])('finds a shadowed rule: %s', (_name, first, second) => {
    expect(shadowed(first, second)).toBe(true);
  });

  it.each<[string, Rule, Rule]>([
    ['the narrow rule first', { attr: total, op: 'gt', value: 200 }, { attr: total, op: 'gt', value: 100 }],
    ['different attributes', { attr: total, op: 'gt', value: 100 }, { attr: 'event.properties.items', op: 'gt', value: 100 }],
    ['gt 100 then gte 100', { attr: total, op: 'gt', value: 100 }, { attr: total, op: 'gte', value: 100 }],
    ['an earlier all needs more', { all: [{ segment: 'vip' }, { attr: total, op: 'gt', value: 10 }] }, { segment: 'vip' }],
    ['a shorter window first', viewed(3, '3d'), viewed(3, '7d')],
    ['fewer views first, longer window later', viewed(5, '7d'), viewed(3, '7d')],
    ['a fixed date and a relative one are not compared', { attr: 'profile.attributes.lastLoginAt', op: 'before', value: '2024-01-01' }, { attr: 'profile.attributes.lastLoginAt', op: 'before', value: { ago: '1d' } }],
    ['"no purchase in 60 days" first', noPurchaseIn('60d'), noPurchaseIn('30d')],
    ['an empty string is there but does not exist', { attr: tier, op: 'exists' }, { attr: tier, op: 'matches', value: '^(gold)?$' }],
  ])('does not report a rule that can still be chosen: %s', (_name, first, second) => {
    expect(lintRuleSet(pair(first, second))).toEqual([]);
  });

  it('warns about a rule that always matches (the fallback is dead) and one that never can', () => {
    const ruleSet = {
      rules: [
        { name: 'contradiction', when: { all: [{ attr: tier, op: 'eq', value: 'gold' }, { attr: tier, op: 'eq', value: 'silver' }] }, use: 'a' },
        { name: 'everyone', when: { event: { type: 'order.completed', count: { gte: 0 } } }, use: 'b' },
      ],
      fallback: 'c',
    };
    expect(lintRuleSet(ruleSet)).toEqual([
      { severity: 'warning', path: ['rules', 0], message: 'rule "contradiction" can never match: its conditions contradict each other' },
      { severity: 'warning', path: ['rules', 1], message: 'rule "everyone" always matches, so the fallback is never used: make it the fallback instead' },
    ]);
  });

  it('reports a missing fallback clearly, and other schema errors with their paths', () => {
    expect(lintRuleSet({ rules: [{ name: 'vip', when: { segment: 'vip' }, use: 'vip' }] })).toEqual([
      { severity: 'error', path: ['fallback'], message: 'this rule set has no fallback: add "fallback" with the choice for customers no rule matches' },
    ]);
    expect(lintRuleSet({ rules: [{ name: 'x', when: { attr: 'profile.email', op: 'matches', value: '*' } }], fallback: 'f' })).toEqual([
      { severity: 'error', path: ['rules', 0, 'when', 'value'], message: 'not a valid regular expression: Invalid regular expression: /*/: Nothing to repeat' },
      { severity: 'error', path: ['rules', 0, 'use'], message: '"use" is required' },
    ]);
  });

  it('flags unknown attributes against the known ones, with a suggestion', () => {
    const known = ['profile.attributes.loyaltyTier', 'profile.attributes.firstName', 'event.properties.total', 'event.properties.productId', 'profile.attributes.address.*'];
    const ruleSet = {
      rules: [
        { name: 'typo', when: { any: [{ attr: 'profile.attributes.loyaltytier', op: 'eq', value: 'gold' }, { attr: 'profile.email', op: 'matches', value: '@corp' }] }, use: 'a' },
        { name: 'score', when: { attr: 'rfm.recency', op: 'lt', value: 7 }, use: 'b' },
        { name: 'views', when: { event: { type: 'product.viewed', where: [{ attr: 'properties.sku', op: 'eq', value: 'X' }] } }, use: 'c' },
        { name: 'fine', when: { all: [{ attr: 'profile.attributes.address.city', op: 'eq', value: 'Oslo' }, { attr: 'rfm.recencyScore', op: 'gte', value: 4 }] }, use: 'd' },
      ],
      fallback: 'f',
    };
    expect(lintRuleSet(ruleSet, known)).toEqual([
      {
        severity: 'error',
        path: ['rules', 0, 'when', 'any', 0, 'attr'],
        message: 'unknown attribute "profile.attributes.loyaltytier": no customer has it, so this condition never matches; did you mean "profile.attributes.loyaltyTier"?',
      },
      { severity: 'error', path: ['rules', 1, 'when', 'attr'], message: 'unknown attribute "rfm.recency": no customer has it, so this condition never matches; did you mean "rfm.recencyDays"?' },
      { severity: 'error', path: ['rules', 2, 'when', 'event', 'where', 0, 'attr'], message: 'unknown attribute "event.properties.sku": no customer has it, so this condition never matches' },
    ]);
    // Scores are a fixed vocabulary, checked even without a list of known attributes.
    expect(lintRuleSet(ruleSet).map((p) => p.path)).toEqual([['rules', 1, 'when', 'attr']]);
  });

  it('says when the shadowing rule is an exact copy', () => {
    expect(lintRuleSet(pair({ segment: 'vip' }, { segment: 'vip' }))[0].message).toBe('rule "second" is never chosen: the earlier rule "first" matches whenever it does; the two rules are the same: remove one');
  });

  it('warns about two rules with the same name', () => {
    const ruleSet = { rules: [{ name: 'vip', when: { segment: 'vip' }, use: 'a' }, { name: 'vip', when: { segment: 'gold' }, use: 'b' }], fallback: 'c' };
    expect(lintRuleSet(ruleSet)).toEqual([{ severity: 'warning', path: ['rules', 1, 'name'], message: 'two rules are named "vip": a decision\'s chosenBy cannot tell them apart' }]);
  });

  it('passes the shipped cart abandonment rule sets and shipped-style onboarding and dormancy sets', () => {
    const known = ['profile.attributes.loyaltyTier', 'profile.attributes.firstName', 'event.properties.*', 'profile.attributes.plan', 'profile.attributes.usedFeatures'];
    const journey = journeySchema.parse(cartAbandonment);
    const templates = journey.steps.flatMap((step) => (step.kind === 'send' ? [step.template] : []));
    expect(templates).toHaveLength(3);
    for (const ruleSet of templates) expect(lintRuleSet(ruleSet, known)).toEqual([]);

    const featureHighlight = {
      rules: [
        { name: 'teams', when: { all: [{ attr: 'profile.attributes.plan', op: 'eq', value: 'team' }, { not: { attr: 'profile.attributes.usedFeatures', op: 'contains', value: 'sharing' } }] }, use: 'sharing' },
        { name: 'power', when: { event: { type: 'report.exported', count: { gte: 3 }, within: '7d' } }, use: 'automation' },
      ],
      fallback: 'tour',
    };
    const dormancyOffer = {
      rules: [
        { name: 'highValue', when: { all: [{ attr: 'rfm.monetaryScore', op: 'gte', value: 4 }, { attr: 'rfm.frequencyScore', op: 'gte', value: 3 }] }, use: 'offerVip' },
        { name: 'valuable', when: { attr: 'rfm.monetaryScore', op: 'gte', value: 3 }, use: 'offer' },
        { name: 'dormantVip', when: { all: [{ segment: 'vip' }, { not: { event: { type: 'order.completed', within: '60d' } } }] }, use: 'offer' },
      ],
      fallback: 'content',
    };
    expect(lintRuleSet(featureHighlight, known)).toEqual([]);
    expect(lintRuleSet(dormancyOffer, known)).toEqual([]);
  });
});
