import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { percentile, type EmailTimes } from './measure';

const { EventType } = proto.api.enums.v1;
const STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED;
const WORKFLOW_TASK_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED;
const WORKFLOW_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED;
const WORKFLOW_TASK_TIMED_OUT = EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT;
const WORKFLOW_TASK_FAILED = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED;
const ACTIVITY_TASK_STARTED = EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED;
const ACTIVITY_TASK_COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED;

export type StageName = 'start → 1st workflow task' | '1st workflow task' | 'task done → activity start' | 'activity';
const STAGES: [StageName, number, number][] = [
  ['start → 1st workflow task', STARTED, WORKFLOW_TASK_STARTED],
  ['1st workflow task', WORKFLOW_TASK_STARTED, WORKFLOW_TASK_COMPLETED],
  ['task done → activity start', WORKFLOW_TASK_COMPLETED, ACTIVITY_TASK_STARTED],
  ['activity', ACTIVITY_TASK_STARTED, ACTIVITY_TASK_COMPLETED],
];

export interface StageTimes {
  /** p50/p99 ms of each stage between "workflow started" and "email activity done". */
  stages: Record<StageName, { p50: number; p99: number }>;
  runs: number;
  /** Runs whose activity needed more than one attempt (a timeout or failure: a latency outlier). */
  retriedActivities: number;
  /** Runs with a workflow task that timed out or failed (an overloaded worker). */
  failedWorkflowTasks: number;
  /** Mean events and encoded bytes of a run's history: what the server writes, reads back and hands the worker. */
  historyEvents: number;
  historyBytes: number;
  /** The slowest emails' way, each stage the median over them in ms (absent when none was given). */
  tail?: TailTimes;
}

/** Where the slowest emails of a phase spent their time, from the bench's clock and the server's events. */
export interface TailTimes {
  emails: number;
  /** Their event → email, median ms. */
  totalMs: number;
  stages: Record<TailStageName, number>;
}

/**
 * In the order an email goes through them: from each point of its way to the next (see
 * tailTimes). The same for a send that is an activity (bare) and one that is a local activity
 * (the floor, journeys), whose history has no activity events: its work is inside the first
 * workflow task, and its outcome is recorded when that task completes.
 */
export const TAIL_STAGES = ['submitted → run started', 'started → 1st task started', '1st task started → email arrived', 'email arrived → send recorded'] as const;
export type TailStageName = (typeof TAIL_STAGES)[number];

/**
 * Splits the server-side part of event → email into stages from each run's history (up to
 * `sample` runs), so a slow phase shows where it waits: in the task queue (no free worker
 * capacity), inside the workflow task (worker CPU), or inside the send activity.
 */
export async function stageTimes(temporal: Client, workflowIds: string[], sample = 500, slowest?: { emails: EmailTimes[]; workflowIdOf: (recipient: string) => string }): Promise<StageTimes> {
  const step = Math.max(1, Math.floor(workflowIds.length / sample));
  const picked = workflowIds.filter((_, i) => i % step === 0).slice(0, sample);
  const durations = new Map<StageName, number[]>(STAGES.map(([name]) => [name, []]));
  let retriedActivities = 0;
  let failedWorkflowTasks = 0;
  let historyEvents = 0;
  let historyBytes = 0;
  for (const workflowId of picked) {
    const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
    const events = history.events ?? [];
    historyEvents += events.length;
    historyBytes += proto.api.history.v1.History.encode(history).finish().length;
    const first = (type: number) => events.find((event) => event.eventType === type);
    const at = (type: number) => {
      const time = first(type)?.eventTime;
      return time ? Number(time.seconds) * 1000 + (time.nanos ?? 0) / 1e6 : undefined;
    };
    for (const [name, from, to] of STAGES) {
      const [a, b] = [at(from), at(to)];
      if (a !== undefined && b !== undefined) durations.get(name)!.push(b - a);
    }
    if ((first(ACTIVITY_TASK_STARTED)?.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retriedActivities++;
    if (first(WORKFLOW_TASK_TIMED_OUT) || first(WORKFLOW_TASK_FAILED)) failedWorkflowTasks++;
  }
  const stages = {} as StageTimes['stages'];
  for (const [name, values] of durations) {
    values.sort((x, y) => x - y);
    stages[name] = { p50: percentile(values, 50), p99: percentile(values, 99) };
  }
  const runs = Math.max(1, picked.length);
  const tail = slowest && slowest.emails.length > 0 ? await tailTimes(temporal, slowest.emails, slowest.workflowIdOf) : undefined;
  return { stages, runs: picked.length, retriedActivities, failedWorkflowTasks, historyEvents: historyEvents / runs, historyBytes: historyBytes / runs, ...(tail && { tail }) };
}

/**
 * The way of the slowest emails (a p99 is one of them): the bench's submission and arrival
 * times beside the server's events, so a tail shows whether it waited for Temporal (to start
 * the run, to hand its first task to the worker), in the worker and SMTP before the email
 * arrived, or after, for the send's outcome to reach the server.
 */
async function tailTimes(temporal: Client, emails: EmailTimes[], workflowIdOf: (recipient: string) => string): Promise<TailTimes> {
  const values = new Map<TailStageName, number[]>(TAIL_STAGES.map((name) => [name, []]));
  for (const email of emails) {
    const events = (await temporal.workflow.getHandle(workflowIdOf(email.recipient)).fetchHistory()).events ?? [];
    const at = (type: number) => {
      const time = events.find((event) => event.eventType === type)?.eventTime;
      return time ? Number(time.seconds) * 1000 + (time.nanos ?? 0) / 1e6 : NaN;
    };
    const recorded = events.some((event) => event.eventType === ACTIVITY_TASK_COMPLETED) ? at(ACTIVITY_TASK_COMPLETED) : at(WORKFLOW_TASK_COMPLETED);
    const points = [email.submittedAt, at(STARTED), at(WORKFLOW_TASK_STARTED), email.arrivedAt, recorded];
    TAIL_STAGES.forEach((name, i) => values.get(name)!.push(points[i + 1] - points[i]));
  }
  const median = (list: number[]) => percentile([...list].filter(Number.isFinite).sort((a, b) => a - b), 50);
  return {
    emails: emails.length,
    totalMs: median(emails.map((email) => email.arrivedAt - email.submittedAt)),
    stages: Object.fromEntries(TAIL_STAGES.map((name) => [name, median(values.get(name)!)])) as Record<TailStageName, number>,
  };
}
