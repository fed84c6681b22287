import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { z } from 'zod';
import { consentChangeSchema, customerId as customerIdSchema, eventSchema, profileSchema, type ConsentStatus, type CustomerEvent, type Profile } from '../domain/customer';
import { parseDuration } from '../domain/duration';
import { eventMatches } from '../domain/journeyFlow';
import { GLOBAL_TOPIC } from '../domain/topics';
import { readPath } from '../domain/path';
import { parseSegments, SEGMENT_ENTERED, SEGMENT_LEFT, type SegmentDefinitionInput } from '../domain/segments';
import type { Catalogue, CatalogueJourney } from '../journeys';
import { shippedSegments } from '../journeys/segments';
import type { RecordedEvent, SendRecord, Store } from '../store/types';
import { consentChangedSignal, eventSignal, journeySummary, slimEvent, stateQuery, type JourneyInput } from '../workflows/messages';
import { CUSTOMER_ID, JOURNEY_ID, JOURNEY_STATUS, JOURNEY_STEP, JOURNEY_VERSION } from '../workflows/searchAttributes';
import { auditOf, forget, suppress, type AuditEntry } from './customerRecords';
import { EventIdConflictError, parseInput, ValidationError, type Problem } from './errors';
import { historyEventSchema, recordHistory } from './eventImport';
import { SegmentTracker, type CustomerSegment, type SweepResult } from './segmentTracker';
import { listSends, resolveSend, type SendResolution } from './sends';
import { Semaphore } from './semaphore';

export interface JourneyClientOptions {
  temporal: Client;
  store: Store;
  catalogue: Catalogue;
  taskQueue: string;
  /** Divides every wait, for demos only (see README). */
  waitScale?: number;
  /** How many workflow starts and signals may be in flight at once. */
  maxStartsInFlight?: number;
  consentDefault?: (topic: string) => ConsentStatus;
  now?: () => Date;
  /** The segments kept for every customer: the shipped ones when absent. */
  segments?: SegmentDefinitionInput[];
}

/** Why an event that matched a journey's trigger started nothing. */
export type IgnoreReason = 'too_old' | 'consent_withdrawn' | 'cooling_down' | 'entered_before' | 'no_entry_key';

export interface IgnoredStart {
  journeyId: string;
  reason: IgnoreReason;
  message: string;
}

export interface IngestResult {
  eventId: string;
  /** True when this event id was seen before; then nothing new happens. */
  duplicate: boolean;
  started: string[];
  signalled: string[];
  /** Journeys whose trigger the event matched but which it did not start, with why; absent when there are none. */
  ignored?: IgnoredStart[];
  /**
   * Present when the event is recorded but reaching Temporal failed: the event-routing sweep
   * routes it within minutes, so the sender need not send it again.
   */
  routingPending?: true;
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

export interface CustomerJourney {
  workflowId: string;
  journeyId: string;
  status: string;
  currentStep?: string;
  nextWakeAt?: string;
  startedAt?: string;
  closedAt?: string;
}

const ENTRY_KEY_VALUE = /^[A-Za-z0-9_.-]{1,128}$/;
const SEGMENT_EVENT_TYPES = new Set([SEGMENT_ENTERED, SEGMENT_LEFT]);
/** The routing sweep leaves younger events alone, so it never races an ingest still routing the event it recorded. */
const ROUTING_GRACE_MS = 60_000;
const ROUTING_PAGE = 200;

/** A journey an event's trigger matched, with the entry key it names, or why it names none. */
interface Entry {
  journey: CatalogueJourney;
  entryKey?: string;
  problem?: Problem;
}

/** The one way into journeys: events, profiles, consent and status, for the HTTP API, the CLI and libraries. */
export class JourneyClient {
  private readonly inFlight: Semaphore;
  private readonly now: () => Date;
  private readonly segments: SegmentTracker;
  /** Versions whose templates this client has recorded, so each is written once per process. */
  private readonly pinnedVersions = new Set<string>();

  constructor(private readonly options: JourneyClientOptions) {
    this.inFlight = new Semaphore(options.maxStartsInFlight ?? 50);
    this.now = options.now ?? (() => new Date());
    this.segments = new SegmentTracker(options.store, parseSegments(options.segments ?? shippedSegments));
  }

