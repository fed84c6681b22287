import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { consentChangeSchema, customerId as customerIdSchema, eventSchema, profileSchema } from '../domain/customer/schema';
import { MARKETING_TOPIC, withdrawalReaches } from '../domain/customer/topics';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { withoutForeignLinks, type DroppedValue } from '../domain/delivery/linkHosts';
import type { SendPolicy } from '../domain/delivery/sendPolicy';
import { parseSegments, type SegmentDefinitionInput } from '../domain/rules/segments';
import type { Catalogue } from '../journeys';
import { noMetrics, type IngestOutcome, type MetricsRecorder } from '../observability/recorder';
import { shippedSegments } from '../journeys/segments';
import { epochMs, eventDifferences } from '../store/eventIdentity';
import type { RecordedEvent, RecordOptions, SendRecord, Store } from '../store/types';
import { consentChangedSignal, stateQuery } from '../workflows/messages';
import { JOURNEY_ID, JOURNEY_STATUS, JOURNEY_STEP } from '../workflows/searchAttributes';
import { auditOf, erase, suppress, type AuditEntry } from './customerRecords';
import { EventIdConflictError, parseInput, ValidationError } from './errors';
import { historyEventSchema, recordHistory } from './history';
import { EventRouter, workflowIdOf, type IngestResult } from './routing';
import { DirtySegmentsLoop, SegmentTracker, type CustomerSegment, type EmitSegmentEvent, type SweepPage, type SweepPageResult, type SweepResult } from './segmentTracker';
import { listSends, resolveSend, type SendResolution } from './sends';
import { Semaphore } from './semaphore';
import { afterRecorded } from './conversions';

export type { IgnoredStart, IgnoreReason, IngestResult } from './routing';

export interface JourneyClientOptions {
  temporal: Client;
  store: Store;
  catalogue: Catalogue;
  taskQueue: string;
  /** Divides every wait, for demos only (see README). */
  waitScale?: number;
  /** How many workflow starts and signals may be in flight at once. */
  maxStartsInFlight?: number;
  /** Whether a customer may be mailed on a topic: no journey starts that could only end opted out. */
  policy: SendPolicy;
  now?: () => Date;
  /** Where ingested events and started runs are counted (the process's registry); nothing is counted when absent. */
  metrics?: MetricsRecorder;
  /** The segments kept for every customer: the shipped ones when absent. */
  segments?: SegmentDefinitionInput[];
  /**
   * LINK_HOSTS: the hosts (each with its subdomains) that links in event properties and
   * profile attributes may point to; every other link is dropped before it is recorded.
   */
  linkHosts: readonly string[];
  /** GLOBAL_CONTROL_PERCENT: the share of customers held out of every marketing journey; 0 when absent. */
  globalControlPercent?: number;
}

/** The answer for an event whose id was recorded before with another payload: nothing was recorded or routed. */
export interface EventIdConflict {
  eventId: string;
  error: 'event_id_conflict';
  message: string;
}

/** live: each event is ingested in order, as `ingest` does; history: recorded for facts only, nothing started or signalled. */
export const batchModeSchema = z.enum(['live', 'history']);
export type BatchMode = z.infer<typeof batchModeSchema>;

export interface BatchResult {
  mode: BatchMode;
  /** One per event, in the order given. */
  results: (IngestResult | EventIdConflict)[];
}

export interface JourneyRunSummary {
  workflowId: string;
  journeyId: string;
  status: string;
  currentStep?: string;
  nextWakeAt?: string;
  startedAt?: string;
  closedAt?: string;
}

/** A segment change made after the ingest that caused it: whose, and what its event started, signalled or left unstarted. */
export interface SegmentChange {
  customerId: string;
  result: IngestResult;
}

/** The routing sweep leaves younger events alone, so it never races an ingest still routing the event it recorded. */
const ROUTING_GRACE_MS = 60_000;
const ROUTING_PAGE = 200;
/** Segment changes `settle` keeps for its caller: the latest ones, should nobody ask. */
const UNREPORTED_CHANGES = 1000;

