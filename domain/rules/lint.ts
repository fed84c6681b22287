import { z } from 'zod';
import { parseDuration } from '../time/duration';
import { scorePath } from './path';
import { rfmAttributes } from './rfm';
import { countRange, evaluateRule } from './evaluate';
import { ruleSetSchema } from './schema';
import { requiredFacts } from './decide';
import type { Comparison, EventPredicate, Rule, RuleSet } from './types';

export interface RuleProblem {
  severity: 'error' | 'warning';
  /** Where in the rule set, as zod paths are: ['rules', 2, 'when', 'all', 0, 'attr']. */
  path: (string | number)[];
  message: string;
}

/**
 * Finds what makes a rule set choose something other than its author meant: schema errors
 * (including a missing fallback), rules that can never be chosen because an earlier rule
 * matches whenever they do, rules that always or never match, and, given the attributes
 * customers actually have, paths that name none of them (such a rule silently never matches).
 * The shadowing check is conservative: what it reports is certain, it may miss subtle cases.
 */
export function lintRuleSet(input: unknown, knownAttributes?: string[]): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (input !== null && typeof input === 'object' && (input as { fallback?: unknown }).fallback === undefined) {
    const message = 'this rule set has no fallback: add "fallback" with the choice for customers no rule matches';
    problems.push({ severity: 'error', path: ['fallback'], message });
  }
  const parsed = ruleSetSchema(z.unknown()).safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => ({ severity: 'error' as const, path: i.path.map(keyOf), message: /received undefined$/.test(i.message) ? `"${String(i.path.at(-1))}" is required` : i.message }))
      .filter((issue) => !(problems.length && issue.path.join('.') === 'fallback'));
    return [...problems, ...issues];
  }
  return [...problems, ...lintRules(parsed.data), ...unknownAttributes(parsed.data, knownAttributes)];
}

const keyOf = (key: PropertyKey): string | number => (typeof key === 'number' ? key : String(key));

function lintRules({ rules }: RuleSet<unknown>): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const normalized = rules.map((r) => normalize(r.when));
  rules.forEach((rule, j) => {
    const at = ['rules', j];
    const twin = rules.findIndex((r, i) => i < j && r.name === rule.name);
    if (twin !== -1) problems.push({ severity: 'warning', path: [...at, 'name'], message: `two rules are named "${rule.name}": a decision's chosenBy cannot tell them apart` });
    if (alwaysFalse(normalized[j])) {
      problems.push({ severity: 'warning', path: at, message: `rule "${rule.name}" can never match: its conditions contradict each other` });
      return;
    }
    const earlier = normalized.findIndex((when, i) => i < j && implies(normalized[j], when));
    if (earlier !== -1) {
      const fix = canon(normalized[earlier]) === canon(normalized[j]) ? 'the two rules are the same: remove one' : 'move it up or narrow the earlier rule';
      const message = `rule "${rule.name}" is never chosen: the earlier rule "${rules[earlier].name}" matches whenever it does; ${fix}`;
      problems.push({ severity: 'error', path: at, message });
    } else if (alwaysTrue(normalized[j])) {
      problems.push({ severity: 'warning', path: at, message: `rule "${rule.name}" always matches, so the fallback is never used: make it the fallback instead` });
    }
  });
  return problems;
}

/** One spelling per meaning: `exists: false` is `not exists`, double negations cancel, a score is its attribute path. */
function normalize(rule: Rule): Rule {
  if ('score' in rule) return { attr: scorePath(rule.score), op: rule.op, value: rule.value };
  if ('all' in rule) return { all: rule.all.map(normalize) };
  if ('any' in rule) return { any: rule.any.map(normalize) };
  if ('not' in rule) {
    const inner = normalize(rule.not);
    return 'not' in inner ? inner.not : { not: inner };
  }
  if ('attr' in rule && rule.op === 'exists') {
    const exists: Rule = { attr: rule.attr, op: 'exists' };
    return rule.value === false ? { not: exists } : exists;
  }
  return rule;
}

