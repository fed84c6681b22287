import type { Exposure } from '../store/types';
import type { ActivityDeps } from './index';

export type RecordExposureInput = Exposure;

/**
 * Keeps the arm a run got at a split step, for reports and the winner check. The first record
 * of a run's split wins, so a retried or replayed activity changes nothing.
 */
export function createRecordExposure(deps: Pick<ActivityDeps, 'store'>) {
  return async function recordExposure(input: RecordExposureInput): Promise<void> {
    await deps.store.recordExposure(input);
  };
}
