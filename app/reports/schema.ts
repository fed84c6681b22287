// What `journeys report`, GET /v1/journeys/:journeyId/report and the dashboard show of one
// journey: its funnel per step and per template/variant, its experiments and its lift against
// the global control group. The zod schema is the type and the OpenAPI description at once.
import { z } from 'zod';
import { experimentMetrics } from '../../domain/experiments/schema';

const count = z.number().int().nonnegative();
/** A share from 0 to 1; null while its denominator is 0. */
const rate = z.number().min(0).max(1).nullable();
const interval = z.object({ lower: z.number(), upper: z.number() });

export const reportRatesSchema = z.object({
  /** sent / entered */
  sent: rate,
  /** The rest are per sent email. */
  delivered: rate,
  bounced: rate,
  opened: rate,
  clicked: rate,
  converted: rate,
  unsubscribed: rate,
  /** revenue / sent; null while nothing was sent. */
  revenuePerSent: z.number().nullable(),
});

/** The counts of one row. Opens and clicks are unique per email and leave machine ones out. */
export const reportCountsSchema = z.object({
  /** Runs that reached the row: journey entries for the totals, send ledger rows for a send step, exposures for a split step. */
  entered: count,
  sent: count,
  /** Emails not sent, by the reason the send ledger gives (e.g. "consent_withdrawn", "capped"). */
  skipped: z.record(z.string(), count),
  delivered: count,
  bounced: count,
  /** Emails opened at least once by a person. */
  opened: count,
  /** Emails clicked at least once by a person. */
  clicked: count,
  /** Conversions attributed to the row's emails (the last email of the journey before the conversion event). */
  converted: count,
  /** The sum of the attributed conversions' values. */
  revenue: z.number(),
  /** Withdrawals of the journey's topic attributed to the row's emails (the last one sent before the withdrawal). */
  unsubscribed: count,
  rates: reportRatesSchema,
});

export const stepRowSchema = reportCountsSchema.extend({
  stepId: z.string(),
  kind: z.enum(['send', 'split']),
});

export const variantRowSchema = reportCountsSchema.extend({
  stepId: z.string(),
  template: z.string(),
  /** The arm of each split step the email's run went through, by step id; empty without splits. */
  variants: z.record(z.string(), z.string()),
  /** "reminder1Vip · subjectTest=short", for tables. */
  label: z.string(),
});

const armResultSchema = z.object({
  name: z.string(),
  exposed: count,
  successes: count,
  rate,
  interval: interval.nullable(),
  moreNeeded: count.nullable(),
});

const armComparisonSchema = z.object({
  arm: z.string(),
  absoluteLift: interval.extend({ estimate: z.number() }).nullable(),
  relativeLift: z.number().nullable(),
  chiSquare: z.number().nullable(),
  pValue: z.number().nullable(),
  adjustedPValue: z.number().nullable(),
  probabilityToBeatControl: z.number().nullable(),
  outcome: z.enum(['no_data', 'not_significant_yet', 'better', 'worse', 'no_difference']),
});

/** `analyzeExperiment`'s answer (domain/experiments/statistics.ts). */
export const experimentAnalysisSchema = z.object({
  control: z.string(),
  alpha: z.number(),
  sizingAlpha: z.number(),
  power: z.number(),
  requiredPerArm: count.nullable(),
  arms: z.array(armResultSchema),
  comparisons: z.array(armComparisonSchema),
  verdict: z.object({
    status: z.enum(['no_data', 'not_significant_yet', 'significant', 'no_difference']),
    summary: z.string(),
  }),
});

export const winnerRecordSchema = z.object({
  stepId: z.string(),
  winner: z.string(),
  metric: z.enum(experimentMetrics),
  reason: z.string(),
  decidedAt: z.string(),
  /** The journey version new entrants get since the decision. */
  version: z.string(),
});

export const experimentReportSchema = z.object({
  stepId: z.string(),
  /**
   * For a split nested after other splits: the arms of those splits this entry is limited to
   * (one entry per combination); empty for the split as a whole.
   */
  given: z.record(z.string(), z.string()),
  /** False when the split declares no `experiment`: it is analysed with a 10 % relative minimum effect and alpha 0.05. */
  declared: z.boolean(),
  /**
   * conversion: per exposed customer (holdout included), a conversion event within the
   * journey's `conversion.within` of the exposure; click: per sent email, a person's click
   * (variants only: the holdout gets no email).
   */
  metrics: z.object({
    conversion: experimentAnalysisSchema.nullable(),
    click: experimentAnalysisSchema.nullable(),
  }),
  winner: winnerRecordSchema.nullable(),
});

const groupSchema = z.object({
  customers: count,
  converted: count,
  rate,
  interval: interval.nullable(),
});

export const globalControlReportSchema = z.object({
  /** GLOBAL_CONTROL_PERCENT of the process that made the report; null when it was not told. */
  percent: z.number().nullable(),
  /** Customers the global control held out of this journey, and those who entered it. */
  heldOut: groupSchema,
  entered: groupSchema,
  /** The entrants ("entered") against the held-out customers ("globalControl") on conversion. */
  analysis: experimentAnalysisSchema.nullable(),
});

export const journeyReportSchema = z.object({
  journeyId: z.string(),
  name: z.string(),
  /** The version the catalogue defines now (before any winner is applied). */
  version: z.string(),
  generatedAt: z.string(),
  /** Entrants (runs, exposures, held-out customers) counted: those who entered in [since, until]. */
  window: z.object({ since: z.string().nullable(), until: z.string() }),
  conversion: z
    .object({ event: z.string(), within: z.string(), value: z.string().nullable(), requireClick: z.boolean() })
    .nullable(),
  totals: reportCountsSchema,
  steps: z.array(stepRowSchema),
  variants: z.array(variantRowSchema),
  experiments: z.array(experimentReportSchema),
  globalControl: globalControlReportSchema.nullable(),
});

export type ReportCounts = z.infer<typeof reportCountsSchema>;
export type StepRow = z.infer<typeof stepRowSchema>;
export type VariantRow = z.infer<typeof variantRowSchema>;
export type ExperimentReport = z.infer<typeof experimentReportSchema>;
export type GlobalControlReport = z.infer<typeof globalControlReportSchema>;
export type WinnerRecord = z.infer<typeof winnerRecordSchema>;
export type JourneyReport = z.infer<typeof journeyReportSchema>;

const instant = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], { error: 'a date (2026-12-01) or a date and time (2026-12-01T08:00:00Z)' })
  .transform((text) => new Date(text));

/** `?since=&until=` of GET /v1/journeys/:journeyId/report, and `--since`/`--until` of `journeys report`. */
export const reportQuerySchema = z.object({
  /** Count entrants from this instant; all time when absent. */
  since: instant.optional(),
  /** Count entrants up to this instant; now when absent. */
  until: instant.optional(),
});
