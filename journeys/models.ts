import type { OnnxModelInput } from '../domain/scores/externalScores';

/** Where a model's `file` is read from when it is relative: this folder (`npm run build` copies journeys/onnx/ beside the compiled catalogue). */
export const MODELS_DIR = __dirname;

/**
 * Models a data-science team trained elsewhere and exported to ONNX, scored for every customer by
 * `journeys scores run-models`, each into `scores.<name>` and `scores.<name>Version` (a hash of
 * the file). A model is one more entry here and its file, e.g.
 *
 *   { name: 'ltv', file: 'onnx/ltv.onnx', features: ['recencyDays', 'orders365d', 'revenue365d'] }
 *
 * `features` are columns of the feature table, in the order the model's input takes them;
 * `output` (default `probabilities`) and `column` (default 1, class 1's probability) say where the
 * score is in what the model returns. See domain/scores/externalScores.ts.
 */
export const shippedModels: OnnxModelInput[] = [];
