// History: past events recorded for what they tell about a customer (RFM, recommendations,
// segments), never as news. `journeys events import` and `POST /v1/events:batch?mode=history`.
import { z } from 'zod';
import { eventSchema } from '../domain/customer/schema';
import type { RecordedEvent, Store } from '../store/types';
import type { SegmentTracker } from './segmentTracker';

/** A past event: when it happened is what history is about, so occurredAt is required. */
export const historyEventSchema = eventSchema.extend({
  occurredAt: z.iso.datetime({
    offset: true,
    error: (issue) => (issue.input === undefined ? 'history needs the time each event occurred, ISO-8601 with offset' : undefined),
  }),
});
export type HistoryEvent = z.infer<typeof historyEventSchema>;

/**
 * Records past events as already routed, so no journey and no routing sweep ever takes
 * them up, then brings their customers' segments to `now` silently: no segment.entered or
 * segment.left, so history neither starts nor ends a journey. Later changes are measured
 * from there and start and end journeys as usual.
 */
export async function recordHistory(store: Store, segments: SegmentTracker, events: HistoryEvent[], now: string): Promise<RecordedEvent[]> {
  const recorded = await store.recordHistory(events);
  const customers = new Set(events.filter((_, index) => recorded[index].firstSeen).map((event) => event.customerId));
  for (const customerId of customers) await segments.recomputeSilently(customerId, now);
  return recorded;
}
