import type { ActivityDeps } from '../activities';
import { createTemplateRenderer, type TemplateRenderer } from '../domain/delivery/templates';
import type { Catalogue } from '../journeys';
import { noMetrics } from '../observability/recorder';

export type DepsOptions = Omit<ActivityDeps, 'templates' | 'pinnedTemplates' | 'clock' | 'metrics'> & {
  catalogue: Catalogue;
  /** The wall clock unless given (tests pass the time-skipping server's). */
  clock?: ActivityDeps['clock'];
  /** The process's metrics (compose's); none are counted unless given. */
  metrics?: ActivityDeps['metrics'];
};

/** The activities' dependencies: the catalogue's templates, and those of every version a run may have pinned. */
export function createActivityDeps({ catalogue, clock = async () => new Date(), metrics = noMetrics, ...deps }: DepsOptions): ActivityDeps {
  const templates = createTemplateRenderer(catalogue.templates);
  // Versions are few (one per deploy that changed a journey), so every renderer is kept.
  const pinned = new Map<string, Promise<TemplateRenderer | undefined>>();
  return {
    ...deps,
    clock,
    metrics,
    templates,
    pinnedTemplates: (journeyId, version) => {
      if (catalogue.get(journeyId)?.version === version) return Promise.resolve(templates);
      let renderer = pinned.get(version);
      if (!renderer) {
        renderer = deps.store.journeyVersionTemplates(journeyId, version).then((sources) => sources && createTemplateRenderer(sources));
        pinned.set(version, renderer);
      }
      return renderer;
    },
  };
}
