import { z } from 'zod';
import { isDuration } from '../time/duration';

/**
 * The rule language: `all` / `any` / `not` trees over facts (see `RuleFacts`). Leaves are
 * attribute comparisons addressed by dotted paths (`profile.attributes.loyaltyTier`,
 * `event.properties.total`, `rfm.recencyDays`), event predicates over the customer's
 * history, and segment membership. The schema is the single source of the `Rule` type.
 */
const attr = z.string().min(1, 'name the attribute by its dotted path, e.g. "profile.attributes.loyaltyTier"');
// Equality stays strict (no "007" == 7): imported ZIP codes and IDs are strings on purpose.
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'a string, number or boolean' });
const duration = z.string().refine(isDuration, 'a duration such as "90m", "24h" or "7d"');
const isoDate = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'an ISO date such as "2024-05-01" or "2024-05-01T09:00:00Z"',
});
/** A point in time: a fixed ISO date, or one relative to `facts.now` so rules stay valid as time passes. */
const dateRef = z.union([z.literal('now'), isoDate, z.strictObject({ ago: duration }), z.strictObject({ fromNow: duration })], {
  error: 'an ISO date, "now", { "ago": "30d" } or { "fromNow": "3d" }',
});
const timeWindow = z.union([z.strictObject({ last: duration }), z.strictObject({ next: duration })], {
  error: '{ "last": "7d" } or { "next": "3d" }',
});
// Compiled once here so an author's typo is a schema error, not a rule that silently never matches.
const regex = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
  }
});

export const comparisonSchema = z.discriminatedUnion('op', [
  z.strictObject({ attr, op: z.enum(['eq', 'neq', 'contains']), value: scalar }),
  z.strictObject({ attr, op: z.enum(['gt', 'gte', 'lt', 'lte']), value: z.number({ error: 'a number (use before / after / within for dates)' }) }),
  z.strictObject({ attr, op: z.literal('in'), value: z.array(scalar).min(1, 'list at least one value') }),
  z.strictObject({ attr, op: z.literal('exists'), value: z.boolean().optional() }),
  z.strictObject({ attr, op: z.literal('matches'), value: regex }),
  z.strictObject({ attr, op: z.enum(['before', 'after']), value: dateRef }),
  z.strictObject({ attr, op: z.literal('within'), value: timeWindow }),
]);

const countBound = z.number().int().min(0);
const countSchema = z
  .strictObject({ gte: countBound.optional(), lte: countBound.optional(), eq: countBound.optional() })
  .refine((c) => c.gte !== undefined || c.lte !== undefined || c.eq !== undefined, 'give gte, lte or eq')
  .refine((c) => c.eq === undefined || (c.gte === undefined && c.lte === undefined), 'eq stands alone: use either eq or gte/lte');

export const eventPredicateSchema = z.strictObject({
  event: z.strictObject({
    type: z.string().min(1),
    /** Comparisons on each event (paths from the event: `properties.productId`), all of which must hold. */
    where: z.array(comparisonSchema).min(1).optional(),
    /** How many matching events there must be; at least one when left out. */
    count: countSchema.optional(),
    /** Only events in this long before `facts.now`; all history up to now when left out. */
    within: duration.optional(),
  }),
});

export const segmentPredicateSchema = z.strictObject({ segment: z.string().min(1) });

/**
 * A predictive score on the profile: `{ score: 'churn', op: 'gt', value: 0.7 }` reads
 * `profile.attributes.scores.churn`, as the plain attribute path does; a customer not scored
 * matches nothing.
 */
export const scorePredicateSchema = z.strictObject({
  score: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'name the score as journeys scores train or an import wrote it, e.g. "churn" or "propensity"'),
  op: z.enum(['gt', 'gte', 'lt', 'lte'], { error: 'gt, gte, lt or lte: a score is a number' }),
  value: z.number({ error: 'a number, e.g. 0.7' }),
});

const allRule = z.strictObject({
  get all() {
    return z.array(ruleSchema).min(1, 'an empty "all" always matches: put its choice in the fallback instead');
  },
});
const anyRule = z.strictObject({
  get any() {
    return z.array(ruleSchema).min(1, 'an empty "any" never matches: remove the rule');
  },
});
const notRule = z.strictObject({
  get not() {
    return ruleSchema;
  },
});

// The union's options are told apart by which key the rule has; its own error names the
// failure of that option only, because zod's default ("Invalid input") names none.
const ruleKinds = ['all', 'any', 'not', 'attr', 'event', 'segment', 'score'] as const;
export const ruleSchema = z.union([allRule, anyRule, notRule, comparisonSchema, eventPredicateSchema, segmentPredicateSchema, scorePredicateSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? explainRuleError(issue.input, issue.errors) : undefined),
});

function explainRuleError(input: unknown, optionIssues: { path: PropertyKey[]; message: string }[][]): string {
  const keys = input !== null && typeof input === 'object' ? Object.keys(input) : [];
  // A score rule has an op too: its key says which it is.
  const kind = keys.includes('score') ? 'score' : keys.includes('op') ? 'attr' : ruleKinds.find((k) => keys.includes(k));
  const expected = 'a rule is one of { all: [...] }, { any: [...] }, { not: rule }, { attr, op, value }, { event: {...} }, { segment } or { score, op, value }';
  if (!kind) return `${expected}; got ${keys.length ? `keys ${keys.join(', ')}` : JSON.stringify(input)}`;
  const kinds = ruleKinds.filter((k) => keys.includes(k));
  if (kinds.length > 1) return `a rule has one kind, found ${kinds.join(' and ')}: combine them inside "all" or "any"`;
  const first = optionIssues[ruleKinds.indexOf(kind)]?.[0];
  if (!first) return expected;
  return first.path.length ? `${first.path.map(String).join('.')}: ${first.message}` : first.message;
}

/** An ordered rule set: the first matching rule's choice wins, else the mandatory fallback. */
export function ruleSetSchema<T extends z.ZodType>(choice: T) {
  return z.strictObject({
    rules: z.array(z.strictObject({ name: z.string().min(1), when: ruleSchema, use: choice })).default([]),
    fallback: choice,
  });
}
