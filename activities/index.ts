import type { SweepResult } from '../app/segmentTracker';
import type { SendPolicy } from '../domain/delivery/sendPolicy';
import type { TemplateRenderer } from '../domain/delivery/templates';
import type { MetricsRecorder } from '../observability/recorder';
import type { Store } from '../store/types';
import { createBranchStep } from './branchStep';
import { createResendStep } from './resendStep';
import { createResolveWait } from './resolveWait';
import { createSendStep } from './sendStep';
import type { Mailer } from './smtp';
import { createTagProfile } from './tagProfile';

export type { SendStepInput, SendStepResult } from './sendStep';
export type { TagProfileInput, TagProfileResult } from './tagProfile';

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
  /** Recomputes time-based segments as of `now`, emitting segment.entered / segment.left (JourneyClient.sweepSegments). */
  sweepSegments: (now: string) => Promise<SweepResult>;
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
    sweepSegments: ({ now }: { now: string }) => deps.sweepSegments(now),
    routePendingEvents: ({ now }: { now: string }) => deps.routePendingEvents(now),
  };
}
