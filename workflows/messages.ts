import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ConsentStatus, CustomerEvent } from '../domain/customer';
import type { JourneyDefinition, JourneyStatus } from '../domain/journey';

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
