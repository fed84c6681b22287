import type { CustomerEvent } from '../customer/types';
import { parseDuration } from '../time/duration';
import { readPath } from './path';
import type { RfmScores } from './rfm';
import type { Comparison, DateRef, EventPredicate, Rule, RuleTrace, TimeWindow } from './types';

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
  return describeComparison(rule);
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

export function evaluateRule(rule: Rule, facts: RuleFacts): RuleTrace {
  const description = describeRule(rule);
  if ('all' in rule || 'any' in rule) {
    const children = ('all' in rule ? rule.all : rule.any).map((part) => evaluateRule(part, facts));
    const matched = 'all' in rule ? children.every((c) => c.matched) : children.some((c) => c.matched);
    return { rule: description, matched, children };
  }
  if ('not' in rule) {
    const child = evaluateRule(rule.not, facts);
    return { rule: description, matched: !child.matched, children: [child] };
  }
  if ('segment' in rule) {
    const segments = required(facts, 'segments') as string[];
    // Segment ids are the shop's own labels, not the customer's data, so the trace may list them.
    const because = segments.length ? `segments are ${shown(segments)}` : 'in no segments';
    return { rule: description, matched: segments.includes(rule.segment), because };
  }
  if ('event' in rule) return { rule: description, ...countEvents(rule.event, facts) };
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
