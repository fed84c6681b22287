import { CancelledFailure, Context } from '@temporalio/activity';
import { SWEEP_PAGE_SIZE, type SweepPage, type SweepPageResult, type SweepProgress } from '../app/segmentTracker';
import type { SendPolicy } from '../domain/delivery/sendPolicy';
import type { EmailTracker } from '../domain/delivery/tracking';
import type { TemplateRenderer } from '../domain/delivery/templates';
import type { MetricsRecorder } from '../observability/recorder';
import type { Store } from '../store/types';
import { createBranchStep } from './branchStep';
import { createRecordExposure } from './recordExposure';
import { createResendStep } from './resendStep';
import { createResolveWait } from './resolveWait';
import { createSendStep } from './sendStep';
import type { Mailer } from './smtp';
import { createTagProfile } from './tagProfile';
import { createScoreModels } from './scoreModels';
import { createTrainScores } from './trainScores';

export type { SendStepInput, SendStepResult } from './sendStep';
export type { TagProfileInput, TagProfileResult } from './tagProfile';
export type { RecordExposureInput } from './recordExposure';
export type { ScoreModelsInput, ScoreModelsResult } from './scoreModels';
export type { TrainScoresInput, TrainScoresResult } from './trainScores';

/** Where a customer's unsubscribe link and headers point, for one topic. */
export interface UnsubscribeLinks {
  url: string;
  headers: Record<string, string>;
}

export interface ActivityDeps {
  store: Store;
  /** Now, on the clock journeys run on: the wall clock, or in tests Temporal's time-skipping clock. */
  clock: () => Promise<Date>;
  mailer: Mailer;
  /** The From address of every email, e.g. "Shop <hello@shop.example.com>". */
  from: string;
  /** The templates of the catalogue this worker runs. */
  templates: TemplateRenderer;
  /** The templates a journey version started with (recorded at its first start); undefined for a version never recorded. */
  pinnedTemplates: (journeyId: string, version: string) => Promise<TemplateRenderer | undefined>;
  policy: SendPolicy;
  unsubscribe: (customerId: string, topic: string) => UnsubscribeLinks;
  /** Adds the open pixel and tracked links to marketing email; absent when TRACKING=off. */
  tracking?: EmailTracker;
  /** Recomputes one page of customers' time-based segments as of `now`, emitting segment.entered / segment.left (JourneyClient.sweepSegmentPage). */
  sweepSegmentPage: (now: string, page: SweepPage) => Promise<SweepPageResult>;
  /** Routes events recorded over a minute before `now` whose routing failed (JourneyClient.routePendingEvents). */
  routePendingEvents: (now: string) => Promise<{ routed: number }>;
  /** Where sends, their outcomes and durations are counted (the process's registry). */
  metrics: MetricsRecorder;
}

export function createActivities(deps: ActivityDeps) {
  return {
    sendStep: createSendStep(deps),
    resendStep: createResendStep(deps),
    resolveWait: createResolveWait(deps),
    branchStep: createBranchStep(deps),
    tagProfile: createTagProfile(deps),
    recordExposure: createRecordExposure(deps),
    sweepSegments: createSweepSegments(deps),
    routePendingEvents: ({ now }: { now: string }) => deps.routePendingEvents(now),
    trainScores: createTrainScores(deps),
    scoreModels: createScoreModels(deps),
  };
}

/** One page of the segment sweep: `after` is the last customer id of the page before (absent: from the first). */
export interface SweepSegmentsInput {
  /** The sweep's instant, the same for all its pages. */
  now: string;
  after?: string;
  /** Customers in the page: SWEEP_PAGE_SIZE when absent (a sweep started before pages existed sends none). */
  limit?: number;
}

/**
 * One page of the segment sweep (the activity keeps its name from when it was the whole
 * sweep, so sweeps running across a deploy replay). It heartbeats how far it got after every
 * few customers: a dead worker is noticed within the heartbeat timeout, and a retry goes on
 * from the last customer reported done instead of the page's start. A heartbeat that finds
 * the attempt cancelled or timed out stops it, so a retry never runs beside a stale attempt.
 */
function createSweepSegments(deps: Pick<ActivityDeps, 'sweepSegmentPage'>) {
  return async ({ now, after, limit = SWEEP_PAGE_SIZE }: SweepSegmentsInput): Promise<SweepPageResult> => {
    const context = Context.current();
    const resume = context.info.heartbeatDetails as SweepProgress | undefined;
    return deps.sweepSegmentPage(now, {
      after,
      limit,
      resume,
      progress(done) {
        context.heartbeat(done);
        if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? new CancelledFailure('the sweep page was cancelled');
      },
    });
  };
}
