// When an experiment with `winner` may stop splitting: a pure decision, so the code that
// records the new journey version only has to act on it.
import { HOLDOUT } from '../journey/split';
import { chiSquareTest, holmAdjust } from './proportions';
import type { ArmCounts, ExperimentMetric, WinnerSettings } from './types';

export interface WinnerDecision {
  /** The variant every new entrant should get; null: keep splitting. */
  winner: string | null;
  /** Why, in one sentence for a person. */
  reason: string;
}

/**
 * Picks the winning variant, or none. Only variants compete: the holdout gets no email, so
 * it can neither win nor be the rival that decides which email to send (its click rate is
 * 0 by construction), and it keeps its share after a switch to go on measuring lift. The
 * variant with the highest rate on the metric wins only when every variant has at least
 * `minSample` exposed and it is better than each other variant by the chi-square test at
 * `alpha`, Holm-adjusted across those comparisons; otherwise nobody wins yet.
 */
export function selectWinner(counts: Record<ExperimentMetric, ArmCounts[]>, settings: WinnerSettings): WinnerDecision {
  const variants = counts[settings.metric].filter((arm) => arm.name !== HOLDOUT);
  if (variants.length < 2) return { winner: null, reason: 'a winner is chosen between two or more variants' };
  const short = variants.filter((arm) => arm.exposed < settings.minSample);
  if (short.length > 0) {
    const needs = short.map((arm) => `${arm.name} has ${arm.exposed}`).join(', ');
    return { winner: null, reason: `not yet: every variant needs ${settings.minSample} exposed; ${needs}` };
  }
  const rate = (arm: ArmCounts) => arm.successes / arm.exposed;
  const best = variants.reduce((leader, arm) => (rate(arm) > rate(leader) ? arm : leader));
  const rivals = variants.filter((arm) => arm !== best);
  const adjusted = holmAdjust(rivals.map((rival) => chiSquareTest(best, rival).pValue));
  const undecided = rivals.filter((rival, index) => rate(rival) === rate(best) || adjusted[index]! > settings.alpha);
  if (undecided.length > 0) {
    return { winner: null, reason: `no winner: ${best.name} leads on ${settings.metric} but is not significantly better than ${undecided.map((r) => r.name).join(', ')} at alpha ${settings.alpha}` };
  }
  return { winner: best.name, reason: `${best.name} is significantly better on ${settings.metric} than ${rivals.map((r) => r.name).join(', ')} at alpha ${settings.alpha}` };
}
