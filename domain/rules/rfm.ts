import type { CustomerEvent } from '../customer/types';
import { readPath } from './path';

/**
 * Recency, frequency and monetary value of a customer's purchases, for rules as
 * `rfm.recencyDays`, `rfm.frequency90d`, `rfm.monetary90d` and a 1–5 score each.
 */
export interface RfmScores {
  /** Whole days since the latest purchase; null when the customer never bought. */
  recencyDays: number | null;
  /** Purchases in the 90 days up to now. */
  frequency90d: number;
  /** Sum of purchase amounts in the 90 days up to now, rounded to cents. */
  monetary90d: number;
  recencyScore: RfmScore;
  frequencyScore: RfmScore;
  monetaryScore: RfmScore;
}
export type RfmScore = 1 | 2 | 3 | 4 | 5;

/** The attribute names under `rfm.` that rules may read (the linter checks against them). */
export const rfmAttributes = ['recencyDays', 'frequency90d', 'monetary90d', 'recencyScore', 'frequencyScore', 'monetaryScore'] as const;

/**
 * Score bands, best first: the first threshold a value reaches gives 5, the next 4, and
 * so on; reaching none gives 1. Recency is "at most this many days", frequency and
 * monetary are "at least". Monetary is in the shop's currency units and is the band a
 * shop most often tunes, so every band can be overridden.
 */
export interface RfmBands {
  recencyDays: [number, number, number, number];
  frequency90d: [number, number, number, number];
  monetary90d: [number, number, number, number];
}
export const defaultRfmBands: RfmBands = {
  // ≤7 days → 5, ≤30 → 4, ≤60 → 3, ≤120 → 2, older (or never) → 1
  recencyDays: [7, 30, 60, 120],
  // ≥6 purchases in 90 days → 5, ≥4 → 4, ≥2 → 3, 1 → 2, none → 1
  frequency90d: [6, 4, 2, 1],
  // ≥1000 spent in 90 days → 5, ≥400 → 4, ≥150 → 3, ≥50 → 2, less → 1
  monetary90d: [1000, 400, 150, 50],
};

export interface RfmOptions {
  /** The event type that counts as a purchase. */
  purchaseType?: string;
  /** Dotted path of the amount in a purchase event; a missing or non-numeric amount counts as 0. */
  amountPath?: string;
  bands?: Partial<RfmBands>;
}

const DAY_MS = 86_400_000;
const WINDOW_MS = 90 * DAY_MS;

/** Pure: `now` is passed in so the same history always scores the same (activities, replays, tests). */
export function computeRfm(events: CustomerEvent[], now: string, options: RfmOptions = {}): RfmScores {
  const { purchaseType = 'order.completed', amountPath = 'properties.total' } = options;
  const bands = { ...defaultRfmBands, ...options.bands };
  const nowMs = Date.parse(now);
  if (Number.isNaN(nowMs)) throw new Error(`computeRfm needs now as an ISO date, got ${JSON.stringify(now)}`);

  // Purchases dated after `now` are not history yet (a replay or simulation with a fixed clock).
  const purchases = events
    .filter((e) => e.type === purchaseType)
    .map((e) => ({ at: Date.parse(e.occurredAt), amount: amountOf(readPath(e, amountPath)) }))
    .filter((p) => !Number.isNaN(p.at) && p.at <= nowMs);
  const latest = purchases.reduce((max, p) => Math.max(max, p.at), -Infinity);
  const recent = purchases.filter((p) => p.at > nowMs - WINDOW_MS);

  const recencyDays = purchases.length ? Math.floor((nowMs - latest) / DAY_MS) : null;
  const frequency90d = recent.length;
  const monetary90d = Math.round(recent.reduce((sum, p) => sum + p.amount, 0) * 100) / 100;
  return {
    recencyDays,
    frequency90d,
    monetary90d,
    recencyScore: recencyDays === null ? 1 : score(bands.recencyDays, (limit) => recencyDays <= limit),
    frequencyScore: score(bands.frequency90d, (limit) => frequency90d >= limit),
    monetaryScore: score(bands.monetary90d, (limit) => monetary90d >= limit),
  };
}

function score(band: number[], reaches: (threshold: number) => boolean): RfmScore {
  const index = band.findIndex(reaches);
  return (index === -1 ? 1 : 5 - index) as RfmScore;
}

function amountOf(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}
