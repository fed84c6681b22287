import type { CustomerEventInput } from '../domain/customer/types';
import { computeRfm } from '../domain/rules/rfm';
import { isTimeBased, membershipChanges, SEGMENT_ENTERED, SEGMENT_LEFT, type SegmentDefinition } from '../domain/rules/segments';
import { countRange } from '../domain/rules/evaluate';
import type { EventPredicate, Rule } from '../domain/rules/types';
import { parseDuration } from '../domain/time/duration';
import type { SegmentEventsRead, SegmentInputs, SegmentsDirty, Store } from '../store/types';

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
 * What segment rules read of a customer's history, derived once from the definitions: every
 * event (a rule reads `events` as an attribute), or per event type the widest window whose
 * events a rule counts (Infinity: all time), and the types whose latest event suffices.
 */
export type SegmentEventReads = { all: true } | { all: false; windows: ReadonlyMap<string, number>; latest: ReadonlySet<string> };

/** The purchases RFM scores count (computeRfm's default, as the tracker calls it). */
const RFM_PURCHASE_TYPE = 'order.completed';
/** Frequency and monetary value count the purchases of 90 days; recency needs only the latest. */
const RFM_WINDOW_MS = 90 * 86_400_000;

/**
 * Whether an event predicate only asks if a matching event exists: no `where`, and a count
 * that gives the same answer for every n ≥ 1 (at least one, or none). The latest event of
 * its type up to now answers it for any window: it is in the window exactly when some is.
 */
function asksExistence({ where, count }: EventPredicate['event']): boolean {
  if (where) return false;
  const [min, max] = countRange(count);
  return (min <= 1 && max === Infinity) || max === 0;
}

