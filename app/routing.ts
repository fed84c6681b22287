// Routing a recorded event to journeys: the runs its trigger starts (or hands a newer entry
// event), and the running ones its goals and `waitFor` steps listen for.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { isMachineEngagement } from '../domain/delivery/engagement';
import type { DroppedValue } from '../domain/delivery/linkHosts';
import type { ConsentLedger, SendKind, SendPolicy } from '../domain/delivery/sendPolicy';
import type { CustomerEvent } from '../domain/customer/types';
import { eventMatches } from '../domain/journey/flow';
import { isAnonymousCustomer } from '../domain/sources/segmentSpec';
import type { JourneyDefinition } from '../domain/journey/types';
import { readPath } from '../domain/rules/path';
import { parseDuration } from '../domain/time/duration';
import type { Catalogue, CatalogueJourney } from '../journeys';
import type { MetricsRecorder } from '../observability/recorder';
import type { ConsentRecord, Store } from '../store/types';
import { eventSignal, INTERPRETER, journeySummary, slimEvent, type JourneyInput } from '../workflows/messages';
import { CUSTOMER_ID, JOURNEY_ID, JOURNEY_STATUS, JOURNEY_STEP, JOURNEY_VERSION } from '../workflows/searchAttributes';
import type { Problem } from './errors';
import { inGlobalControl, Winners } from './experiments';
import type { Semaphore } from './semaphore';

/** Why an event that matched a journey's trigger started nothing. */
export type IgnoreReason = 'too_old' | 'consent_withdrawn' | 'cooling_down' | 'entered_before' | 'no_entry_key' | 'anonymous' | 'global_control';

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
  /**
   * Values not recorded, with their path and why: links to hosts outside LINK_HOSTS or with
   * another scheme than http(s) (see domain/delivery/linkHosts.ts); absent when there are none.
   */
  dropped?: DroppedValue[];
}

/** A journey an event's trigger matched, with the entry key it names, or why it names none. */
export interface Entry {
  journey: CatalogueJourney;
  entryKey?: string;
  problem?: Problem;
}

export interface RouterOptions {
  temporal: Client;
  store: Store;
  catalogue: Catalogue;
  taskQueue: string;
  waitScale: number;
  policy: SendPolicy;
  /** Bounds the starts, signals and describes in flight, so a burst of events queues here rather than at Temporal. */
  inFlight: Semaphore;
  now: () => Date;
  /** Counts the runs started, by journey. */
  metrics: MetricsRecorder;
  /** GLOBAL_CONTROL_PERCENT: the share of customers held out of every marketing journey (app/experiments.ts); 0 or absent: none. */
  globalControlPercent?: number;
}

const ENTRY_KEY_VALUE = /^[A-Za-z0-9_.-]{1,128}$/;

/** `<journeyId>:<customerId>[:<entryKey>]`: starts are idempotent, and events find their run without a lookup. */
export function workflowIdOf(journeyId: string, customerId: string, entryKey?: string): string {
  return entryKey === undefined ? `${journeyId}:${customerId}` : `${journeyId}:${customerId}:${entryKey}`;
}

export class EventRouter {
  /** Versions whose templates this process has recorded, so each is written once. */
  private readonly pinnedVersions = new Set<string>();
  /** Splits whose winner is recorded start new runs with the winner only (a new version). */
  private readonly winners: Winners;

  constructor(private readonly options: RouterOptions) {
    this.winners = new Winners(options.store);
  }

  /** Starts the journeys the event triggers and signals those listening for it. Its age is judged as of `acceptedAt`. */
  async route(event: CustomerEvent, acceptedAt: Date, result: IngestResult): Promise<void> {
    await Promise.all([
      ...this.entriesOf(event).map((entry) => this.startOrSignal(entry, event, acceptedAt, result)),
      ...this.listenersOf(event).map(async (j) => {
        for (const workflowId of await this.targetsOf(j, event)) {
          if (await this.signal(workflowId, eventSignal, slimEvent(j.definition, event))) result.signalled.push(workflowId);
        }
      }),
    ]);
  }

