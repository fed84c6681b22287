// The statistics of one experiment on one metric: every arm against the control, and a
// verdict that cannot be won by peeking. Pure: reports and the dashboard pass counts in.
import { probabilityToBeat } from './bayes';
import { chiSquareTest, holmAdjust, newcombeInterval, POWER, requiredSamplePerArm, wilsonInterval } from './proportions';
import type { ArmCounts, Interval, MinimumEffect } from './types';

export interface ExperimentInput {
  arms: ArmCounts[];
  /** The name of the arm every other arm is compared with (see `controlArm`). */
  control: string;
  minimumEffect: MinimumEffect;
  /** Two-sided significance level shared by all comparisons; 0.05 unless the experiment says otherwise. */
  alpha?: number;
}

export interface ArmResult extends ArmCounts {
  /** successes / exposed; null while nobody is exposed. */
  rate: number | null;
  /** 95 % Wilson interval of the rate; null while nobody is exposed. */
  interval: Interval | null;
  /** Customers this arm still needs before the verdict; null while the required sample is unknown. */
  moreNeeded: number | null;
}

/**
 * How an arm compares with the control: "no_data" while either has nobody exposed,
 * "not_significant_yet" until every arm has the required sample, then "better", "worse"
 * or "no_difference" at the experiment's alpha after Holm's adjustment.
 */
export type ArmOutcome = 'no_data' | 'not_significant_yet' | 'better' | 'worse' | 'no_difference';

export interface ArmComparison {
  arm: string;
  /** arm rate − control rate, with its 95 % Newcombe interval. */
  absoluteLift: (Interval & { estimate: number }) | null;
  /** (arm rate − control rate) / control rate; null when the control's rate is 0. */
  relativeLift: number | null;
  /** Pearson's X² of the 2×2 table, without continuity correction. */
  chiSquare: number | null;
  pValue: number | null;
  /** Holm-adjusted across all the arms compared with the control: compare it with alpha. */
  adjustedPValue: number | null;
  /** P(arm's true rate > control's) under uniform priors. */
  probabilityToBeatControl: number | null;
  outcome: ArmOutcome;
}

export interface Verdict {
  status: 'no_data' | 'not_significant_yet' | 'significant' | 'no_difference';
  /** One sentence for a person, e.g. "significant: shortSubject better". */
  summary: string;
}

export interface ExperimentAnalysis {
  control: string;
  alpha: number;
  /**
   * The alpha the sample is sized at: alpha divided by the number of arms compared with
   * the control (Bonferroni), the threshold Holm applies to the smallest p-value, so the
   * planned power holds for the comparison that decides first.
   */
  sizingAlpha: number;
  power: number;
  /** Customers every arm needs, the control included; null while it cannot be planned (see the verdict). */
  requiredPerArm: number | null;
  arms: ArmResult[];
  /** One per arm other than the control, in the order of `arms`. */
  comparisons: ArmComparison[];
  verdict: Verdict;
}

function checkInput({ arms, control, alpha }: ExperimentInput): void {
  const names = new Set<string>();
  for (const arm of arms) {
    if (names.has(arm.name)) throw new Error(`arm "${arm.name}" appears twice; each arm needs one set of counts`);
    names.add(arm.name);
    if (!Number.isInteger(arm.exposed) || arm.exposed < 0) throw new Error(`arm "${arm.name}": exposed must be a whole number ≥ 0, got ${arm.exposed}`);
    if (!Number.isInteger(arm.successes) || arm.successes < 0 || arm.successes > arm.exposed) {
      throw new Error(`arm "${arm.name}": successes must be a whole number from 0 to exposed (${arm.exposed}), got ${arm.successes}`);
    }
  }
  if (!names.has(control)) throw new Error(`control "${control}" is not among the arms ${[...names].map((n) => `"${n}"`).join(', ')}`);
  if (names.size < 2) throw new Error('an experiment needs the control and at least one other arm');
  if (alpha !== undefined && !(alpha > 0 && alpha <= 0.5)) throw new Error(`alpha must be above 0 and at most 0.5, got ${alpha}`);
}