export function segmentEventReads(segments: SegmentDefinition[]): SegmentEventReads {
  const windows = new Map<string, number>();
  const latest = new Set<string>();
  let all = false;
  const reads = (type: string, windowMs: number) => windows.set(type, Math.max(windows.get(type) ?? 0, windowMs));
  const visit = (rule: Rule): void => {
    if ('all' in rule) rule.all.forEach(visit);
    else if ('any' in rule) rule.any.forEach(visit);
    else if ('not' in rule) visit(rule.not);
    else if ('event' in rule) {
      if (asksExistence(rule.event)) latest.add(rule.event.type);
      else reads(rule.event.type, rule.event.within ? parseDuration(rule.event.within) : Infinity);
    } else if ('attr' in rule) {
      if (rule.attr === 'rfm' || rule.attr.startsWith('rfm.')) {
        reads(RFM_PURCHASE_TYPE, RFM_WINDOW_MS);
        latest.add(RFM_PURCHASE_TYPE);
      }
      if (rule.attr === 'events' || rule.attr.startsWith('events.')) all = true;
    }
  };
  segments.forEach((segment) => visit(segment.rule));
  if (all) return { all };
  // A type read over all time has its latest event in that read already.
  for (const [type, windowMs] of windows) if (windowMs === Infinity) latest.delete(type);
  return { all, windows, latest };
}

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
  /** What the rules read of a customer's events: only those types, in that window, are ever loaded. */
  readonly eventReads: SegmentEventReads;

  constructor(
    private readonly store: Store,
    readonly segments: SegmentDefinition[],
  ) {
    this.hasTimeBasedSegments = segments.some(isTimeBased);
    this.eventReads = segmentEventReads(segments);
  }

  /**
   * Whether an event of this type can change a membership: a rule reads its type. Segment
   * events themselves never do, which keeps a change from feeding itself.
   */
  readsEventType(type: string): boolean {
    if (type === SEGMENT_ENTERED || type === SEGMENT_LEFT) return false;
    const reads = this.eventReads;
    return reads.all || reads.windows.has(type) || reads.latest.has(type);
  }

  /** The events a recomputation as of `at` loads. */
  eventsRead(at: string): SegmentEventsRead {
    const reads = this.eventReads;
    if (reads.all) return 'all';
    const atMs = Date.parse(at);
    return {
      windows: [...reads.windows].map(([type, windowMs]) => (Number.isFinite(windowMs) ? { type, since: new Date(atMs - windowMs).toISOString() } : { type })),
      latest: [...reads.latest],
      until: at,
    };
  }

  /** Recomputes one customer's segments as of `now` and emits `segment.entered` / `segment.left` for each change. */
  async recompute(customerId: string, now: string, emit: EmitSegmentEvent): Promise<{ entered: string[]; left: string[] }> {
    const at = new Date(now).toISOString();
    return this.apply(await this.inputsOf(customerId, at), at, emit);
  }

  /**
   * Recomputes the customers whose segments are marked dirty (those of `customerIds` that
   * are, or at most `limit` of any) as of `now`, from one read of their inputs and marks, and
   * clears the marks it read: a customer marked again meanwhile stays marked. Emits the
   * changes as `recompute` does. A customer that fails keeps its mark; the others' are
   * cleared, then the first failure is thrown. Returns how many customers it looked at.
   */
  async recomputeDirty(query: { customerIds: string[] } | { limit: number }, now: string, emit: EmitSegmentEvent): Promise<number> {
    const customerIds = 'customerIds' in query ? query.customerIds : (await this.store.dirtySegments(query)).map((m) => m.customerId);
    if (customerIds.length === 0) return 0;
    const at = new Date(now).toISOString();
    // A customer no longer marked was recomputed meanwhile (by another process, or the sweep).
    const marked = (await this.store.segmentInputs(customerIds, this.eventsRead(at))).filter((customer) => customer.dirtyMark !== undefined);
    const done: SegmentsDirty[] = [];
    let failure: { reason: unknown } | undefined;
    for (let i = 0; i < marked.length; i += SWEEP_IN_FLIGHT) {
      const group = marked.slice(i, i + SWEEP_IN_FLIGHT);
      const outcomes = await Promise.allSettled(group.map((customer) => this.apply(customer, at, emit)));
      outcomes.forEach((outcome, k) => {
        if (outcome.status === 'fulfilled') done.push({ customerId: group[k].customerId, mark: group[k].dirtyMark! });
        else failure ??= { reason: outcome.reason };
      });
    }
    await this.store.clearDirtySegments(done);
    if (failure) throw failure.reason;
    return customerIds.length;
  }

  /**
   * Brings one customer's stored membership to `now` without emitting change events, after
   * a history import: it neither starts nor ends a journey, and later changes are measured
   * from it and emitted as usual.
   */
  async recomputeSilently(customerId: string, now: string): Promise<void> {
    const at = new Date(now).toISOString();
    const { members, entered, left } = this.changesOf(await this.inputsOf(customerId, at), at);
    if (entered.length || left.length) await this.store.setSegments(customerId, members, at);
  }

  /** One customer's inputs, three reads: profile, the events the rules read (not the whole history), memberships. */
  private async inputsOf(customerId: string, at: string): Promise<SegmentInputs> {
    const [profile, events, memberships] = await Promise.all([this.store.getProfile(customerId), this.store.segmentEvents(customerId, this.eventsRead(at)), this.store.segmentsOf(customerId)]);
    return { customerId, ...(profile && { profile }), events, memberships };
  }

  private async apply(inputs: SegmentInputs, at: string, emit: EmitSegmentEvent): Promise<{ entered: string[]; left: string[] }> {
    const { customerId } = inputs;
    const { members, entered, left } = this.changesOf(inputs, at);
    for (const segment of entered) await emit(changeEvent(customerId, segment, 'entered', at));
    for (const segment of left) await emit(changeEvent(customerId, segment, 'left', at));
    if (entered.length || left.length) await this.store.setSegments(customerId, members, at);
    return { entered, left };
  }

  private changesOf({ profile, events, memberships }: SegmentInputs, at: string) {
    const facts = { now: at, profile, events, rfm: computeRfm(events, at) };
    return membershipChanges(
      this.segments,
      facts,
      memberships.map((m) => m.segmentId),
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

/** After the first mark, how long the loop waits to recompute, gathering more into the batch. */
export const RECOMPUTE_AFTER_MS = 100;
/**
 * Customers per batch: one read of their inputs and marks, one write clearing the marks. As
 * many marked at once recompute at once. On SQLite a batch's read holds the thread (about
 * 20 µs a customer), so a batch stays around a millisecond: requests wait little behind it.
 */
export const RECOMPUTE_BATCH = 50;
/** The longest wait before a failed batch is tried again (the waits double from RECOMPUTE_AFTER_MS). */
const RETRY_MAX_MS = 30_000;

export type DirtyQuery = { customerIds: string[] } | { limit: number };

/**
 * Recomputes segments off the request path: an ingest marks the customer dirty in the store
 * (in the transaction that records the event) and tells this loop, which recomputes the
 * customers it was told of RECOMPUTE_AFTER_MS later, or at once when RECOMPUTE_BATCH of them
 * wait, a batch at a time. One recomputation runs at a time in a process, so a customer is
 * never recomputed twice at once here. Started, it first recomputes the marks an earlier
 * process left (stopped or crashed before it got to them); a failed batch keeps its marks and
 * is tried again later. Marks survive any crash: the next start, or the segment sweep, takes them.
 */
export class DirtySegmentsLoop {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** A drain of `pending` is queued and has not begun: another would find nothing more. */
  private queued = false;
  private started = false;
  private failures = 0;

  constructor(
    /** Recomputes the marked customers the query finds; returns how many customers it looked at. */
    private readonly recompute: (query: DirtyQuery) => Promise<number>,
    private readonly options: { afterMs: number; batch: number } = { afterMs: RECOMPUTE_AFTER_MS, batch: RECOMPUTE_BATCH },
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    // What an earlier process left marked; a failure leaves it to the sweep.
    this.run(() => this.drainMarked(Infinity)).catch(() => this.retryLater());
    if (this.pending.size > 0) this.schedule(0);
  }

  /** The customer's segments were marked dirty in the store. */
  marked(customerId: string): void {
    this.pending.add(customerId);
    if (this.started) this.schedule(this.pending.size >= this.options.batch ? 0 : this.options.afterMs);
  }

  /** Recomputes every customer this process marked, and those of at most `limit` other marks in the store (none by default). */
  settle(limit = 0): Promise<void> {
    return this.run(async () => {
      await this.drainPending(true);
      if (limit > 0) await this.drainMarked(limit);
    });
  }

  /**
   * Runs `work` when no recomputation runs, after recomputing those of `customerIds` that are
   * marked (whoever marked them): work that changes their memberships silently (a history
   * import) then never swallows a change an earlier event made.
   */
  afterSettling<T>(customerIds: string[], work: () => Promise<T>): Promise<T> {
    return this.run(async () => {
      for (const id of customerIds) this.pending.delete(id);
      for (let i = 0; i < customerIds.length; i += this.options.batch) {
        const batch = customerIds.slice(i, i + this.options.batch);
        try {
          await this.recompute({ customerIds: batch });
        } catch (err) {
          for (const id of customerIds.slice(i)) this.pending.add(id);
          throw err;
        }
      }
      return work();
    });
  }

  /** Stops the timers after recomputing what this process marked; what fails keeps its mark in the store. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.settle().catch(() => undefined);
  }

  /** Runs `work` after whatever recomputation runs or waits: one at a time. */
  private run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** A drain of `pending` in `ms` (at once for 0), unless one is due sooner; nothing for undefined. */
  private schedule(ms: number | undefined): void {
    if (ms === undefined || !this.started) return;
    if (this.timer) {
      if (ms > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.queued) return;
      this.queued = true;
      this.run(() => {
        this.queued = false;
        return this.drainPending(false);
      }).then(
        () => {
          this.failures = 0;
          // What arrived meanwhile and is not a full batch yet: due in its turn.
          if (this.pending.size > 0) this.schedule(this.pending.size >= this.options.batch ? 0 : this.options.afterMs);
        },
        () => this.retryLater(),
      );
    }, ms);
    // Never what keeps a process alive: the marks are in the store.
    this.timer.unref();
  }

  private retryLater(): void {
    this.failures++;
    this.schedule(Math.min(RETRY_MAX_MS, this.options.afterMs * 2 ** this.failures));
  }

  /** Recomputes `pending` a batch at a time: all of it, or (the timer's) the batch due and then only full ones, so marks arriving meanwhile gather into full batches. */
  private async drainPending(all: boolean): Promise<void> {
    for (let first = true; this.pending.size > 0 && (all || first || this.pending.size >= this.options.batch); first = false) {
      const batch = [...this.pending].slice(0, this.options.batch);
      for (const id of batch) this.pending.delete(id);
      try {
        await this.recompute({ customerIds: batch });
      } catch (err) {
        for (const id of batch) this.pending.add(id);
        throw err;
      }
      // SQLite answers synchronously: let requests in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Recomputes marks in the store, whoever made them, batch by batch, until none is left or `limit` were found. */
  private async drainMarked(limit: number): Promise<void> {
    for (let found = 0; found < limit; ) {
      const batch = Math.min(this.options.batch, limit - found);
      const n = await this.recompute({ limit: batch });
      found += n;
      if (n < batch) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
