// One handler per step kind. Each runs a step of the pinned definition and returns the id
// of the step that follows (undefined ends the journey). Everything that needs the store
// or SMTP is an activity; time is Temporal's (durable timers via `condition`).
import { ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities, TemporalFailure, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import type { CustomerEvent } from '../domain/customer/types';
import { parseDuration } from '../domain/time/duration';
import { redactAddresses } from '../domain/delivery/redact';
import type { JourneyStatus, Step, StepOf } from '../domain/journey/types';
import { eventMatches, nextStepId } from '../domain/journey/flow';
import { assignVariant, fnv1a32 } from '../domain/journey/split';
import type { createActivities, SendStepResult } from '../activities';
import type { JourneyInput, JourneyState, PendingWait } from './messages';

const { sendStep } = proxyActivities<ReturnType<typeof createActivities>>({
  // Above the SMTP client's own timeouts (activities/smtp.ts), so an attempt ends itself first;
  // the heartbeat notices a dead worker sooner.
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '20 seconds',
  // SMTP faults retry with backoff for up to a day; the send ledger makes retries safe.
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});
/**
 * Interpreter 4: a send's first attempt is a local activity, run by the worker inside the
 * workflow task that reaches the step. An email then takes one workflow task and no activity
 * task: the server records a marker instead of scheduling, starting and completing an activity,
 * and hands out no second workflow task (in the bench's full runs a journey email took 7 history
 * events and ~11 ms of server CPU, where bare Temporal's one-activity email took 11 and ~17). The send ledger makes it as safe as the
 * activity: a worker that dies mid-send leaves its workflow task to time out, and the attempt
 * that runs it again finds the ledger row. An attempt that fails in a way that may pass (an SMTP
 * server's 4xx, a store or a timeout) hands the send to the `sendStep` activity above, whose
 * retries and last failure operators see in the Temporal UI as a pending activity.
 */
const LOCAL_FIRST_SEND = 'local-first-send';
const { sendStep: sendStepLocally } = proxyLocalActivities<ReturnType<typeof createActivities>>({
  // As the activity's: above the SMTP client's own timeouts. A send that outlasts the workflow
  // task's timeout keeps its task alive: the SDK heartbeats it.
  startToCloseTimeout: '3 minutes',
  retry: { maximumAttempts: 1 },
});
// Store reads, the tag write (setting the same value again is harmless) and the exposure
// write (the first record wins): quick, safe to repeat, retried until the store answers.
const { resolveWait, branchStep, tagProfile, recordExposure } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** What a step handler may see and do in the running journey. */
export interface Run {
  input: JourneyInput;
  state: JourneyState;
  /** Whether the run takes an interpreter change: from its input (INTERPRETER `since` or later), else by the change's patch marker. */
  takes(since: number, patchId: string): boolean;
  /** The entry event as last updated by a newer trigger event. */
  entryEvent(): CustomerEvent;
  /** Events received by signal that a waitFor step could match, in arrival order (the latest few). */
  received: CustomerEvent[];
  sameEntry(event: CustomerEvent): boolean;
  ended(): boolean;
  end(status: JourneyStatus, cause: string, line: string): void;
  /** Adds a line to the story in the run's current details (or just refreshes it). */
  tell(line?: string): void;
  record(step: Step, outcome: string): void;
  /**
   * Waits until `wait.wakeAt` unless the journey ends first or `also` turns true; true when
   * the full time passed. A run whose history has grown long continues as new from here.
   */
  waitUnlessEnded(wait: PendingWait, also?: () => boolean): Promise<boolean>;
  /**
   * In a run continued as new during this step's wait: that wait, once. The step then goes
   * straight back to waiting, without redoing what it did before (activities, records).
   */
  resumedWait(step: Step): PendingWait | undefined;
}

/**
 * The id of the step that follows (undefined ends the journey), or a promise of it. A step that
 * needs no activity or timer answers at once: every promise a workflow creates costs CPU on the
 * worker, as the SDK records a source-mapped stack trace of each for the UI's "Stack Trace" view
 * (about 0.1 ms each on a 2-core machine). The send path, which every email takes, settles in
 * the activity's own promise: a journey that sends one email makes 12, where a bare
 * one-activity workflow makes 11 and this interpreter made 19 with an async function per stage.
 */
export type StepOutcome = string | undefined | Promise<string | undefined>;

export function runStep(run: Run, step: Step): StepOutcome {
  switch (step.kind) {
    case 'wait':
      return step.duration !== undefined ? waitDuration(run, step, step.duration) : waitUntil(run, step);
    case 'send':
      return send(run, step);
    case 'waitFor':
      return waitFor(run, step);
    case 'branch':
      return branch(run, step);
    case 'split':
      return split(run, step);
    case 'tag':
      return tag(run, step);
    case 'exit':
      run.record(step, 'exit');
      return undefined;
  }
}

const scaleNote = (run: Run) => (run.input.waitScale === 1 ? '' : ` (demo: ${run.input.waitScale}× faster)`);
const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();

async function waitDuration(run: Run, step: StepOf<'wait'>, duration: string) {
  const next = nextStepId(run.input.definition, step);
  const wait = run.resumedWait(step) ?? { wakeAt: isoIn(parseDuration(duration) / run.input.waitScale), summary: `wait ${duration} before ${next}${scaleNote(run)}` };
  const passed = await run.waitUnlessEnded(wait);
  run.record(step, passed ? `waited ${duration}` : 'interrupted');
  return next;
}

/**
 * A wait until a date attribute or a local time. An activity resolves the instant from
 * the fresh profile; a date already past, a missing attribute or one that is not a date
 * continue at once, and the history says which. A newer entry event while waiting on one
 * of its dates (a moved delivery date) resolves the wait again.
 */
async function waitUntil(run: Run, step: StepOf<'wait'>) {
  const next = nextStepId(run.input.definition, step);
  const watchesEvent = step.until?.attribute.startsWith('event.') ?? false;
  for (;;) {
    const event = run.entryEvent();
    const wait = run.resumedWait(step) ?? (await resolveUntil(run, step, next, event));
    if (!wait) return next;
    const passed = await run.waitUnlessEnded(wait, () => watchesEvent && run.entryEvent() !== event);
    if (passed || run.ended()) {
      run.record(step, passed ? `waited until ${wait.facts?.until}` : 'interrupted');
      return next;
    }
    run.tell(`${step.id}: a newer ${event.type} arrived; resolving ${step.until?.attribute} again`);
  }
}

/** The wait until a date or local time, resolved by an activity; undefined (and recorded) when the journey goes on at once. */
async function resolveUntil(run: Run, step: StepOf<'wait'>, next: string | undefined, event: CustomerEvent): Promise<PendingWait | undefined> {
  const { definition, customerId, waitScale } = run.input;
  const target = await resolveWait.executeWithOptions({ summary: `resolve wait ${step.id}` }, [
    { customerId, until: step.until, at: step.at, event, defaultTimezone: definition.defaultTimezone, from: new Date().toISOString() },
  ]);
  if (target.until === undefined || Date.parse(target.until) <= Date.now()) {
    const why = target.until === undefined ? target.note : `${target.label} is in the past`;
    run.record(step, `continued at once: ${why}`);
    run.tell(`${step.id}: ${why}; continued at once to ${next}`);
    return undefined;
  }
  // Dates from attributes stay out of summaries and outcomes (a birthday is personal data); a local time's instant does not.
  const when = step.at ? `${target.label} (${utcLabel(new Date(target.until))})` : target.label;
  return {
    wakeAt: isoIn((Date.parse(target.until) - Date.now()) / waitScale),
    summary: `wait until ${when} before ${next}${scaleNote(run)}`,
    facts: { until: `${when}${target.note ? ` (${target.note})` : ''}` },
  };
}

async function waitFor(run: Run, step: StepOf<'waitFor'>) {
  const resumed = run.resumedWait(step);
  // Only events that arrive while the step waits count.
  if (!resumed) run.received.splice(0);
  const matching = () =>
    run.received.find((event) => event.type === step.event && (!step.matchEntryKey || run.sameEntry(event)) && eventMatches(event, step.where, new Date().toISOString()));
  const wait = resumed ?? {
    wakeAt: isoIn(parseDuration(step.timeout) / run.input.waitScale),
    summary: `wait up to ${step.timeout} for ${step.event}${step.where ? ' (matching)' : ''}${scaleNote(run)}`,
  };
  await run.waitUnlessEnded(wait, () => matching() !== undefined);
  const arrived = matching();
  const next = arrived ? step.onEvent : step.onTimeout;
  run.record(step, arrived ? `${step.event} arrived (${arrived.id})` : `no ${step.event} within ${step.timeout}`);
  run.tell(arrived ? `${step.event} arrived: on to ${next}` : `No ${step.event} within ${step.timeout}: on to ${next}`);
  return next;
}

async function branch(run: Run, step: StepOf<'branch'>) {
  const { definition, customerId } = run.input;
  const decision = await branchStep.executeWithOptions({ summary: `branch ${step.id}` }, [
    { journeyId: definition.id, customerId, stepId: step.id, rules: step.rules, otherwise: step.otherwise, event: run.entryEvent(), now: new Date().toISOString() },
  ]);
  run.record(step, `${decision.chosenBy}: ${decision.next}`);
  run.tell(`Branch ${step.id}: ${decision.chosenBy === 'otherwise' ? 'no rule matched' : `rule ${decision.chosenBy} matched`}, on to ${decision.next}`);
  return decision.next;
}

/** Interpreter 2: a split records the arm it gave (an activity), so reports count holdouts, who get no email. */
const RECORD_SPLIT_EXPOSURE = 'record-split-exposure';

/** Deterministic, so replays and later runs for the same customer agree without stored state. */
async function split(run: Run, step: StepOf<'split'>) {
  const { definition, customerId, version } = run.input;
  const assignment = assignVariant(step, definition.id, customerId);
  run.state.variants = { ...run.state.variants, [step.id]: assignment.name };
  if (run.takes(2, RECORD_SPLIT_EXPOSURE)) {
    await recordExposure.executeWithOptions({ summary: `record ${step.id}: ${assignment.name}` }, [
      { workflowId: workflowInfo().workflowId, stepId: ledgerStepId(run, step), journeyId: definition.id, version, customerId, arm: assignment.name, at: new Date().toISOString() },
    ]);
  }
  run.record(step, `variant ${assignment.name}`);
  run.tell(`Split ${step.id}: variant ${assignment.name}${assignment.next ? `, on to ${assignment.next}` : ', which ends the journey'}`);
  return assignment.next;
}

async function tag(run: Run, step: StepOf<'tag'>) {
  const { attribute, value } = step;
  const result = await tagProfile.executeWithOptions({ summary: `tag ${step.id}` }, [{ customerId: run.input.customerId, attribute, value }]);
  const set = `${attribute}=${String(value)}`;
  run.record(step, result.status === 'tagged' ? `tagged ${set}` : `skipped: no profile to tag ${set}`);
  run.tell(result.status === 'tagged' ? `Tagged the profile ${set}` : `${step.id}: no profile, ${set} not set`);
  return nextStepId(run.input.definition, step);
}

/** Sends (again after each deferral), records the outcome and resolves to the step that follows. */
function send(run: Run, step: StepOf<'send'>): Promise<string | undefined> {
  const resumed = run.resumedWait(step);
  return resumed ? sendAfter(run, step, resumed) : attemptSend(run, step);
}

async function sendAfter(run: Run, step: StepOf<'send'>, wait: PendingWait): Promise<string | undefined> {
  if (await run.waitUnlessEnded(wait)) return attemptSend(run, step);
  return settleSend(run, step, `not sent: ended while deferred (${wait.facts?.reason})`);
}

/** One attempt of the send, settled in the same promise (see StepOutcome): locally first, then as the activity if that failed in a way that may pass. */
function attemptSend(run: Run, step: StepOf<'send'>): Promise<string | undefined> {
  const { definition, customerId } = run.input;
  const options = { summary: `send ${step.id}` };
  const args: Parameters<typeof sendStep> = [
    {
      journeyId: definition.id,
      topic: definition.topic,
      transactional: definition.transactional,
      whenCapped: step.whenCapped,
      defaultTimezone: definition.defaultTimezone,
      customerId,
      stepId: ledgerStepId(run, step),
      version: run.input.version,
      template: step.template,
      event: run.entryEvent(),
      // Activity arguments are not compared on replay, so runs recorded before these replay as they were.
      tracking: definition.tracking,
      variants: run.state.variants,
    },
  ];
  const settled = (result: SendStepResult) => settleSend(run, step, sendOutcome(run, step, result));
  const failed = (err: unknown) => {
    if (!(err instanceof TemporalFailure)) throw err;
    const why = failureOf(err);
    run.tell(`${step.id} failed: ${why}`);
    return settleSend(run, step, `failed: ${why}`);
  };
  if (!run.takes(4, LOCAL_FIRST_SEND)) return sendStep.executeWithOptions(options, args).then(settled, failed);
  // A local activity's failure comes as its cause (an ApplicationFailure, a TimeoutFailure), not wrapped in an ActivityFailure.
  return sendStepLocally.executeWithOptions(options, args).then(settled, (err: unknown) => {
    const mayPass = (err instanceof ApplicationFailure && !err.nonRetryable) || err instanceof TimeoutFailure;
    if (!mayPass) return failed(err);
    run.tell(`${step.id}: the first attempt failed (${failureOf(err)}); retrying as the sendStep activity`);
    return sendStep.executeWithOptions(options, args).then(settled, failed);
  });
}

/** What failed, from an activity's failure or a local activity's: SMTP replies name the recipient ("5.1.1 <ada@example.com>: no such user"); the story and the step history must not. */
const failureOf = (err: TemporalFailure) => redactAddresses((err instanceof ActivityFailure ? err.cause?.message : undefined) ?? err.message);

/** An outcome ends the step; a deferral waits as asked and tries again. */
function settleSend(run: Run, step: StepOf<'send'>, outcome: string | PendingWait): StepOutcome {
  if (typeof outcome !== 'string') return sendAfter(run, step, outcome);
  run.record(step, outcome);
  return nextStepId(run.input.definition, step);
}

/** What an attempt's result means for the step: its outcome, or the wait a deferral asks for. */
function sendOutcome(run: Run, step: StepOf<'send'>, result: SendStepResult): string | PendingWait {
  switch (result.status) {
    case 'sent':
      run.tell(`Sent ${step.id} (template ${result.template}, chosen by ${result.chosenBy})`);
      return `sent ${result.template}`;
    case 'deferred':
      run.record(step, `deferred until ${result.until}: ${result.reason}`);
      run.tell(`${step.id} deferred until ${result.until}: ${result.reason}`);
      return { wakeAt: result.until, summary: `wait until ${result.until} (${result.reason}) before ${step.id}`, facts: { reason: result.reason } };
    case 'skipped':
      if (result.reason === 'consent_withdrawn') {
        const { topic } = run.input.definition;
        run.end('consent_withdrawn', topic, `${step.id} not sent: consent for ${topic} withdrawn (ledger)`);
      } else {
        run.tell(`${step.id} skipped: ${result.reason}`);
      }
      return `skipped: ${result.reason}`;
  }
}

/**
 * The send ledger is keyed by workflow ID + step ID. A re-entrant journey reuses its
 * workflow ID for every entry, so each entry's sends are told apart by its first event.
 */
function ledgerStepId(run: Run, step: Step): string {
  if (run.input.definition.reentry === 'once') return step.id;
  return `${step.id}@${fnv1a32(run.input.entryEvent.id).toString(16).padStart(8, '0')}`;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "Tue 2 Dec 19:00 UTC" */
function utcLabel(at: Date): string {
  const time = at.toISOString().slice(11, 16);
  return `${WEEKDAYS[at.getUTCDay()]} ${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${time} UTC`;
}