/**
 * Compares every arm with the control: rates and intervals, absolute and relative lift,
 * the chi-square p-value, the probability to beat the control, the sample still needed,
 * and the verdict. The verdict waits until every arm, the control included, has the
 * sample planned for the minimum effect: a fixed-horizon test read before its horizon
 * calls chance differences significant far more often than alpha, so an early low p-value
 * is shown but never decides. The plan is sized on the control's observed rate, so it
 * settles as the control's data grows.
 */
export function analyzeExperiment(input: ExperimentInput): ExperimentAnalysis {
  checkInput(input);
  const alpha = input.alpha ?? 0.05;
  const control = input.arms.find((arm) => arm.name === input.control)!;
  const others = input.arms.filter((arm) => arm.name !== input.control);
  const sizingAlpha = alpha / others.length;
  const controlRate = control.exposed > 0 ? control.successes / control.exposed : null;
  const requiredPerArm = controlRate === null ? null : requiredSamplePerArm(controlRate, input.minimumEffect, sizingAlpha);

  const arms: ArmResult[] = input.arms.map((arm) => ({
    ...arm,
    rate: arm.exposed > 0 ? arm.successes / arm.exposed : null,
    interval: arm.exposed > 0 ? wilsonInterval(arm.successes, arm.exposed) : null,
    moreNeeded: requiredPerArm === null ? null : Math.max(0, requiredPerArm - arm.exposed),
  }));

  const tests = others.map((arm) => (arm.exposed > 0 && control.exposed > 0 ? chiSquareTest(arm, control) : null));
  const adjusted = holmAdjust(tests.map((test) => test?.pValue ?? null));
  const decided = requiredPerArm !== null && arms.every((arm) => arm.moreNeeded === 0);

  const comparisons = others.map((arm, index): ArmComparison => {
    const test = tests[index];
    if (!test || controlRate === null) {
      return { arm: arm.name, absoluteLift: null, relativeLift: null, chiSquare: null, pValue: null, adjustedPValue: null, probabilityToBeatControl: null, outcome: 'no_data' };
    }
    const absoluteLift = newcombeInterval(arm, control);
    const adjustedPValue = adjusted[index]!;
    let outcome: ArmOutcome = 'not_significant_yet';
    if (decided) outcome = adjustedPValue <= alpha ? (absoluteLift.estimate > 0 ? 'better' : 'worse') : 'no_difference';
    return {
      arm: arm.name,
      absoluteLift,
      relativeLift: controlRate > 0 ? absoluteLift.estimate / controlRate : null,
      chiSquare: test.chiSquare,
      pValue: test.pValue,
      adjustedPValue,
      probabilityToBeatControl: probabilityToBeat(arm, control),
      outcome,
    };
  });

  return {
    control: control.name,
    alpha,
    sizingAlpha,
    power: POWER,
    requiredPerArm,
    arms,
    comparisons,
    verdict: verdictOf(input, arms, comparisons, requiredPerArm),
  };
}

function verdictOf(input: ExperimentInput, arms: ArmResult[], comparisons: ArmComparison[], requiredPerArm: number | null): Verdict {
  const control = arms.find((arm) => arm.name === input.control)!;
  if (control.exposed === 0) return { status: 'no_data', summary: `no data yet: nobody is exposed in the control "${control.name}"` };
  if (requiredPerArm === null) {
    const effect = input.minimumEffect;
    const why =
      effect.relative !== undefined
        ? `a relative effect of ${effect.relative} cannot be sized while the control's rate is 0`
        : `an absolute effect of ${effect.absolute} is larger than the room on either side of the control's rate ${control.rate}`;
    return { status: 'not_significant_yet', summary: `not significant yet: ${why}` };
  }
  const short = arms.filter((arm) => arm.moreNeeded! > 0);
  if (short.length > 0) {
    const needs = short.map((arm) => `${arm.name} ${arm.moreNeeded} more`).join(', ');
    return { status: 'not_significant_yet', summary: `not significant yet: each arm needs ${requiredPerArm}; ${needs}` };
  }
  const significant = comparisons.filter((c) => c.outcome === 'better' || c.outcome === 'worse');
  if (significant.length === 0) return { status: 'no_difference', summary: 'no difference detected' };
  return { status: 'significant', summary: `significant: ${significant.map((c) => `${c.arm} ${c.outcome}`).join(', ')}` };
}
