import { z } from 'zod';
import { readPath } from './path';

/**
 * The rule language: `all` / `any` / `not` trees over facts. Facts are addressed by
 * dotted paths from the evaluation context: `profile.attributes.loyaltyTier`,
 * `event.properties.total` (the journey's entry event, as last updated).
 */
export const comparisonOps = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'contains', 'exists'] as const;

export type Rule =
  | { all: Rule[] }
  | { any: Rule[] }
  | { not: Rule }
  | { attr: string; op: (typeof comparisonOps)[number]; value?: unknown };

export const ruleSchema: z.ZodType<Rule> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(ruleSchema).min(1) }),
    z.strictObject({ any: z.array(ruleSchema).min(1) }),
    z.strictObject({ not: ruleSchema }),
    z.strictObject({ attr: z.string().min(1), op: z.enum(comparisonOps), value: z.unknown().optional() }),
  ]),
);

export interface RuleTrace {
  rule: string;
  matched: boolean;
  because?: string;
  children?: RuleTrace[];
}

function compare(op: (typeof comparisonOps)[number], actual: unknown, expected: unknown): boolean {
  switch (op) {
    case 'exists':
      return (actual !== undefined && actual !== null && actual !== '') === (expected ?? true);
    case 'eq':
      return actual === expected;
    case 'neq':
      return actual !== expected;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (typeof actual !== 'number' || typeof expected !== 'number') return false;
      if (op === 'gt') return actual > expected;
      if (op === 'gte') return actual >= expected;
      if (op === 'lt') return actual < expected;
      return actual <= expected;
    }
    case 'in':
      return Array.isArray(expected) && expected.includes(actual);
    case 'contains':
      if (typeof actual === 'string' && typeof expected === 'string') return actual.includes(expected);
      return Array.isArray(actual) && actual.includes(expected);
  }
}

export function describeRule(rule: Rule): string {
  if ('all' in rule) return `all of (${rule.all.map(describeRule).join(', ')})`;
  if ('any' in rule) return `any of (${rule.any.map(describeRule).join(', ')})`;
  if ('not' in rule) return `not (${describeRule(rule.not)})`;
  return rule.op === 'exists' ? `${rule.attr} exists` : `${rule.attr} ${rule.op} ${JSON.stringify(rule.value)}`;
}

export function evaluateRule(rule: Rule, facts: Record<string, unknown>): RuleTrace {
  if ('all' in rule || 'any' in rule) {
    const parts = 'all' in rule ? rule.all : rule.any;
    const children = parts.map((part) => evaluateRule(part, facts));
    const matched = 'all' in rule ? children.every((c) => c.matched) : children.some((c) => c.matched);
    return { rule: describeRule(rule), matched, children };
  }
  if ('not' in rule) {
    const child = evaluateRule(rule.not, facts);
    return { rule: describeRule(rule), matched: !child.matched, children: [child] };
  }
  const actual = readPath(facts, rule.attr);
  return {
    rule: describeRule(rule),
    matched: compare(rule.op, actual, rule.value),
    because: actual === undefined ? `${rule.attr} is missing` : `${rule.attr} is ${JSON.stringify(actual)}`,
  };
}

/** An ordered rule set: the first matching rule's choice wins, else the mandatory fallback. */
export function ruleSetSchema<T extends z.ZodType>(choice: T) {
  return z.strictObject({
    rules: z.array(z.strictObject({ name: z.string().min(1), when: ruleSchema, use: choice })).default([]),
    fallback: choice,
  });
}
export interface RuleSet<T> {
  rules: { name: string; when: Rule; use: T }[];
  fallback: T;
}

export interface RuleSetDecision<T> {
  choice: T;
  /** The name of the rule that matched, or "fallback". */
  chosenBy: string;
  trace: RuleTrace[];
}

export function decide<T>(ruleSet: RuleSet<T>, facts: Record<string, unknown>): RuleSetDecision<T> {
  const trace: RuleTrace[] = [];
  for (const candidate of ruleSet.rules) {
    const result = evaluateRule(candidate.when, facts);
    trace.push({ ...result, rule: `${candidate.name}: ${result.rule}` });
    if (result.matched) return { choice: candidate.use, chosenBy: candidate.name, trace };
  }
  return { choice: ruleSet.fallback, chosenBy: 'fallback', trace };
}
