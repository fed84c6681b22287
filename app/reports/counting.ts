// From a journey's stored activity to what each email and each exposure counts: the one place
// reports and the winner check read the store's rows, so both count alike.
import { withdrawalReaches } from '../../domain/customer/topics';
import { EMAIL_CLICKED, EMAIL_OPENED } from '../../domain/delivery/engagement';
import { controlArm } from '../../domain/experiments/schema';
import type { ArmCounts, ExperimentMetric } from '../../domain/experiments/types';
import { HOLDOUT } from '../../domain/journey/split';
import { nextStepId, stepTargets } from '../../domain/journey/flow';
import type { JourneyDefinition, SplitStep, Step } from '../../domain/journey/types';
import { parseDuration } from '../../domain/time/duration';
import type { Conversion, Exposure, JourneyActivity, SendRecord } from '../../store/types';

/** A withdrawal is put down to the journey's last email before it when it came at most this long after. */
export const UNSUBSCRIBE_WINDOW = '7d';

/** The entrants a report counts: those who entered from `since` (all time when absent) to `until`. */
export interface ReportWindow {
  since?: Date;
  until: Date;
}

/** One send ledger row of the journey with what happened to its email. */
export interface EmailFacts {
  send: SendRecord;
  /** The step's id in the definition (the ledger's without `@<entry>`). */
  stepId: string;
  /** The arm of each split the run went through before, by split step id. */
  variants: Record<string, string>;
  sent: boolean;
  delivered: boolean;
  bounced: boolean;
  /** By a person: machine opens and scanner clicks are left out. */
  opened: boolean;
  clicked: boolean;
  conversions: number;
  revenue: number;
  unsubscribed: boolean;
}

export interface CountedActivity {
  /** Sends created in the window. */
  emails: EmailFacts[];
  /** Exposures made in the window. */
  exposures: Exposure[];
  runs: JourneyActivity['runs'];
  heldOut: JourneyActivity['heldOut'];
  winners: JourneyActivity['winners'];
  /** Every conversion of the journey by customer, attributed or not. */
  conversionsOf: Map<string, Conversion[]>;
  /** The arms a run (workflow and entry) got, with when, by split step id. */
  armsOf: Map<string, Map<string, Exposure>>;
}

const baseStep = (ledgerStepId: string) => ledgerStepId.split('@')[0];
const entryOf = (ledgerStepId: string) => ledgerStepId.split('@')[1] ?? '';
/** A run of the journey: its workflow id and, in re-entrant journeys, which entry. */
export const runKeyOf = (workflowId: string, ledgerStepId: string) => `${workflowId}\u0000${entryOf(ledgerStepId)}`;
const sendKeyOf = (workflowId: string, stepId: string) => `${workflowId}\u0000${stepId}`;

export function inWindow(at: string, window: ReportWindow): boolean {
  const ms = Date.parse(at);
  return (!window.since || ms >= window.since.getTime()) && ms <= window.until.getTime();
}

export function countActivity(activity: JourneyActivity, definition: JourneyDefinition, window: ReportWindow): CountedActivity {
  const armsOf = new Map<string, Map<string, Exposure>>();
  for (const exposure of activity.exposures) {
    const key = runKeyOf(exposure.workflowId, exposure.stepId);
    if (!armsOf.has(key)) armsOf.set(key, new Map());
    armsOf.get(key)!.set(baseStep(exposure.stepId), exposure);
  }

  const seen = new Map<string, { delivered: boolean; bounced: boolean; opened: boolean; clicked: boolean }>();
  for (const event of activity.emailEvents) {
    const { workflowId, stepId, machine } = event.properties as { workflowId?: unknown; stepId?: unknown; machine?: unknown };
    if (typeof workflowId !== 'string' || typeof stepId !== 'string') continue;
    const key = sendKeyOf(workflowId, stepId);
    const facts = seen.get(key) ?? { delivered: false, bounced: false, opened: false, clicked: false };
    if (event.type === 'email.delivered') facts.delivered = true;
    else if (event.type === 'email.bounced') facts.bounced = true;
    else if (machine !== true && event.type === EMAIL_OPENED) facts.opened = true;
    else if (machine !== true && event.type === EMAIL_CLICKED) facts.clicked = true;
    seen.set(key, facts);
  }

  const conversionsOf = new Map<string, Conversion[]>();
  const attributed = new Map<string, { conversions: number; revenue: number }>();
  for (const conversion of activity.conversions) {
    conversionsOf.set(conversion.customerId, [...(conversionsOf.get(conversion.customerId) ?? []), conversion]);
    if (!conversion.email) continue;
    const key = sendKeyOf(conversion.email.workflowId, conversion.email.stepId);
    const sum = attributed.get(key) ?? { conversions: 0, revenue: 0 };
    sum.conversions++;
    sum.revenue += conversion.value ?? 0;
    attributed.set(key, sum);
  }

  const unsubscribed = unsubscribedSends(activity, definition);
  const emails = activity.sends
    .filter((send) => inWindow(send.createdAt, window))
    .map((send): EmailFacts => {
      const key = sendKeyOf(send.workflowId, send.stepId);
      const facts = seen.get(key);
      const arms = armsOf.get(runKeyOf(send.workflowId, send.stepId));
      const sum = attributed.get(key);
      return {
        send,
        stepId: baseStep(send.stepId),
        variants: Object.fromEntries([...(arms ?? new Map<string, Exposure>())].filter(([, e]) => e.at <= send.createdAt).map(([step, e]) => [step, e.arm])),
        sent: send.status === 'sent',
        delivered: facts?.delivered ?? false,
        bounced: facts?.bounced ?? false,
        opened: facts?.opened ?? false,
        clicked: facts?.clicked ?? false,
        conversions: sum?.conversions ?? 0,
        revenue: sum?.revenue ?? 0,
        unsubscribed: unsubscribed.has(key),
      };
    });

  return {
    emails,
    exposures: activity.exposures.filter((exposure) => inWindow(exposure.at, window)),
    runs: activity.runs.filter((run) => inWindow(run.startedAt, window)),
    heldOut: activity.heldOut.filter((entry) => inWindow(entry.at, window)),
    winners: activity.winners,
    conversionsOf,
    armsOf,
  };
}

