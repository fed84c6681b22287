// The journey interpreter. Every journey runs as a workflow type named by its id
// (`cartAbandonment`, ...); none is exported by name, so the SDK routes them all to this
// default export (a dynamic workflow) and operators still see the journey's name.
// Step kinds are handled in ./steps; this file holds the run's state and messages.
//
// Journeys wait for weeks, so every change here meets running histories: a change in the
// commands a step issues goes behind `patched()` (README, "Changing the interpreter").
import { condition, makeContinueAsNewFunc, patched, proxySinks, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CustomerEvent } from '../domain/customer/types';
import { withdrawalReaches } from '../domain/customer/topics';
import type { JourneyStatus, Step } from '../domain/journey/types';
import type { JourneyMetricsSinks } from '../observability/sinks';
import { eventMatches } from '../domain/journey/flow';
import { readPath } from '../domain/rules/path';
import { consentChangedSignal, eventSignal, journeySummary, stateQuery, type JourneyInput, type JourneyState, type PendingWait } from './messages';
import { JOURNEY_STATUS, JOURNEY_STEP } from './searchAttributes';
import { runStep, type Run } from './steps';

// Named exports are workflow types of their own; every other type is a journey, below.
export { segmentSweep } from './segmentSweep';
export { eventRoutingSweep } from './eventRoutingSweep';
export { resendEmail } from './resendEmail';
export { scoreTraining } from './scoreTraining';

/**
 * Patch ids. Runs that started before a patch keep the behaviour they started with; runs whose
 * input carries the interpreter that introduced a change (1 for these three, later ones say)
 * take it without a marker.
 */
const CONTINUE_AS_NEW = 'continue-as-new';
const LATEST_ENTRY_EVENT = 'latest-entry-event-wins';
const NO_REDUNDANT_UPSERT = 'no-redundant-step-upsert';
/** Interpreter 3: an exit step's JourneyStep goes in the one upsert that sets the final JourneyStatus, in the same task. */
const ONE_FINAL_UPSERT = 'one-final-upsert';

/**
 * A run continues as new past this many history events, or when Temporal suggests it: far
 * below Temporal's limits, and a worker replays a journey's whole history each time it
 * wakes one it had evicted.
 */
const MAX_HISTORY_EVENTS = 2_000;
/** Bounds on what a run keeps, all of which it carries into the run it continues as. */
const SEEN_EVENT_IDS = 500;
const RECEIVED_EVENTS = 100;
const STEP_RECORDS = 100;
const STORY_LINES = 50;
const STORY_GAP = '…';

