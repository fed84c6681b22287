// The journey interpreter. Every journey runs as a workflow type named by its id
// (`cartAbandonment`, ...); none is exported by name, so the SDK routes them all to this
// default export (a dynamic workflow) and operators still see the journey's name.
// Step kinds are handled in ./steps; this file holds the run's state and messages.
import { condition, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { CustomerEvent } from '../domain/customer';
import { GLOBAL_TOPIC } from '../domain/topics';
import type { JourneyStatus, Step } from '../domain/journey';
import { readPath } from '../domain/path';
import { consentChangedSignal, eventSignal, stateQuery, type JourneyInput, type JourneyState } from './messages';
import { JOURNEY_STATUS, JOURNEY_STEP } from './searchAttributes';
import { runStep, type Run } from './steps';

// Named exports are workflow types of their own; every other type is a journey, below.
export { segmentSweep } from './segmentSweep';

export default async function journey(input: JourneyInput): Promise<JourneyState> {
  const { definition, customerId, entryKey } = input;
  const steps = new Map(definition.steps.map((step) => [step.id, step]));
  const state: JourneyState = {
    journeyId: definition.id,
    version: input.version,
    customerId,
    entryKey,
    status: 'running',
    currentStep: definition.steps[0].id,
    history: [],
  };
  let entryEvent = input.entryEvent;
  const seenEventIds = new Set([entryEvent.id]);
  const received: CustomerEvent[] = [];
  let endedBy: { status: JourneyStatus; cause: string } | undefined;
  const story: string[] = [`Entered on ${entryEvent.type}${entryKey ? ` (${entryKey})` : ''} at ${entryEvent.occurredAt}`];

  const tell = (line?: string) => {
    if (line) story.push(line);
    setCurrentDetails(story.map((l) => `- ${l}`).join('\n'));
  };
  const sameEntry = (event: CustomerEvent) =>
    !definition.trigger.entryKey || String(readPath(event, definition.trigger.entryKey)) === entryKey;
  const end = (status: JourneyStatus, cause: string, line: string) => {
    if (endedBy) return;
    endedBy = { status, cause };
    tell(line);
  };
  const run: Run = {
    input,
    state,
    entryEvent: () => entryEvent,
    received,
    sameEntry,
    ended: () => endedBy !== undefined,
    end,
    tell,
    record(step, outcome) {
      state.history.push({ stepId: step.id, kind: step.kind, at: new Date().toISOString(), outcome });
    },
    async waitUnlessEnded(ms, summary, also = () => false) {
      state.nextWakeAt = new Date(Date.now() + ms).toISOString();
      const interrupted = await condition(() => endedBy !== undefined || also(), ms, { summary });
      state.nextWakeAt = undefined;
      return !interrupted;
    },
  };

  setHandler(stateQuery, () => state);
  setHandler(eventSignal, (event) => {
    if (seenEventIds.has(event.id)) return;
    seenEventIds.add(event.id);
    if (!sameEntry(event)) return;
    if (event.type === definition.trigger.event) {
      // A newer trigger for the same entry (an updated cart) refreshes what the next email shows.
      entryEvent = event;
      tell(`${event.type} at ${event.occurredAt}: the next email uses it`);
    } else if (definition.goals.some((goal) => goal.event === event.type)) {
      end('goal_reached', event.type, `Goal ${event.type} reached at ${event.occurredAt}`);
    } else {
      received.push(event);
    }
  });
  setHandler(consentChangedSignal, ({ topic, status }) => {
    // Transactional journeys (receipts) do not depend on consent, as the send step does not check it for them.
    if (status === 'withdrawn' && !definition.transactional && (topic === definition.topic || topic === GLOBAL_TOPIC)) {
      end('opted_out', topic, `Consent for ${topic} withdrawn`);
    }
  });

  tell();
  let current: Step | undefined = definition.steps[0];
  while (current && !endedBy) {
    state.currentStep = current.id;
    upsertSearchAttributes([{ key: JOURNEY_STEP, value: current.id }]);
    const next = await runStep(run, current);
    current = next ? steps.get(next) : undefined;
  }

  state.status = endedBy?.status ?? 'completed';
  state.endedBy = endedBy?.cause;
  upsertSearchAttributes([{ key: JOURNEY_STATUS, value: state.status }]);
  tell(state.status === 'completed' ? 'Journey completed' : undefined);
  return state;
}