/** The one way into journeys: events, profiles, consent and status, for the HTTP API, the CLI and libraries. */
export class JourneyClient {
  private readonly now: () => Date;
  private readonly segments: SegmentTracker;
  private readonly router: EventRouter;
  private readonly metrics: MetricsRecorder;
  /** Recomputes the segments of customers marked dirty, off the request path. */
  private readonly segmentUpdates: DirtySegmentsLoop;
  private readonly unreported: SegmentChange[] = [];

  constructor(private readonly options: JourneyClientOptions) {
    this.now = options.now ?? (() => new Date());
    this.metrics = options.metrics ?? noMetrics;
    this.segments = new SegmentTracker(options.store, parseSegments(options.segments ?? shippedSegments));
    this.router = new EventRouter({ ...options, waitScale: options.waitScale ?? 1, inFlight: new Semaphore(options.maxStartsInFlight ?? 50), now: this.now, metrics: this.metrics });
    this.segmentUpdates = new DirtySegmentsLoop((query) => this.segments.recomputeDirty(query, this.now().toISOString(), this.emitSegmentChange));
  }

  /**
   * Starts recomputing, in the background, the segments of the customers whose events and
   * profiles this client records (see `settle`), beginning with any an earlier process left
   * marked. The composition starts it; without it, marks wait for `settle` or the segment sweep.
   */
  startSegmentUpdates(): void {
    this.segmentUpdates.start();
  }

  /** Recomputes what this client has marked, then stops the background recomputation. */
  stopSegmentUpdates(): Promise<void> {
    return this.segmentUpdates.stop();
  }

  /**
   * Segments change after the ingest that changes them returns: the event is recorded with
   * its customer marked dirty, and the customer's segments are recomputed shortly after, in
   * the background (about 100 ms). This waits until every customer this client has marked so
   * far is recomputed and the segment.entered / segment.left events of the changes ingested,
   * and returns the changes made since the last call (at most the latest 1,000), each with
   * what its event started, signalled or left unstarted.
   */
  async settle(): Promise<SegmentChange[]> {
    await this.segmentUpdates.settle();
    return this.unreported.splice(0);
  }

  /** Ingests a segment change found by the background recomputation, keeping its answer for `settle`. */
  private readonly emitSegmentChange: EmitSegmentEvent = async (event) => {
    const result = await this.ingest(event);
    this.unreported.push({ customerId: event.customerId, result });
    if (this.unreported.length > UNREPORTED_CHANGES) this.unreported.splice(0, this.unreported.length - UNREPORTED_CHANGES);
  };

  /** Records the event, then starts and signals the journeys it concerns; counted by type and outcome. */
  async ingest(input: unknown): Promise<IngestResult> {
    try {
      const result = await this.ingestOnce(input);
      this.metrics.eventIngested(eventTypeOf(input), ingestOutcomeOf(result));
      return result;
    } catch (err) {
      const outcome = err instanceof ValidationError ? 'invalid' : err instanceof EventIdConflictError ? 'conflict' : undefined;
      if (outcome) this.metrics.eventIngested(eventTypeOf(input), outcome);
      throw err;
    }
  }