  /** The journeys the event's type and `where` start, each with its entry key or the problem with it. */
  entriesOf(event: CustomerEvent): Entry[] {
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

  /**
   * Whether any journey's trigger, goal or `waitFor` can take the event (`entries`: its `entriesOf`); if none can, routing it does nothing.
   * A machine open or scanner click is no engagement: it is recorded (routed already) and no journey hears of it.
   */
  concerns(event: CustomerEvent, entries: Entry[] = this.entriesOf(event)): boolean {
    if (isMachineEngagement(event)) return false;
    return entries.length > 0 || this.listenersOf(event).length > 0;
  }

  /** Signals a run if it is still running; false when it has ended or never existed. */
  async signal<Args extends unknown[]>(workflowId: string, signal: SignalDefinition<Args>, ...args: Args): Promise<boolean> {
    try {
      await this.options.inFlight.run(() => this.options.temporal.workflow.getHandle(workflowId).signal(signal, ...args));
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  private async startOrSignal({ journey: shipped, entryKey, problem }: Entry, event: CustomerEvent, acceptedAt: Date, result: IngestResult) {
    const journey = await this.winners.applied(shipped);
    const { definition, version } = journey;
    const ignore = (reason: IgnoreReason, message: string) => {
      (result.ignored ??= []).push({ journeyId: definition.id, reason, message });
    };
    // Only the routing sweep meets this: ingest refuses such an event, but the catalogue may have changed since it was recorded.
    if (problem) return ignore('no_entry_key', problem.message);
    // An anonymous visitor has no address and may never be identified: their events stay facts
    // until an identify merges them into a customer, and merged events start nothing either.
    if (isAnonymousCustomer(event.customerId)) {
      return ignore('anonymous', `${event.customerId} is an anonymous visitor: journeys start for customers an identify (userId) names`);
    }
    const { maxAge } = definition.trigger;
    if (maxAge !== undefined && acceptedAt.getTime() - Date.parse(event.occurredAt) > parseDuration(maxAge)) {
      return ignore('too_old', `${event.type} occurred at ${event.occurredAt} and reached journeys at ${acceptedAt.toISOString()}: ${definition.id} starts only on events at most ${maxAge} old (trigger.maxAge)`);
    }
    // No journey starts that could only end opted out; the send step checks again before every email.
    if (await this.options.policy.consentWithdrawn(this.consentLedgerOf(event.customerId, definition), event.customerId, definition)) {
      return ignore('consent_withdrawn', `${event.customerId} has withdrawn consent for ${definition.topic}`);
    }
    const workflowId = workflowIdOf(definition.id, event.customerId, entryKey);
    // Held out of marketing only: receipts and the like still go. Recorded, so reports compare
    // the held-out customers' conversions with those of the customers who entered.
    const percent = this.options.globalControlPercent ?? 0;
    if (!definition.transactional && inGlobalControl(event.customerId, percent)) {
      await this.options.store.recordHeldOut({ workflowId, journeyId: definition.id, customerId: event.customerId, at: event.occurredAt });
      return ignore('global_control', `${event.customerId} is in the global control group (GLOBAL_CONTROL_PERCENT=${percent}): held out of marketing journeys`);
    }
    const coolingUntil = await this.coolingUntil(definition, workflowId, event);
    if (coolingUntil) return ignore('cooling_down', `the previous run of ${workflowId} ended less than its reentry cooldown before the event: a new one may start from ${coolingUntil}`);
    const priorGoal = await this.priorGoalOf(definition, event, entryKey);
    const input: JourneyInput = { definition, version, customerId: event.customerId, entryKey, entryEvent: slimEvent(definition, event), ...(priorGoal && { priorGoal: slimEvent(definition, priorGoal) }), waitScale: this.options.waitScale, interpreter: INTERPRETER };
    await this.options.store.recordJourneyRun({ workflowId, journeyId: definition.id, customerId: event.customerId, topic: definition.topic, startedAt: event.occurredAt });
    await this.pinTemplates(journey);
    try {
      await this.options.inFlight.run(() =>
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
      this.options.metrics.runStarted(definition.id);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Running: the journey takes the event (and keeps the newer of two). Closed under `once`: nothing to do.
      if (await this.signal(workflowId, eventSignal, slimEvent(definition, event))) result.signalled.push(workflowId);
      else if (definition.reentry === 'once') ignore('entered_before', `${workflowId} has run before, and ${definition.id} takes each entry once (reentry once)`);
    }
  }

  /**
   * The customer's consent ledger as the policy reads it for a send of this kind: every topic
   * it checks (`all` and the journey's own) in one store read, made when first asked.
   */
  private consentLedgerOf(customerId: string, send: SendKind): ConsentLedger {
    const topics = this.options.policy.consentToCheck(send).map((check) => check.topic);
    let records: Promise<Map<string, ConsentRecord>> | undefined;
    return {
      consentFor: async (id, topic) => {
        if (id !== customerId || !topics.includes(topic)) return this.options.store.consentFor(id, topic);
        records ??= this.options.store.consentsFor(customerId, topics).then((found) => new Map(found.map((record) => [record.topic, record])));
        return (await records).get(topic);
      },
    };
  }

  /** Keeps the templates of the version a run starts with, so it renders them to its end, whatever is deployed by then. */
  private async pinTemplates({ definition, version, templates }: CatalogueJourney): Promise<void> {
    if (this.pinnedVersions.has(version)) return;
    await this.options.store.recordJourneyVersion({ journeyId: definition.id, version, templates });
    this.pinnedVersions.add(version);
  }

  /**
   * Under `afterCooldown`, while the previous run of this entry closed less than the cooldown
   * before the event occurred, the time the cooldown ends; then the event starts nothing. The
   * close time is Temporal's (describe), not the store's journey run row, which every start
   * attempt rewrites. A run still going is not cooling down: the start fails and the run gets the event.
   */
  private async coolingUntil(definition: JourneyDefinition, workflowId: string, event: CustomerEvent): Promise<string | undefined> {
    if (typeof definition.reentry !== 'object') return undefined;
    const previous = await this.options.inFlight
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
  private async priorGoalOf(definition: JourneyDefinition, event: CustomerEvent, entryKey: string | undefined): Promise<CustomerEvent | undefined> {
    if (definition.goals.length === 0) return undefined;
    const goals = await this.options.store.eventsSince(event.customerId, [...new Set(definition.goals.map((goal) => goal.event))], event.occurredAt);
    const path = definition.trigger.entryKey;
    return goals.find((goal) => goal.id !== event.id && (!path || String(readPath(goal, path)) === entryKey));
  }

  private listenersOf(event: CustomerEvent): CatalogueJourney[] {
    return this.options.catalogue.journeys.filter(
      ({ definition }) =>
        definition.trigger.event !== event.type &&
        (definition.goals.some((goal) => goal.event === event.type) ||
          definition.steps.some((step) => step.kind === 'waitFor' && step.event === event.type && eventMatches(event, step.where, this.options.now().toISOString()))),
    );
  }

  /** The runs an event is meant for: found by workflow ID when the event names the entry, else from the store. */
  private async targetsOf({ definition }: CatalogueJourney, event: CustomerEvent): Promise<string[]> {
    const path = definition.trigger.entryKey;
    if (!path) return [workflowIdOf(definition.id, event.customerId)];
    const key = readPath(event, path);
    if (typeof key === 'string' || typeof key === 'number') return [workflowIdOf(definition.id, event.customerId, String(key))];
    const runs = await this.options.store.journeyRuns(event.customerId);
    return runs.filter((run) => run.journeyId === definition.id).map((run) => run.workflowId);
  }
}
