// One journey's report: its funnel per step and per template/variant, its experiments, and its
// lift against the global control group. Read from the store in one go and counted in memory
// (app/reports/counting.ts), so the CLI, the API and the dashboard show the same numbers.
import { wilsonInterval } from '../../domain/experiments/proportions';
import { analyzeExperiment, type ExperimentAnalysis } from '../../domain/experiments/statistics';
import type { MinimumEffect } from '../../domain/experiments/types';
import type { JourneyDefinition, SplitStep } from '../../domain/journey/types';
import type { Catalogue } from '../../journeys';
import type { Store } from '../../store/types';
import { ValidationError } from '../errors';
import { convertedWithin, countActivity, givenOf, splitCounts, splitsBefore, type ArmsOfMetric, type CountedActivity, type EmailFacts } from './counting';
import type { ExperimentReport, GlobalControlReport, JourneyReport, ReportCounts, StepRow, VariantRow } from './schema';

export interface JourneyReportOptions {
  /** Count entrants from this instant (all time when absent). */
  since?: Date;
  /** Count entrants up to this instant (`now` when absent). */
  until?: Date;
  now: Date;
  /** GLOBAL_CONTROL_PERCENT, shown with the global control comparison. */
  globalControlPercent?: number;
}

/** A split that declares no experiment is analysed as if it asked for a 10 % relative lift at alpha 0.05. */
const DEFAULT_EFFECT: MinimumEffect = { relative: 0.1 };

const ratio = (part: number, whole: number) => (whole === 0 ? null : part / whole);

function countsOf(emails: EmailFacts[], entered: number): ReportCounts {
  const sent = emails.filter((e) => e.sent);
  const skipped: Record<string, number> = {};
  for (const { send } of emails) if (send.status === 'skipped') skipped[send.reason ?? 'unknown'] = (skipped[send.reason ?? 'unknown'] ?? 0) + 1;
  const n = (pick: (e: EmailFacts) => boolean) => sent.filter(pick).length;
  const delivered = n((e) => e.delivered);
  const bounced = n((e) => e.bounced);
  const opened = n((e) => e.opened);
  const clicked = n((e) => e.clicked);
  const converted = sent.reduce((sum, e) => sum + e.conversions, 0);
  const revenue = sent.reduce((sum, e) => sum + e.revenue, 0);
  const unsubscribed = n((e) => e.unsubscribed);
  return {
    entered,
    sent: sent.length,
    skipped,
    delivered,
    bounced,
    opened,
    clicked,
    converted,
    revenue,
    unsubscribed,
    rates: {
      sent: ratio(sent.length, entered),
      delivered: ratio(delivered, sent.length),
      bounced: ratio(bounced, sent.length),
      opened: ratio(opened, sent.length),
      clicked: ratio(clicked, sent.length),
      converted: ratio(converted, sent.length),
      unsubscribed: ratio(unsubscribed, sent.length),
      revenuePerSent: sent.length === 0 ? null : revenue / sent.length,
    },
  };
}

function stepRows(definition: JourneyDefinition, counted: CountedActivity): StepRow[] {
  return definition.steps.flatMap((step): StepRow[] => {
    if (step.kind === 'send') {
      const emails = counted.emails.filter((e) => e.stepId === step.id);
      return [{ stepId: step.id, kind: 'send', ...countsOf(emails, emails.length) }];
    }
    if (step.kind === 'split') {
      const exposed = counted.exposures.filter((e) => e.stepId.split('@')[0] === step.id).length;
      return [{ stepId: step.id, kind: 'split', ...countsOf([], exposed) }];
    }
    return [];
  });
}

const labelOf = (template: string, variants: Record<string, string>) =>
  [template, ...Object.entries(variants).map(([step, arm]) => `${step}=${arm}`)].join(' · ');

function variantRows(definition: JourneyDefinition, counted: CountedActivity): VariantRow[] {
  const order = new Map(definition.steps.map((step, index) => [step.id, index]));
  const groups = new Map<string, { stepId: string; template: string; variants: Record<string, string>; emails: EmailFacts[] }>();
  for (const email of counted.emails) {
    const template = email.send.template ?? '(none)';
    const variants = Object.fromEntries(Object.entries(email.variants).sort(([a], [b]) => (order.get(a) ?? 0) - (order.get(b) ?? 0)));
    const key = JSON.stringify([email.stepId, template, variants]);
    const group = groups.get(key) ?? { stepId: email.stepId, template, variants, emails: [] };
    group.emails.push(email);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => (order.get(a.stepId) ?? 0) - (order.get(b.stepId) ?? 0) || a.template.localeCompare(b.template) || labelOf('', a.variants).localeCompare(labelOf('', b.variants)))
    .map(({ stepId, template, variants, emails }) => ({ stepId, template, variants, label: labelOf(template, variants), ...countsOf(emails, emails.length) }));
}

