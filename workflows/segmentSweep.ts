import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { continueAsNew, executeChild, patched, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { SweepResult } from '../app/segmentTracker';

/**
 * The one workflow id that sweeps: a sweep started under any other (each Schedule run has one
 * of its own, `segment-sweep-<time>`, and so does a sweep started by hand or a Schedule
 * triggered with overlap allowed) hands its work to a child under this id, and skips when
 * one is running already. So two sweeps never run at once, however they were started.
 */
export const SEGMENT_SWEEP_WORKFLOW_ID = 'segment-sweep-pages';
/** Pages per run before continuing as new: about 6 history events a page, so a run stays under ~1,000 events. */
const PAGES_PER_RUN = 150;

const { sweepSegments } = proxyActivities<ReturnType<typeof createActivities>>({
  // A page of 1,000 takes well under a second on SQLite, a few on PostgreSQL; the heartbeat
  // notices a dead worker long before this.
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  // Bounded: a store down for longer fails this sweep, and the next Schedule run starts over.
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10 },
});

export interface SegmentSweepInput {
  /** Customers per page, i.e. per activity: the activity's SWEEP_PAGE_SIZE (1,000) when absent, as the Schedule starts it. */
  pageSize?: number;
  /** Pages per run before continuing as new: PAGES_PER_RUN when absent. */
  pagesPerRun?: number;
  /** Carried over continue-as-new: the sweep's instant, the cursor and what earlier runs found. */
  now?: string;
  after?: string;
  done?: SweepResult;
}

export interface SegmentSweepResult extends SweepResult {
  /** Present when this sweep did nothing because the sweep under this workflow id was still running. */
  skippedFor?: string;
}

/**
 * Run by the `segment-sweep` Temporal Schedule (overlap: skip): recomputes segments whose
 * membership the passing of time alone changes ("dormant 60 days", "3 views in the last 7
 * days"), one page of customers per activity, in customer id order; continues as new every
 * PAGES_PER_RUN pages, so its history stays small however many customers there are. A page
 * done is in the history and never redone; a page retried goes on from its last heartbeat.
 * The sweep's clock is the workflow's, so it is Temporal's time in tests too.
 */
export async function segmentSweep(input: SegmentSweepInput = {}): Promise<SegmentSweepResult> {
  // A sweep started before this hand-over existed (no marker in its history) sweeps itself, as it did.
  if (workflowInfo().workflowId !== SEGMENT_SWEEP_WORKFLOW_ID && patched('segment-sweep-one-at-a-time')) {
    try {
      return await executeChild(segmentSweep, { workflowId: SEGMENT_SWEEP_WORKFLOW_ID, args: [input], staticSummary: 'recompute time-based segments, page by page' });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      setCurrentDetails(`Skipped: the sweep ${SEGMENT_SWEEP_WORKFLOW_ID} is still running`);
      return { customers: 0, entered: 0, left: 0, skippedFor: SEGMENT_SWEEP_WORKFLOW_ID };
    }
  }
  const now = input.now ?? new Date().toISOString();
  const { pageSize } = input;
  const pagesPerRun = Math.max(1, input.pagesPerRun ?? PAGES_PER_RUN);
  const done: SweepResult = { customers: 0, entered: 0, left: 0, ...input.done };
  let after = input.after;
  for (let pages = 0; ; pages++) {
    if (pages >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof segmentSweep>({ pageSize, pagesPerRun, now, after, done });
    }
    const summary = after === undefined ? 'recompute time-based segments from the first customer' : `recompute time-based segments after customer ${after}`;
    const page = await sweepSegments.executeWithOptions({ summary }, [{ now, after, limit: pageSize }]);
    done.customers += page.customers;
    done.entered += page.entered;
    done.left += page.left;
    setCurrentDetails(`Swept ${done.customers} customers${page.next === undefined ? '' : ' so far'}: ${done.entered} entered and ${done.left} left a segment`);
    if (page.next === undefined) return done;
    after = page.next;
  }
}
