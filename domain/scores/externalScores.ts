// Scores made outside journeys' own training: values a data-science pipeline pushes in bulk, and
// models it exported to ONNX that journeys runs on the feature table. Both land in the profile
// as `scores.<name>` with `scores.<name>Version`, where rules, segments and templates read them.
import { z } from 'zod';
import { customerId } from '../customer/schema';
import { CATEGORY_FEATURE, NUMERIC_FEATURES } from './features';
import { SCORE_NAMES } from './model';

/** The suffix of the attribute that names the model behind a score: `scores.ltvVersion`. */
export const VERSION_SUFFIX = 'Version';
/** What an imported score without a model version records as one, so an earlier model's version never stands beside it. */
export const UNVERSIONED = 'unversioned';

// camelCase, so `scores.<name>` reads as a plain attribute path in rules and templates; a name
// ending in "Version" would be taken for the version of another score.
export const scoreName = z
  .string()
  .regex(/^[a-z][A-Za-z0-9]{0,39}$/, 'score names are camelCase, at most 40 characters, e.g. "ltv"')
  .refine((name) => !name.endsWith(VERSION_SUFFIX), `a score name must not end in "${VERSION_SUFFIX}": scores.<name>${VERSION_SUFFIX} holds the version of score <name>`)
  // Its version attribute would be scores.modelVersion, the version of the trained churn and propensity models.
  .refine((name) => name !== 'model', '"model" is taken: scores.modelVersion is the version of the trained churn and propensity models');

export const modelVersion = z.string().min(1).max(64);

/** The profile attributes a score sets: its value, and the version of the model that made it. */
export function scoreAttributes(name: string, value: number | string, version: string | undefined): Record<string, number | string> {
  return { [name]: value, [`${name}${VERSION_SUFFIX}`]: version ?? UNVERSIONED };
}

/** One imported score: `POST /v1/scores` and `journeys scores import` take rows of this shape. */
export const importedScoreSchema = z.strictObject({
  customerId,
  name: scoreName,
  // z.number() refuses NaN and ±Infinity too: JSON cannot carry them, a CSV cell can.
  value: z.number({ error: 'a score is a finite number, e.g. 0.82' }),
  modelVersion: modelVersion.optional(),
});
export type ImportedScore = z.infer<typeof importedScoreSchema>;

const featureName = z.string().refine((name) => NUMERIC_FEATURES.includes(name) || (name.startsWith(CATEGORY_FEATURE) && name.length > CATEGORY_FEATURE.length), {
  message: `not a feature of the feature table: use one of ${NUMERIC_FEATURES.join(', ')}, or ${CATEGORY_FEATURE}<category>`,
});

/**
 * A model declared in journeys/models.ts: an ONNX file with one input, a [customers, features]
 * tensor of float or double, fed the named features of the feature table in this order; the score
 * is `column` of output `output` (class 1's probability of a scikit-learn classifier exported
 * with skl2onnx and `zipmap: false`; column 0 of a regressor's `variable`).
 */
export const onnxModelSchema = z.strictObject({
  // The trained models' scores are rewritten at each training: a model of the same name would take turns with them.
  name: scoreName.refine((name) => !(SCORE_NAMES as readonly string[]).includes(name), `${SCORE_NAMES.join(' and ')} are the trained models' scores: give the model another name`),
  /** The .onnx file, relative to the journeys/ folder (or absolute). */
  file: z.string().regex(/\.onnx$/, 'the model file is an .onnx file'),
  features: z.array(featureName).min(1),
  output: z.string().min(1).default('probabilities'),
  column: z.number().int().min(0).default(1),
});
export type OnnxModelDefinition = z.infer<typeof onnxModelSchema>;
export type OnnxModelInput = z.input<typeof onnxModelSchema>;
