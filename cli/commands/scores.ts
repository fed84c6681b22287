// `journeys scores generate | train | report`: predictive scores on this machine's store.
import type { Command } from 'commander';
import type { CliDeps } from '..';
import { currentScores } from '../../app/scores/modelStore';
import { writeShopHistory } from '../../app/scores/shopHistory';
import { DEFAULT_CHURN_DAYS, DEFAULT_PROPENSITY_DAYS, trainScores } from '../../app/scores/train';
import { SegmentTracker } from '../../app/segmentTracker';
import { parseSegments } from '../../domain/rules/segments';
import { SCORE_MEANING, SCORE_NAMES, type ScoreModel, type TrainedScores } from '../../domain/scores/model';
import { shippedSegments } from '../../journeys/segments';
import { withLocalStore } from '../operator';
import { UsageError } from '../usageError';
import { table } from './table';

function wholeNumber(option: string, min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got "${text}"`);
    return value;
  };
}

function date(option: string) {
  return (text: string): Date => {
    const value = new Date(text);
    if (Number.isNaN(value.getTime())) throw new UsageError(`${option} must be an ISO date such as 2026-10-01 or 2026-10-01T00:00:00Z, got "${text}"`);
    return value;
  };
}

/** `journeys scores`: the seeded shop history, training with a time split, and the report of the current models. */
export function registerScores(program: Command, deps: CliDeps): Command {
  const out = (line = '') => deps.stdout.write(`${line}\n`);
  const scores = program.command('scores').description('predictive scores (scores.churn, scores.propensity on every profile): generate a shop history, train, report');

  scores
    .command('generate')
    .description('write a seeded, realistic shop history (orders, views, carts, newsletter opens and clicks) through the import path, for training and demos')
    .option('--customers <n>', 'customers to generate', wholeNumber('--customers', 1, 10_000_000), 20_000)
    .option('--days <n>', 'days of history, ending now (or at --end)', wholeNumber('--days', 1, 3650), 365)
    .option('--seed <n>', 'the same seed writes the same history', wholeNumber('--seed', 0, 2 ** 32 - 1), 1)
    .option('--end <date>', 'when the history ends (default: now)', date('--end'))
    .action(async (opts: { customers: number; days: number; seed: number; end?: Date }) => {
      const end = opts.end ?? new Date();
      const written = await withLocalStore(deps, (store) =>
        writeShopHistory(store, new SegmentTracker(store, parseSegments(shippedSegments)), { customers: opts.customers, days: opts.days, seed: opts.seed, end }),
      );
      out(`generated ${written.customers.toLocaleString('en')} customers and ${written.events.toLocaleString('en')} events (${opts.days} days to ${end.toISOString()}, seed ${opts.seed}) in ${written.seconds.toFixed(1)}s`);
      out('  as history: no journey started or signalled; next: journeys scores train');
    });

  scores
    .command('train')
    .description('train churn and purchase propensity on the store\'s history with a time split, keep the models, write scores.* to every profile')
    .option('--churn-days <n>', 'churn: no order in this many days after the cutoff', wholeNumber('--churn-days', 1, 3650), DEFAULT_CHURN_DAYS)
    .option('--propensity-days <n>', 'propensity: an order in this many days after the cutoff', wholeNumber('--propensity-days', 1, 3650), DEFAULT_PROPENSITY_DAYS)
    .option('--cutoff <date>', 'the time split: judged on what happened after it (default: the latest event minus each label window)', date('--cutoff'))
    .action(async (opts: { churnDays: number; propensityDays: number; cutoff?: Date }) => {
      const trained = await withLocalStore(deps, (store) => trainScores(store, { now: new Date(), churnDays: opts.churnDays, propensityDays: opts.propensityDays, cutoff: opts.cutoff }));
      for (const line of reportLines(trained)) out(line);
    });

  scores
    .command('report')
    .description('the metrics of the current models: ROC-AUC, precision and recall at the threshold, calibration, the shuffled-label control')
    .action(async () => {
      const trained = await withLocalStore(deps, currentScores);
      if (!trained) throw new UsageError('no score models yet: train them with journeys scores train');
      for (const line of reportLines(trained)) out(line);
    });
  return scores;
}

const fixed = (value: number | undefined, digits = 3) => (value === undefined ? '-' : value.toFixed(digits));
const day = (iso: string) => iso.slice(0, 10);
const n = (value: number) => value.toLocaleString('en');

export function reportLines(trained: TrainedScores): string[] {
  const lines = [
    `score models ${trained.version}: trained at ${trained.trainedAt} in ${trained.seconds.toFixed(1)}s; ${n(trained.scored)} profiles scored (scores.churn, scores.propensity, scores.modelVersion)`,
  ];
  for (const name of SCORE_NAMES) lines.push('', ...modelLines(trained.models[name]));
  return lines;
}

function modelLines(model: ScoreModel): string[] {
  const { train, test, control, trainCutoff, testCutoff, outcomesUntil } = model.validation;
  return [
    `${model.name}: ${SCORE_MEANING[model.name](model.labelDays)}`,
    `  time split: fitted on ${n(train.customers)} customers as of ${day(trainCutoff)} (outcomes to ${day(testCutoff)}), ` +
      `judged on ${n(test.customers)} others as of ${day(testCutoff)} (outcomes to ${day(outcomesUntil)}); ${n(test.positives)} positive`,
    `  ROC-AUC ${fixed(test.auc)} (on the training customers ${fixed(train.auc)}); shuffled-label control ${fixed(control.auc)} ` +
      `(mean of ${control.shuffles} shuffles, ${fixed(control.lowest, 2)} to ${fixed(control.highest, 2)})`,
    `  at threshold ${fixed(model.threshold)}: precision ${fixed(test.precision)}, recall ${fixed(test.recall)} (${n(test.flagged)} of ${n(test.customers)} flagged)`,
    `  ${model.features.length} features, fitted in ${model.trainingSeconds.toFixed(1)}s with the control`,
    '  calibration on the judged customers, by decile of score:',
    ...table([
      ['DECILE', 'CUSTOMERS', 'PREDICTED', 'OBSERVED'],
      ...test.calibration.map((bin) => [String(bin.decile), n(bin.customers), fixed(bin.predicted), fixed(bin.observed)]),
    ])
      .split('\n')
      .map((line) => `    ${line}`),
  ];
}
