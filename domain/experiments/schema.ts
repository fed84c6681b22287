// What a journey's `split` step declares to become an experiment: which arm is the control,
// the smallest effect worth detecting (it sizes the test) and, optionally, when to pick a
// winner. The statistics read these settings; they never read the journey itself.
import { z } from 'zod';
import { HOLDOUT } from '../journey/split';

/** What an arm's rate counts: conversions per entrant, or unique clicks per sent email. */
export const experimentMetrics = ['conversion', 'click'] as const;

const significanceLevel = z
  .number({ error: 'a significance level such as 0.05' })
  .gt(0, 'a significance level above 0, such as 0.05')
  .max(0.5, 'a significance level of at most 0.5; 0.05 is usual');

/**
 * Exactly one of `absolute` (a difference in rate: 0.02 is two percentage points) or
 * `relative` (a share of the control's rate: 0.1 is a 10 % lift). Two optional keys and a
 * check, rather than a union, so a wrong value is reported at its own path.
 */
export const minimumEffectSchema = z
  .strictObject({
    absolute: z.number().gt(0, 'an absolute effect above 0, e.g. 0.02 for two percentage points').lt(1, 'an absolute effect below 1 (a rate difference)').optional(),
    relative: z.number().gt(0, 'a relative effect above 0, e.g. 0.1 for a 10 % lift').optional(),
  })
  .refine((effect) => (effect.absolute === undefined) !== (effect.relative === undefined), {
    message: 'minimumEffect needs exactly one of "absolute" (e.g. 0.02: two percentage points) or "relative" (e.g. 0.1: 10 % of the control\'s rate)',
  });

/** Send every new entrant the winning variant once it is clear. */
export const winnerSchema = z.strictObject({
  metric: z.enum(experimentMetrics, { error: `the metric that picks the winner: ${experimentMetrics.map((m) => `"${m}"`).join(' or ')}` }),
  /** Every variant needs at least this many exposed customers before a winner is picked. */
  minSample: z.number().int('a whole number of customers').positive('at least 1 customer per variant'),
  alpha: significanceLevel.default(0.05),
});

export const experimentSchema = z.strictObject({
  /** The arm every other arm is compared with: a variant's name or "holdout"; default the holdout if there is one, else the first variant. */
  control: z.string().min(1).optional(),
  minimumEffect: minimumEffectSchema,
  /** Two-sided, shared by all the arms compared with the control (Holm). */
  alpha: significanceLevel.default(0.05),
  winner: winnerSchema.optional(),
});

/** The parts of a split step an experiment is checked against (a structural subset of `SplitStep`). */
interface SplitArms {
  variants: { name: string }[];
  holdout?: unknown;
  experiment?: { control?: string; winner?: unknown };
}

/** The control arm's name: the declared one, else the holdout if the split has one, else its first variant. */
export function controlArm(split: SplitArms): string {
  return split.experiment?.control ?? (split.holdout ? HOLDOUT : split.variants[0].name);
}

/**
 * What is wrong with a split's experiment given its arms, as issues for the journey schema's
 * `superRefine` (paths are relative to the split step).
 */
export function experimentIssues(split: SplitArms): { path: (string | number)[]; message: string }[] {
  const experiment = split.experiment;
  if (!experiment) return [];
  const arms = split.variants.map((v) => v.name).concat(split.holdout ? [HOLDOUT] : []);
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (arms.length < 2) {
    issues.push({ path: ['experiment'], message: 'an experiment compares arms: add a second variant or a holdout' });
  }
  if (experiment.control !== undefined && !arms.includes(experiment.control)) {
    issues.push({ path: ['experiment', 'control'], message: `control "${experiment.control}" is not an arm of this split; its arms are ${arms.map((a) => `"${a}"`).join(', ')}` });
  }
  if (experiment.winner && split.variants.length < 2) {
    issues.push({ path: ['experiment', 'winner'], message: 'a winner is chosen between variants (the holdout never wins): add a second variant' });
  }
  return issues;
}
