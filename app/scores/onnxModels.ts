// Bring your own model: the ONNX models journeys/models.ts declares, run with onnxruntime-node on
// the feature table a page of customers at a time, their scores written into profiles.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { CATEGORY_FEATURE } from '../../domain/scores/features';
import { onnxModelSchema, scoreAttributes, type OnnxModelDefinition, type OnnxModelInput } from '../../domain/scores/externalScores';
import { MODELS_DIR, shippedModels } from '../../journeys/models';
import type { ProfileScores, Store } from '../../store/types';
import { customerFeatures } from './features';

/** Customers per page: one feature read, one run of each model, one store write. */
const PAGE_SIZE = 1000;

/** A model declaration or file that cannot be scored: which model, and what to change. */
export class ModelError extends Error {}

export interface ModelScoringDeps {
  store: Store;
  /** The declared models: journeys/models.ts's when absent. */
  models?: OnnxModelInput[];
  /** Where relative model files are: the journeys/ folder when absent. */
  modelsDir?: string;
  /** The features are as known at this instant: now when absent. */
  asOf?: Date;
  /** Customers per page (1000 when absent). */
  pageSize?: number;
  /** Told the customers scored so far after each page (an activity's heartbeat). */
  progress?: (customers: number) => void;
}

export interface ModelScoringResult {
  asOf: string;
  /** Profiles that got the scores of every model. */
  customers: number;
  models: { name: string; version: string; file: string }[];
  seconds: number;
}

/** Validates the declarations (fields, one model per name) before any file is read. */
export function parseOnnxModels(inputs: OnnxModelInput[]): OnnxModelDefinition[] {
  const names = new Set<string>();
  return inputs.map((input, index) => {
    const parsed = onnxModelSchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new ModelError(`model ${index} ("${String((input as { name?: unknown }).name)}") in journeys/models.ts is invalid:\n  ${problems.join('\n  ')}`);
    }
    if (names.has(parsed.data.name)) throw new ModelError(`two models in journeys/models.ts have the name "${parsed.data.name}"`);
    names.add(parsed.data.name);
    return parsed.data;
  });
}

interface LoadedModel {
  definition: OnnxModelDefinition;
  path: string;
  version: string;
  session: InferenceSession;
  inputName: string;
  inputType: 'float32' | 'float64';
}

/**
 * Scores every customer with every declared model and writes `scores.<name>` and
 * `scores.<name>Version` (the first 12 hex digits of the file's SHA-256) into their profiles;
 * customers without a profile are skipped. Nothing to do when no model is declared.
 */
export async function scoreWithModels(deps: ModelScoringDeps): Promise<ModelScoringResult> {
  const started = Date.now();
  const asOf = deps.asOf ?? new Date();
  const definitions = parseOnnxModels(deps.models ?? shippedModels);
  const models: LoadedModel[] = [];
  let customers = 0;
  try {
    for (const definition of definitions) models.push(await loadModel(definition, deps.modelsDir ?? MODELS_DIR));
    // The one-hot columns the models read, and only those: every page then has the same columns.
    const categories = [...new Set(definitions.flatMap((d) => d.features).filter((f) => f.startsWith(CATEGORY_FEATURE)).map((f) => f.slice(CATEGORY_FEATURE.length)))];
    const pageSize = deps.pageSize ?? PAGE_SIZE;
    for (let page = models.length ? await deps.store.customerIdsAfter(undefined, pageSize) : []; page.length > 0; page = await deps.store.customerIdsAfter(page[page.length - 1], pageSize)) {
      const table = await customerFeatures(deps.store, asOf, { customerIds: page, categories });
      const scores = new Map<string, Record<string, number | string>>(table.rows.map((row) => [row.customerId, {}]));
      for (const model of models) {
        const values = await runModel(model, table.names, table.rows.map((row) => row.values));
        table.rows.forEach((row, i) => Object.assign(scores.get(row.customerId)!, scoreAttributes(model.definition.name, values[i], model.version)));
      }
      const rows: ProfileScores[] = [...scores].map(([customerId, attributes]) => ({ customerId, scores: attributes }));
      customers += await deps.store.writeScores(rows, { segmentsDirty: true });
      deps.progress?.(customers);
    }
  } finally {
    await Promise.all(models.map((model) => model.session.release()));
  }
  return {
    asOf: asOf.toISOString(),
    customers,
    models: models.map((m) => ({ name: m.definition.name, version: m.version, file: m.path })),
    seconds: (Date.now() - started) / 1000,
  };
}

