// One experiment on one metric, drawn: each arm's rate with its 95 % interval (a floating bar
// with the observed rate on it), and the comparison with the control in a table and in words.
import type { ExperimentReport } from '../../app/reports/schema';
import type { ArmOutcome } from '../../domain/experiments/statistics';
import { html, type SafeHtml } from './html';

type ExperimentAnalysis = NonNullable<ExperimentReport['metrics']['conversion']>;

/** What dashboard.js draws as an interval plot; lower/upper/rate are null for an arm nobody is in yet. */
export interface IntervalChart {
  kind: 'intervals';
  metric: string;
  labels: string[];
  rates: (number | null)[];
  lower: (number | null)[];
  upper: (number | null)[];
  controlIndex: number;
}

export const percent = (rate: number | null | undefined, digits = 1) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(digits)}\u00a0%`);
const pValue = (p: number | null) => (p === null ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));
const signed = (rate: number) => `${rate >= 0 ? '+' : '−'}${percent(Math.abs(rate))}`;

const OUTCOMES: Record<ArmOutcome, string> = {
  no_data: 'no data yet',
  not_significant_yet: 'not significant yet',
  better: 'better than the control',
  worse: 'worse than the control',
  no_difference: 'no difference',
};

/** The rate each metric measures, in a reader's words. */
export const METRIC_RATES: Record<string, string> = { conversion: 'conversion rate (per entrant)', click: 'click rate (per sent email)' };

export function experimentView(analysis: ExperimentAnalysis, metric: string, chartId: string): { markup: SafeHtml; chart: IntervalChart } {
  const rateName = METRIC_RATES[metric] ?? `${metric} rate`;
  const labels = analysis.arms.map((arm) => (arm.name === analysis.control ? `${arm.name} (control)` : arm.name));
  const chart: IntervalChart = {
    kind: 'intervals',
    metric: rateName,
    labels,
    rates: analysis.arms.map((arm) => arm.rate),
    lower: analysis.arms.map((arm) => arm.interval?.lower ?? null),
    upper: analysis.arms.map((arm) => arm.interval?.upper ?? null),
    controlIndex: analysis.arms.findIndex((arm) => arm.name === analysis.control),
  };
  const comparisonOf = new Map(analysis.comparisons.map((c) => [c.arm, c]));
  const sample =
    analysis.requiredPerArm === null
      ? 'The sample each arm needs cannot be planned yet.'
      : `Each arm needs ${analysis.requiredPerArm} customers to detect the declared minimum effect with ${Math.round(analysis.power * 100)} % power at α = ${analysis.sizingAlpha.toFixed(3)}.`;
  const markup = html`<div class="verdict ${analysis.verdict.status}"><strong>${rateName}:</strong> ${analysis.verdict.summary.replace(/\.$/, '')}.</div>
<p class="muted">${sample} Significance level ${analysis.alpha}, Holm-adjusted across the arms compared with ${analysis.control}.</p>
<div class="chart"><canvas id="${chartId}" role="img" aria-label="${rateName} with 95 % intervals per arm"></canvas></div>
<div class="scroll"><table>
<thead><tr><th>arm</th><th class="num">exposed</th><th class="num">successes</th><th class="num">rate</th><th class="num">95 % interval</th><th class="num">lift (abs.)</th><th class="num">lift (rel.)</th><th class="num">p-value</th><th class="num">adjusted p</th><th class="num">P(beats control)</th><th class="num">still needed</th><th>outcome</th></tr></thead>
<tbody>
${analysis.arms.map((arm, i) => {
  const c = comparisonOf.get(arm.name);
  const lift = c?.absoluteLift;
  return html`<tr><td>${labels[i]}</td><td class="num">${arm.exposed}</td><td class="num">${arm.successes}</td><td class="num">${percent(arm.rate)}</td><td class="num">${arm.interval ? `${percent(arm.interval.lower)} – ${percent(arm.interval.upper)}` : '–'}</td><td class="num">${lift ? `${signed(lift.estimate)} (${signed(lift.lower)} to ${signed(lift.upper)})` : '–'}</td><td class="num">${c?.relativeLift === null || c?.relativeLift === undefined ? '–' : signed(c.relativeLift)}</td><td class="num">${pValue(c?.pValue ?? null)}</td><td class="num">${pValue(c?.adjustedPValue ?? null)}</td><td class="num">${percent(c?.probabilityToBeatControl)}</td><td class="num">${arm.moreNeeded ?? '–'}</td><td>${c ? OUTCOMES[c.outcome] : 'the control'}</td></tr>\n`;
})}
</tbody></table></div>`;
  return { markup, chart };
}
