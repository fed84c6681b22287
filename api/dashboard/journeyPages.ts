// The journey pages: every journey of the catalogue with its funnel (the overview), and one
// journey in full: its funnel per step and per template/variant, its graph and its experiments.
// The numbers come from the same report as `journeys report`; this file only draws them.
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { journeyReport } from '../../app/reports/journeyReport';
import { reportQuerySchema, type JourneyReport, type ReportCounts } from '../../app/reports/schema';
import { journeyGraph } from '../../domain/authoring/journeyGraph';
import type { CatalogueJourney } from '../../journeys';
import { experimentView, percent, type IntervalChart } from './experimentView';
import { html, jsonScript, page, problemPage, sendPage, type SafeHtml } from './html';
import type { DashboardOptions } from './routes';

const FUNNEL = ['entered', 'sent', 'opened', 'clicked', 'converted'] as const;
type FunnelStage = (typeof FUNNEL)[number];
type Funnel = Record<FunnelStage, number>;

interface FunnelChart {
  kind: 'funnel';
  labels: readonly string[];
  values: number[];
}
interface StepsChart {
  kind: 'steps';
  labels: string[];
  series: { label: string; values: number[] }[];
}
type Chart = FunnelChart | StepsChart | IntervalChart;

const funnelChart = (funnel: Funnel): FunnelChart => ({ kind: 'funnel', labels: FUNNEL, values: FUNNEL.map((stage) => funnel[stage]) });

function readWindow(reply: FastifyReply, query: unknown): z.infer<typeof reportQuerySchema> | undefined {
  const parsed = reportQuerySchema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  problemPage(reply, 400, 'Not a report window', `${issue.path.join('.') || 'query'}: ${issue.message}`);
  return undefined;
}

const journeyLink = (journeyId: string) => `/dashboard/journeys/${encodeURIComponent(journeyId)}`;

function funnelNumbers(funnel: Funnel): SafeHtml {
  return html`<dl class="facts">${FUNNEL.map((stage) => html`<dt>${stage}</dt><dd>${funnel[stage]}${stage !== 'entered' && funnel.entered ? html` <span class="muted">(${percent(funnel[stage] / funnel.entered)} of entered)</span>` : ''}</dd>`)}</dl>`;
}

export async function overviewPage(reply: FastifyReply, { journeys, store, now }: DashboardOptions, query: unknown) {
  const window = readWindow(reply, query);
  if (!window) return reply;
  const charts: Record<string, Chart> = {};
  const cards: SafeHtml[] = [];
  for (const [i, journey] of journeys.catalogue.journeys.entries()) {
    const { definition } = journey;
    const report = await journeyReport(store, journeys.catalogue, definition.id, { ...window, now: now(), globalControlPercent: journeys.globalControlPercent });
    const funnel = totalsOf(report);
    const empty = FUNNEL.every((stage) => funnel[stage] === 0);
    if (!empty) charts[`funnel-${i}`] = funnelChart(funnel);
    cards.push(html`<article class="card">
<h3><a href="${journeyLink(definition.id)}">${definition.name}</a></h3>
<p class="muted">${definition.id} · trigger ${definition.trigger.event} · topic ${definition.topic}</p>
${empty ? html`<p class="muted">Nobody entered yet.</p>` : html`<div class="chart"><canvas id="funnel-${i}" role="img" aria-label="funnel of ${definition.name}"></canvas></div>
${funnelNumbers(funnel)}`}
</article>`);
  }
  const body = html`<p class="muted">Every journey of the catalogue: who entered, was sent an email, opened, clicked and converted. Machine opens and clicks are left out.</p>
<div class="cards">${cards}</div>
${jsonScript('dashboard-data', { charts })}`;
  return sendPage(reply, page({ title: 'Journeys', body, scripts: ['charts'] }));
}

export async function journeyPage(reply: FastifyReply, { journeys, store, now }: DashboardOptions, journeyId: string, query: unknown) {
  const journey = journeys.catalogue.get(journeyId);
  if (!journey) return problemPage(reply, 404, 'No such journey', `journeyId "${journeyId}": the known journeys are ${journeys.catalogue.journeys.map((j) => j.definition.id).join(', ')}`);
  const window = readWindow(reply, query);
  if (!window) return reply;
  const report = await journeyReport(store, journeys.catalogue, journeyId, { ...window, now: now(), globalControlPercent: journeys.globalControlPercent });
  const charts: Record<string, Chart> = { funnel: funnelChart(totalsOf(report)), steps: stepsChart(report) };
  const experiments = experimentSections(report, charts);
  const body = html`${facts(journey)}
<section><h2>Funnel</h2><div class="chart"><canvas id="funnel" role="img" aria-label="funnel of the journey"></canvas></div></section>
<section><h2>Per step</h2><div class="chart tall"><canvas id="steps" role="img" aria-label="sent, opened, clicked and converted per step"></canvas></div>
${rowsTable('step', stepRowsOf(report))}</section>
<section><h2>Per template and variant</h2>${rowsTable('template / variant', variantRowsOf(report))}</section>
<section><h2>Experiments</h2>${experiments.length ? experiments : html`<p class="muted">This journey has no split step.</p>`}</section>
<section><h2>Graph</h2><pre class="mermaid">${journeyGraph(journey.definition, 'mermaid')}</pre></section>
${jsonScript('dashboard-data', { charts })}`;
  return sendPage(reply, page({ title: journey.definition.name, body, scripts: ['charts', 'graph'] }));
}

