import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities, ScoreModelsResult, TrainScoresResult } from '../activities';

const { trainScores, scoreModels } = proxyActivities<ReturnType<typeof createActivities>>({
  // About ten seconds for 20,000 customers on SQLite; a large shop on PostgreSQL takes minutes.
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '5 minutes',
  // A training that failed (the store down) is tried again a few times; the next Schedule run starts over.
  retry: { initialInterval: '1 minute', backoffCoefficient: 2, maximumAttempts: 5 },
});

/**
 * Run by the `score-training` Temporal Schedule (overlap: skip): retrains the churn and
 * propensity models on the shop's history and writes fresh scores to every profile, then scores
 * every profile with the ONNX models of journeys/models.ts, if any. Its clock is the workflow's,
 * so it is Temporal's time in tests too.
 */
export async function scoreTraining(): Promise<{ trained: TrainScoresResult; models: ScoreModelsResult }> {
  const now = new Date().toISOString();
  const trained = await trainScores.executeWithOptions({ summary: 'retrain churn and propensity, rescore every profile' }, [{ now }]);
  const models = await scoreModels.executeWithOptions({ summary: 'score every profile with the ONNX models of journeys/models.ts' }, [{ now }]);
  setCurrentDetails(
    [
      trained.status === 'trained'
        ? `Trained score models ${trained.version} (ROC-AUC churn ${trained.churnAuc?.toFixed(3) ?? '-'}, propensity ${trained.propensityAuc?.toFixed(3) ?? '-'}); ${trained.scored} profiles scored`
        : `Skipped training: ${trained.reason}`,
      models.models.length > 0 ? `${models.customers} profiles scored by ${models.models.map((m) => `${m.name} ${m.version}`).join(', ')}` : 'No ONNX model declared',
    ].join('\n'),
  );
  return { trained, models };
}