  private async ingestOnce(input: unknown): Promise<IngestResult> {
    const sent = parseInput(eventSchema, input, 'event');
    const { event: parsed, dropped } = this.withoutForeignLinks(sent);
    const now = this.now();
    const event: CustomerEvent = { ...parsed, occurredAt: parsed.occurredAt ?? now.toISOString() };
    const entries = this.router.entriesOf(event);
    const problems = entries.flatMap((entry) => entry.problem ?? []);
    if (problems.length > 0) throw new ValidationError('event', problems);

    // One write for an event no journey can take: recorded routed already, its customer marked
    // for segment recomputation (when a segment rule reads its type) in the same transaction.
    const segmentsDirty = this.segments.readsEventType(event.type);
    const options: RecordOptions = { occurredAtGiven: parsed.occurredAt !== undefined, routed: !this.router.concerns(event, entries), segmentsDirty };
    const recorded = await this.sameAsSent(await this.options.store.recordEvent(event, options), { ...event, properties: sent.properties }, dropped, options);
    if (recorded.differsIn) throw new EventIdConflictError(event.id, recorded.differsIn);
    if (recorded.firstSeen && segmentsDirty) this.segmentUpdates.marked(event.customerId);
    await this.noteDropped(event, dropped, now);
    // A redelivered event too: its conversions are kept once, and one its first delivery missed (a crash) is kept now.
    await afterRecorded(this.options.store, this.options.catalogue, event, now);
    const result: IngestResult = { eventId: event.id, duplicate: !recorded.firstSeen, started: [], signalled: [], ...(dropped.length > 0 && { dropped }) };
    if (recorded.routed) return result;
    try {
      await this.route(event, now, result);
    } catch {
      // The event is recorded, so it is ours to deliver: the event-routing sweep routes it
      // again, and what got through here is not repeated (workflow ids, event ids).
      result.routingPending = true;
    }
    return result;
  }

  /**
   * Ingests a batch. Every event is validated before any is recorded, so a bad one leaves no
   * half-ingested batch. `live` ingests each in order as `ingest` does; `history` records
   * them as past facts (RFM, recommendations, segments) without starting or signalling any
   * journey, and brings the customers' segments to now without segment events.
   */
  async ingestBatch(input: unknown, mode: BatchMode = 'live'): Promise<BatchResult> {
    // Live events are counted one by one, as `ingest` counts them; history here.
    const sent = (input as { events?: unknown } | null)?.events;
    const typeAt = (index: number) => (Array.isArray(sent) ? eventTypeOf(sent[index]) : 'invalid');
    try {
      const batch = await this.ingestBatchOnce(input, mode);
      if (mode === 'history') batch.results.forEach((result, index) => this.metrics.eventIngested(typeAt(index), 'error' in result ? 'conflict' : result.duplicate ? 'duplicate' : 'history'));
      return batch;
    } catch (err) {
      // A batch is refused whole: each of its events is.
      if (err instanceof ValidationError && err.what === 'batch' && Array.isArray(sent)) sent.forEach((_, index) => this.metrics.eventIngested(typeAt(index), 'invalid'));
      throw err;
    }
  }

  private async ingestBatchOnce(input: unknown, mode: BatchMode): Promise<BatchResult> {
    if (mode === 'history') {
      const { events: sent } = parseInput(z.object({ events: z.array(historyEventSchema).min(1) }), input, 'batch');
      const screened = sent.map((event) => this.withoutForeignLinks(event));
      const events = screened.map(({ event }) => event);
      const now = this.now();
      // Their memberships are brought to now silently: a change a live event made before, not
      // recomputed yet, is told first.
      const customers = [...new Set(events.map((event) => event.customerId))];
      const recorded = await this.segmentUpdates.afterSettling(customers, () => recordHistory(this.options.store, this.segments, events, now.toISOString()));
      const results: BatchResult['results'] = [];
      for (const [index, event] of events.entries()) {
        const { dropped } = screened[index];
        const answer = await this.sameAsSent(recorded[index], sent[index], dropped, {});
        if (!answer.differsIn) await this.noteDropped(event, dropped, now);
        results.push(historyResult(event.id, answer, dropped));
      }
      return { mode, results };
    }
    const { events } = parseInput(z.object({ events: z.array(eventSchema).min(1) }), input, 'batch');
    const problems = events.map((sent) => this.withoutForeignLinks(sent).event).flatMap((event, index) =>
      this.router.entriesOf({ ...event, occurredAt: event.occurredAt ?? this.now().toISOString() }).flatMap(({ problem }) =>
        problem ? [{ path: `events.${index}.${problem.path}`, message: problem.message }] : [],
      ),
    );
    if (problems.length > 0) throw new ValidationError('batch', problems);
    const results: BatchResult['results'] = [];
    for (const event of events) {
      results.push(
        await this.ingest(event).catch((err: unknown) => {
          if (err instanceof EventIdConflictError) return conflictOf(err);
          throw err;
        }),
      );
    }
    return { mode, results };
  }