  async ingest(input: unknown): Promise<IngestResult> {
    const parsed = parseInput(eventSchema, input, 'event');
    const now = this.now();
    const event: CustomerEvent = { ...parsed, occurredAt: parsed.occurredAt ?? now.toISOString() };
    const problems = this.entriesOf(event).flatMap((entry) => entry.problem ?? []);
    if (problems.length > 0) throw new ValidationError('event', problems);

    const recorded = await this.options.store.recordEvent(event, { occurredAtGiven: parsed.occurredAt !== undefined });
    if (recorded.differsIn) throw new EventIdConflictError(event.id, recorded.differsIn);
    const result: IngestResult = { eventId: event.id, duplicate: !recorded.firstSeen, started: [], signalled: [] };
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
    if (mode === 'history') {
      const { events } = parseInput(z.object({ events: z.array(historyEventSchema).min(1) }), input, 'batch');
      const recorded = await recordHistory(this.options.store, this.segments, events, this.now().toISOString());
      return { mode, results: events.map((event, index) => historyResult(event.id, recorded[index])) };
    }
    const { events } = parseInput(z.object({ events: z.array(eventSchema).min(1) }), input, 'batch');
    const problems = events.flatMap((event, index) =>
      this.entriesOf({ ...event, occurredAt: event.occurredAt ?? this.now().toISOString() }).flatMap(({ problem }) =>
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

  async upsertProfile(input: unknown): Promise<Profile> {
    const profile = parseInput(profileSchema, input, 'profile');
    await this.options.store.upsertProfiles([profile]);
    await this.trackSegments(profile.customerId);
    return profile;
  }

  /** The segments the customer is in now, with the time they entered each. */
  async segmentsOf(customerId: unknown): Promise<CustomerSegment[]> {
    const { customerId: id } = parseInput(z.object({ customerId: customerIdSchema }), { customerId }, 'customer id');
    return this.segments.segmentsOf(id);
  }

  /**
   * Recomputes every customer's segments as of `now`, for memberships the passing of time
   * alone changed ("3 views in the last 7 days" once the first view is 7 days old), and
   * ingests a segment.entered / segment.left event for each change.
   */
  sweepSegments(now: Date | string = this.now()): Promise<SweepResult> {
    const at = typeof now === 'string' ? now : now.toISOString();
    return this.segments.sweep(at, (event) => this.ingest(event));
  }

  /**
   * Starts, signals and recomputes segments for a recorded event, then marks it routed.
   * Its age is judged as of `acceptedAt`, when it reached us: an event the routing sweep
   * delivers late is as fresh as it was then.
   */
  private async route(event: CustomerEvent, acceptedAt: Date, result: IngestResult): Promise<void> {
    await Promise.all([
      ...this.entriesOf(event).map((entry) => this.startOrSignal(entry, event, acceptedAt, result)),
      ...this.listenersOf(event).map(async (j) => {
        for (const workflowId of await this.targetsOf(j, event)) {
          if (await this.signal(workflowId, eventSignal, slimEvent(j.definition, event))) result.signalled.push(workflowId);
        }
      }),
    ]);
    // Before marking it routed, so a crash here recomputes on the event's retry. Segment
    // events themselves never recompute: that is what keeps a change from feeding itself.
    if (!SEGMENT_EVENT_TYPES.has(event.type)) await this.trackSegments(event.customerId, result);
    await this.options.store.markEventRouted(event.id);
  }

  /**
   * Recomputes one customer's segments at the current time, whatever the time of the event
   * that prompted it; what the change events start, signal or leave unstarted is added to `result`.
   */
  private async trackSegments(customerId: string, result?: IngestResult): Promise<void> {
    await this.segments.recompute(customerId, this.now().toISOString(), async (event) => {
      const change = await this.ingest(event);
      if (!result) return;
      result.started.push(...change.started);
      result.signalled.push(...change.signalled);
      if (change.ignored) (result.ignored ??= []).push(...change.ignored);
      if (change.routingPending) result.routingPending = true;
    });
  }

  /** Writes the consent ledger first, then tells the customer's running journeys on that topic. */
  async changeConsent(input: unknown): Promise<{ signalled: string[] }> {
    const change = parseInput(consentChangeSchema, input, 'consent change');
    await this.options.store.recordConsent({ ...change, at: this.now().toISOString() });
    const signalled: string[] = [];
    if (change.status === 'withdrawn') {
      // A global opt-out reaches every run; transactional journeys ignore it themselves.
      const runs = (await this.options.store.journeyRuns(change.customerId)).filter((run) => change.topic === GLOBAL_TOPIC || run.topic === change.topic);
      await Promise.all(
        runs.map(async (run) => {
          if (await this.signal(run.workflowId, consentChangedSignal, { topic: change.topic, status: change.status })) {
            signalled.push(run.workflowId);
          }
        }),
      );
    }
    return { signalled };
  }

  /** The customer's journeys from Temporal visibility, with live step and wake-up from each running one's `state` query. */
  async journeysOf(customerId: unknown): Promise<CustomerJourney[]> {
    const { customerId: id } = parseInput(z.object({ customerId: customerIdSchema }), { customerId }, 'customer id');
    const journeys: CustomerJourney[] = [];
    for await (const run of this.options.temporal.workflow.list({ query: `CustomerId = "${id}"` })) {
      const attrs = run.typedSearchAttributes;
      const journey: CustomerJourney = {
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
  suppress(input: unknown) {
    return suppress(this.options.store, input, (customerId, source) => this.changeConsent({ customerId, topic: 'marketing', status: 'withdrawn', source }), this.now());
  }

  /** Sends in one state (default: in doubt), oldest change first, for operators. */
  sends(query?: unknown): Promise<SendRecord[]> {
    return listSends(this.options.store, query);
  }

  /** Settles a send in doubt: the operator confirms delivery, or has the kept message sent once more. */
  resolveSend(input: unknown): Promise<SendResolution> {
    return resolveSend(this.options.store, this.options.temporal, this.options.taskQueue, input, this.now());
  }

  /** The customer's story in time order: journeys, sends, skips with reasons, consent, suppression. */
  audit(customerId: unknown): Promise<AuditEntry[]> {
    return auditOf(this.options.store, customerId);
  }

  /** Terminates the customer's journeys, erases their data, keeps only a suppressed hash of their address. */
  forget(customerId: unknown) {
    return forget(this.options.store, this.options.temporal, customerId, this.now());
  }

  workflowIdOf(journeyId: string, customerId: string, entryKey?: string): string {
    return entryKey === undefined ? `${journeyId}:${customerId}` : `${journeyId}:${customerId}:${entryKey}`;
  }

  /** The journeys the event's type and `where` start, each with its entry key or the problem with it. */
  private entriesOf(event: CustomerEvent): Entry[] {
    return this.options.catalogue.journeys
      .filter(({ definition: { trigger } }) => trigger.event === event.type && eventMatches(event, trigger.where, event.occurredAt))
      .map((journey) => {
        const path = journey.definition.trigger.entryKey;
        if (!path) return { journey };
        const value = readPath(event, path);
        if ((typeof value !== 'string' && typeof value !== 'number') || !ENTRY_KEY_VALUE.test(String(value))) {
          return { journey, problem: { path, message: `${event.type} starts ${journey.definition.id}, which needs ${path}: letters, digits, "_", "." or "-" (at most 128)` } };
        }
        return { journey, entryKey: String(value) };
      });
  }

  /** Keeps the templates of the version a run starts with, so it renders them to its end, whatever is deployed by then. */
  private async pinTemplates({ definition, version, templates }: CatalogueJourney): Promise<void> {
    if (this.pinnedVersions.has(version)) return;
    await this.options.store.recordJourneyVersion({ journeyId: definition.id, version, templates });
    this.pinnedVersions.add(version);
  }

  private async startOrSignal({ journey, entryKey, problem }: Entry, event: CustomerEvent, acceptedAt: Date, result: IngestResult) {
    const { definition, version } = journey;
    const ignore = (reason: IgnoreReason, message: string) => {
      (result.ignored ??= []).push({ journeyId: definition.id, reason, message });
    };
    // Only the routing sweep meets this: ingest refuses such an event, but the catalogue may have changed since it was recorded.
    if (problem) return ignore('no_entry_key', problem.message);
    const { maxAge } = definition.trigger;
    if (maxAge !== undefined && acceptedAt.getTime() - Date.parse(event.occurredAt) > parseDuration(maxAge)) {
      return ignore('too_old', `${event.type} occurred at ${event.occurredAt} and reached journeys at ${acceptedAt.toISOString()}: ${definition.id} starts only on events at most ${maxAge} old (trigger.maxAge)`);
    }
    // No journey starts that could only end opted out; the send step checks again before every email.
    if (!definition.transactional && (await this.withdrawn(event.customerId, definition.topic))) {
      return ignore('consent_withdrawn', `${event.customerId} has withdrawn consent for ${definition.topic}`);
    }
    const workflowId = this.workflowIdOf(definition.id, event.customerId, entryKey);
    const coolingUntil = await this.coolingUntil(definition, workflowId, event);
    if (coolingUntil) return ignore('cooling_down', `the previous run of ${workflowId} ended less than its reentry cooldown before the event: a new one may start from ${coolingUntil}`);
    const priorGoal = await this.priorGoalOf(definition, event, entryKey);
    const input: JourneyInput = { definition, version, customerId: event.customerId, entryKey, entryEvent: slimEvent(definition, event), ...(priorGoal && { priorGoal: slimEvent(definition, priorGoal) }), waitScale: this.options.waitScale ?? 1 };
    await this.options.store.recordJourneyRun({ workflowId, journeyId: definition.id, customerId: event.customerId, topic: definition.topic, startedAt: event.occurredAt });
    await this.pinTemplates(journey);
    try {
      await this.inFlight.run(() =>
        this.options.temporal.workflow.start(definition.id, {
          workflowId,
          taskQueue: this.options.taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: definition.reentry === 'once' ? 'REJECT_DUPLICATE' : 'ALLOW_DUPLICATE',
          typedSearchAttributes: [
            { key: JOURNEY_ID, value: definition.id },
            { key: JOURNEY_VERSION, value: version },
            { key: CUSTOMER_ID, value: event.customerId },
            { key: JOURNEY_STEP, value: definition.steps[0].id },
            { key: JOURNEY_STATUS, value: 'running' },
          ],
          staticSummary: journeySummary(input),
          staticDetails: `Steps: ${definition.steps.map((s) => `${s.id} (${s.kind})`).join(' → ')}`,
        }),
      );
      result.started.push(workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Running: the journey takes the event (and keeps the newer of two). Closed under `once`: nothing to do.
      if (await this.signal(workflowId, eventSignal, slimEvent(definition, event))) result.signalled.push(workflowId);
      else if (definition.reentry === 'once') ignore('entered_before', `${workflowId} has run before, and ${definition.id} takes each entry once (reentry once)`);
    }
  }

  /**
   * Under `afterCooldown`, while the previous run of this entry closed less than the cooldown
   * before the event occurred, the time the cooldown ends; then the event starts nothing. The
   * close time is Temporal's (describe), not the store's journey run row, which every start
   * attempt rewrites. A run still going is not cooling down: the start fails and the run gets the event.
   */
  private async coolingUntil(definition: CatalogueJourney['definition'], workflowId: string, event: CustomerEvent): Promise<string | undefined> {
    if (typeof definition.reentry !== 'object') return undefined;
    const previous = await this.inFlight
      .run(() => this.options.temporal.workflow.getHandle(workflowId).describe())
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (!previous?.closeTime) return undefined;
    const until = previous.closeTime.getTime() + parseDuration(definition.reentry.afterCooldown);
    return Date.parse(event.occurredAt) < until ? new Date(until).toISOString() : undefined;
  }

  /**
   * A goal event of this entry that is already recorded and occurred at or after the entry
   * event (an order that overtook its cart update on the way to us): the journey it is
   * passed to ends at once, as it would have had the events arrived in order.
   */
  private async priorGoalOf(definition: CatalogueJourney['definition'], event: CustomerEvent, entryKey: string | undefined): Promise<CustomerEvent | undefined> {
    if (definition.goals.length === 0) return undefined;
    const goals = await this.options.store.eventsSince(event.customerId, [...new Set(definition.goals.map((goal) => goal.event))], event.occurredAt);
    const path = definition.trigger.entryKey;
    return goals.find((goal) => goal.id !== event.id && (!path || String(readPath(goal, path)) === entryKey));
  }

  private async withdrawn(customerId: string, topic: string): Promise<boolean> {
    const { store, consentDefault } = this.options;
    const global = (await store.consentFor(customerId, GLOBAL_TOPIC))?.status;
    const own = (await store.consentFor(customerId, topic))?.status ?? consentDefault?.(topic) ?? 'granted';
    return global === 'withdrawn' || own === 'withdrawn';
  }

  private listenersOf(event: CustomerEvent): CatalogueJourney[] {
    return this.options.catalogue.journeys.filter(
      ({ definition }) =>
        definition.trigger.event !== event.type &&
        (definition.goals.some((goal) => goal.event === event.type) ||
          definition.steps.some((step) => step.kind === 'waitFor' && step.event === event.type && eventMatches(event, step.where, this.now().toISOString()))),
    );
  }

  /** The runs an event is meant for: found by workflow ID when the event names the entry, else from the store. */
  private async targetsOf({ definition }: CatalogueJourney, event: CustomerEvent): Promise<string[]> {
    const path = definition.trigger.entryKey;
    if (!path) return [this.workflowIdOf(definition.id, event.customerId)];
    const key = readPath(event, path);
    if (typeof key === 'string' || typeof key === 'number') return [this.workflowIdOf(definition.id, event.customerId, String(key))];
    const runs = await this.options.store.journeyRuns(event.customerId);
    return runs.filter((run) => run.journeyId === definition.id).map((run) => run.workflowId);
  }

  /** Signals a run if it is still running; false when it has ended or never existed. */
  private async signal<Args extends unknown[]>(workflowId: string, signal: SignalDefinition<Args>, ...args: Args): Promise<boolean> {
    try {
      await this.inFlight.run(() => this.options.temporal.workflow.getHandle(workflowId).signal(signal, ...args));
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}

function historyResult(eventId: string, recorded: RecordedEvent): IngestResult | EventIdConflict {
  if (recorded.differsIn) return conflictOf(new EventIdConflictError(eventId, recorded.differsIn));
  return { eventId, duplicate: !recorded.firstSeen, started: [], signalled: [] };
}

function conflictOf(err: EventIdConflictError): EventIdConflict {
  return { eventId: err.eventId, error: 'event_id_conflict', message: err.message };
}