async function loadModel(definition: OnnxModelDefinition, modelsDir: string): Promise<LoadedModel> {
  const path = isAbsolute(definition.file) ? definition.file : join(modelsDir, definition.file);
  const fail = (problem: string) => new ModelError(`model "${definition.name}" (${path}): ${problem}`);
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw fail(err.code === 'ENOENT' ? 'the file does not exist' : `cannot read the file (${err.message})`);
  });
  // One thread: the worker that scores also runs journeys, which must not wait behind a model.
  const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 }).catch((err: Error) => {
    throw fail(`onnxruntime cannot load it (${err.message.split('\n')[0]})`);
  });
  const loaded = { definition, path, version: createHash('sha256').update(bytes).digest('hex').slice(0, 12), session };
  try {
    return { ...loaded, ...inputOf(session, definition, fail) };
  } catch (err) {
    await session.release();
    throw err;
  }
}

/** The model's one input, checked against the declaration: a [customers, features] tensor of float or double. */
function inputOf(session: InferenceSession, definition: OnnxModelDefinition, fail: (problem: string) => ModelError): Pick<LoadedModel, 'inputName' | 'inputType'> {
  if (session.inputMetadata.length !== 1) throw fail(`it has ${session.inputMetadata.length} inputs (${session.inputNames.join(', ')}); journeys feeds one [customers, features] tensor`);
  const input = session.inputMetadata[0];
  if (!input.isTensor || (input.type !== 'float32' && input.type !== 'float64')) {
    throw fail(`its input "${input.name}" is ${input.isTensor ? `a ${input.type} tensor` : 'no tensor'}; journeys feeds float or double (skl2onnx: FloatTensorType or DoubleTensorType)`);
  }
  const width = input.shape[input.shape.length - 1];
  if (input.shape.length !== 2 || (typeof width === 'number' && width !== definition.features.length)) {
    const shape = input.shape.map((dim) => (typeof dim === 'number' ? dim : dim || '?')).join(', ');
    throw fail(`its input "${input.name}" takes [${shape}], but journeys/models.ts lists ${definition.features.length} features: one [customers, features] row per customer, a column per listed feature`);
  }
  if (!session.outputNames.includes(definition.output)) throw fail(`it has no output "${definition.output}" (its outputs: ${session.outputNames.join(', ')}); set \`output\` to the one holding the score`);
  const output = session.outputMetadata.find((o) => o.name === definition.output);
  if (output && !output.isTensor) throw fail(`its output "${definition.output}" is no tensor (a ZipMap?): export a classifier with skl2onnx's option zipmap: false`);
  return { inputName: input.name, inputType: input.type };
}

/** One score per row: the declared column of the declared output. */
async function runModel(model: LoadedModel, names: string[], rows: number[][]): Promise<number[]> {
  const { definition } = model;
  // Every declared feature is a column: the schema allows only the table's features, and the one-hot ones were asked for.
  const columns = definition.features.map((feature) => names.indexOf(feature));
  const width = columns.length;
  const data = model.inputType === 'float64' ? new Float64Array(rows.length * width) : new Float32Array(rows.length * width);
  rows.forEach((values, i) => columns.forEach((column, j) => (data[i * width + j] = values[column])));
  const results = await model.session.run({ [model.inputName]: new Tensor(model.inputType, data, [rows.length, width]) }, [definition.output]);
  const output = results[definition.output];
  const perRow = output.dims.length === 1 ? 1 : Number(output.dims[1]);
  if (output.dims[0] !== rows.length || definition.column >= perRow) {
    throw new ModelError(`model "${definition.name}" (${model.path}): output "${definition.output}" has shape [${output.dims.join(', ')}], which has no column ${definition.column} per customer`);
  }
  const scores = Array.from({ length: rows.length }, (_, i) => Number(output.data[i * perRow + definition.column]));
  const bad = scores.findIndex((score) => !Number.isFinite(score));
  if (bad !== -1) throw new ModelError(`model "${definition.name}" (${model.path}) gave ${scores[bad]} for a customer: a score must be a finite number`);
  return scores;
}
