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
import type { Store } from '../store/types';
import { consentChangedSignal, eventSignal, stateQuery, type JourneyInput } from '../workflows/messages';
import { CUSTOMER_ID, JOURNEY_ID, JOURNEY_STATUS, JOURNEY_STEP, JOURNEY_VERSION } from '../workflows/searchAttributes';
import { auditOf, forget, suppress, type AuditEntry } from './customerRecords';
import { parseInput, ValidationError } from './errors';
import { SegmentTracker, type CustomerSegment, type SweepResult } from './segmentTracker';
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

export interface IngestResult {
  eventId: string;
  /** True when this event id was seen before; then nothing new happens. */
  duplicate: boolean;
  started: string[];
  signalled: string[];
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

/** The one way into journeys: events, profiles, consent and status, for the HTTP API, the CLI and libraries. */
export class JourneyClient {
  private readonly inFlight: Semaphore;
  private readonly now: () => Date;
  private readonly segments: SegmentTracker;

  constructor(private readonly options: JourneyClientOptions) {
    this.inFlight = new Semaphore(options.maxStartsInFlight ?? 50);
    this.now = options.now ?? (() => new Date());
    this.segments = new SegmentTracker(options.store, parseSegments(options.segments ?? shippedSegments));
  }

  async ingest(input: unknown): Promise<IngestResult> {
    const parsed = parseInput(eventSchema, input, 'event');
    const event: CustomerEvent = { ...parsed, occurredAt: parsed.occurredAt ?? this.now().toISOString() };
    const triggered = this.options.catalogue.journeys.filter(
      ({ definition: { trigger } }) => trigger.event === event.type && eventMatches(event, trigger.where, event.occurredAt),
    );
    const entryKeys = new Map(triggered.map((j) => [j, this.entryKeyOf(j, event)]));

    const recorded = await this.options.store.recordEvent(event);
    const result: IngestResult = { eventId: event.id, duplicate: !recorded.firstSeen, started: [], signalled: [] };
    if (recorded.routed) return result;

    await Promise.all([
      ...triggered.map((j) => this.startOrSignal(j, event, entryKeys.get(j), result)),
      ...this.listenersOf(event).map(async (j) => {
        for (const workflowId of await this.targetsOf(j, event)) {
          if (await this.signal(workflowId, eventSignal, event)) result.signalled.push(workflowId);
        }
      }),
    ]);
    // Before marking it routed, so a crash here recomputes on the event's retry. Segment
    // events themselves never recompute: that is what keeps a change from feeding itself.
    if (!SEGMENT_EVENT_TYPES.has(event.type)) await this.trackSegments(event.customerId, event.occurredAt, result);
    await this.options.store.markEventRouted(event.id);
    return result;
  }

  async upsertProfile(input: unknown): Promise<Profile> {
    const profile = parseInput(profileSchema, input, 'profile');
    await this.options.store.upsertProfiles([profile]);
    await this.trackSegments(profile.customerId, this.now().toISOString());
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

  /** Recomputes one customer's segments; journeys the change events start or signal are added to `result`. */
  private async trackSegments(customerId: string, now: string, result?: IngestResult): Promise<void> {
    await this.segments.recompute(customerId, now, async (event) => {
      const change = await this.ingest(event);
      result?.started.push(...change.started);
      result?.signalled.push(...change.signalled);
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

  private entryKeyOf(journey: CatalogueJourney, event: CustomerEvent): string | undefined {
    const path = journey.definition.trigger.entryKey;
    if (!path) return undefined;
    const value = readPath(event, path);
    if ((typeof value !== 'string' && typeof value !== 'number') || !ENTRY_KEY_VALUE.test(String(value))) {
      throw new ValidationError('event', [
        { path, message: `${event.type} starts ${journey.definition.id}, which needs ${path}: letters, digits, "_", "." or "-" (at most 128)` },
      ]);
    }
    return String(value);
  }

  private async startOrSignal(journey: CatalogueJourney, event: CustomerEvent, entryKey: string | undefined, result: IngestResult) {
    const { definition, version } = journey;
    // No journey starts that could only end opted out; the send step checks again before every email.
    if (!definition.transactional && (await this.withdrawn(event.customerId, definition.topic))) return;
    const workflowId = this.workflowIdOf(definition.id, event.customerId, entryKey);
    if (await this.coolingDown(definition, workflowId, event)) return;
    const input: JourneyInput = { definition, version, customerId: event.customerId, entryKey, entryEvent: event, waitScale: this.options.waitScale ?? 1 };
    await this.options.store.recordJourneyRun({ workflowId, journeyId: definition.id, customerId: event.customerId, topic: definition.topic, startedAt: event.occurredAt });
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
          staticSummary: `${definition.name} for customer ${event.customerId}${entryKey ? ` (${definition.trigger.entryKey} ${entryKey})` : ''}, version ${version}`,
          staticDetails: `Steps: ${definition.steps.map((s) => `${s.id} (${s.kind})`).join(' → ')}`,
        }),
      );
      result.started.push(workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Running: the journey takes the newer event. Closed under `once`: nothing to do.
      if (await this.signal(workflowId, eventSignal, event)) result.signalled.push(workflowId);
    }
  }

  /**
   * Under `afterCooldown`, true while the previous run of this entry closed less than the
   * cooldown before the event occurred; then the event starts nothing. The close time is
   * Temporal's (describe), not the store's journey run row, which every start attempt rewrites.
   * A run still going is not cooling down: the start below fails and the run gets the event.
   */
  private async coolingDown(definition: CatalogueJourney['definition'], workflowId: string, event: CustomerEvent): Promise<boolean> {
    if (typeof definition.reentry !== 'object') return false;
    const previous = await this.inFlight
      .run(() => this.options.temporal.workflow.getHandle(workflowId).describe())
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (!previous?.closeTime) return false;
    return Date.parse(event.occurredAt) - previous.closeTime.getTime() < parseDuration(definition.reentry.afterCooldown);
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