  /**
   * Routes the events recorded over a minute before `now` whose routing failed (Temporal was
   * unreachable), in the order they were recorded; run by the `event-routing-sweep` Schedule.
   * The first failure stops the sweep, to be retried, so no event overtakes an earlier one.
   */
  async routePendingEvents(now: Date | string = this.now()): Promise<{ routed: number }> {
    const recordedBefore = new Date(new Date(now).getTime() - ROUTING_GRACE_MS).toISOString();
    let routed = 0;
    for (let page = await this.options.store.unroutedEvents(recordedBefore, ROUTING_PAGE); page.length > 0; page = await this.options.store.unroutedEvents(recordedBefore, ROUTING_PAGE)) {
      for (const { event, recordedAt } of page) {
        await this.route(event, new Date(recordedAt), { eventId: event.id, duplicate: false, started: [], signalled: [] });
        routed++;
      }
    }
    return { routed };
  }

  /**
   * Merges the attributes into the stored profile. Links to hosts outside LINK_HOSTS are not
   * stored (an attribute sent with one keeps its stored value) and come back in `dropped`.
   */
  async upsertProfile(input: unknown): Promise<Profile & { dropped?: DroppedValue[] }> {
    const sent = parseInput(profileSchema, input, 'profile');
    const { kept, dropped } = withoutForeignLinks(sent.attributes, this.options.linkHosts, 'attributes');
    const profile: Profile = { ...sent, attributes: kept };
    // Segments that read the profile follow in the background, as after an event (see `settle`).
    await this.options.store.upsertProfiles([profile], { segmentsDirty: true });
    this.segmentUpdates.marked(profile.customerId);
    return dropped.length > 0 ? { ...profile, dropped } : profile;
  }

  /** The stored profile, for a source that updates a profile without repeating its email (a Segment identify). */
  profileOf(customerId: string): Promise<Profile | undefined> {
    return this.options.store.getProfile(customerId);
  }

  /**
   * Merges an anonymous visitor (`anon-…`, see domain/sources/segmentSpec.ts) into the customer
   * an identify names: the visitor's events become the customer's, as facts only (no journey
   * hears of them again), later events with only the visitor's id are the customer's, and the
   * customer's segments are recomputed with them. A repeated merge moves what arrived since.
   */
  async mergeCustomer(from: string, into: string, at: Date = this.now()): Promise<{ events: number }> {
    const merged = await this.options.store.mergeCustomer(from, into, at.toISOString());
    if (merged.events > 0) this.segmentUpdates.marked(into);
    return merged;
  }

  /** The customer an anonymous visitor was merged into; undefined while it is anonymous. */
  identifiedCustomerOf(anonymousCustomerId: string): Promise<string | undefined> {
    return this.options.store.mergedInto(anonymousCustomerId);
  }

  /** The event without the links LINK_HOSTS does not allow, anywhere in its properties, and what was dropped. */
  private withoutForeignLinks<E extends { properties: Record<string, unknown> }>(event: E): { event: E; dropped: DroppedValue[] } {
    const { kept, dropped } = withoutForeignLinks(event.properties, this.options.linkHosts, 'properties');
    return { event: { ...event, properties: kept }, dropped };
  }

  /**
   * A copy whose id was recorded with other properties is still the same event when the first
   * copy holds exactly what was sent: it was recorded before the link rule, or under a
   * LINK_HOSTS that allowed what is dropped now. Read-only: nothing is recorded here.
   */
  private async sameAsSent(recorded: RecordedEvent, sent: CustomerEvent, dropped: DroppedValue[], options: RecordOptions): Promise<RecordedEvent> {
    if (dropped.length === 0 || recorded.differsIn?.join() !== 'properties') return recorded;
    const first = await this.options.store.eventById(sent.id);
    if (!first) return recorded;
    const differences = eventDifferences({ ...first, occurredAtMs: epochMs(first.occurredAt, 'occurredAt') }, sent, options.occurredAtGiven ?? true);
    return differences.length === 0 ? { firstSeen: recorded.firstSeen, routed: recorded.routed } : recorded;
  }