export default async function journey(input: JourneyInput): Promise<JourneyState> {
  const { definition, customerId, entryKey, resume } = input;
  // Decided once, at the start: a run that began before journeys could continue as new must
  // not start doing it in the middle of a replay.
  /** Whether the run takes a change: from its input if it started with interpreter `since` or later, else by the change's patch marker. */
  const takes = (since: number, patchId: string) => (input.interpreter ?? 0) >= since || patched(patchId);
  const mayContinueAsNew = takes(1, CONTINUE_AS_NEW);
  const steps = new Map(definition.steps.map((step) => [step.id, step]));
  const state: JourneyState = {
    journeyId: definition.id,
    version: input.version,
    customerId,
    entryKey,
    status: 'running',
    currentStep: resume?.step ?? definition.steps[0].id,
    history: resume?.history ?? [],
    ...(resume?.variants && { variants: resume.variants }),
  };
  let entryEvent = resume?.entryEvent ?? input.entryEvent;
  // Insertion-ordered, so the oldest id is the first to go. Repeats come from retried routing
  // of an event, soon after the first delivery: well inside the window.
  const seenEventIds = new Set(resume?.seenEventIds ?? [entryEvent.id]);
  const received: CustomerEvent[] = resume?.received ?? [];
  let resumedWait = resume?.wait;
  let pendingWait: PendingWait | undefined;
  let endedBy: { status: JourneyStatus; cause: string } | undefined;
  const story: string[] = resume?.story ?? [`Entered on ${entryEvent.type}${entryKey ? ` (${entryKey})` : ''} at ${entryEvent.occurredAt}`];
  const heading = resume ? `${journeySummary(input)}; continued as new, as its history had grown long\n` : '';

  const tell = (line?: string) => {
    if (line) {
      story.push(line);
      // The entry line stays, then a gap, then the latest lines.
      if (story.length > STORY_LINES) story.splice(1, story.length - STORY_LINES + 1, STORY_GAP);
    }
    setCurrentDetails(heading + story.map((l) => `- ${l}`).join('\n'));
  };
  const sameEntry = (event: CustomerEvent) =>
    !definition.trigger.entryKey || String(readPath(event, definition.trigger.entryKey)) === entryKey;
  /** Only events a waitFor step could match are kept; the first match is all a step needs. */
  const waitedFor = (event: CustomerEvent) =>
    definition.steps.some((step) => step.kind === 'waitFor' && step.event === event.type && eventMatches(event, step.where, new Date().toISOString()));
  const end = (status: JourneyStatus, cause: string, line: string) => {
    if (endedBy) return;
    endedBy = { status, cause };
    tell(line);
  };
  const historyIsLong = () => {
    const info = workflowInfo();
    return mayContinueAsNew && (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS);
  };
  /** Ends this run and starts the next with the same workflow ID, search attributes and state. */
  const continueAsNew = () =>
    makeContinueAsNewFunc<typeof journey>({ typedSearchAttributes: workflowInfo().typedSearchAttributes })({
      ...input,
      resume: {
        step: state.currentStep,
        wait: pendingWait,
        entryEvent,
        history: state.history,
        variants: state.variants,
        story,
        seenEventIds: [...seenEventIds],
        received,
      },
    });

  const run: Run = {
    input,
    state,
    takes,
    entryEvent: () => entryEvent,
    received,
    sameEntry,
    ended: () => endedBy !== undefined,
    end,
    tell,
    record(step, outcome) {
      state.history.push({ stepId: step.id, kind: step.kind, at: new Date().toISOString(), outcome });
      if (state.history.length > STEP_RECORDS) state.history.shift();
    },
    resumedWait(step) {
      const wait = resumedWait;
      resumedWait = undefined;
      return step.id === resume?.step ? wait : undefined;
    },
    async waitUnlessEnded(wait, also = () => false) {
      state.nextWakeAt = wait.wakeAt;
      pendingWait = wait;
      const ms = Math.max(0, Date.parse(wait.wakeAt) - Date.now());
      const interrupted = await condition(() => endedBy !== undefined || also() || historyIsLong(), ms, { summary: wait.summary });
      if (interrupted && endedBy === undefined && !also()) await continueAsNew();
      pendingWait = undefined;
      state.nextWakeAt = undefined;
      return !interrupted;
    },
  };

  setHandler(stateQuery, () => state);
  setHandler(eventSignal, (event) => {
    if (seenEventIds.has(event.id)) return;
    seenEventIds.add(event.id);
    if (seenEventIds.size > SEEN_EVENT_IDS) seenEventIds.delete(seenEventIds.values().next().value as string);
    if (!sameEntry(event)) return;
    if (event.type === definition.trigger.event) {
      // Events can arrive out of order: an older cart update arriving late must not replace the cart the customer has now.
      if (Date.parse(event.occurredAt) < Date.parse(entryEvent.occurredAt) && takes(1, LATEST_ENTRY_EVENT)) {
        tell(`${event.type} at ${event.occurredAt} is older than the one the journey has (${entryEvent.occurredAt}): kept that one`);
        return;
      }
      entryEvent = event;
      tell(`${event.type} at ${event.occurredAt}: the next email uses it`);
    } else if (definition.goals.some((goal) => goal.event === event.type)) {
      end('goal_reached', event.type, `Goal ${event.type} reached at ${event.occurredAt}`);
    } else if (waitedFor(event)) {
      received.push(event);
      if (received.length > RECEIVED_EVENTS) received.shift();
    }
  });
  setHandler(consentChangedSignal, ({ topic, status }) => {
    // Transactional journeys (receipts) do not depend on consent, as the send step does not check it for them.
    if (status === 'withdrawn' && !definition.transactional && withdrawalReaches(topic, definition.topic)) {
      end('consent_withdrawn', topic, `Consent for ${topic} withdrawn`);
    }
  });

  tell();
  if (input.priorGoal) {
    const { type, occurredAt } = input.priorGoal;
    end('goal_reached', type, `Goal ${type} reached at ${occurredAt}, before the journey started: nothing sent`);
  }
  let shownStep = workflowInfo().typedSearchAttributes.get(JOURNEY_STEP);
  /** An exit step's id, shown with the final status rather than in an upsert of its own. */
  let exitStep: string | undefined;
  let current: Step | undefined = steps.get(state.currentStep);
  while (current && !endedBy) {
    state.currentStep = current.id;
    if (historyIsLong()) await continueAsNew();
    // The start (and continue-as-new) already set JourneyStep to this step: upserting it again only lengthens the history.
    if (current.id !== shownStep || !takes(1, NO_REDUNDANT_UPSERT)) {
      // An exit step ends the run in this very task, where the status is upserted too.
      if (current.kind === 'exit' && takes(3, ONE_FINAL_UPSERT)) exitStep = current.id;
      else upsertSearchAttributes([{ key: JOURNEY_STEP, value: current.id }]);
      shownStep = current.id;
    }
    const outcome = runStep(run, current);
    const next = typeof outcome === 'object' ? await outcome : outcome;
    current = next ? steps.get(next) : undefined;
  }

  state.status = endedBy?.status ?? 'completed';
  state.endedBy = endedBy?.cause;
  upsertSearchAttributes([...(exitStep ? [{ key: JOURNEY_STEP, value: exitStep }] : []), { key: JOURNEY_STATUS, value: state.status }]);
  // Counted by the worker (journeys_runs_ended_total); a sink issues no command and is not called on replay.
  proxySinks<JourneyMetricsSinks>().metrics.runEnded(definition.id, state.status);
  tell(state.status === 'completed' ? 'Journey completed' : undefined);
  return state;
}
