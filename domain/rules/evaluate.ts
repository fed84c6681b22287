import type { CustomerEvent } from '../customer/types';
import { parseDuration } from '../time/duration';
import { readPath, scorePath } from './path';
import type { RfmScores } from './rfm';
import type { Comparison, DateRef, EventPredicate, Rule, RuleTrace, ScorePredicate, TimeWindow } from './types';

/**
 * What rules are evaluated against. `now` is passed in, never read from a clock, because
 * rules also run inside Temporal activities, replays and tests that fix the time.
 */
export interface RuleFacts {
  /** The current time, ISO 8601. Needed by event predicates and `now`-relative dates. */
  now: string;
  profile?: { customerId: string; email: string; attributes: Record<string, unknown> };
  /** The journey's entry event, as last updated. */
  event?: CustomerEvent;
  /** The customer's event history, for event predicates. */
  events?: CustomerEvent[];
  /** Names of the segments the customer is in now. */
  segments?: string[];
  rfm?: RfmScores;
  [fact: string]: unknown;
}

export type FactName = 'now' | 'events' | 'segments' | 'rfm';

const howToSupply: Record<FactName, string> = {
  now: 'facts.now (the current time as an ISO string; in an activity, its scheduled time)',
  events: "facts.events (the customer's event history, [] when there is none)",
  segments: "facts.segments (the customer's segment names, [] when none)",
  rfm: 'facts.rfm (computeRfm(events, now))',
};

/** The caller did not supply a fact some rule reads: a wiring bug, not a customer's data. */
export class RuleFactsError extends Error {
  constructor(
    readonly missing: FactName[],
    detail?: string,
  ) {
    super(detail ?? `these rules read ${missing.map((name) => howToSupply[name]).join(' and ')}, which the caller did not pass`);
    this.name = 'RuleFactsError';
  }
}

export function describeRule(rule: Rule): string {
  if ('all' in rule) return `all of (${rule.all.map(describeRule).join(', ')})`;
  if ('any' in rule) return `any of (${rule.any.map(describeRule).join(', ')})`;
  if ('not' in rule) return `not (${describeRule(rule.not)})`;
  if ('segment' in rule) return `in segment ${JSON.stringify(rule.segment)}`;
  if ('event' in rule) return describeEvents(rule.event);
  if ('score' in rule) return describeComparison(asComparison(rule));
  return describeComparison(rule);
}

/** A score rule as the comparison it makes, named `score churn` in descriptions and traces. */
function asComparison({ score, op, value }: ScorePredicate): Comparison {
  return { attr: `score ${score}`, op, value };
}

function describeComparison(c: Comparison): string {
  switch (c.op) {
    case 'exists':
      return c.value === false ? `${c.attr} does not exist` : `${c.attr} exists`;
    case 'matches':
      return `${c.attr} matches /${c.value}/`;
    case 'before':
    case 'after':
      return `${c.attr} ${c.op} ${describeDateRef(c.value)}`;
    case 'within':
      return `${c.attr} within ${describeWindow(c.value)}`;
    default:
      return `${c.attr} ${c.op} ${JSON.stringify(c.value)}`;
  }
}

const describeDateRef = (ref: DateRef): string =>
  typeof ref === 'string' ? (ref === 'now' ? 'now' : JSON.stringify(ref)) : 'ago' in ref ? `${ref.ago} ago` : `${ref.fromNow} from now`;
const describeWindow = (w: TimeWindow): string => ('last' in w ? `the last ${w.last}` : `the next ${w.next}`);
const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);

function describeCount({ count }: EventPredicate['event']): string {
  if (count?.eq !== undefined) return count.eq === 0 ? 'never' : `exactly ${times(count.eq)}`;
  if (count?.gte !== undefined && count.lte !== undefined) return `between ${count.gte} and ${count.lte} times`;
  if (count?.lte !== undefined) return count.lte === 0 ? 'never' : `at most ${times(count.lte)}`;
  return `at least ${times(count?.gte ?? 1)}`;
}

function describeEvents(e: EventPredicate['event']): string {
  const where = e.where ? ` where ${e.where.map(describeComparison).join(' and ')}` : '';
  return `${e.type}${where} ${describeCount(e)} ${e.within ? `in the last ${e.within}` : 'ever'}`;
}

