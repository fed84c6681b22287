import { consentDefault, type Config } from '../domain/config';
import { parseDuration } from '../domain/duration';
import { createTemplateRenderer, type TemplateRenderer } from '../domain/templates';
import type { Catalogue } from '../journeys';
import type { Store } from '../store/types';
import type { ActivityDeps, UnsubscribeLinks } from '../activities';
import type { Mailer } from '../activities/smtp';

export interface DepsOptions {
  store: Store;
  mailer: Mailer;
  catalogue: Catalogue;
  config: Pick<Config, 'mailFrom' | 'consent' | 'frequencyCaps' | 'quietHours' | 'defaultTimezone'>;
  unsubscribe: (customerId: string, topic: string) => UnsubscribeLinks;
  sweepSegments: ActivityDeps['sweepSegments'];
  routePendingEvents: ActivityDeps['routePendingEvents'];
  /** The wall clock unless given (tests pass the time-skipping server's). */
  clock?: ActivityDeps['clock'];
}

/** The one place the worker's activity dependencies are assembled, for the product, tests and benchmarks alike. */
export function createActivityDeps({ store, mailer, catalogue, config, unsubscribe, sweepSegments, routePendingEvents, clock = async () => new Date() }: DepsOptions): ActivityDeps {
  const limits = config.frequencyCaps.map((cap) => ({ ...cap, windowMs: parseDuration(cap.window), label: `${cap.max} per ${cap.window}` }));
  const templates = createTemplateRenderer(catalogue.templates);
  // Versions are few (one per deploy that changed a journey), so every renderer is kept.
  const pinned = new Map<string, Promise<TemplateRenderer | undefined>>();
  return {
    store,
    clock,
    mailer,
    from: config.mailFrom,
    templates,
    pinnedTemplates: (journeyId, version) => {
      if (catalogue.get(journeyId)?.version === version) return Promise.resolve(templates);
      let renderer = pinned.get(version);
      if (!renderer) {
        renderer = store.journeyVersionTemplates(journeyId, version).then((sources) => sources && createTemplateRenderer(sources));
        pinned.set(version, renderer);
      }
      return renderer;
    },
    policy: {
      consentDefault: consentDefault(config),
      frequencyLimits: (topic) => limits.filter((limit) => limit.topic === topic),
      quietHours: config.quietHours,
      defaultTimezone: config.defaultTimezone,
    },
    unsubscribe,
    sweepSegments,
    routePendingEvents,
  };
}
