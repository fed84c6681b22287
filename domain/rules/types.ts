// The rule language as plain types, for code that must never load zod (the workflow bundle
// evaluates `waitFor` conditions). Type-only imports are erased at compile time, so the
// schemas stay the single source of these types.
import type { z } from 'zod';
import type { comparisonSchema, eventPredicateSchema, ruleSchema, scorePredicateSchema } from './schema';

export type Rule = z.infer<typeof ruleSchema>;
export type Comparison = z.infer<typeof comparisonSchema>;
export type EventPredicate = z.infer<typeof eventPredicateSchema>;
export type ScorePredicate = z.infer<typeof scorePredicateSchema>;
/** A point in time a date comparison is made against. */
export type DateRef = Extract<Comparison, { op: 'before' | 'after' }>['value'];
export type TimeWindow = Extract<Comparison, { op: 'within' }>['value'];

export interface RuleTrace {
  rule: string;
  matched: boolean;
  because?: string;
  children?: RuleTrace[];
}

/** An ordered rule set: the first matching rule's choice wins, else the mandatory fallback. */
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