/**
 * Evaluates a rule against facts and says why it matched or not, every part of it included.
 *
 * Each rule object is compiled once (see `compile`) into closures that hold what the rule
 * alone decides: its description, the wording of each outcome, parsed durations, its regular
 * expression, the split attribute path. Rules are data that is never changed once loaded
 * (definitions, journey inputs), so the compiled form is kept per rule object in a WeakMap.
 * What the facts decide is computed per call exactly as `evaluateUncompiled`, the reference,
 * does, in the same order (so a missing fact throws the same `RuleFactsError` at the same point).
 */
export function evaluateRule(rule: Rule, facts: RuleFacts): RuleTrace {
  return nodeOf(rule)(new Scope(facts));
}

/**
 * The reference semantics, node by node, computing everything on every call. Kept for rules
 * of a shape the schema does not allow (the compiler leaves those to it) and as the oracle
 * the compiled evaluation is tested against.
 */
export function evaluateUncompiled(rule: Rule, facts: RuleFacts): RuleTrace {
  const description = describeRule(rule);
  if ('all' in rule || 'any' in rule) {
    const children = ('all' in rule ? rule.all : rule.any).map((part) => evaluateUncompiled(part, facts));
    const matched = 'all' in rule ? children.every((c) => c.matched) : children.some((c) => c.matched);
    return { rule: description, matched, children };
  }
  if ('not' in rule) {
    const child = evaluateUncompiled(rule.not, facts);
    return { rule: description, matched: !child.matched, children: [child] };
  }
  if ('segment' in rule) {
    const segments = required(facts, 'segments') as string[];
    // Segment ids are the shop's own labels, not the customer's data, so the trace may list them.
    const because = segments.length ? `segments are ${shown(segments)}` : 'in no segments';
    return { rule: description, matched: segments.includes(rule.segment), because };
  }
  if ('event' in rule) return { rule: description, ...countEvents(rule.event, facts) };
  if ('score' in rule) return { rule: description, ...compare(asComparison(rule), readPath(facts, scorePath(rule.score)), facts) };
  if (rule.attr === 'rfm' || rule.attr.startsWith('rfm.')) required(facts, 'rfm');
  return { rule: description, ...compare(rule, readPath(facts, rule.attr), facts) };
}

function required(facts: RuleFacts, name: FactName): unknown {
  if (facts[name] === undefined) throw new RuleFactsError([name]);
  return facts[name];
}

