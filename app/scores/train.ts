// `journeys scores train`: churn and purchase propensity fitted on the shop's own history with an
// honest time split, judged against a shuffled-label control, kept in the store, and written to
// every customer's profile.
import { performance } from 'node:perf_hooks';
import { ORDER_EVENT } from '../../domain/delivery/recommendations';
import { CATEGORY_FEATURE } from '../../domain/scores/features';
import { fitLogistic, fitStandardization, probability, standardize, type Standardization } from '../../domain/scores/logistic';
import { atThreshold, bestF1Threshold, calibrationTable, rocAuc } from '../../domain/scores/metrics';
import { type Evaluation, type ScoreModel, type ScoreName, type TrainedScores } from '../../domain/scores/model';
import { seededRandom } from '../../domain/scores/random';
import type { Store } from '../../store/types';
import { ValidationError } from '../errors';
import { customerFeatures, type FeatureTable } from './features';
import { writeProfileScores } from './modelStore';

export const DEFAULT_CHURN_DAYS = 60;
export const DEFAULT_PROPENSITY_DAYS = 30;
/** Mild: with thousands of customers and ~30 standardized features it only tames collinear windows. */
const L2 = 1;
/**
 * Fits on shuffled labels averaged into the control: one alone lands anywhere within about ±0.15
 * of 0.5 (measured on the generated shop), the mean of 40 within about ±0.02. A fit takes tens of ms.
 */
const CONTROL_SHUFFLES = 40;
/** The share of customers held out of training, to be judged on after the cutoff. */
const TEST_SHARE = 1 / 3;
const DAY_MS = 86_400_000;

export interface TrainOptions {
  /** Scores are computed as of now, and no outcome after it is read. */
  now: Date;
  churnDays?: number;
  propensityDays?: number;
  /** The time split's cutoff for both models; by default the latest event minus each model's label window. */
  cutoff?: Date;
  /** Seeds the customer split and the shuffled-label control. */
  seed?: number;
  /** Told as each phase starts (an activity heartbeats with it). */
  progress?: (phase: string) => void;
}

/** The history cannot train a model (too short, no outcome of one kind): nothing was kept or written. */
export class NotTrainableError extends Error {
  override name = 'NotTrainableError';
}

interface ModelSpec {
  name: ScoreName;
  days: number;
  /** Who the model is about, from their features at the cutoff. */
  eligible: (values: number[], names: string[]) => boolean;
  /** The outcome, from whether they ordered in the window after the cutoff. */
  positive: (ordered: boolean) => boolean;
}

const column = (names: string[], name: string) => names.indexOf(name);
const hasOrdered = (values: number[], names: string[]) => values[column(names, 'ordersTotal')] > 0;
const wasActive = (values: number[], names: string[]) => values[column(names, 'tenureDays')] > 0;

