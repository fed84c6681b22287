import type { Transporter } from 'nodemailer';
import { consentDefault, type Config } from '../domain/config';
import { parseDuration } from '../domain/duration';
import { createTemplateRenderer } from '../domain/templates';
import type { Catalogue } from '../journeys';
import type { Store } from '../store/types';
import type { ActivityDeps, UnsubscribeLinks } from '../activities';

export interface DepsOptions {
  store: Store;
  mailer: Transporter;
  catalogue: Catalogue;
  config: Pick<Config, 'mailFrom' | 'consent' | 'frequencyCaps' | 'quietHours' | 'defaultTimezone'>;
  unsubscribe: (customerId: string, topic: string) => UnsubscribeLinks;
  sweepSegments: ActivityDeps['sweepSegments'];
}

/** The one place the worker's activity dependencies are assembled, for the product, tests and benchmarks alike. */
export function createActivityDeps({ store, mailer, catalogue, config, unsubscribe, sweepSegments }: DepsOptions): ActivityDeps {
  const limits = config.frequencyCaps.map((cap) => ({ ...cap, windowMs: parseDuration(cap.window), label: `${cap.max} per ${cap.window}` }));
  return {
    store,
    mailer,
    from: config.mailFrom,
    templates: createTemplateRenderer(catalogue.templates),
    policy: {
      consentDefault: consentDefault(config),
      frequencyLimits: (topic) => limits.filter((limit) => limit.topic === topic),
      quietHours: config.quietHours,
      defaultTimezone: config.defaultTimezone,
    },
    unsubscribe,
    sweepSegments,
  };
}