function nowOf(facts: RuleFacts): number {
  const now = Date.parse(required(facts, 'now') as string);
  if (Number.isNaN(now)) throw new RuleFactsError(['now'], `facts.now is ${JSON.stringify(facts.now)}, not an ISO date`);
  return now;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The bounds [min, max] an event count must fall in: at least one when no count is given. */
export function countRange(count: EventPredicate['event']['count']): [number, number] {
  if (count?.eq !== undefined) return [count.eq, count.eq];
  return [count?.gte ?? (count?.lte === undefined ? 1 : 0), count?.lte ?? Infinity];
}

/** Lower bound exclusive: a view exactly 7 days old has left "the last 7 days". */
function countEvents(e: EventPredicate['event'], facts: RuleFacts): { matched: boolean; because: string } {
  const events = required(facts, 'events') as CustomerEvent[];
  const now = nowOf(facts);
  const from = e.within ? now - parseDuration(e.within) : -Infinity;
  // Events after `now` are ignored, so a replay or a simulation with a fixed clock sees only the past.
  const inWindow = (event: CustomerEvent): boolean => {
    const at = Date.parse(event.occurredAt);
    return at > from && at <= now;
  };
  const matching = events.filter(
    (event) => event.type === e.type && inWindow(event) && (e.where ?? []).every((w) => compare(w, readPath(event, w.attr), facts).matched),
  );
  const n = matching.length;
  const [gte, lte] = countRange(e.count);
  const window = e.within ? `in the last ${e.within} (${iso(from)} to ${iso(now)})` : `up to ${iso(now)}`;
  return { matched: n >= gte && n <= lte, because: `${n} matching ${e.type} event${n === 1 ? '' : 's'} ${window}` };
}

// Capped so a customer in many segments cannot flood the trace in the Temporal UI.
function shown(value: string[]): string {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;
/** Ordering compares numbers as numbers; a plain decimal string ("49.90" from a JSON event) counts as one. */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'string' && PLAIN_DECIMAL.test(value.trim()) ? Number(value) : undefined;
}
function asDate(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function resolveDate(ref: DateRef, facts: RuleFacts): number {
  if (typeof ref === 'string') return ref === 'now' ? nowOf(facts) : Date.parse(ref);
  return 'ago' in ref ? nowOf(facts) - parseDuration(ref.ago) : nowOf(facts) + parseDuration(ref.fromNow);
}

/** How a trace words an ordering that holds, and one that does not. */
const ordering = {
  gt: ['more than', 'at most'],
  gte: ['at least', 'less than'],
  lt: ['less than', 'at least'],
  lte: ['at most', 'more than'],
} as const;

/**
 * A missing (undefined or null) value matches nothing but `exists: false`, so negations are
 * explicit. `because` names the attribute and the rule's own constant, never the customer's
 * value: traces are activity results in the Temporal history, which carries no email address,
 * phone number or other profile data.
 */
function compare(c: Comparison, actual: unknown, facts: RuleFacts): { matched: boolean; because: string } {
  const present = actual !== undefined && actual !== null && actual !== '';
  if (c.op === 'exists') {
    const state = present ? 'is set' : actual === undefined ? 'is missing' : 'is empty';
    return { matched: present === (c.value ?? true), because: `${c.attr} ${state}` };
  }
  if (actual === undefined || actual === null) return { matched: false, because: `${c.attr} is missing` };
  const verdict = (matched: boolean, holds: string, fails: string) => ({ matched, because: `${c.attr} ${matched ? holds : fails}` });
  const no = (what: string) => ({ matched: false, because: `${c.attr} is not ${what}` });
  const value = JSON.stringify(c.value);
  switch (c.op) {
    case 'eq':
      return verdict(actual === c.value, `is ${value}`, `is not ${value}`);
    case 'neq':
      return verdict(actual !== c.value, `is not ${value}`, `is ${value}`);
    case 'in':
      return verdict(c.value.some((v) => v === actual), `is one of ${value}`, `is none of ${value}`);
    case 'contains':
      if (typeof actual !== 'string' && !Array.isArray(actual)) return no('text or a list');
      return verdict(typeof actual === 'string' ? typeof c.value === 'string' && actual.includes(c.value) : actual.includes(c.value), `contains ${value}`, `does not contain ${value}`);
    case 'matches':
      return typeof actual === 'string' ? verdict(new RegExp(c.value).test(actual), `matches /${c.value}/`, `does not match /${c.value}/`) : no('text');
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = asNumber(actual);
      if (n === undefined) return no('a number');
      const matched = c.op === 'gt' ? n > c.value : c.op === 'gte' ? n >= c.value : c.op === 'lt' ? n < c.value : n <= c.value;
      const [holds, fails] = ordering[c.op];
      return verdict(matched, `is ${holds} ${c.value}`, `is ${fails} ${c.value}`);
    }
    case 'before':
    case 'after': {
      const at = asDate(actual);
      if (at === undefined) return no('a date');
      const ref = resolveDate(c.value, facts);
      const reference = typeof c.value === 'string' && c.value !== 'now' ? describeDateRef(c.value) : `${describeDateRef(c.value)} (${iso(ref)})`;
      return verdict(c.op === 'before' ? at < ref : at > ref, `is ${c.op} ${reference}`, `is not ${c.op} ${reference}`);
    }
    case 'within': {
      const at = asDate(actual);
      if (at === undefined) return no('a date');
      const now = nowOf(facts);
      const [from, to] = 'last' in c.value ? [now - parseDuration(c.value.last), now] : [now, now + parseDuration(c.value.next)];
      // The last 7d is (now − 7d, now]; the next 3d is [now, now + 3d).
      const matched = 'last' in c.value ? at > from && at <= to : at >= from && at < to;
      const window = `${describeWindow(c.value)} (${iso(from)} to ${iso(to)})`;
      return verdict(matched, `is within ${window}`, `is not within ${window}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Compiled evaluation. Nothing here reads a clock, and nothing kept between calls can change a
// result (an event index is checked against its array on every evaluation): rules run in the
// workflow sandbox too (`waitFor` conditions), where the result must be the same on replay.

type Node = (scope: Scope) => RuleTrace;

const compiled = new WeakMap<object, Node>();

function nodeOf(rule: Rule): Node {
  // Not an object: the reference throws what it throws for it.
  if (typeof rule !== 'object' || rule === null) return (scope) => evaluateUncompiled(rule, scope.facts);
  let node = compiled.get(rule);
  if (!node) {
    // A rule whose description throws is not kept, so it throws that on every call, as the reference does.
    node = compile(rule);
    compiled.set(rule, node);
  }
  return node;
}

/** What one top-level evaluation works out once and its parts share: `now`, and the history grouped by type. */
class Scope {
  private nowMs: number | undefined;
  private history: EventIndex | undefined;
  constructor(readonly facts: RuleFacts) {}

  now(): number {
    return (this.nowMs ??= nowOf(this.facts));
  }

  /** The events of one type, in history order, with their times parsed. */
  eventsOfType(events: CustomerEvent[], type: string): EventGroup | undefined {
    if (this.history?.source !== events) this.history = indexOf(events);
    return groupOf(this.history, type);
  }
}

function compile(rule: Rule): Node {
  const description = describeRule(rule);
  const uncompiled: Node = (scope) => evaluateUncompiled(rule, scope.facts);
  if ('all' in rule || 'any' in rule) {
    const all = 'all' in rule;
    const parts = all ? rule.all : rule.any;
    if (!Array.isArray(parts)) return uncompiled;
    const children = parts.map(nodeOf);
    return (scope) => {
      const traces = children.map(evaluateIn, scope);
      let matched = all;
      for (let i = 0; i < traces.length; i++) if (all ? !traces[i].matched : traces[i].matched) matched = !all;
      return parentTrace(description, matched, traces);
    };
  }
  if ('not' in rule) {
    const child = nodeOf(rule.not);
    return (scope) => {
      const trace = child(scope);
      return parentTrace(description, !trace.matched, Array.of(trace));
    };
  }
  if ('segment' in rule) {
    const segment = rule.segment;
    return (scope) => {
      const segments = required(scope.facts, 'segments') as string[];
      const because = segments.length ? `segments are ${shown(segments)}` : 'in no segments';
      return leafTrace(description, segments.includes(segment), because);
    };
  }
  if ('event' in rule) return compileEvents(rule.event, description) ?? uncompiled;
  if ('score' in rule) {
    const comparison = typeof rule.score === 'string' ? compileComparison(asComparison(rule)) : undefined;
    if (!comparison) return uncompiled;
    const scoreParts = scorePath(rule.score).split('.');
    return (scope) => {
      const outcome = comparison.judge(readParts(scope.facts, scoreParts), scope);
      return leafTrace(description, (outcome & HOLDS) === HOLDS, comparison.because(outcome, scope));
    };
  }
  if (typeof rule.attr !== 'string') return uncompiled;
  const comparison = compileComparison(rule);
  if (!comparison) return uncompiled;
  const readsRfm = rule.attr === 'rfm' || rule.attr.startsWith('rfm.');
  const path = rule.attr.split('.');
  return (scope) => {
    if (readsRfm) required(scope.facts, 'rfm');
    const outcome = comparison.judge(readParts(scope.facts, path), scope);
    return leafTrace(description, (outcome & HOLDS) === HOLDS, comparison.because(outcome, scope));
  };
}

/**
 * Traces, as the reference's object literals make them (plain objects, keys in the same order),
 * made without a literal: V8 may decide, from what survived one garbage collection, to allocate
 * all later objects of a literal in the old generation. For traces, which live for one call,
 * that decision (taken in about one bench run in six here) cost two thirds of the throughput.
 */
function leafTrace(rule: string, matched: boolean, because: string): RuleTrace {
  const trace = Object.create(Object.prototype) as RuleTrace;
  trace.rule = rule;
  trace.matched = matched;
  trace.because = because;
  return trace;
}
function parentTrace(rule: string, matched: boolean, children: RuleTrace[]): RuleTrace {
  const trace = Object.create(Object.prototype) as RuleTrace;
  trace.rule = rule;
  trace.matched = matched;
  trace.children = children;
  return trace;
}
function evaluateIn(this: Scope, node: Node): RuleTrace {
  return node(this);
}

/** `readPath` with the path split once. */
function readParts(source: unknown, parts: string[]): unknown {
  let value: unknown = source;
  for (let i = 0; i < parts.length; i++) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[parts[i]];
  }
  return value;
}

/** A value computed from the rule once; when that throws (a duration the schema would refuse), computed and thrown where the reference does. */
function once<T>(compute: () => T): () => T {
  try {
    const value = compute();
    return () => value;
  } catch {
    return compute;
  }
}

/** The last result of a pure function of two times, for texts that change only when `now` does. */
function lastOf<T>(compute: (a: number, b: number) => T): (a: number, b: number) => T {
  let known = false;
  let lastA = NaN;
  let lastB = NaN;
  let last: T;
  return (a, b) => {
    if (!known || !Object.is(a, lastA) || !Object.is(b, lastB)) {
      last = compute(a, b);
      [known, lastA, lastB] = [true, a, b];
    }
    return last;
  };
}

/** `iso` throws for a time outside the range of a Date; the reference formats (and so throws) where it compares. */
function inDateRange(ms: number): number {
  if (!(Math.abs(ms) <= 8.64e15)) iso(ms);
  return ms;
}

// ---- events ----

interface EventGroup {
  events: CustomerEvent[];
  /** `Date.parse(occurredAt)` of each, parsed on first use. */
  at?: number[];
}

/**
 * A history grouped by event type. It is kept per events array and checked against it on each
 * evaluation (each event, its type and its time), so an array changed in place is indexed again.
 */
interface EventIndex {
  source: CustomerEvent[];
  events: CustomerEvent[];
  types: unknown[];
  times: unknown[];
  byType: Map<unknown, EventGroup>;
}

const indexes = new WeakMap<CustomerEvent[], EventIndex>();

function indexOf(events: CustomerEvent[]): EventIndex {
  const known = indexes.get(events);
  if (known && stillIndexes(known, events)) return known;
  const index: EventIndex = { source: events, events: new Array(events.length), types: new Array(events.length), times: new Array(events.length), byType: new Map() };
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    index.events[i] = event;
    index.types[i] = event.type;
    index.times[i] = event.occurredAt;
    const group = index.byType.get(event.type);
    if (group) group.events.push(event);
    else index.byType.set(event.type, { events: [event] });
  }
  indexes.set(events, index);
  return index;
}

function stillIndexes(index: EventIndex, events: CustomerEvent[]): boolean {
  if (events.length !== index.events.length) return false;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event !== index.events[i] || event.type !== index.types[i] || event.occurredAt !== index.times[i]) return false;
  }
  return true;
}

function groupOf(index: EventIndex, type: string): EventGroup | undefined {
  const group = index.byType.get(type);
  if (group && !group.at) group.at = group.events.map((event) => Date.parse(event.occurredAt));
  return group;
}

function compileEvents(e: EventPredicate['event'], description: string): Node | undefined {
  if (typeof e !== 'object' || e === null || typeof e.type !== 'string') return undefined;
  if (e.where !== undefined && !Array.isArray(e.where)) return undefined;
  const where: CompiledComparison[] = [];
  const wherePaths: string[][] = [];
  for (const w of e.where ?? []) {
    const comparison = typeof w === 'object' && w !== null && typeof w.attr === 'string' ? compileComparison(w) : undefined;
    if (!comparison) return undefined;
    where.push(comparison);
    wherePaths.push(w.attr.split('.'));
  }
  const type = e.type;
  const within = e.within;
  const withinMs = within ? once(() => parseDuration(within)) : undefined;
  const [gte, lte] = countRange(e.count);
  const one = ` matching ${type} event `;
  const many = ` matching ${type} events `;
  const windowText = lastOf((from: number, now: number) => (within ? `in the last ${within} (${iso(from)} to ${iso(now)})` : `up to ${iso(now)}`));
  const holds = (event: CustomerEvent, scope: Scope): boolean => {
    for (let i = 0; i < where.length; i++) if ((where[i].judge(readParts(event, wherePaths[i]), scope) & HOLDS) !== HOLDS) return false;
    return true;
  };
  return (scope) => {
    const events = required(scope.facts, 'events') as CustomerEvent[];
    if (!Array.isArray(events)) return { rule: description, ...countEvents(e, scope.facts) };
    const now = scope.now();
    const from = withinMs ? now - withinMs() : -Infinity;
    // Events after `now` are ignored, so a replay or a simulation with a fixed clock sees only the past.
    let n = 0;
    const group = scope.eventsOfType(events, type);
    if (group) {
      const at = group.at!;
      for (let i = 0; i < at.length; i++) if (at[i] > from && at[i] <= now && holds(group.events[i], scope)) n++;
    }
    return leafTrace(description, n >= gte && n <= lte, `${n}${n === 1 ? one : many}${windowText(from, now)}`);
  };
}

// ---- comparisons ----

/**
 * An outcome: bit 0 says whether the comparison holds, the rest which wording explains it.
 * Judging computes no text; the wording is looked up (or built, for texts that name a time
 * relative to now) only for a trace.
 */
type Outcome = number;
const HOLDS = 1;
const VERDICT = 0 << 1;
const MISSING = 1 << 1;
const NOT_KIND = 2 << 1;
const SET = 3 << 1;
const ABSENT = 4 << 1;
const EMPTY = 5 << 1;

interface CompiledComparison {
  judge(actual: unknown, scope: Scope): Outcome;
  because(outcome: Outcome, scope: Scope): string;
}

/** The comparison's closures, or undefined for a shape the schema does not allow (left to the reference). */
function compileComparison(c: Comparison): CompiledComparison | undefined {
  const attr = c.attr;
  const missing = `${attr} is missing`;
  if (c.op === 'exists') {
    const expected = c.value ?? true;
    const texts: Record<number, string> = { [SET]: `${attr} is set`, [ABSENT]: missing, [EMPTY]: `${attr} is empty` };
    return {
      judge(actual) {
        const present = actual !== undefined && actual !== null && actual !== '';
        return (present ? SET : actual === undefined ? ABSENT : EMPTY) | (present === expected ? HOLDS : 0);
      },
      because: (outcome) => texts[outcome & ~HOLDS],
    };
  }
  /** A comparison whose wording depends on the rule alone: `holds` / `fails`, `not` naming what the value is not. */
  const fixed = (test: (actual: unknown) => Outcome, holds: string, fails: string, not?: string): CompiledComparison => {
    const [holdsText, failsText, notText] = [`${attr} ${holds}`, `${attr} ${fails}`, `${attr} is not ${not}`];
    return {
      judge: (actual) => (actual === undefined || actual === null ? MISSING : test(actual)),
      because: (outcome) => (outcome === MISSING ? missing : outcome === NOT_KIND ? notText : outcome & HOLDS ? holdsText : failsText),
    };
  };
  const verdict = (matched: boolean): Outcome => (matched ? VERDICT | HOLDS : VERDICT);
  const value = JSON.stringify(c.value);
  switch (c.op) {
    case 'eq': {
      const expected = c.value;
      return fixed((actual) => verdict(actual === expected), `is ${value}`, `is not ${value}`);
    }
    case 'neq': {
      const expected = c.value;
      return fixed((actual) => verdict(actual !== expected), `is not ${value}`, `is ${value}`);
    }
    case 'in': {
      const values = c.value;
      if (!Array.isArray(values)) return undefined;
      return fixed((actual) => verdict(values.some((v) => v === actual)), `is one of ${value}`, `is none of ${value}`);
    }
    case 'contains': {
      const expected = c.value;
      const test = (actual: unknown): Outcome => {
        if (typeof actual !== 'string' && !Array.isArray(actual)) return NOT_KIND;
        return verdict(typeof actual === 'string' ? typeof expected === 'string' && actual.includes(expected) : actual.includes(expected));
      };
      return fixed(test, `contains ${value}`, `does not contain ${value}`, 'text or a list');
    }
    case 'matches': {
      const source = c.value;
      if (typeof source !== 'string') return undefined;
      // A pattern the schema would refuse is compiled where the reference compiles it, and throws there.
      const pattern = once(() => new RegExp(source));
      return fixed((actual) => (typeof actual === 'string' ? verdict(pattern().test(actual)) : NOT_KIND), `matches /${source}/`, `does not match /${source}/`, 'text');
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const limit = c.value;
      const op = c.op;
      const test = (actual: unknown): Outcome => {
        const n = asNumber(actual);
        if (n === undefined) return NOT_KIND;
        return verdict(op === 'gt' ? n > limit : op === 'gte' ? n >= limit : op === 'lt' ? n < limit : n <= limit);
      };
      const [holds, fails] = ordering[op];
      return fixed(test, `is ${holds} ${limit}`, `is ${fails} ${limit}`, 'a number');
    }
    case 'before':
    case 'after': {
      const ref = c.value;
      const op = c.op;
      let resolve: (scope: Scope) => number;
      if (typeof ref === 'string') {
        const at = Date.parse(ref);
        resolve = ref === 'now' ? (scope) => scope.now() : () => at;
      } else if (typeof ref === 'object' && ref !== null && ('ago' in ref || 'fromNow' in ref)) {
        const ago = 'ago' in ref;
        const offset = once(() => parseDuration(ago ? (ref as { ago: string }).ago : (ref as { fromNow: string }).fromNow));
        resolve = ago ? (scope) => scope.now() - offset() : (scope) => scope.now() + offset();
      } else return undefined;
      const described = describeDateRef(ref);
      const fixedDate = typeof ref === 'string' && ref !== 'now';
      const texts = lastOf((at: number) => {
        const reference = fixedDate ? described : `${described} (${iso(at)})`;
        return [`${attr} is ${op} ${reference}`, `${attr} is not ${op} ${reference}`];
      });
      const notText = `${attr} is not a date`;
      return {
        judge(actual, scope) {
          if (actual === undefined || actual === null) return MISSING;
          const at = asDate(actual);
          if (at === undefined) return NOT_KIND;
          const limit = fixedDate ? resolve(scope) : inDateRange(resolve(scope));
          return verdict(op === 'before' ? at < limit : at > limit);
        },
        because(outcome, scope) {
          if (outcome === MISSING) return missing;
          if (outcome === NOT_KIND) return notText;
          const [holds, fails] = texts(fixedDate ? 0 : resolve(scope), 0);
          return outcome & HOLDS ? holds : fails;
        },
      };
    }
    case 'within': {
      const window = c.value;
      if (typeof window !== 'object' || window === null) return undefined;
      const last = 'last' in window;
      const length = once(() => parseDuration(last ? (window as { last: string }).last : (window as { next: string }).next));
      const bounds = (now: number): [number, number] => (last ? [now - length(), now] : [now, now + length()]);
      const texts = lastOf((from: number, to: number) => {
        const described = `${describeWindow(window)} (${iso(from)} to ${iso(to)})`;
        return [`${attr} is within ${described}`, `${attr} is not within ${described}`];
      });
      const notText = `${attr} is not a date`;
      return {
        judge(actual, scope) {
          if (actual === undefined || actual === null) return MISSING;
          const at = asDate(actual);
          if (at === undefined) return NOT_KIND;
          const [from, to] = bounds(scope.now());
          inDateRange(from);
          inDateRange(to);
          // The last 7d is (now − 7d, now]; the next 3d is [now, now + 3d).
          return verdict(last ? at > from && at <= to : at >= from && at < to);
        },
        because(outcome, scope) {
          if (outcome === MISSING) return missing;
          if (outcome === NOT_KIND) return notText;
          const [holds, fails] = texts(...bounds(scope.now()));
          return outcome & HOLDS ? holds : fails;
        },
      };
    }
    default:
      return undefined;
  }
}