/** Trains both models, keeps them, writes every profile's scores; returns what was kept. */
export async function trainScores(store: Store, options: TrainOptions): Promise<TrainedScores> {
  const started = performance.now();
  const { now, seed = 1, progress = () => {} } = options;
  const specs: ModelSpec[] = [
    { name: 'churn', days: options.churnDays ?? DEFAULT_CHURN_DAYS, eligible: hasOrdered, positive: (ordered) => !ordered },
    { name: 'propensity', days: options.propensityDays ?? DEFAULT_PROPENSITY_DAYS, eligible: wasActive, positive: (ordered) => ordered },
  ];
  for (const [field, days] of [['churnDays', specs[0].days], ['propensityDays', specs[1].days]] as const) {
    if (!Number.isInteger(days) || days < 1) throw new ValidationError('training options', [{ path: field, message: `a whole number of days, at least 1 (got ${days})` }]);
  }
  const lastEvent = await store.lastEventAt();
  if (!lastEvent) throw new NotTrainableError('there are no events to train on: import the shop history first (journeys events import, or journeys scores generate)');
  const latest = Math.min(Date.parse(lastEvent), now.getTime());

  // Every table shares the training table's category columns, so one model reads them all alike.
  const tables = new Map<number, Promise<FeatureTable>>();
  let categories: string[] | undefined;
  const tableAt = async (ms: number): Promise<FeatureTable> => {
    if (!categories) {
      const first = await customerFeatures(store, new Date(ms));
      categories = first.names.filter((name) => name.startsWith(CATEGORY_FEATURE)).map((name) => name.slice(CATEGORY_FEATURE.length));
      tables.set(ms, Promise.resolve(first));
    }
    if (!tables.has(ms)) tables.set(ms, customerFeatures(store, new Date(ms), { categories }));
    return tables.get(ms)!;
  };

  const models = {} as Record<ScoreName, ScoreModel>;
  for (const spec of specs) {
    const testCutoff = options.cutoff?.getTime() ?? latest - spec.days * DAY_MS;
    const outcomesUntil = testCutoff + spec.days * DAY_MS;
    if (Number.isNaN(testCutoff)) throw new ValidationError('training options', [{ path: 'cutoff', message: 'not a valid date' }]);
    if (outcomesUntil > latest) {
      const latestCutoff = new Date(latest - spec.days * DAY_MS).toISOString();
      const message = `${spec.name} needs ${spec.days} days of outcomes after the cutoff, and the latest event is at ${new Date(latest).toISOString()}: choose a cutoff at or before ${latestCutoff}`;
      throw new ValidationError('training options', [{ path: 'cutoff', message }]);
    }
    progress(`${spec.name}: features`);
    models[spec.name] = await trainModel(store, spec, { trainCutoff: testCutoff - spec.days * DAY_MS, testCutoff, outcomesUntil }, tableAt, seed, progress);
  }

  progress('scoring every customer');
  const current = await tableAt(now.getTime());
  const trainedAt = now.toISOString();
  const version = trainedAt.replace(/[-:]/g, '').replace(/\.\d+/, '');
  const scored = await writeProfileScores(store, current, models, version);
  const trained: TrainedScores = { version, trainedAt, scored, seconds: (performance.now() - started) / 1000, models };
  await store.recordScoreModels({ version, trainedAt, content: trained });
  return trained;
}

interface Split {
  trainCutoff: number;
  testCutoff: number;
  outcomesUntil: number;
}

async function trainModel(store: Store, spec: ModelSpec, split: Split, tableAt: (ms: number) => Promise<FeatureTable>, seed: number, progress: (phase: string) => void): Promise<ScoreModel> {
  const [trainTable, testTable] = [await tableAt(split.trainCutoff), await tableAt(split.testCutoff)];
  const started = performance.now();
  const heldOut = testCustomers(seed);
  const train = await labelled(store, spec, trainTable, (id) => !heldOut(id), split.trainCutoff, split.testCutoff);
  const test = await labelled(store, spec, testTable, heldOut, split.testCutoff, split.outcomesUntil);
  for (const [set, rows, asOf] of [['training', train, split.trainCutoff], ['test', test, split.testCutoff]] as const) {
    if (rows.labels.length === 0) {
      const reach = `the history must reach back two label windows (${2 * spec.days} days) before its latest event, with customers active then`;
      throw new NotTrainableError(`${spec.name}: no ${set} customer as of ${new Date(asOf).toISOString()}: ${reach}`);
    }
    const positives = rows.labels.filter(Boolean).length;
    if (positives === 0 || positives === rows.labels.length) {
      throw new NotTrainableError(`${spec.name}: the ${rows.labels.length} ${set} customers all had the same outcome (${positives} positive): the history is too short or too uniform to train on`);
    }
  }

  progress(`${spec.name}: fitting`);
  const standardization = fitStandardization(train.values, trainTable.names.length);
  const x = train.values.map((values) => standardize(standardization, values));
  const fit = fitLogistic(x, train.labels, { l2: L2 });
  const trainScores = x.map((row) => probability(fit, row));
  const threshold = bestF1Threshold(trainScores, train.labels);
  const testX = test.values.map((values) => standardize(standardization, values));
  const testScores = testX.map((row) => probability(fit, row));

  progress(`${spec.name}: shuffled-label control`);
  const control = shuffledControl(x, train.labels, testX, test.labels, seed);
  return {
    name: spec.name,
    labelDays: spec.days,
    features: trainTable.names,
    ...standardizationOf(standardization),
    intercept: fit.intercept,
    weights: fit.weights,
    threshold,
    l2: L2,
    validation: {
      trainCutoff: new Date(split.trainCutoff).toISOString(),
      testCutoff: new Date(split.testCutoff).toISOString(),
      outcomesUntil: new Date(split.outcomesUntil).toISOString(),
      train: evaluate(trainScores, train.labels, threshold),
      test: evaluate(testScores, test.labels, threshold),
      control,
    },
    trainingSeconds: (performance.now() - started) / 1000,
  };
}