  /** Keeps why each dropped value was dropped, for the customer's audit (a retry adds nothing). */
  private async noteDropped(event: { id: string; customerId: string }, dropped: DroppedValue[], now: Date): Promise<void> {
    if (dropped.length === 0) return;
    const at = now.toISOString();
    await this.options.store.recordEventNotes(dropped.map(({ path, reason }) => ({ eventId: event.id, customerId: event.customerId, path, reason, at })));
  }

  /** The segments the customer is in now, with the time they entered each. */
  async segmentsOf(customerId: unknown): Promise<CustomerSegment[]> {
    const { customerId: id } = parseInput(z.object({ customerId: customerIdSchema }), { customerId }, 'customer id');
    return this.segments.segmentsOf(id);
  }

  /**
   * Recomputes every customer's segments as of `now`, for memberships the passing of time
   * alone changed ("3 views in the last 7 days" once the first view is 7 days old), and
   * ingests a segment.entered / segment.left event for each change; page by page, in this
   * process. The `segment-sweep` Schedule runs the same pages as activities (`sweepSegmentPage`).
   */
  async sweepSegments(now: Date | string = this.now(), options: { pageSize?: number } = {}): Promise<SweepResult> {
    const at = typeof now === 'string' ? now : now.toISOString();
    // Customers left marked (by a process that stopped before recomputing them) first, at the current time.
    await this.segmentUpdates.settle(Infinity);
    return this.segments.sweep(at, (event) => this.ingest(event), options.pageSize);
  }

  /**
   * One page of the sweep as of `now` (the sweep's start, the same for all its pages, so a
   * change found twice has one event id): the customers after `page.after`, at most
   * `page.limit`. Its `next` is the cursor of the following page, absent after the last.
   */
  async sweepSegmentPage(now: string, page: SweepPage): Promise<SweepPageResult> {
    // Up to a page of customers left marked (by a process that stopped before recomputing them) first, at the current time.
    await this.segmentUpdates.settle(page.limit);
    return this.segments.sweepPage(new Date(now).toISOString(), (event) => this.ingest(event), page);
  }

  /**
   * Starts and signals the journeys of a recorded event, then marks it routed (its segments
   * were marked for recomputation when it was recorded). Its age is judged as of `acceptedAt`,
   * when it reached us: an event the routing sweep delivers late is as fresh as it was then.
   */
  private async route(event: CustomerEvent, acceptedAt: Date, result: IngestResult): Promise<void> {
    await this.router.route(event, acceptedAt, result);
    await this.options.store.markEventRouted(event.id);
  }

  /** Writes the consent ledger first, then tells the customer's running journeys on that topic. */
  async changeConsent(input: unknown): Promise<{ signalled: string[] }> {
    const change = parseInput(consentChangeSchema, input, 'consent change');
    await this.options.store.recordConsent({ ...change, at: this.now().toISOString() });
    const signalled: string[] = [];
    if (change.status === 'withdrawn') {
      // A withdrawal for topic `all` reaches every run; transactional journeys ignore it themselves.
      const runs = (await this.options.store.journeyRuns(change.customerId)).filter((run) => withdrawalReaches(change.topic, run.topic));
      await Promise.all(
        runs.map(async (run) => {
          if (await this.router.signal(run.workflowId, consentChangedSignal, { topic: change.topic, status: change.status })) {
            signalled.push(run.workflowId);
          }
        }),
      );
    }
    return { signalled };
  }

