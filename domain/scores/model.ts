// Trained score models as they are kept in the store and read back: the schema is the single
// source of their types. Pure.
import { z } from 'zod';
import { probability, standardize } from './logistic';

export const SCORE_NAMES = ['churn', 'propensity'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

/** What each score predicts, in the words `journeys scores report` uses. */
export const SCORE_MEANING: Record<ScoreName, (days: number) => string> = {
  churn: (days) => `no order in the next ${days} days, among customers who have ordered`,
  propensity: (days) => `an order in the next ${days} days`,
};

const count = z.number().int().min(0);
const instant = z.iso.datetime({ offset: true });

const calibrationBinSchema = z.object({ decile: z.number().int(), customers: count, predicted: z.number(), observed: z.number() });

/** A model's scores judged against outcomes: customers, positives, ROC-AUC and the chosen threshold's precision and recall. */
export const evaluationSchema = z.object({
  customers: count,
  positives: count,
  /** Absent when the customers were all positive or all negative. */
  auc: z.number().optional(),
  precision: z.number().optional(),
  recall: z.number().optional(),
  /** Customers at or above the threshold. */
  flagged: count,
  calibration: z.array(calibrationBinSchema),
});

export const scoreModelSchema = z.object({
  name: z.enum(SCORE_NAMES),
  /** The label window: churn is no order in the next `labelDays`, propensity an order in them. */
  labelDays: z.number().int().positive(),
  features: z.array(z.string()).min(1),
  means: z.array(z.number()),
  scales: z.array(z.number()),
  intercept: z.number(),
  weights: z.array(z.number()),
  /** The score at or above which a customer counts as flagged (best F1 on the training customers). */
  threshold: z.number(),
  l2: z.number(),
  /**
   * The time split: fitted on features as of `trainCutoff` and outcomes up to `testCutoff`, then
   * judged on other customers' features as of `testCutoff` and outcomes up to `outcomesUntil`.
   */
  validation: z.object({
    trainCutoff: instant,
    testCutoff: instant,
    outcomesUntil: instant,
    train: evaluationSchema,
    test: evaluationSchema,
    /** The same fit on shuffled training labels, judged on the same test: near 0.5 unless the future leaks in. */
    control: z.object({ auc: z.number(), shuffles: z.number().int().positive(), lowest: z.number(), highest: z.number() }),
  }),
  trainingSeconds: z.number(),
});
export type ScoreModel = z.infer<typeof scoreModelSchema>;
export type Evaluation = z.infer<typeof evaluationSchema>;
export type CalibrationBin = z.infer<typeof calibrationBinSchema>;

export const trainedScoresSchema = z.object({
  /** Written to every scored profile as `scores.modelVersion`. */
  version: z.string().min(1),
  /** The training's instant: the profiles' scores are as of it. */
  trainedAt: instant,
  /** Profiles given scores. */
  scored: count,
  seconds: z.number(),
  models: z.object({ churn: scoreModelSchema, propensity: scoreModelSchema }),
});
export type TrainedScores = z.infer<typeof trainedScoresSchema>;

/**
 * Scores rows of a feature table with columns `names`: features are matched by name, so a table
 * with more or fewer category columns than the training one scores alike (a column the table
 * lacks counts as 0).
 */
export function scorerFor(model: Pick<ScoreModel, 'features' | 'means' | 'scales' | 'intercept' | 'weights'>, names: string[]): (values: number[]) => number {
  const columns = model.features.map((feature) => names.indexOf(feature));
  return (values) => probability(model, standardize(model, columns.map((column) => (column === -1 ? 0 : values[column]))));
}