const standardizationOf = ({ means, scales }: Standardization) => ({ means, scales });

/** A customer is held out for the test by a seeded hash of their id: the same customers every training with this seed. */
function testCustomers(seed: number): (customerId: string) => boolean {
  return (customerId) => {
    // FNV-1a, 32 bits.
    let hash = (2166136261 ^ seed) >>> 0;
    for (let i = 0; i < customerId.length; i++) hash = Math.imul(hash ^ customerId.charCodeAt(i), 16777619) >>> 0;
    return hash / 4294967296 < TEST_SHARE;
  };
}

/** The eligible customers of `table` that `include` takes, with their outcome in (after, until]. */
async function labelled(store: Store, spec: ModelSpec, table: FeatureTable, include: (customerId: string) => boolean, after: number, until: number) {
  const rows = table.rows.filter((row) => include(row.customerId) && spec.eligible(row.values, table.names));
  const ordered = await customersWhoOrdered(store, rows.map((row) => row.customerId), after, until);
  return { values: rows.map((row) => row.values), labels: rows.map((row) => spec.positive(ordered.has(row.customerId))) };
}

async function customersWhoOrdered(store: Store, customerIds: string[], after: number, until: number): Promise<Set<string>> {
  const ordered = new Set<string>();
  const read = { types: [ORDER_EVENT], after: new Date(after).toISOString(), until: new Date(until).toISOString() };
  for (let start = 0; start < customerIds.length; start += 1000) {
    for (const event of await store.eventsOfCustomers(customerIds.slice(start, start + 1000), read)) ordered.add(event.customerId);
  }
  return ordered;
}

function evaluate(scores: number[], labels: boolean[], threshold: number): Evaluation {
  const { precision, recall, flagged } = atThreshold(scores, labels, threshold);
  const auc = rocAuc(scores, labels);
  return {
    customers: labels.length,
    positives: labels.filter(Boolean).length,
    ...(auc !== undefined && { auc }),
    ...(precision !== undefined && { precision }),
    ...(recall !== undefined && { recall }),
    flagged,
    calibration: calibrationTable(scores, labels),
  };
}

/**
 * The same fit on the training customers' labels shuffled among them, judged on the real test
 * outcomes: labels that carry nothing must predict nothing, so its AUC is near 0.5 unless the
 * pipeline lets the outcome in some other way (a feature read after the cutoff, test customers
 * in training). One shuffled fit is a random direction in feature space, whose AUC strays by
 * chance; the mean of several does not.
 */
function shuffledControl(x: number[][], labels: boolean[], testX: number[][], testLabels: boolean[], seed: number): ScoreModel['validation']['control'] {
  const random = seededRandom(seed ^ 0x5eed);
  const aucs: number[] = [];
  for (let k = 0; k < CONTROL_SHUFFLES; k++) {
    const fit = fitLogistic(x, random.shuffle([...labels]), { l2: L2 });
    aucs.push(rocAuc(testX.map((row) => probability(fit, row)), testLabels) ?? 0.5);
  }
  return { auc: aucs.reduce((sum, auc) => sum + auc, 0) / aucs.length, shuffles: aucs.length, lowest: Math.min(...aucs), highest: Math.max(...aucs) };
}
