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

/**
 * Customers per page of the sweep unless told otherwise: one activity each. Temporal adds a
 * round trip per page (about 70 ms on a busy dev server), a page's work is about 0.1 s on
 * SQLite; a failed page goes on from its last heartbeat, so a bigger page costs no redo.
 */
export const SWEEP_PAGE_SIZE = 1000;
/**
 * Customers of a page recomputed at once. The store is the limit: SQLite answers in-process
 * and one at a time whatever this says, PostgreSQL (10 connections a process, three queries
 * a customer) gains from a few in flight; a change's ingest waits for Temporal meanwhile.
 */
export const SWEEP_IN_FLIGHT = 4;

/** How far a page got: customers done in id order through `last`, and the changes they had. */
export interface SweepProgress extends SweepResult {
  last: string;
}

export interface SweepPage {
  /** The last customer id of the page before; from the first customer when absent. */
  after?: string;
  /** At most this many customers. */
  limit: number;
  /** What an earlier attempt at this same page reported done (its last heartbeat): the page goes on after it. */
  resume?: SweepProgress;
  /**
   * Told after every group of customers, in id order, also when one failed (then it is the
   * last done before it): the activity heartbeats it. It may throw, to stop the page.
   */
  progress?: (done: SweepProgress) => void;
}

/** One page's changes; `next` is the cursor of the page after it, absent when this was the last. */
export interface SweepPageResult extends SweepResult {
  next?: string;
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

  /**
   * Recomputes every customer as of `now`, for memberships that time alone changed (event
   * windows, RFM), page by page in this process. The segment-sweep workflow runs the same
   * pages, one activity each (`sweepPage`).
   */
  async sweep(now: string, emit: EmitSegmentEvent, pageSize = SWEEP_PAGE_SIZE): Promise<SweepResult> {
    const result: SweepResult = { customers: 0, entered: 0, left: 0 };
    let after: string | undefined;
    do {
      const page = await this.sweepPage(now, emit, { after, limit: pageSize });
      addTo(result, page);
      after = page.next;
    } while (after !== undefined);
    return result;
  }

  /**
   * Recomputes one page of customers as of `now`, `SWEEP_IN_FLIGHT` at a time, and tells
   * `progress` after each group. Resumed from an earlier attempt's progress, it recomputes
   * only the customers after it; the counts then include what that attempt reported. A
   * customer the failed attempt finished after its last report is recomputed again and finds
   * its change already made: memberships and events stay exact, the counts may miss it.
   */
  async sweepPage(now: string, emit: EmitSegmentEvent, page: SweepPage): Promise<SweepPageResult> {
    if (!this.hasTimeBasedSegments) return { customers: 0, entered: 0, left: 0 };
    const done: SweepResult & { last?: string } = { customers: 0, entered: 0, left: 0, ...page.resume };
    // The rest of the page, from the store's own order: no id is compared here.
    const wanted = page.limit - done.customers;
    const ids = wanted > 0 ? await this.store.customerIdsAfter(done.last ?? page.after, wanted) : [];
    const full = ids.length === wanted;
    for (let i = 0; i < ids.length; i += SWEEP_IN_FLIGHT) {
      const group = ids.slice(i, i + SWEEP_IN_FLIGHT);
      // Settled, not raced: a failure returns only once its neighbours are done, so nothing
      // of this attempt still runs when the retry starts.
      const outcomes = await Promise.allSettled(group.map((customerId) => this.recompute(customerId, now, emit)));
      for (const [k, outcome] of outcomes.entries()) {
        if (outcome.status === 'rejected') break;
        addTo(done, { customers: 1, entered: outcome.value.entered.length, left: outcome.value.left.length });
        done.last = group[k];
      }
      if (done.last !== undefined) page.progress?.({ customers: done.customers, entered: done.entered, left: done.left, last: done.last });
      const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failure) throw failure.reason;
      // A page on SQLite is synchronous work between store calls: let timers, heartbeats and
      // the HTTP API of the same process in between groups.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const next = full ? (ids[ids.length - 1] ?? done.last) : undefined;
    return { customers: done.customers, entered: done.entered, left: done.left, ...(next !== undefined && { next }) };
  }

  /** The customer's segments with their names and entry times. */
  async segmentsOf(customerId: string): Promise<CustomerSegment[]> {
    const names = new Map(this.segments.map((s) => [s.id, s.name]));
    return (await this.store.segmentsOf(customerId)).map((m) => ({ ...m, name: names.get(m.segmentId) ?? '(no longer defined)' }));
  }
}

function addTo(total: SweepResult, more: SweepResult): void {
  total.customers += more.customers;
  total.entered += more.entered;
  total.left += more.left;
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
