import { ApplicationFailure, Context } from '@temporalio/activity';
import { shippedModels } from '../journeys/models';
import type { ActivityDeps } from './index';

export interface ScoreModelsInput {
  /** The scoring's instant (the workflow's time): features as of it. */
  now: string;
}

export interface ScoreModelsResult {
  customers: number;
  models: { name: string; version: string }[];
}

/**
 * Scores every customer with the ONNX models of journeys/models.ts (the `score-training`
 * Schedule's second part, after the trained models). onnxruntime-node is loaded only when a model
 * is declared, so a worker of a shop without one never carries the runtime. A model that cannot
 * score (a missing file, a feature the table lacks) fails without retries: only an edit fixes it.
 */
export function createScoreModels(deps: Pick<ActivityDeps, 'store'>) {
  return async function scoreModelsActivity({ now }: ScoreModelsInput): Promise<ScoreModelsResult> {
    if (shippedModels.length === 0) return { customers: 0, models: [] };
    const { ModelError, scoreWithModels } = await import('../app/scores/onnxModels.js');
    const context = Context.current();
    try {
      const result = await scoreWithModels({ store: deps.store, asOf: new Date(now), progress: (customers) => context.heartbeat(customers) });
      return { customers: result.customers, models: result.models.map(({ name, version }) => ({ name, version })) };
    } catch (err) {
      if (err instanceof ModelError) throw ApplicationFailure.nonRetryable(err.message, 'ModelError');
      throw err;
    }
  };
}