function facts({ definition, version }: CatalogueJourney): SafeHtml {
  return html`<dl class="facts"><dt>id</dt><dd>${definition.id}</dd><dt>version</dt><dd>${version}</dd><dt>trigger</dt><dd>${definition.trigger.event}</dd><dt>topic</dt><dd>${definition.topic}${definition.transactional ? ' (transactional)' : ''}</dd></dl>`;
}

const totalsOf = ({ totals }: JourneyReport): Funnel => ({ entered: totals.entered, sent: totals.sent, opened: totals.opened, clicked: totals.clicked, converted: totals.converted });

function stepsChart(report: JourneyReport): StepsChart {
  const sends = report.steps.filter((step) => step.kind === 'send');
  return {
    kind: 'steps',
    labels: sends.map((step) => step.stepId),
    series: (['sent', 'opened', 'clicked', 'converted'] as const).map((stage) => ({ label: stage, values: sends.map((step) => step[stage]) })),
  };
}

type Row = ReportCounts & { label: string };

const stepRowsOf = (report: JourneyReport): Row[] => [
  ...report.steps.map((step) => ({ ...step, label: step.kind === 'split' ? `${step.stepId} (split: entered is exposures)` : step.stepId })),
  { ...report.totals, label: 'whole journey' },
];
const variantRowsOf = (report: JourneyReport): Row[] => report.variants;

function rowsTable(heading: string, rows: Row[]): SafeHtml {
  if (!rows.length) return html`<p class="muted">Nothing sent yet.</p>`;
  const withRate = (n: number, rate: number | null) => html`${n} <span class="muted">${rate === null ? '' : percent(rate)}</span>`;
  const skipped = (reasons: Record<string, number>) => {
    const entries = Object.entries(reasons);
    return html`<span title="${entries.map(([reason, n]) => `${reason} ${n}`).join(', ')}">${entries.reduce((sum, [, n]) => sum + n, 0)}</span>`;
  };
  return html`<div class="scroll"><table>
<thead><tr><th>${heading}</th><th class="num">entered</th><th class="num">sent</th><th class="num">skipped</th><th class="num">delivered</th><th class="num">bounced</th><th class="num">opened</th><th class="num">clicked</th><th class="num">converted</th><th class="num">revenue</th><th class="num">unsubscribed</th></tr></thead>
<tbody>
${rows.map((row) => html`<tr><td>${row.label}</td><td class="num">${row.entered}</td><td class="num">${withRate(row.sent, row.rates.sent)}</td><td class="num">${skipped(row.skipped)}</td><td class="num">${withRate(row.delivered, row.rates.delivered)}</td><td class="num">${withRate(row.bounced, row.rates.bounced)}</td><td class="num">${withRate(row.opened, row.rates.opened)}</td><td class="num">${withRate(row.clicked, row.rates.clicked)}</td><td class="num">${withRate(row.converted, row.rates.converted)}</td><td class="num">${row.revenue.toFixed(2)}</td><td class="num">${withRate(row.unsubscribed, row.rates.unsubscribed)}</td></tr>\n`)}
</tbody></table></div>`;
}

/** One section per split (per combination of earlier arms), each metric drawn; the global control last. Adds their charts. */
function experimentSections(report: JourneyReport, charts: Record<string, Chart>): SafeHtml[] {
  const sections = report.experiments.map((experiment, i) => {
    const given = Object.entries(experiment.given).map(([step, arm]) => `${step} = ${arm}`);
    const metrics = (['conversion', 'click'] as const).flatMap((metric) => {
      const analysis = experiment.metrics[metric];
      if (!analysis) return [];
      const view = experimentView(analysis, metric, `experiment-${i}-${metric}`);
      charts[`experiment-${i}-${metric}`] = view.chart;
      return [view.markup];
    });
    const winner = experiment.winner;
    return html`<article class="card experiment">
<h3>Split ${experiment.stepId}${given.length ? ` (where ${given.join(', ')})` : ''}</h3>
${experiment.declared ? '' : html`<p class="muted">The split declares no experiment: analysed with a 10 % relative minimum effect and α = 0.05.</p>`}
${winner ? html`<p><strong>Winner: ${winner.winner}</strong> on ${winner.metric}, decided ${winner.decidedAt} (${winner.reason}); new entrants get version ${winner.version}.</p>` : ''}
${metrics.length ? metrics : html`<p class="muted">No data yet.</p>`}
</article>`;
  });
  const analysis = report.globalControl?.analysis;
  if (analysis) {
    const view = experimentView(analysis, 'conversion', 'global-control');
    charts['global-control'] = view.chart;
    sections.push(html`<article class="card experiment"><h3>Against the global control group${report.globalControl?.percent ? ` (${report.globalControl.percent} % of customers held out of marketing journeys)` : ''}</h3>${view.markup}</article>`);
  }
  return sections;
}
