// Frequentist statistics of binomial rates: intervals, the two-proportion test, multiplicity
// and the sample a test needs.
//
// The distribution functions come from stdlib (@stdlib/stats-base-dists-normal-*,
// @stdlib/math-base-special-betaln), chosen over jStat and simple-statistics. stdlib is
// actively released, ships its own TypeScript declarations, ports Cephes/Boost algorithms
// accurate to double precision and runs no install scripts. It is not the lightest: the
// three functions pull in about 180 one-function stdlib packages (~21 MB on disk, all
// Apache-2.0) where jStat is one 1.2 MB package. jStat was as accurate on our cases but has
// no TypeScript declarations (a typings pull request has been open since 2021), so we would
// keep hand-written ones. simple-statistics has a four-decimal normal table and a table of
// chi-square critical values, far coarser than the 1e-6 the reports promise, and no Beta.
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import type { ArmCounts, Interval, MinimumEffect } from './types';

/** Every experiment is sized for an 80 % chance of detecting the declared minimum effect. */
export const POWER = 0.8;

/** The z a two-sided test at `alpha` rejects beyond (1.96 for 0.05); from the lower tail, exact for tiny alphas. */
export function twoSidedZ(alpha: number): number {
  return -normalQuantile(alpha / 2, 0, 1);
}

const Z95 = twoSidedZ(0.05);

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * Wilson score interval (95 % by default) of `successes` out of `exposed` > 0. Not the Wald
 * interval p ± z·√(p(1−p)/n): Wald collapses to a zero-width [0, 0] at 0 successes, leaves
 * [0, 1] at n successes, and covers far less than 95 % at the small counts and low rates
 * an experiment starts with; Wilson's stays inside [0, 1] and keeps its coverage there.
 */
export function wilsonInterval(successes: number, exposed: number, z = Z95): Interval {
  const p = successes / exposed;
  const z2 = z * z;
  const shrink = 1 + z2 / exposed;
  const center = (p + z2 / (2 * exposed)) / shrink;
  const halfWidth = (z / shrink) * Math.sqrt((p * (1 - p)) / exposed + z2 / (4 * exposed * exposed));
  // At 0 (or all) successes the bound is exactly 0 (or 1); rounding would leave 1e-18.
  return {
    lower: successes === 0 ? 0 : clamp01(center - halfWidth),
    upper: successes === exposed ? 1 : clamp01(center + halfWidth),
  };
}

/**
 * Newcombe's hybrid score interval (his method 10) for the difference of rates arm −
 * control, both arms exposed. It combines the two Wilson intervals, so it inherits their
 * behaviour at 0 and n successes, where the Wald interval of a difference is degenerate;
 * it is the interval statsmodels calls "newcomb" and R's PropCIs `diffscoreci` approximates.
 */
export function newcombeInterval(arm: ArmCounts, control: ArmCounts, z = Z95): Interval & { estimate: number } {
  const p1 = arm.successes / arm.exposed;
  const p2 = control.successes / control.exposed;
  const w1 = wilsonInterval(arm.successes, arm.exposed, z);
  const w2 = wilsonInterval(control.successes, control.exposed, z);
  const estimate = p1 - p2;
  return {
    estimate,
    lower: estimate - Math.hypot(p1 - w1.lower, w2.upper - p2),
    upper: estimate + Math.hypot(w1.upper - p1, p2 - w2.lower),
  };
}

/**
 * Pearson's chi-square test of the 2×2 table (arm, control) × (success, failure), without
 * Yates' continuity correction: the correction makes the test conservative (p-values too
 * large) and is not what scipy's `chi2_contingency(correction=False)` or the pooled z-test
 * report. The statistic has one degree of freedom, and a χ²₁ variable is a squared standard
 * normal, so its upper tail is 2·Φ(−√X²): computed from the normal's lower tail it stays
 * exact for p-values far below 1e-16, where 1 − χ²-CDF would round to 0. When neither arm
 * varies (no successes at all, or nothing but), the arms cannot differ: X² = 0, p = 1.
 */
export function chiSquareTest(arm: ArmCounts, control: ArmCounts): { chiSquare: number; pValue: number } {
  const n1 = arm.exposed;
  const n2 = control.exposed;
  const pooled = (arm.successes + control.successes) / (n1 + n2);
  if (pooled === 0 || pooled === 1) return { chiSquare: 0, pValue: 1 };
  const difference = arm.successes / n1 - control.successes / n2;
  const chiSquare = (difference * difference) / (pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  return { chiSquare, pValue: Math.min(1, 2 * normalCdf(-Math.sqrt(chiSquare), 0, 1)) };
}

/**
 * Holm's step-down adjustment of the p-values of `m` comparisons. An arm without a p-value
 * yet (no data) still counts among the m, ranked last: the most conservative place for it.
 * Holm rejects everything Bonferroni does, and more, while keeping the chance of any false
 * "significant" across the arms at alpha.
 */
export function holmAdjust(pValues: (number | null)[]): (number | null)[] {
  const m = pValues.length;
  const order = pValues
    .map((p, index) => ({ p, index }))
    .filter((entry): entry is { p: number; index: number } => entry.p !== null)
    .sort((a, b) => a.p - b.p);
  const adjusted: (number | null)[] = pValues.map(() => null);
  let running = 0;
  order.forEach(({ p, index }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[index] = running;
  });
  return adjusted;
}

/**
 * Customers each arm needs for a two-sided two-proportion test at `alpha` to detect the
 * minimum effect on the control's rate with `power`, by the normal approximation with the
 * pooled variance under the null (the test above) and the arms' own variances under the
 * alternative (Fleiss, without continuity correction). An arm can be better or worse, so
 * this plans for whichever direction needs more customers. Null when no effect of that
 * size can be planned for: a relative effect on a control rate of 0, or an absolute effect
 * larger than the room on both sides of the control's rate.
 */
export function requiredSamplePerArm(controlRate: number, effect: MinimumEffect, alpha: number, power = POWER): number | null {
  const delta = effect.absolute ?? controlRate * (effect.relative ?? 0);
  if (!(delta > 0)) return null;
  const zAlpha = twoSidedZ(alpha);
  const zPower = normalQuantile(power, 0, 1);
  const p1 = controlRate;
  const sizes = [p1 + delta, p1 - delta]
    .filter((p2) => p2 >= 0 && p2 <= 1)
    .map((p2) => {
      const mean = (p1 + p2) / 2;
      const root = zAlpha * Math.sqrt(2 * mean * (1 - mean)) + zPower * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
      return Math.ceil((root / delta) ** 2);
    });
  return sizes.length === 0 ? null : Math.max(...sizes);
}
