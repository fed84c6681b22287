import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ConsentStatus, CustomerEvent } from '../domain/customer/types';
import type { JourneyDefinition, JourneyStatus } from '../domain/journey/types';
import { readPath } from '../domain/rules/path';

export interface JourneyInput {
  definition: JourneyDefinition;
  /** Content hash of the definition, pinned for the life of the run. */
  version: string;
  customerId: string;
  entryKey?: string;
  entryEvent: CustomerEvent;
  /**
   * A goal event of this entry that was recorded before the journey started (an order that
   * arrived before its cart update): the journey ends at once with `goal_reached`.
   */
  priorGoal?: CustomerEvent;
  /**
   * Divides every wait for demos (60 turns 1h into 1m); 1 in production. Duration waits
   * and the time left until a date or local time are divided alike; a send deferred by a
   * frequency cap is not (the cap is checked on Temporal's clock, so it would only retry early).
   */
  waitScale: number;
  /** Set when the run continues an earlier run of the journey (continue-as-new), with where that run was. */
  resume?: JourneyResume;
  /**
   * The interpreter changes this run takes from its start (INTERPRETER when the client started
   * it). Absent in runs started before: they decide each change by its `patched()` marker.
   */
  interpreter?: number;
}

/**
 * Every change of the interpreter up to this one is taken by runs that carry it in their input,
 * with no patch marker: each marker costs a search-attribute upsert, a write on the server's
 * visibility store, in the first task of every run (README, "Changing the interpreter").
 */
export const INTERPRETER = 4;

/**
 * What a journey carries into the run it continues as once its history grows long: enough
 * to go on exactly where it was. Every list is bounded, so the carried input stays small.
 */
export interface JourneyResume {
  /** The step it was in. */
  step: string;
  /** The wait that step was in, if any: the new run waits until the same instant. */
  wait?: PendingWait;
  /** The entry event as last updated; `JourneyInput.entryEvent` stays the first, which keys the sends of a re-entrant journey. */
  entryEvent: CustomerEvent;
  history: StepRecord[];
  variants?: Record<string, string>;
  story: string[];
  /** The latest event ids seen, so a repeated signal stays a no-op across runs. */
  seenEventIds: string[];
  /** Events received for the waitFor step in progress. */
  received: CustomerEvent[];
}

/** A wait in progress. */
export interface PendingWait {
  /** When it ends (ISO-8601). */
  wakeAt: string;
  /** Its timer's summary in the Temporal UI. */
  summary: string;
  /** What the step learned before waiting and needs after it (a resolved date's outcome, a deferral's reason). */
  facts?: Record<string, string>;
}

/**
 * The run's summary in the Temporal UI. A run that continues as new loses its static summary
 * (neither the SDK nor the server carries it over), so the continued run heads its current
 * details with it instead.
 */
export function journeySummary({ definition, customerId, entryKey, version }: Pick<JourneyInput, 'definition' | 'customerId' | 'entryKey' | 'version'>): string {
  return `${definition.name} for customer ${customerId}${entryKey ? ` (${definition.trigger.entryKey} ${entryKey})` : ''}, version ${version}`;
}

/**
 * The event as a running journey holds it: id, type, customer, time, and only the properties
 * the interpreter reads (the entry key, the `where` of waitFor steps). Activities that need
 * the rest (templates, rules, event dates) load the event by id (activities/entryEvent.ts),
 * so a journey's history stays small however large the events are.
 */
export function slimEvent(definition: JourneyDefinition, event: CustomerEvent): CustomerEvent {
  const slim: CustomerEvent = { id: event.id, type: event.type, customerId: event.customerId, occurredAt: event.occurredAt, properties: {} };
  const paths = [
    ...(definition.trigger.entryKey ? [definition.trigger.entryKey] : []),
    ...definition.steps.flatMap((step) => (step.kind === 'waitFor' ? (step.where ?? []).map((comparison) => comparison.attr) : [])),
  ];
  for (const path of paths) {
    const value = readPath(event, path);
    if (value !== undefined) writePath(slim, path, value);
  }
  return slim;
}

function writePath(target: object, path: string, value: unknown) {
  const parts = path.split('.');
  let node = target as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

export interface StepRecord {
  stepId: string;
  kind: string;
  at: string;
  outcome: string;
}

export interface JourneyState {
  journeyId: string;
  version: string;
  customerId: string;
  entryKey?: string;
  status: JourneyStatus;
  currentStep: string;
  /** When the current wait ends, if the journey is waiting. */
  nextWakeAt?: string;
  history: StepRecord[];
  /** The variant each `split` step assigned, by step id, e.g. { subjectTest: "short" } ("holdout" for the holdout). */
  variants?: Record<string, string>;
  /** What ended the journey early: the goal event type or the withdrawn topic. */
  endedBy?: string;
}

export interface ConsentChangedSignal {
  topic: string;
  status: ConsentStatus;
}

export const eventSignal = defineSignal<[CustomerEvent]>('event');
export const consentChangedSignal = defineSignal<[ConsentChangedSignal]>('consentChanged');
export const stateQuery = defineQuery<JourneyState>('state');
