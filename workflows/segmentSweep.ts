import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities';

const { sweepSegments } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes' },
});

/**
 * Run by the `segment-sweep` Temporal Schedule: recomputes segments whose membership the
 * passing of time alone changes ("dormant 60 days", "3 views in the last 7 days"). The
 * sweep's clock is the workflow's, so it is Temporal's time in tests too.
 */
export async function segmentSweep(): Promise<{ customers: number; entered: number; left: number }> {
  const result = await sweepSegments.executeWithOptions({ summary: 'recompute time-based segments' }, [{ now: new Date().toISOString() }]);
  setCurrentDetails(`Swept ${result.customers} customers: ${result.entered} entered and ${result.left} left a segment`);
  return result;
}
