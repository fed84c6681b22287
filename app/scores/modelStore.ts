// The trained models as the store keeps them, and the scores they put on profiles.
import { scorerFor, trainedScoresSchema, type ScoreModel, type ScoreName, type TrainedScores } from '../../domain/scores/model';
import type { ProfileScores, Store } from '../../store/types';
import type { FeatureTable } from './features';

/** Profiles per store write: one transaction each, so a long write never holds the SQLite writer for long. */
const WRITE_BATCH = 5_000;

/** The key under `scores` naming the models that wrote a profile's `scores.churn` and `scores.propensity`. */
export const MODEL_VERSION_ATTRIBUTE = 'modelVersion';

/**
 * Scores every customer of `table` and merges the scores into their profile's `scores` attribute
 * (other attributes, and other keys under `scores`, stay). Churn is about customers who have
 * ordered, so only they get one; customers with no activity get none. Segments that read scores
 * are marked for recomputation. Returns the profiles written.
 */
export async function writeProfileScores(store: Store, table: FeatureTable, models: Record<ScoreName, ScoreModel>, version: string): Promise<number> {
  const churn = scorerFor(models.churn, table.names);
  const propensity = scorerFor(models.propensity, table.names);
  const [orders, tenure] = [table.names.indexOf('ordersTotal'), table.names.indexOf('tenureDays')];
  const rounded = (score: number) => Math.round(score * 10_000) / 10_000;
  let written = 0;
  let batch: ProfileScores[] = [];
  const flush = async () => {
    written += await store.writeScores(batch, { segmentsDirty: true });
    batch = [];
  };
  for (const { customerId, values } of table.rows) {
    if (!(values[tenure] > 0)) continue;
    const scores: ProfileScores['scores'] = { propensity: rounded(propensity(values)), [MODEL_VERSION_ATTRIBUTE]: version };
    if (values[orders] > 0) scores.churn = rounded(churn(values));
    batch.push({ customerId, scores });
    if (batch.length >= WRITE_BATCH) await flush();
  }
  await flush();
  return written;
}

/** The models trained last, as kept; undefined before the first training. */
export async function currentScores(store: Store): Promise<TrainedScores | undefined> {
  const record = await store.latestScoreModels();
  if (!record) return undefined;
  const parsed = trainedScoresSchema.safeParse(record.content);
  if (!parsed.success) throw new Error(`the score models of version ${record.version} cannot be read (${parsed.error.issues[0]?.message}): train them again with journeys scores train`);
  return parsed.data;
}
