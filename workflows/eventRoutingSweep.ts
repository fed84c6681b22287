import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities';

const { routePendingEvents } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 minutes',
  // Temporal being unreachable for the client is what left these events unrouted: keep trying.
  retry: { initialInterval: '10 seconds', maximumInterval: '2 minutes' },
});

/**
 * Run by the `event-routing-sweep` Temporal Schedule: routes the events that were recorded
 * but whose routing failed (Temporal unreachable at the time), so an accepted event is never
 * lost. The sweep's clock is the workflow's, so it is Temporal's time in tests too.
 */
export async function eventRoutingSweep(): Promise<{ routed: number }> {
  const result = await routePendingEvents.executeWithOptions({ summary: 'route events recorded but never routed' }, [{ now: new Date().toISOString() }]);
  setCurrentDetails(`Routed ${result.routed} events whose routing had failed`);
  return result;
}
