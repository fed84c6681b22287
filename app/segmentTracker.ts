import type { CustomerEventInput } from '../domain/customer/types';
import { computeRfm } from '../domain/rules/rfm';
import { isTimeBased, membershipChanges, SEGMENT_ENTERED, SEGMENT_LEFT, type SegmentDefinition } from '../domain/rules/segments';
import type { Store } from '../store/types';

export interface CustomerSegment {
  segmentId: string;
  name: string;
  enteredAt: string;
}

export interface SweepResult {
  customers: number;
  entered: number;
  left: number;
}

/** Hands a membership change on as a customer event (the client ingests it, so journeys can start or end on it). */
export type EmitSegmentEvent = (event: CustomerEventInput) => Promise<unknown>;

/**
 * Keeps the store's segment memberships in step with the customer's facts. The change
 * events are emitted before the new membership is written: a crash in between emits them
 * again on the next recomputation (at least once), and their deterministic ids plus the
 * journeys' workflow ids keep a repeat from starting anything twice.
 *
 * `now` is always the current time, never the time of the event that prompted the
 * recomputation: the result is stored as the customer's membership now, so computing it as
 * of a late event's past would end (and a sweep restart) journeys the present does not call for.
 */
export class SegmentTracker {
  /** Whether any segment can change by the passing of time alone, i.e. whether a sweep has work. */
  readonly hasTimeBasedSegments: boolean;

  constructor(
    private readonly store: Store,
    readonly segments: SegmentDefinition[],
  ) {
    this.hasTimeBasedSegments = segments.some(isTimeBased);
  }

  /** Recomputes one customer's segments as of `now` and emits `segment.entered` / `segment.left` for each change. */
  async recompute(customerId: string, now: string, emit: EmitSegmentEvent): Promise<{ entered: string[]; left: string[] }> {
    const at = new Date(now).toISOString();
    const { members, entered, left } = await this.changesOf(customerId, at);
    for (const segment of entered) await emit(changeEvent(customerId, segment, 'entered', at));
    for (const segment of left) await emit(changeEvent(customerId, segment, 'left', at));
    if (entered.length || left.length) await this.store.setSegments(customerId, members, at);
    return { entered, left };
  }

  /**
   * Brings one customer's stored membership to `now` without emitting change events, after
   * a history import: it neither starts nor ends a journey, and later changes are measured
   * from it and emitted as usual.
   */
  async recomputeSilently(customerId: string, now: string): Promise<void> {
    const at = new Date(now).toISOString();
    const { members, entered, left } = await this.changesOf(customerId, at);
    if (entered.length || left.length) await this.store.setSegments(customerId, members, at);
  }

  private async changesOf(customerId: string, at: string) {
    const [profile, events, previous] = await Promise.all([this.store.getProfile(customerId), this.store.eventsOf(customerId), this.store.segmentsOf(customerId)]);
    const facts = { now: at, profile, events, rfm: computeRfm(events, at) };
    return membershipChanges(
      this.segments,
      facts,
      previous.map((m) => m.segmentId),
    );
  }

  /** Recomputes every customer as of `now`, for memberships that time alone changed (event windows, RFM). */
  async sweep(now: string, emit: EmitSegmentEvent): Promise<SweepResult> {
    const result: SweepResult = { customers: 0, entered: 0, left: 0 };
    if (!this.hasTimeBasedSegments) return result;
    for (const customerId of await this.store.customerIds()) {
      const changes = await this.recompute(customerId, now, emit);
      result.customers++;
      result.entered += changes.entered.length;
      result.left += changes.left.length;
    }
    return result;
  }

  /** The customer's segments with their names and entry times. */
  async segmentsOf(customerId: string): Promise<CustomerSegment[]> {
    const names = new Map(this.segments.map((s) => [s.id, s.name]));
    return (await this.store.segmentsOf(customerId)).map((m) => ({ ...m, name: names.get(m.segmentId) ?? '(no longer defined)' }));
  }
}

/** The id is deterministic, so the same change found twice is recorded once. */
function changeEvent(customerId: string, segment: string, change: 'entered' | 'left', at: string): CustomerEventInput {
  return {
    id: `segment:${customerId}:${segment}:${change}:${at}`,
    type: change === 'entered' ? SEGMENT_ENTERED : SEGMENT_LEFT,
    customerId,
    occurredAt: at,
    properties: { segment },
  };
}
