import { Context } from '@temporalio/activity';
import { currentScores } from '../app/scores/modelStore';
import { NotTrainableError, trainScores } from '../app/scores/train';
import type { ActivityDeps } from './index';

export interface TrainScoresInput {
  /** The training's instant (the workflow's time): scores as of it, no outcome after it. */
  now: string;
}

export type TrainScoresResult =
  | { status: 'trained'; version: string; scored: number; churnAuc?: number; propensityAuc?: number; seconds: number }
  /** The history cannot train a model yet (a new shop, too short): the models and scores stay as they were. */
  | { status: 'skipped'; reason: string };

/**
 * Retrains churn and propensity on the store's history and rescores every profile (the
 * `score-training` Schedule's work). The label windows are the current models' (those an operator
 * last trained with), the defaults before the first training. It heartbeats at each phase; a
 * retry trains again from the start, writing the same version for the same `now`.
 */
export function createTrainScores(deps: Pick<ActivityDeps, 'store'>) {
  return async function trainScoresActivity({ now }: TrainScoresInput): Promise<TrainScoresResult> {
    const context = Context.current();
    const current = await currentScores(deps.store).catch(() => undefined);
    try {
      const trained = await trainScores(deps.store, {
        now: new Date(now),
        churnDays: current?.models.churn.labelDays,
        propensityDays: current?.models.propensity.labelDays,
        progress: (phase) => context.heartbeat(phase),
      });
      const { churn, propensity } = trained.models;
      return { status: 'trained', version: trained.version, scored: trained.scored, churnAuc: churn.validation.test.auc, propensityAuc: propensity.validation.test.auc, seconds: trained.seconds };
    } catch (err) {
      if (err instanceof NotTrainableError) return { status: 'skipped', reason: err.message };
      throw err;
    }
  };
}
