import type { Command } from 'commander';
import { parseInput } from '../../app/errors';
import { journeyReport } from '../../app/reports/journeyReport';
import { reportQuerySchema, type JourneyReport } from '../../app/reports/schema';
import { loadCatalogue } from '../../journeys';
import type { CliDeps } from '..';
import { withLocalStore } from '../operator';
import { UsageError } from '../usageError';
import { reportCsv, reportTable } from './reportFormat';

const FORMATS = ['table', 'json', 'csv'] as const;

/**
 * `journeys report <journeyId>`: the journey's funnel, experiments and global control lift.
 * Locally it reads only the store (and the shipped catalogue); with JOURNEYS_URL it asks the
 * deployment's API, which knows its own catalogue and GLOBAL_CONTROL_PERCENT.
 */
export function registerReport(program: Command, deps: CliDeps): void {
  program
    .command('report <journeyId>')
    .description('a journey\'s report: per step and per template/variant funnel, each split\'s experiment with its statistics, lift against the global control group')
    .option('--since <date>', 'count entrants from this date or instant, e.g. 2026-12-01 (default: all time)')
    .option('--until <date>', 'count entrants up to this date or instant (default: now)')
    .option('--format <format>', `${FORMATS.join(', ')}`, 'table')
    .action(async (journeyId: string, opts: { since?: string; until?: string; format: string }) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format ${opts.format}: use one of ${FORMATS.join(', ')}`);
      const query = parseInput(reportQuerySchema, { since: opts.since, until: opts.until }, 'report options');
      const report: JourneyReport = deps.remote?.reports
        ? await deps.remote.reports.journeyReport(journeyId, { since: opts.since, until: opts.until })
        : await withLocalStore(deps, (store) => journeyReport(store, loadCatalogue(), journeyId, { ...query, now: new Date() }));
      const text = opts.format === 'json' ? JSON.stringify(report, null, 2) : opts.format === 'csv' ? reportCsv(report) : reportTable(report);
      deps.stdout.write(`${text}\n`);
    });
}