/** The sends each withdrawal of the journey's topic is put down to: the customer's last email of the journey before it, within UNSUBSCRIBE_WINDOW. */
function unsubscribedSends(activity: JourneyActivity, definition: JourneyDefinition): Set<string> {
  const window = parseDuration(UNSUBSCRIBE_WINDOW);
  const sentTo = new Map<string, SendRecord[]>();
  for (const send of activity.sends) if (send.status === 'sent') sentTo.set(send.customerId, [...(sentTo.get(send.customerId) ?? []), send]);
  const keys = new Set<string>();
  for (const withdrawal of activity.withdrawals) {
    if (!withdrawalReaches(withdrawal.topic, definition.topic)) continue;
    const at = Date.parse(withdrawal.at);
    const before = (sentTo.get(withdrawal.customerId) ?? []).filter((send) => Date.parse(send.updatedAt) <= at && at - Date.parse(send.updatedAt) <= window);
    const last = before.sort((a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt)).at(-1);
    if (last) keys.add(sendKeyOf(last.workflowId, last.stepId));
  }
  return keys;
}

/** The split steps from which `stepId` can be reached: the splits a run may go through before it. */
export function splitsBefore(definition: JourneyDefinition, stepId: string): Set<string> {
  const byId = new Map(definition.steps.map((step) => [step.id, step]));
  const successors = (step: Step): string[] => {
    const fallsThrough = step.kind === 'wait' || step.kind === 'send' || step.kind === 'tag' ? nextStepId(definition, step) : undefined;
    return [...stepTargets(step).map((t) => t.target), ...(fallsThrough ? [fallsThrough] : [])];
  };
  const reaches = (from: Step) => {
    const seen = new Set<string>();
    const queue = successors(from);
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      if (id === stepId) return true;
      const step = byId.get(id);
      if (!step || seen.has(id)) continue;
      seen.add(id);
      queue.push(...successors(step));
    }
    return false;
  };
  return new Set(definition.steps.filter((step) => step.kind === 'split' && step.id !== stepId && reaches(step)).map((step) => step.id));
}

/** The arms of the splits a run went through before it reached a split (those `splitsBefore` names), by split step id. */
export function givenOf(counted: CountedActivity, exposure: Exposure, before: Set<string>): Record<string, string> {
  const arms = counted.armsOf.get(runKeyOf(exposure.workflowId, exposure.stepId)) ?? new Map<string, Exposure>();
  return Object.fromEntries([...arms].filter(([step]) => before.has(step)).map(([step, e]) => [step, e.arm]));
}

const matches = (given: Record<string, string>, wanted: Record<string, string>) => Object.entries(wanted).every(([step, arm]) => given[step] === arm);

/** Whether the customer converted within `within` of `at` (the exposure or entry). */
export function convertedWithin(counted: CountedActivity, customerId: string, at: string, within: string): boolean {
  const from = Date.parse(at);
  const to = from + parseDuration(within);
  return (counted.conversionsOf.get(customerId) ?? []).some((c) => {
    const ms = Date.parse(c.occurredAt);
    return ms >= from && ms <= to;
  });
}

export interface ArmsOfMetric {
  control: string;
  arms: ArmCounts[];
}

/**
 * A split's counts per metric among the runs that took the arms `given` at earlier splits:
 * conversion per exposed customer (holdout included), click per sent email (variants only,
 * the control being the declared one if it is a variant, else the first). Null where the
 * metric cannot be measured: no `conversion` declared, or fewer than two variants for clicks.
 */
export function splitCounts(counted: CountedActivity, definition: JourneyDefinition, split: SplitStep, given: Record<string, string> = {}): Record<ExperimentMetric, ArmsOfMetric | null> {
  const names = split.variants.map((v) => v.name);
  const all = split.holdout ? [...names, HOLDOUT] : names;
  const before = splitsBefore(definition, split.id);
  const exposures = counted.exposures.filter((e) => baseStep(e.stepId) === split.id && matches(givenOf(counted, e, before), given));

  let conversion: ArmsOfMetric | null = null;
  const rule = definition.conversion;
  if (rule) {
    const arms = all.map((name) => {
      const mine = exposures.filter((e) => e.arm === name);
      return { name, exposed: mine.length, successes: mine.filter((e) => convertedWithin(counted, e.customerId, e.at, rule.within)).length };
    });
    conversion = { control: controlArm(split), arms };
  }

  let click: ArmsOfMetric | null = null;
  if (names.length >= 2) {
    const declared = split.experiment?.control;
    const control = declared && names.includes(declared) ? declared : names[0];
    const sent = counted.emails.filter((email) => email.sent && email.variants[split.id] !== undefined && matches(email.variants, given));
    const arms = names.map((name) => {
      const mine = sent.filter((email) => email.variants[split.id] === name);
      return { name, exposed: mine.length, successes: mine.filter((email) => email.clicked).length };
    });
    click = { control, arms };
  }
  return { conversion, click };
}
