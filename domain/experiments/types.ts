// Experiment settings as plain types, for code that must not load zod. Type-only imports
// are erased at compile time, so the schema stays the single source of these types.
import type { z } from 'zod';
import type { experimentMetrics, experimentSchema, minimumEffectSchema, winnerSchema } from './schema';

export type Experiment = z.infer<typeof experimentSchema>;
export type MinimumEffect = z.infer<typeof minimumEffectSchema>;
export type WinnerSettings = z.infer<typeof winnerSchema>;
export type ExperimentMetric = (typeof experimentMetrics)[number];

/** One arm's counts for one metric. */
export interface ArmCounts {
  /** The variant's name, or "holdout". */
  name: string;
  /** Customers the rate is measured over: entrants for conversions, sent emails for clicks. */
  exposed: number;
  /** Those of them who converted (or clicked). */
  successes: number;
}

export interface Interval {
  lower: number;
  upper: number;
}
