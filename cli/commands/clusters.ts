import type { Command } from 'commander';
import { clusterCustomers, type ClusterReport } from '../../app/scores/clusters';
import type { CliDeps } from '..';
import { UsageError } from '../usageError';
import { table } from './table';

/** `journeys clusters`: K-means on the store's customers, told in words; `--save-segments` writes each customer's cluster. */
export function registerClusters(program: Command, deps: CliDeps): void {
  program
    .command('clusters')
    .description('group customers by K-means on standardized recency, frequency, monetary value and engagement, and tell each group in words; needs only the store')
    .option('--k <k>', 'number of clusters (2 to 20), or auto: the k from 2 to 8 with the best silhouette', 'auto')
    .option('--save-segments <prefix>', 'write each customer\'s cluster ("<prefix>0", "<prefix>1", …) to scores.<prefix>, and print the segments that read it')
    .option('--seed <n>', 'seed of the k-means++ starts and the silhouette sample: the same seed and data give the same clusters', '1')
    .option('--as-of <iso>', 'features as known at this instant (default: now)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (opts: { k: string; saveSegments?: string; seed: string; asOf?: string; format: string }) => {
      if (opts.format !== 'table' && opts.format !== 'json') throw new UsageError(`--format is table or json, not "${opts.format}"`);
      const asOf = opts.asOf === undefined ? new Date() : new Date(opts.asOf);
      if (Number.isNaN(asOf.getTime())) throw new UsageError(`--as-of "${opts.asOf}" is not a date: use ISO-8601, e.g. 2026-11-30T00:00:00Z`);
      const { store, close } = await deps.openStore();
      let report: ClusterReport;
      try {
        report = await clusterCustomers(store, { k: opts.k, seed: opts.seed, saveSegments: opts.saveSegments }, asOf);
      } finally {
        await close();
      }
      deps.stdout.write(`${opts.format === 'json' ? JSON.stringify(report, null, 2) : describeReport(report)}\n`);
    });
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
/** Standard deviations with their sign, "-0.0" shown as "0.0". */
const signed = (n: number) => {
  const rounded = Number(n.toFixed(1));
  return `${rounded > 0 ? '+' : ''}${fixed(rounded === 0 ? 0 : rounded)}σ`;
};

function describeReport(report: ClusterReport): string {
  const chosen = report.silhouettes
    ? `k = ${report.k}, the best silhouette of ${report.silhouettes.map((s) => `k=${s.k}: ${fixed(s.silhouette, 2)}`).join(', ')}`
    : `k = ${report.k}, silhouette ${fixed(report.silhouette, 2)}`;
  const lines = [
    `${report.customers} customers as of ${report.asOf} (${report.inactive === 1 ? '1 customer with no activity yet is' : `${report.inactive} customers with no activity yet are`} in no cluster); ${chosen}`,
    '',
    table([
      ['CLUSTER', 'CUSTOMERS', 'SHARE', 'WHAT SETS IT APART'],
      ...report.clusters.map((c) => [c.segmentId ?? String(c.cluster), String(c.customers), `${fixed(c.share * 100)}%`, c.description]),
    ]),
    '',
    table([
      ['MEAN', 'ALL', ...report.clusters.map((c) => c.segmentId ?? String(c.cluster))],
      ...report.features.map((f) => [f, fixed(report.overall[f]), ...report.clusters.map((c) => `${fixed(c.means[f])} (${signed(c.standing[f])})`)]),
    ]),
  ];
  if (report.saved) {
    lines.push(
      '',
      `saved each customer's cluster as ${report.saved.attribute} in ${report.saved.profiles} profiles (version ${report.version}).`,
      'To use the clusters as segments, add these to journeys/segments.ts; customers enter them at the next segment sweep:',
      ...report.saved.segments.map((s) => `  ${JSON.stringify(s)},`),
    );
  }
  return lines.join('\n');
}