  /** The customer's journeys from Temporal visibility, with live step and wake-up from each running one's `state` query. */
  async runsOf(customerId: unknown): Promise<JourneyRunSummary[]> {
    const { customerId: id } = parseInput(z.object({ customerId: customerIdSchema }), { customerId }, 'customer id');
    const journeys: JourneyRunSummary[] = [];
    for await (const run of this.options.temporal.workflow.list({ query: `CustomerId = "${id}"` })) {
      const attrs = run.typedSearchAttributes;
      const journey: JourneyRunSummary = {
        workflowId: run.workflowId,
        journeyId: attrs.get(JOURNEY_ID) ?? run.type,
        status: run.status.name === 'RUNNING' ? 'running' : (attrs.get(JOURNEY_STATUS) ?? run.status.name.toLowerCase()),
        currentStep: attrs.get(JOURNEY_STEP),
        startedAt: run.startTime.toISOString(),
        closedAt: run.closeTime?.toISOString(),
      };
      if (run.status.name === 'RUNNING') {
        const state = await this.options.temporal.workflow.getHandle(run.workflowId, run.runId).query(stateQuery).catch(() => undefined);
        if (state) Object.assign(journey, { currentStep: state.currentStep, nextWakeAt: state.nextWakeAt });
      }
      journeys.push(journey);
    }
    return journeys;
  }

  /** Adds an address to the suppression list; a complaint also withdraws marketing consent. */
  async suppress(input: unknown) {
    const result = await suppress(this.options.store, input, (customerId, source) => this.changeConsent({ customerId, topic: MARKETING_TOPIC, status: 'withdrawn', source }), this.now());
    // Validated by now: one of the suppression reasons.
    this.metrics.suppressionAdded(String((input as { reason: unknown }).reason));
    return result;
  }

  /** Sends in one state (default: in doubt), oldest change first, for operators. */
  sends(query?: unknown): Promise<SendRecord[]> {
    return listSends(this.options.store, query);
  }

  /** Settles a send in doubt: the operator confirms delivery, or has the kept message sent once more. */
  resolveSend(input: unknown): Promise<SendResolution> {
    return resolveSend(this.options.store, this.options.temporal, this.options.taskQueue, input, this.now());
  }

  /** The journeys this client starts runs of: what reports and the dashboard describe. */
  get catalogue(): Catalogue {
    return this.options.catalogue;
  }

  /** GLOBAL_CONTROL_PERCENT: the share of customers held out of every marketing journey. */
  get globalControlPercent(): number {
    return this.options.globalControlPercent ?? 0;
  }

  /** The customer's story in time order: journeys, sends, skips with reasons, consent, suppression. */
  audit(customerId: unknown): Promise<AuditEntry[]> {
    return auditOf(this.options.store, customerId);
  }

  /** Terminates the customer's journeys, erases their data, keeps only a suppressed hash of their address. */
  erase(customerId: unknown) {
    return erase(this.options.store, this.options.temporal, customerId, this.now());
  }

  workflowIdOf(journeyId: string, customerId: string, entryKey?: string): string {
    return workflowIdOf(journeyId, customerId, entryKey);
  }
}

function historyResult(eventId: string, recorded: RecordedEvent, dropped: DroppedValue[]): IngestResult | EventIdConflict {
  if (recorded.differsIn) return conflictOf(new EventIdConflictError(eventId, recorded.differsIn));
  return { eventId, duplicate: !recorded.firstSeen, started: [], signalled: [], ...(dropped.length > 0 && { dropped }) };
}

function conflictOf(err: EventIdConflictError): EventIdConflict {
  return { eventId: err.eventId, error: 'event_id_conflict', message: err.message };
}

/** The event's type as a metric label: `invalid` unless it is a valid type name, so no free text becomes a label. */
function eventTypeOf(input: unknown): string {
  const type = (input as { type?: unknown } | null)?.type;
  return eventSchema.shape.type.safeParse(type).success ? (type as string) : 'invalid';
}

function ingestOutcomeOf(result: IngestResult): IngestOutcome {
  if (result.duplicate) return 'duplicate';
  if (result.routingPending) return 'routing_pending';
  if (result.started.length > 0) return 'started';
  if (result.signalled.length > 0) return 'signalled';
  if (result.ignored?.length) return 'ignored';
  return 'recorded';
}