function analyze(metric: ArmsOfMetric | null, split: SplitStep): ExperimentAnalysis | null {
  if (!metric || metric.arms.length < 2) return null;
  return analyzeExperiment({ arms: metric.arms, control: metric.control, minimumEffect: split.experiment?.minimumEffect ?? DEFAULT_EFFECT, alpha: split.experiment?.alpha });
}

/** Each split as a whole, then, for a split after other splits, once per combination of their arms. */
function experiments(definition: JourneyDefinition, counted: CountedActivity): ExperimentReport[] {
  const splits = definition.steps.filter((step): step is SplitStep => step.kind === 'split');
  return splits.flatMap((split) => {
    const combinations = new Map<string, Record<string, string>>([['{}', {}]]);
    const before = splitsBefore(definition, split.id);
    for (const exposure of counted.exposures) {
      if (exposure.stepId.split('@')[0] !== split.id) continue;
      const given = givenOf(counted, exposure, before);
      const sorted = Object.fromEntries(Object.entries(given).sort(([a], [b]) => a.localeCompare(b)));
      combinations.set(JSON.stringify(sorted), sorted);
    }
    const winner = counted.winners.find((w) => w.stepId === split.id);
    return [...combinations.values()].map((given): ExperimentReport => {
      const counts = splitCounts(counted, definition, split, given);
      return {
        stepId: split.id,
        given,
        declared: split.experiment !== undefined,
        metrics: { conversion: analyze(counts.conversion, split), click: analyze(counts.click, split) },
        winner: winner ? { stepId: winner.stepId, winner: winner.winner, metric: winner.metric, reason: winner.reason, decidedAt: winner.decidedAt, version: winner.version } : null,
      };
    });
  });
}

function globalControl(definition: JourneyDefinition, counted: CountedActivity, percent: number | undefined): GlobalControlReport | null {
  const rule = definition.conversion;
  if (definition.transactional || (counted.heldOut.length === 0 && !percent)) return null;
  const group = (entries: { customerId: string; at: string }[]) => {
    const customers = new Set(entries.map((e) => e.customerId));
    const converted = new Set(entries.filter((e) => rule && convertedWithin(counted, e.customerId, e.at, rule.within)).map((e) => e.customerId));
    return { customers: customers.size, converted: converted.size, rate: ratio(converted.size, customers.size), interval: customers.size ? wilsonInterval(converted.size, customers.size) : null };
  };
  const heldOut = group(counted.heldOut);
  const entered = group(counted.runs.map((run) => ({ customerId: run.customerId, at: run.startedAt })));
  const analysis = rule
    ? analyzeExperiment({
        arms: [
          { name: 'entered', exposed: entered.customers, successes: entered.converted },
          { name: 'globalControl', exposed: heldOut.customers, successes: heldOut.converted },
        ],
        control: 'globalControl',
        minimumEffect: DEFAULT_EFFECT,
      })
    : null;
  return { percent: percent ?? null, heldOut, entered, analysis };
}

/** The report of one journey of the catalogue; a journey it does not know is a ValidationError naming the known ones. */
export async function journeyReport(store: Store, catalogue: Catalogue, journeyId: string, options: JourneyReportOptions): Promise<JourneyReport> {
  const journey = catalogue.get(journeyId);
  if (!journey) {
    throw new ValidationError('report', [{ path: 'journeyId', message: `no journey "${journeyId}"; the journeys are ${catalogue.journeys.map((j) => j.definition.id).join(', ')}` }]);
  }
  const { definition } = journey;
  const until = options.until ?? options.now;
  if (options.since && options.since.getTime() > until.getTime()) {
    throw new ValidationError('report', [{ path: 'since', message: `since (${options.since.toISOString()}) is after until (${until.toISOString()})` }]);
  }
  const counted = countActivity(await store.journeyActivity(journeyId), definition, { since: options.since, until });
  const rule = definition.conversion;
  return {
    journeyId,
    name: definition.name,
    version: journey.version,
    generatedAt: options.now.toISOString(),
    window: { since: options.since?.toISOString() ?? null, until: until.toISOString() },
    conversion: rule ? { event: rule.event, within: rule.within, value: rule.value ?? null, requireClick: rule.requireClick ?? false } : null,
    totals: countsOf(counted.emails, new Set(counted.runs.map((run) => run.workflowId)).size),
    steps: stepRows(definition, counted),
    variants: variantRows(definition, counted),
    experiments: experiments(definition, counted),
    globalControl: globalControl(definition, counted, options.globalControlPercent),
  };
}