/** JSON with sorted keys, so two rules written in a different key order compare equal. */
function canon(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${canon(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whenever `a` matches, `b` matches too (sound, not complete: false means "not proven"). */
function implies(a: Rule, b: Rule): boolean {
  if (canon(a) === canon(b) || alwaysTrue(b) || alwaysFalse(a)) return true;
  if ('all' in b) return b.all.every((part) => implies(a, part));
  if ('any' in a) return a.any.every((part) => implies(part, b));
  if ('any' in b && b.any.some((part) => implies(a, part))) return true;
  if ('all' in a && a.all.some((part) => implies(part, b))) return true;
  if ('not' in a && 'not' in b) return implies(b.not, a.not);
  if ('attr' in a && 'attr' in b) return comparisonImplies(a, b);
  if ('attr' in a && 'not' in b && 'attr' in b.not) return excludes(a, b.not);
  if ('event' in a && 'event' in b) return eventsImply(a.event, b.event);
  return false;
}

function alwaysTrue(rule: Rule): boolean {
  if ('all' in rule) return rule.all.every(alwaysTrue);
  if ('any' in rule) return rule.any.some((x) => alwaysTrue(x) || rule.any.some((y) => 'not' in y && implies(y.not, x)));
  if ('not' in rule) return alwaysFalse(rule.not);
  if ('event' in rule) return countRange(rule.event.count)[0] === 0 && countRange(rule.event.count)[1] === Infinity;
  return false;
}

function alwaysFalse(rule: Rule): boolean {
  if ('any' in rule) return rule.any.every(alwaysFalse);
  // Two conditions that cannot hold together: `x` and `not y` where x implies y, or eq "gold" and eq "silver".
  const contradict = (x: Rule, y: Rule) => ('not' in y && implies(x, y.not)) || ('attr' in x && 'attr' in y && excludes(x, y));
  if ('all' in rule) return rule.all.some((x, i) => alwaysFalse(x) || rule.all.some((y, j) => i !== j && contradict(x, y)));
  if ('not' in rule) return alwaysTrue(rule.not);
  if ('event' in rule) return countRange(rule.event.count)[0] > countRange(rule.event.count)[1];
  return false;
}

/** A fact object in which `attr` holds `value`, to ask the evaluator what a comparison says about it. */
function factsWith(attr: string, value: unknown) {
  const facts: Record<string, unknown> = { now: '2000-01-01T00:00:00Z' };
  const parts = attr.split('.');
  let node = facts;
  parts.slice(0, -1).forEach((part) => (node = (node[part] = {}) as Record<string, unknown>));
  node[parts[parts.length - 1]] = value;
  return facts as { now: string };
}
const holdsFor = (c: Comparison, value: unknown): boolean => evaluateRule(c, factsWith(c.attr, value)).matched;
/** The finite set of values a comparison allows, when it allows only a few (eq, in). */
const valuesOf = (c: Comparison): unknown[] | undefined => (c.op === 'eq' ? [c.value] : c.op === 'in' ? c.value : undefined);

function comparisonImplies(a: Comparison, b: Comparison): boolean {
  if (a.attr !== b.attr) return false;
  // Every operator but `exists: false` (normalized to a `not`) needs the attribute to be there;
  // only an empty string is there for `eq ""` or `matches` and yet does not "exist".
  if (b.op === 'exists') return !holdsFor(a, '');
  const values = valuesOf(a);
  if (values) return !requiredFacts(b).includes('now') && values.every((v) => holdsFor(b, v));
  const [ra, rb] = [range(a), range(b)];
  if (ra && rb && ra.kind === rb.kind && ra.side === rb.side) {
    const tighter = ra.side === 'above' ? ra.at > rb.at : ra.at < rb.at;
    return tighter || (ra.at === rb.at && (rb.inclusive || !ra.inclusive));
  }
  if (a.op === 'within' && b.op === 'within') {
    const [wa, wb] = [a.value, b.value];
    if ('last' in wa && 'last' in wb) return parseDuration(wa.last) <= parseDuration(wb.last);
    if ('next' in wa && 'next' in wb) return parseDuration(wa.next) <= parseDuration(wb.next);
  }
  return false;
}

/**
 * The one-sided range a comparison allows: numbers for gt…lte; for before/after, fixed
 * instants or offsets from now, each comparable only with its own kind.
 */
function range(c: Comparison): { side: 'above' | 'below'; at: number; inclusive: boolean; kind: 'number' | 'fixed' | 'relative' } | undefined {
  if (c.op === 'gt' || c.op === 'gte') return { side: 'above', at: c.value, inclusive: c.op === 'gte', kind: 'number' };
  if (c.op === 'lt' || c.op === 'lte') return { side: 'below', at: c.value, inclusive: c.op === 'lte', kind: 'number' };
  if (c.op !== 'before' && c.op !== 'after') return undefined;
  const side = c.op === 'after' ? 'above' : 'below';
  const ref = c.value;
  if (typeof ref !== 'string') return { side, at: 'ago' in ref ? -parseDuration(ref.ago) : parseDuration(ref.fromNow), inclusive: false, kind: 'relative' };
  return ref === 'now' ? { side, at: 0, inclusive: false, kind: 'relative' } : { side, at: Date.parse(ref), inclusive: false, kind: 'fixed' };
}

/** `a` and `b` cannot both hold: `a` allows only values `b` rejects. */
function excludes(a: Comparison, b: Comparison): boolean {
  if (a.attr !== b.attr) return false;
  if (b.op === 'exists') return false;
  const values = valuesOf(a);
  return values !== undefined && !requiredFacts(b).includes('now') && values.every((v) => !holdsFor(b, v));
}

function eventsImply(a: EventPredicate['event'], b: EventPredicate['event']): boolean {
  if (a.type !== b.type) return false;
  const windowMs = (e: EventPredicate['event']) => (e.within ? parseDuration(e.within) : Infinity);
  // The events `a` counts are among those `b` counts when `a` filters at least as tightly.
  const narrower = (x: EventPredicate['event'], y: EventPredicate['event']) =>
    windowMs(x) <= windowMs(y) && (y.where ?? []).every((w) => (x.where ?? []).some((v) => comparisonImplies(v, w)));
  const [aLo, aHi] = countRange(a.count);
  const [bLo, bHi] = countRange(b.count);
  if (bHi === Infinity && narrower(a, b)) return aLo >= bLo;
  if (bLo === 0 && narrower(b, a)) return aHi <= bHi;
  return narrower(a, b) && narrower(b, a) && aLo >= bLo && aHi <= bHi;
}

const checkedRoots = ['profile.attributes.', 'event.properties.'];

/** Scores are ours, so `rfm.*` is always checked; profile and event paths only against a given vocabulary. */
function unknownAttributes({ rules }: RuleSet<unknown>, known: string[] | undefined): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const isKnown = (attr: string) =>
    !known ||
    known.some((k) => attr === k || attr.startsWith(`${k}.`) || (k.endsWith('.*') && attr.startsWith(k.slice(0, -1))));
  const scores = rfmAttributes.map((a) => `rfm.${a}`);
  const check = (attr: string, path: (string | number)[]) => {
    const isScore = attr.startsWith('rfm.');
    if (isScore ? scores.includes(attr) : !checkedRoots.some((root) => attr.startsWith(root)) || isKnown(attr)) return;
    const candidates = isScore ? scores : (known ?? []);
    const lower = attr.toLowerCase();
    const guess = candidates.find((k) => editDistance(k.toLowerCase(), lower) <= 2) ?? candidates.find((k) => k.toLowerCase().startsWith(lower));
    problems.push({ severity: 'error', path, message: `unknown attribute "${attr}": no customer has it, so this condition never matches${guess ? `; did you mean "${guess}"?` : ''}` });
  };
  const visit = (rule: Rule, path: (string | number)[]): void => {
    if ('all' in rule) rule.all.forEach((r, i) => visit(r, [...path, 'all', i]));
    else if ('any' in rule) rule.any.forEach((r, i) => visit(r, [...path, 'any', i]));
    else if ('not' in rule) visit(rule.not, [...path, 'not']);
    // History events carry the same property names as the entry event: one vocabulary.
    else if ('event' in rule) rule.event.where?.forEach((w, i) => check(`event.${w.attr}`, [...path, 'event', 'where', i, 'attr']));
    else if ('attr' in rule) check(rule.attr, [...path, 'attr']);
    else if ('score' in rule) check(scorePath(rule.score), [...path, 'score']);
  };
  rules.forEach((r, i) => visit(r.when, ['rules', i, 'when']));
  return problems;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
