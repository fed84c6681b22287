// CPU-bound parts of a send measured in this process, one thread, nothing else running:
// rule evaluations and template renders per second of CPU.
import { performance } from 'node:perf_hooks';
import type { CustomerEvent } from '../domain/customer/types';
import { createTemplateRenderer } from '../domain/delivery/templates';
import { evaluateRule, type RuleFacts } from '../domain/rules/evaluate';
import { computeRfm } from '../domain/rules/rfm';
import type { Rule } from '../domain/rules/types';
import { loadCatalogue } from '../journeys';
import { shippedSegments } from '../journeys/segments';
import { startCpuMeter } from './cpu';
import { median, spread } from './measure';
import type { BenchSettings } from './settings';

/** A rate over slices of the measured time: the median slice and the spread of all. */
export interface SlicedRate {
  /** Operations per CPU-second of this process (user + system, all its threads: GC included): "per core". */
  perCpuSecond: number;
  spread: { min: number; max: number };
  /** Operations per wall-clock second, and the share of the wall this process was on a CPU (below 100%: the machine was busy). */
  perSecond: number;
  cpuOfWallPct: number;
  /** What the rest of the machine used meanwhile, in % of one core (as the other phases' "other"). */
  othersPct: number;
  operations: number;
}

export interface RulesReport extends SlicedRate {
  /** Each rule's cost, slowest first. */
  rules: { name: string; nsPerEvaluation: number }[];
  events: number;
}

export interface TemplateReport extends SlicedRate {
  template: string;
  htmlBytes: number;
  error?: string;
}

const SLICES = 5;
const DAY_MS = 86_400_000;

/**
 * Runs `batch` (which does some operations and says how many) for a warm-up, then for
 * `seconds` in slices, timing each slice in CPU and wall time. CPU is the whole process's,
 * V8's GC helper threads included: what the work costs, wherever it runs.
 */
async function sliced(seconds: number, batch: () => number | Promise<number>): Promise<SlicedRate> {
  const runFor = async (ms: number) => {
    const [wallStart, cpuStart] = [performance.now(), process.cpuUsage()];
    let operations = 0;
    while (performance.now() - wallStart < ms) operations += await batch();
    const cpu = process.cpuUsage(cpuStart);
    return { operations, wallS: (performance.now() - wallStart) / 1000, cpuS: (cpu.user + cpu.system) / 1e6 };
  };
  // JIT and the template engine's first renders: a fifth of the time, at least a second.
  await runFor(Math.max(1000, (seconds * 1000) / SLICES));
  const machine = startCpuMeter({ bench: process.pid });
  const slices: { operations: number; wallS: number; cpuS: number }[] = [];
  for (let i = 0; i < SLICES; i++) slices.push(await runFor((seconds * 1000) / SLICES));
  const rates = slices.map((s) => s.operations / s.cpuS);
  const [operations, wallS, cpuS] = (['operations', 'wallS', 'cpuS'] as const).map((field) => slices.reduce((sum, s) => sum + s[field], 0));
  return { perCpuSecond: median(rates), spread: spread(rates), perSecond: operations / wallS, cpuOfWallPct: (100 * cpuS) / wallS, othersPct: machine().others, operations };
}

/** A customer with a season of history: views (two of running shoes this week), carts, three orders, logins. */
function customerFacts(now: number): RuleFacts {
  const at = (daysAgo: number) => new Date(now - daysAgo * DAY_MS).toISOString();
  const event = (n: number, type: string, daysAgo: number, properties: Record<string, unknown>): CustomerEvent => ({ id: `r-${n}`, type, customerId: 'r-1', occurredAt: at(daysAgo), properties });
  const items = [
    { sku: 'sku-1', name: 'Trail runner', price: 120, quantity: 1, category: 'running-shoes' },
    { sku: 'sku-2', name: 'Running socks', price: 12, quantity: 3, category: 'accessories' },
  ];
  const events: CustomerEvent[] = [];
  for (let n = 0; n < 40; n++) {
    const daysAgo = 88 - n * 2.2;
    if (n % 13 === 5) events.push(event(n, 'order.completed', daysAgo, { orderId: `o${n}`, total: 156, currency: 'EUR', items }));
    else if (n % 7 === 3) events.push(event(n, 'cart.updated', daysAgo, { cartId: `c${n}`, total: 132, items }));
    else if (n % 5 === 0) events.push(event(n, 'user.logged_in', daysAgo, {}));
    else events.push(event(n, 'product.viewed', daysAgo, { ...items[n % 2], category: daysAgo < 7 ? 'running-shoes' : items[n % 2].category }));
  }
  const nowIso = new Date(now).toISOString();
  return {
    now: nowIso,
    profile: { customerId: 'r-1', email: 'r-1@bench.example', attributes: { firstName: 'Ada', loyaltyTier: 'silver', plan: 'pro', role: 'developer' } },
    event: event(99, 'cart.updated', 0.05, { cartId: 'c99', total: 132, currency: 'EUR', items }),
    events,
    segments: [],
    rfm: computeRfm(events, nowIso),
  };
}

