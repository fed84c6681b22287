// `journeys report` as text: aligned tables for people, CSV for spreadsheets. JSON is the
// report itself (app/reports/schema.ts).
import type { ExperimentAnalysis } from '../../domain/experiments/statistics';
import type { JourneyReport, ReportCounts } from '../../app/reports/schema';
import { table } from './table';

const pct = (rate: number | null | undefined) => (rate === null || rate === undefined ? '-' : `${(rate * 100).toFixed(1)}%`);
const money = (value: number) => value.toFixed(2);
/** Small p-values keep their magnitude: 0.00005 is "5.0e-5", not "0". */
const pValue = (p: number | null | undefined) => (p === null || p === undefined ? '-' : p < 0.001 ? p.toExponential(1) : p.toFixed(4));
const skippedOf = (skipped: Record<string, number>) =>
  Object.entries(skipped)
    .map(([reason, n]) => `${reason}:${n}`)
    .join(' ') || '-';
const givenOf = (given: Record<string, string>) =>
  Object.entries(given)
    .map(([step, arm]) => `${step}=${arm}`)
    .join(' ');

const FUNNEL_HEADER = ['ROW', 'ENTERED', 'SENT', 'SKIPPED', 'DELIVERED', 'BOUNCED', 'OPENED', 'CLICKED', 'CONVERTED', 'REVENUE', 'UNSUBSCRIBED'];
const funnelCells = (label: string, c: ReportCounts) => [
  label,
  String(c.entered),
  `${c.sent} (${pct(c.rates.sent)})`,
  skippedOf(c.skipped),
  `${c.delivered} (${pct(c.rates.delivered)})`,
  `${c.bounced} (${pct(c.rates.bounced)})`,
  `${c.opened} (${pct(c.rates.opened)})`,
  `${c.clicked} (${pct(c.rates.clicked)})`,
  `${c.converted} (${pct(c.rates.converted)})`,
  money(c.revenue),
  `${c.unsubscribed} (${pct(c.rates.unsubscribed)})`,
];

function analysisTable(analysis: ExperimentAnalysis): string {
  const comparisonOf = new Map(analysis.comparisons.map((c) => [c.arm, c]));
  return table([
    ['ARM', 'EXPOSED', 'SUCCESSES', 'RATE', '95% INTERVAL', 'LIFT', 'REL. LIFT', 'P', 'ADJ. P', 'P(BEATS CONTROL)', 'STILL NEEDED', 'OUTCOME'],
    ...analysis.arms.map((arm) => {
      const c = comparisonOf.get(arm.name);
      const lift = c?.absoluteLift;
      return [
        arm.name === analysis.control ? `${arm.name} (control)` : arm.name,
        String(arm.exposed),
        String(arm.successes),
        pct(arm.rate),
        arm.interval ? `${pct(arm.interval.lower)}–${pct(arm.interval.upper)}` : '-',
        lift ? `${pct(lift.estimate)} (${pct(lift.lower)}–${pct(lift.upper)})` : '-',
        pct(c?.relativeLift),
        pValue(c?.pValue),
        pValue(c?.adjustedPValue),
        pct(c?.probabilityToBeatControl),
        arm.moreNeeded === null ? '-' : String(arm.moreNeeded),
        c ? c.outcome : 'control',
      ];
    }),
  ]);
}

export function reportTable(report: JourneyReport): string {
  const lines: string[] = [];
  const window = `${report.window.since ?? 'the start'} to ${report.window.until}`;
  lines.push(`${report.name} (${report.journeyId}, version ${report.version}): entrants from ${window}`);
  if (report.conversion) lines.push(`conversion: ${report.conversion.event} within ${report.conversion.within}${report.conversion.value ? `, value ${report.conversion.value}` : ''}${report.conversion.requireClick ? ', clicked emails only' : ''}`);
  lines.push('', table([FUNNEL_HEADER, funnelCells('total', report.totals), ...report.steps.map((row) => funnelCells(`${row.stepId} (${row.kind})`, row))]));
  if (report.variants.length > 0) lines.push('', table([FUNNEL_HEADER, ...report.variants.map((row) => funnelCells(`${row.stepId}: ${row.label}`, row))]));
  for (const experiment of report.experiments) {
    const given = givenOf(experiment.given);
    lines.push('', `experiment ${experiment.stepId}${given ? ` given ${given}` : ''}${experiment.declared ? '' : ' (no experiment declared: 10% relative minimum effect, alpha 0.05)'}`);
    if (experiment.winner) lines.push(`  winner: ${experiment.winner.winner} on ${experiment.winner.metric} since ${experiment.winner.decidedAt} (version ${experiment.winner.version}): ${experiment.winner.reason}`);
    for (const [metric, analysis] of Object.entries(experiment.metrics)) {
      if (!analysis) continue;
      lines.push(`  ${metric}: ${analysis.verdict.summary}`, analysisTable(analysis).replace(/^/gm, '  '));
    }
  }
  const control = report.globalControl;
  if (control) {
    const comparison = control.analysis?.comparisons[0];
    lines.push(
      '',
      `global control${control.percent === null ? '' : ` (${control.percent}%)`}: held out ${control.heldOut.customers}, converted ${pct(control.heldOut.rate)}; entered ${control.entered.customers}, converted ${pct(control.entered.rate)}` +
        (comparison?.absoluteLift ? `; lift ${pct(comparison.absoluteLift.estimate)}, p ${pValue(comparison.pValue)}` : ''),
    );
  }
  return lines.join('\n');
}

const CSV_HEADER = ['section', 'step', 'template', 'variants', 'metric', 'arm', 'entered', 'sent', 'skipped', 'delivered', 'bounced', 'opened', 'clicked', 'converted', 'revenue', 'unsubscribed', 'exposed', 'successes', 'rate', 'lower', 'upper', 'lift', 'relative_lift', 'p_value', 'p_beats_control', 'more_needed', 'outcome'];

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
const csvField = (value: string | number | null | undefined) => {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

export function reportCsv(report: JourneyReport): string {
  const rows: (string | number | null | undefined)[][] = [CSV_HEADER];
  const funnel = (section: string, step: string, template: string, variants: string, c: ReportCounts) => {
    rows.push([section, step, template, variants, '', '', c.entered, c.sent, skippedOf(c.skipped), c.delivered, c.bounced, c.opened, c.clicked, c.converted, c.revenue, c.unsubscribed]);
  };
  funnel('total', '', '', '', report.totals);
  for (const row of report.steps) funnel('step', row.stepId, '', '', row);
  for (const row of report.variants) funnel('variant', row.stepId, row.template, givenOf(row.variants), row);
  for (const experiment of report.experiments) {
    for (const [metric, analysis] of Object.entries(experiment.metrics)) {
      if (!analysis) continue;
      const comparisonOf = new Map(analysis.comparisons.map((c) => [c.arm, c]));
      for (const arm of analysis.arms) {
        const c = comparisonOf.get(arm.name);
        rows.push([
          'experiment', experiment.stepId, '', givenOf(experiment.given), metric, arm.name, '', '', '', '', '', '', '', '', '', '',
          arm.exposed, arm.successes, arm.rate, arm.interval?.lower, arm.interval?.upper, c?.absoluteLift?.estimate, c?.relativeLift, c?.pValue, c?.probabilityToBeatControl, arm.moreNeeded, c ? c.outcome : 'control',
        ]);
      }
    }
  }
  return rows.map((row) => row.map(csvField).join(',')).join('\n');
}
