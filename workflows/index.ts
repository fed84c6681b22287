// The journey interpreter. Every journey runs as a workflow type named by its id
// (`cartAbandonment`, ...); none is exported by name, so the SDK routes them all to this
// default export (a dynamic workflow) and operators still see the journey's name.
import {
  ActivityFailure,
  condition,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CustomerEvent } from '../domain/customer';
import { parseDuration } from '../domain/duration';
import { nextStepId, type JourneyStatus, type Step } from '../domain/journey';
import { readPath } from '../domain/path';
import type { SendStepResult, createActivities } from '../activities';
import { consentChangedSignal, eventSignal, stateQuery, type JourneyInput, type JourneyState } from './messages';
import { JOURNEY_STATUS, JOURNEY_STEP } from './searchAttributes';

const { sendStep } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1 minute',
  // SMTP faults retry with backoff for up to a day; the send ledger makes retries safe.
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

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
  const record = (step: Step, outcome: string) => {
    state.history.push({ stepId: step.id, kind: step.kind, at: new Date().toISOString(), outcome });
  };
  const sameEntry = (event: CustomerEvent) =>
    !definition.trigger.entryKey || String(readPath(event, definition.trigger.entryKey)) === entryKey;
  const end = (status: JourneyStatus, cause: string, line: string) => {
    if (endedBy) return;
    endedBy = { status, cause };
    tell(line);
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
    if (status === 'withdrawn' && topic === definition.topic) {
      end('opted_out', topic, `Consent for ${topic} withdrawn`);
    }
  });

  const scaled = (duration: string) => parseDuration(duration) / input.waitScale;
  const scaleNote = input.waitScale === 1 ? '' : ` (demo: ${input.waitScale}× faster)`;
  const enter = (step: Step) => {
    state.currentStep = step.id;
    upsertSearchAttributes([{ key: JOURNEY_STEP, value: step.id }]);
  };
  /** Waits `ms` unless the journey ends first; true when the full time passed. */
  const waitUnlessEnded = async (ms: number, summary: string, also: () => boolean = () => false) => {
    state.nextWakeAt = new Date(Date.now() + ms).toISOString();
    const interrupted = await condition(() => endedBy !== undefined || also(), ms, { summary });
    state.nextWakeAt = undefined;
    return !interrupted;
  };

  tell();
  let current: Step | undefined = definition.steps[0];
  while (current && !endedBy) {
    const step: Step = current;
    enter(step);
    let next: string | undefined;
    switch (step.kind) {
      case 'wait': {
        next = nextStepId(definition, step);
        const passed = await waitUnlessEnded(scaled(step.duration), `wait ${step.duration} before ${next}${scaleNote}`);
        record(step, passed ? `waited ${step.duration}` : 'interrupted');
        break;
      }
      case 'send': {
        next = nextStepId(definition, step);
        const outcome = await send(step, entryEvent);
        record(step, outcome);
        break;
      }
      case 'waitFor': {
        const from = received.length;
        const matches = () =>
          received.slice(from).some((event) => event.type === step.event && (!step.matchEntryKey || sameEntry(event)));
        await waitUnlessEnded(scaled(step.timeout), `wait up to ${step.timeout} for ${step.event}${scaleNote}`, matches);
        const arrived = matches();
        next = arrived ? step.onEvent : step.onTimeout;
        record(step, arrived ? `${step.event} arrived` : `no ${step.event} within ${step.timeout}`);
        tell(arrived ? `${step.event} arrived: on to ${next}` : `No ${step.event} within ${step.timeout}: on to ${next}`);
        break;
      }
      case 'exit':
        record(step, 'exit');
        break;
    }
    current = next ? steps.get(next) : undefined;
  }

  state.status = endedBy?.status ?? 'completed';
  state.endedBy = endedBy?.cause;
  upsertSearchAttributes([{ key: JOURNEY_STATUS, value: state.status }]);
  tell(state.status === 'completed' ? 'Journey completed' : undefined);
  return state;

  async function send(step: Extract<Step, { kind: 'send' }>, event: CustomerEvent): Promise<string> {
    let result: SendStepResult;
    try {
      result = await sendStep.executeWithOptions({ summary: `send ${step.id}` }, [
        { journeyId: definition.id, topic: definition.topic, customerId, stepId: step.id, template: step.template, event },
      ]);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      tell(`${step.id} failed: ${err.cause?.message ?? err.message}`);
      return `failed: ${err.cause?.message ?? err.message}`;
    }
    if (result.status === 'sent') {
      tell(`Sent ${step.id} (template ${result.template}, chosen by ${result.chosenBy})`);
      return `sent ${result.template}`;
    }
    if (result.reason === 'consent_withdrawn') {
      end('opted_out', definition.topic, `${step.id} not sent: consent for ${definition.topic} withdrawn (ledger)`);
    } else {
      tell(`${step.id} skipped: ${result.reason}`);
    }
    return `skipped: ${result.reason}`;
  }
}