/** The rules the product evaluates: every shipped segment, and every rule of a shipped send step's template choice (each distinct rule once). */
function shippedRules(): { name: string; rule: Rule }[] {
  const rules = shippedSegments.map((segment) => ({ name: `segment ${segment.id}`, rule: segment.rule as Rule }));
  const seen = new Set(rules.map(({ rule }) => JSON.stringify(rule)));
  for (const { definition } of loadCatalogue().journeys) {
    for (const step of definition.steps) {
      const choices = step.kind === 'send' ? step.template.rules.map((r) => ({ name: r.name, when: r.when })) : step.kind === 'branch' ? step.rules : [];
      for (const { name, when } of choices) {
        if (seen.has(JSON.stringify(when))) continue;
        seen.add(JSON.stringify(when));
        rules.push({ name: `${definition.id}/${step.id} ${name}`, rule: when });
      }
    }
  }
  return rules;
}

/**
 * Rule evaluations per CPU-second: `evaluateRule` (what segments, template choices and
 * branches run) over the shipped rules in turn, each against one customer's facts (profile,
 * entry event, 40 events over 90 days, RFM). One evaluation = one top-level rule evaluated.
 */
export async function rulesPhase(settings: BenchSettings): Promise<RulesReport> {
  const facts = customerFacts(Date.now());
  const rules = shippedRules();
  let sink = 0;
  const rate = await sliced(settings.microDuration, () => {
    for (let i = 0; i < 100; i++) for (const { rule } of rules) sink += evaluateRule(rule, facts).matched ? 1 : 0;
    return 100 * rules.length;
  });
  // Each rule alone, briefly, to say where the time goes.
  const perRule = rules.map(({ name, rule }) => {
    const start = performance.now();
    let count = 0;
    while (performance.now() - start < 100) {
      for (let i = 0; i < 50; i++) sink += evaluateRule(rule, facts).matched ? 1 : 0;
      count += 50;
    }
    return { name, nsPerEvaluation: ((performance.now() - start) * 1e6) / count };
  });
  if (sink < 0) throw new Error('unreachable');
  return { ...rate, rules: perRule.sort((a, b) => b.nsPerEvaluation - a.nsPerEvaluation), events: (facts.events ?? []).length };
}

/**
 * Renders per CPU-second of one shipped template, as the send step renders it: the
 * catalogue's renderer, subject and preheader, the layout and partials, the text part, with
 * a realistic context (a profile, a three-item cart, a signed-looking unsubscribe link and
 * three recommendations, which only some templates show).
 */
export async function templatesPhase(settings: BenchSettings): Promise<TemplateReport[]> {
  const renderer = createTemplateRenderer(loadCatalogue().templates);
  const items = [
    { sku: 'sku-1', name: 'Trail runner', price: 120, quantity: 1 },
    { sku: 'sku-2', name: 'Running socks', price: 12, quantity: 3 },
    { sku: 'sku-3', name: 'Water bottle', price: 9.5, quantity: 1 },
  ];
  const context = {
    profile: { customerId: 'c-1', email: 'ada@example.com', attributes: { firstName: 'Ada', loyaltyTier: 'silver' } },
    event: { id: 'e-1', type: 'cart.updated', customerId: 'c-1', occurredAt: new Date().toISOString(), properties: { cartId: 'cart-1', total: 165.5, currency: 'EUR', cartUrl: 'https://shop.example.com/cart/cart-1', items } },
    unsubscribeUrl: 'https://shop.example.com/u/eyJjIjoiYy0xIiwidCI6Im1hcmtldGluZyJ9.6Rk2m0Gf4vYtJ8cQ0xkq3yXH0bHk1d1QpC2W7bq9Zr0',
    recommendations: [
      { sku: 'sku-7', name: 'Rain jacket', price: 89, url: 'https://shop.example.com/p/sku-7', reason: 'bought together' },
      { sku: 'sku-8', name: 'Cap', price: 15, url: 'https://shop.example.com/p/sku-8', reason: 'same category' },
      { sku: 'sku-9', name: 'Headlamp', price: 35, url: 'https://shop.example.com/p/sku-9', reason: 'best seller' },
    ],
  };
  const reports: TemplateReport[] = [];
  for (const template of settings.renderTemplates) {
    let htmlBytes = 0;
    try {
      htmlBytes = (await renderer.render(template, context)).html.length;
    } catch (err) {
      reports.push({ template, htmlBytes, error: (err as Error).message, perCpuSecond: NaN, spread: { min: NaN, max: NaN }, perSecond: NaN, cpuOfWallPct: NaN, othersPct: NaN, operations: 0 });
      continue;
    }
    const rate = await sliced(settings.microDuration, async () => {
      for (let i = 0; i < 10; i++) await renderer.render(template, context);
      return 10;
    });
    reports.push({ template, htmlBytes, ...rate });
  }
  return reports;
}
