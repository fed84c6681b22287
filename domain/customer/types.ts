// Customer data as plain types, for code that must never load zod (the workflow bundle).
// Type-only imports are erased at compile time, so the schemas stay the single source.
import type { z } from 'zod';
import type { consentChangeSchema, consentStatus, eventSchema, profileSchema } from './schema';

export type Profile = z.infer<typeof profileSchema>;
export type CustomerEventInput = z.input<typeof eventSchema>;
/** An event as journeys see it: `occurredAt` is always filled in when it is recorded. */
export type CustomerEvent = z.infer<typeof eventSchema> & { occurredAt: string };
export type ConsentStatus = z.infer<typeof consentStatus>;
export type ConsentChange = z.infer<typeof consentChangeSchema>;
