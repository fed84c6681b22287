// The Bayesian view of an experiment: how likely an arm's true rate is above the control's,
// given uniform priors. Exact and deterministic, so a report says the same thing on every
// run; no sampling.
import betaln from '@stdlib/math-base-special-betaln';
import type { ArmCounts } from './types';

/**
 * P(X > Y) for independent X ~ Beta(a1, b1), Y ~ Beta(a2, b2), a1 a whole number: the finite
 * sum Σ_{i<a1} B(a2+i, b1+b2) / ((b1+i)·B(1+i, b1)·B(a2, b2)) (Evan Miller, "Formulas for
 * Bayesian A/B testing"). Consecutive terms differ by the factor
 * (a2+i)(b1+i) / ((a2+b1+b2+i)(1+i)), so only the first term needs log-Beta functions; the
 * terms are carried as logarithms, since the first can underflow while later ones matter.
 */
function probabilityGreater(a1: number, b1: number, a2: number, b2: number): number {
  let logTerm = betaln(a2, b1 + b2) - betaln(a2, b2);
  let sum = Math.exp(logTerm);
  for (let i = 0; i < a1 - 1; i++) {
    logTerm += Math.log(((a2 + i) * (b1 + i)) / ((a2 + b1 + b2 + i) * (1 + i)));
    sum += Math.exp(logTerm);
  }
  return sum;
}

/**
 * The probability that the arm's true rate beats the control's, each rate with the
 * posterior Beta(1 + successes, 1 + failures) of a uniform prior; null when either arm has
 * nobody exposed (the answer would only restate the prior). The sum runs over one of the
 * four Beta parameters; by the symmetries P(X > Y) = 1 − P(Y > X) and
 * P(X > Y) = P(1 − Y > 1 − X) it can run over whichever is smallest, so the cost is the
 * smaller of successes and failures in the smaller arm, not the exposures.
 */
export function probabilityToBeat(arm: ArmCounts, control: ArmCounts): number | null {
  if (arm.exposed === 0 || control.exposed === 0) return null;
  const a1 = 1 + arm.successes;
  const b1 = 1 + arm.exposed - arm.successes;
  const a2 = 1 + control.successes;
  const b2 = 1 + control.exposed - control.successes;
  const shortest = Math.min(a1, a2, b1, b2);
  let probability: number;
  if (shortest === a1) probability = probabilityGreater(a1, b1, a2, b2);
  else if (shortest === a2) probability = 1 - probabilityGreater(a2, b2, a1, b1);
  else if (shortest === b2) probability = probabilityGreater(b2, a2, b1, a1);
  else probability = 1 - probabilityGreater(b1, a1, b2, a2);
  return Math.min(1, Math.max(0, probability));
}
