import { describe, expect, it } from 'vitest';
import { probabilityToBeat } from '../domain/experiments/bayes';
import { chiSquareTest, holmAdjust, newcombeInterval, requiredSamplePerArm, wilsonInterval } from '../domain/experiments/proportions';
import { controlArm, experimentIssues, experimentSchema } from '../domain/experiments/schema';
import { analyzeExperiment, type ExperimentAnalysis } from '../domain/experiments/statistics';
import type { ArmCounts } from '../domain/experiments/types';
import { selectWinner } from '../domain/experiments/winner';

/*
 * Every reference value below was computed independently of this code, with scipy 1.17.1,
 * statsmodels 0.15.0 and mpmath 1.4.1 (pip install scipy statsmodels mpmath), by exactly
 * this Python (the probability to beat is a 30-digit numerical integration, not the sum the
 * code uses; the sum, done in mpmath, agrees to 12 digits):
 *
 * # Reference values for tests/experimentStatistics.test.ts, computed independently of the
 * # TypeScript code (scipy, statsmodels, mpmath).
 * import math
 * import mpmath as mp
 * from scipy.stats import chi2_contingency
 * from statsmodels.stats.proportion import proportion_confint, confint_proportions_2indep, samplesize_proportions_2indep_onetail
 * from statsmodels.stats.multitest import multipletests
 *
 * print("# wilson")
 * for k, n in [(0, 10), (10, 10), (1, 3), (45, 1000), (0, 1), (1, 1), (37, 120)]:
 *     lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
 *     print(f"[{k}, {n}, {lo!r}, {hi!r}],")
 *
 * print("# newcombe (arm first)")
 * for k1, n1, k2, n2 in [(60, 1000, 45, 1000), (12, 80, 30, 400), (0, 50, 5, 50), (50, 50, 45, 50), (1, 3, 0, 2), (0, 10, 0, 10)]:
 *     lo, hi = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=0.05)
 *     print(f"[{k1}, {n1}, {k2}, {n2}, {lo!r}, {hi!r}],")
 *
 * print("# chi-square (arm first)")
 * for k1, n1, k2, n2 in [(60, 1000, 45, 1000), (12, 80, 30, 400), (0, 50, 5, 50), (50, 50, 45, 50), (1, 3, 0, 2), (30, 300, 30, 300), (520, 5000, 450, 5000), (600, 5000, 500, 5000), (520, 5000, 500, 5000),
 *                            (1040, 10000, 1000, 10000), (1090, 10000, 1000, 10000), (880, 10000, 1000, 10000), (10, 10, 9, 10), (3, 10, 1, 10)]:
 *     stat, p, dof, _ = chi2_contingency([[k1, n1 - k1], [k2, n2 - k2]], correction=False)
 *     print(f"[{k1}, {n1}, {k2}, {n2}, {stat!r}, {p!r}],")
 *
 * print("# sample per arm: max over p1+d and p1-d within [0, 1]")
 * def per_arm(p1, d, alpha):
 *     sizes = [samplesize_proportions_2indep_onetail(diff, p1, 0.8, ratio=1, alpha=alpha, alternative="two-sided")
 *              for diff in (d, -d) if 0 <= p1 + diff <= 1]
 *     return math.ceil(max(sizes))
 * for p1, d, alpha in [(0.10, 0.02, 0.05), (0.04, 0.004, 0.05), (0.5, 0.05, 0.025), (0.98, 0.05, 0.05), (0.0, 0.01, 0.05), (0.2, 0.05, 0.05 / 3), (0.1, 0.02, 0.05 / 3), (0.075, 0.0075, 0.05)]:
 *     print(f"[{p1}, {d}, {alpha!r}, {per_arm(p1, d, alpha)}],")
 *
 * print("# probability to beat: P(arm rate > control rate), Beta(1+k, 1+n-k) posteriors")
 * mp.mp.dps = 30
 * def beat(k1, n1, k2, n2):
 *     a1, b1, a2, b2 = 1 + k1, 1 + n1 - k1, 1 + k2, 1 + n2 - k2
 *     norm2 = mp.beta(a2, b2)
 *     # integrand: control density at y times P(arm rate > y)
 *     f = lambda y: y ** (a2 - 1) * (1 - y) ** (b2 - 1) / norm2 * mp.betainc(a1, b1, y, 1, regularized=True)
 *     mean = mp.mpf(a2) / (a2 + b2)
 *     sd = mp.sqrt(mp.mpf(a2) * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1)))
 *     points = sorted({mp.mpf(0), mp.mpf(1), *[min(1, max(0, mean + j * sd / 2)) for j in range(-24, 25)]})
 *     return mp.quad(f, points)
 * for k1, n1, k2, n2 in [(60, 1000, 45, 1000), (3, 10, 1, 10), (0, 10, 0, 10), (10, 10, 9, 10), (0, 20, 3, 20), (1, 3, 0, 2),
 *                        (1, 1, 0, 1), (520, 5000, 450, 5000), (990, 1000, 985, 1000), (5, 2000, 9, 1000), (30, 100, 2, 100), (31, 400, 40, 400),
 *                        (30, 300, 30, 300), (600, 5000, 500, 5000)]:
 *     print(f"[{k1}, {n1}, {k2}, {n2}, {mp.nstr(beat(k1, n1, k2, n2), 12)}],")
 *
 * print("# holm")
 * ps = [chi2_contingency([[k, 10000 - k], [1000, 9000]], correction=False)[1] for k in (1040, 1090, 880)]
 * print(list(multipletests(ps, method="holm")[1]))
 */

const arm = (name: string, exposed: number, successes: number): ArmCounts => ({ name, exposed, successes });
const counts = (successes: number, exposed: number) => arm('arm', exposed, successes);
const near = (actual: number | null | undefined, expected: number, tolerance: number) => {
  expect(actual).toEqual(expect.any(Number));
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(tolerance);
};

/** Every number anywhere in the analysis, so a NaN or an infinity cannot hide in a nested field. */
const numbersIn = (value: unknown): number[] =>
  typeof value === 'number' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(numbersIn) : [];

// [successes, exposed, lower, upper]: statsmodels proportion_confint(method="wilson")
const wilsonReference = [
  [0, 10, 0.0, 0.27753279986288926],
  [10, 10, 0.7224672001371106, 1.0],
  [1, 3, 0.06149194472039626, 0.7923403991979523],
  [45, 1000, 0.03379951228563171, 0.059682837936223455],
  [0, 1, 0.0, 0.7934506856227627],
  [1, 1, 0.2065493143772374, 1.0],
  [37, 120, 0.23272736988916298, 0.39582997723800684],
];

// [arm successes, arm exposed, control successes, control exposed, lower, upper] of arm − control: statsmodels method="newcomb"
const newcombeReference = [
  [60, 1000, 45, 1000, -0.0046796381621715955, 0.034918514749402794],
  [12, 80, 30, 400, 0.006048872558314822, 0.17166037392214958],
  [0, 50, 5, 50, -0.21360231437479657, -0.008975448080590018],
  [50, 50, 45, 50, 0.008975448080590087, 0.2136023143747966],
  [1, 3, 0, 2, -0.3782574941351013, 0.7923403991979523],
  [0, 10, 0, 10, -0.27753279986288926, 0.27753279986288926],
];

// [arm successes, arm exposed, control successes, control exposed, X², p]: scipy chi2_contingency(correction=False)
const chiSquareReference = [
  [60, 1000, 45, 1000, 2.261590652091971, 0.1326177819292728],
  [12, 80, 30, 400, 4.6966731898238745, 0.030221060771544767],
  [0, 50, 5, 50, 5.2631578947368425, 0.021781462791119595],
  [50, 50, 45, 50, 5.2631578947368425, 0.021781462791119595],
  [1, 3, 0, 2, 0.8333333333333334, 0.3613104285261789],
  [30, 300, 30, 300, 0.0, 1.0],
  [520, 5000, 450, 5000, 5.594182050667306, 0.018020223158779592],
  [600, 5000, 500, 5000, 10.21450459652707, 0.0013934041792054727],
  [520, 5000, 500, 5000, 0.436700292589196, 0.5087193984450786],
  [1040, 10000, 1000, 10000, 0.873400585178392, 0.35001560005821486],
  [1090, 10000, 1000, 10000, 4.327859392657065, 0.03749336976201142],
  [880, 10000, 1000, 10000, 8.454276454840073, 0.003641861020560918],
  [10, 10, 9, 10, 1.0526315789473684, 0.30490178817878544],
  [3, 10, 1, 10, 1.25, 0.26355247728296954],
];

// [control rate, absolute effect, alpha, customers per arm]: statsmodels samplesize_proportions_2indep_onetail at 80 % power
const sampleReference = [
  [0.1, 0.02, 0.05, 3841],
  [0.04, 0.004, 0.05, 39475],
  [0.5, 0.05, 0.025, 1895],
  [0.98, 0.05, 0.05, 269],
  [0.0, 0.01, 0.05, 780],
  [0.2, 0.05, 0.016666666666666666, 1460],
  [0.1, 0.02, 0.016666666666666666, 5124],
  [0.075, 0.0075, 0.05, 20246],
];

// [arm successes, arm exposed, control successes, control exposed, P(arm beats control)]: mpmath quad
const beatReference = [
  [60, 1000, 45, 1000, 0.93298641786],
  [3, 10, 1, 10, 0.844611528822],
  [0, 10, 0, 10, 0.5],
  [10, 10, 9, 10, 0.761904761905],
  [0, 20, 3, 20, 0.0534709193246],
  [1, 3, 0, 2, 0.714285714286],
  [1, 1, 0, 1, 0.833333333333],
  [520, 5000, 450, 5000, 0.990981332702],
  [990, 1000, 985, 1000, 0.838121986093],
  [5, 2000, 9, 1000, 0.00838178711905],
  [30, 100, 2, 100, 0.999999994156],
  [31, 400, 40, 400, 0.133076020358],
  [30, 300, 30, 300, 0.5],
  [600, 5000, 500, 5000, 0.999304407124],
];

// statsmodels multipletests(method="holm") of the p-values of 1040, 1090 and 880 of 10,000 against 1000 of 10,000
const holmReference = [0.35001560005821486, 0.07498673952402284, 0.010925583061682755];

describe('rates, lifts and tests agree with scipy and statsmodels', () => {
  it('gives the Wilson 95 % interval of a rate, from 0 successes to all of them and from 1 customer to 1,000', () => {
    for (const [k, n, lower, upper] of wilsonReference) {
      const interval = wilsonInterval(k, n);
      near(interval.lower, lower, 1e-6);
      near(interval.upper, upper, 1e-6);
    }
    // A rate of 0 is never "certainly 0": the interval reaches up (Wald would give [0, 0]).
    expect(wilsonInterval(0, 10)).toEqual({ lower: 0, upper: expect.closeTo(0.2775, 4) });
  });

  it('gives the Newcombe 95 % interval of the lift, arm minus control', () => {
    for (const [k1, n1, k2, n2, lower, upper] of newcombeReference) {
      const lift = newcombeInterval(counts(k1, n1), counts(k2, n2));
      near(lift.estimate, k1 / n1 - k2 / n2, 1e-12);
      near(lift.lower, lower, 1e-6);
      near(lift.upper, upper, 1e-6);
    }
  });

  it('gives the chi-square statistic and p-value of the 2×2 table without continuity correction', () => {
    for (const [k1, n1, k2, n2, chiSquare, pValue] of chiSquareReference) {
      const test = chiSquareTest(counts(k1, n1), counts(k2, n2));
      near(test.chiSquare, chiSquare, 1e-6);
      near(test.pValue, pValue, 1e-6);
    }
  });

  it('answers p = 1 for arms that cannot differ: identical, or without a single success between them (where scipy refuses)', () => {
    expect(chiSquareTest(counts(30, 300), counts(30, 300))).toEqual({ chiSquare: 0, pValue: 1 });
    expect(chiSquareTest(counts(0, 10), counts(0, 25))).toEqual({ chiSquare: 0, pValue: 1 });
    expect(chiSquareTest(counts(10, 10), counts(25, 25))).toEqual({ chiSquare: 0, pValue: 1 });
  });

  it('sizes each arm for 80 % power, whichever way the effect goes, to within one customer', () => {
    for (const [rate, effect, alpha, perArm] of sampleReference) {
      near(requiredSamplePerArm(rate, { absolute: effect }, alpha), perArm, 1);
    }
    // A relative effect is a share of the control's rate: 10 % of 4 % is 0.4 points.
    near(requiredSamplePerArm(0.04, { relative: 0.1 }, 0.05), 39475, 1);
    near(requiredSamplePerArm(0.075, { relative: 0.1 }, 0.05), 20246, 1);
  });

  it('cannot size a relative effect on a rate of 0, nor an absolute effect with no room on either side', () => {
    expect(requiredSamplePerArm(0, { relative: 0.1 }, 0.05)).toBeNull();
    expect(requiredSamplePerArm(0.5, { absolute: 0.6 }, 0.05)).toBeNull();
  });

  it('gives the probability to beat the control to 1e-4, exactly and the same every time', () => {
    for (const [k1, n1, k2, n2, probability] of beatReference) {
      near(probabilityToBeat(counts(k1, n1), counts(k2, n2)), probability, 1e-4);
      // Either this arm beats the control or the control beats it.
      near(probabilityToBeat(counts(k2, n2), counts(k1, n1)), 1 - probability, 1e-4);
    }
    expect(probabilityToBeat(counts(60, 1000), counts(45, 1000))).toBe(probabilityToBeat(counts(60, 1000), counts(45, 1000)));
  });

  it('has no probability to beat for an arm nobody saw', () => {
    expect(probabilityToBeat(counts(0, 0), counts(45, 1000))).toBeNull();
    expect(probabilityToBeat(counts(45, 1000), counts(0, 0))).toBeNull();
  });

  it('adjusts p-values across arms as Holm does, counting an arm without data as the largest', () => {
    const pValues = [1040, 1090, 880].map((k) => chiSquareTest(counts(k, 10_000), counts(1000, 10_000)).pValue);
    holmAdjust(pValues).forEach((adjusted, index) => near(adjusted, holmReference[index], 1e-6));
    expect(holmAdjust([0.01, null])).toEqual([0.02, null]);
  });
});

describe('analyzeExperiment: every arm against the control, and a verdict peeking cannot win', () => {
  it('says "not significant yet" while arms lack the planned sample, even at p < 0.05, and how many more each needs', () => {
    const analysis = analyzeExperiment({
      arms: [arm('holdout', 400, 30), arm('short', 80, 12)],
      control: 'holdout',
      minimumEffect: { relative: 0.1 },
    });
    const [short] = analysis.comparisons;
    near(short.pValue, 0.030221060771544767, 1e-6);
    expect(short.outcome).toBe('not_significant_yet');
    near(short.absoluteLift!.lower, 0.006048872558314822, 1e-6);
    near(short.absoluteLift!.upper, 0.17166037392214958, 1e-6);
    near(short.relativeLift, 1, 1e-12); // 15 % against 7.5 %
    near(analysis.requiredPerArm, 20246, 1);
    const required = analysis.requiredPerArm!;
    expect(analysis.arms.map((a) => [a.name, a.moreNeeded])).toEqual([
      ['holdout', required - 400],
      ['short', required - 80],
    ]);
    expect(analysis.verdict).toEqual({
      status: 'not_significant_yet',
      summary: `not significant yet: each arm needs ${required}; holdout ${required - 400} more, short ${required - 80} more`,
    });
  });

  it('says "significant: short better" once both arms have the sample and the test holds', () => {
    const analysis = analyzeExperiment({ arms: [arm('holdout', 5000, 500), arm('short', 5000, 600)], control: 'holdout', minimumEffect: { absolute: 0.02 } });
    near(analysis.requiredPerArm, 3841, 1);
    expect(analysis.arms.map((a) => a.moreNeeded)).toEqual([0, 0]);
    near(analysis.comparisons[0].pValue, 0.0013934041792054727, 1e-6);
    near(analysis.comparisons[0].probabilityToBeatControl, 0.999304407124, 1e-4);
    expect(analysis.verdict).toEqual({ status: 'significant', summary: 'significant: short better' });
  });

  it('says "significant: short worse" against a named control variant that does better', () => {
    const analysis = analyzeExperiment({ arms: [arm('long', 5000, 600), arm('short', 5000, 500)], control: 'long', minimumEffect: { absolute: 0.02 } });
    expect(analysis.comparisons[0].outcome).toBe('worse');
    expect(analysis.verdict.summary).toBe('significant: short worse');
  });

  it('says "no difference detected" when the planned sample shows none', () => {
    const analysis = analyzeExperiment({ arms: [arm('holdout', 5000, 500), arm('short', 5000, 520)], control: 'holdout', minimumEffect: { absolute: 0.02 } });
    near(analysis.comparisons[0].pValue, 0.5087193984450786, 1e-6);
    expect(analysis.comparisons[0].outcome).toBe('no_difference');
    expect(analysis.verdict).toEqual({ status: 'no_difference', summary: 'no difference detected' });
  });

  it('shares alpha across three arms by Holm and sizes them at alpha / 3: p = 0.037 alone is not enough', () => {
    const analysis = analyzeExperiment({
      arms: [arm('A', 10_000, 1000), arm('B', 10_000, 1040), arm('C', 10_000, 1090), arm('D', 10_000, 880)],
      control: 'A',
      minimumEffect: { absolute: 0.02 },
    });
    near(analysis.sizingAlpha, 0.05 / 3, 1e-15);
    near(analysis.requiredPerArm, 5124, 1);
    analysis.comparisons.forEach((comparison, index) => near(comparison.adjustedPValue, holmReference[index], 1e-6));
    expect(analysis.comparisons.map((c) => [c.arm, c.outcome])).toEqual([
      ['B', 'no_difference'],
      ['C', 'no_difference'],
      ['D', 'worse'],
    ]);
    near(analysis.comparisons[1].pValue, 0.03749336976201142, 1e-6);
    expect(analysis.verdict.summary).toBe('significant: D worse');
  });

  it('handles tiny arms, all successes and identical arms without a NaN', () => {
    const tiny = analyzeExperiment({ arms: [arm('long', 10, 9), arm('short', 10, 10)], control: 'long', minimumEffect: { absolute: 0.05 } });
    near(tiny.comparisons[0].pValue, 0.30490178817878544, 1e-6);
    near(tiny.comparisons[0].probabilityToBeatControl, 0.761904761905, 1e-4);
    expect(tiny.arms[1].interval).toEqual({ lower: expect.closeTo(0.7225, 4), upper: 1 });
    expect(tiny.verdict.status).toBe('not_significant_yet');

    const same = analyzeExperiment({ arms: [arm('holdout', 300, 30), arm('short', 300, 30)], control: 'holdout', minimumEffect: { absolute: 0.1 } });
    expect(same.comparisons[0]).toMatchObject({ pValue: 1, relativeLift: 0, absoluteLift: { estimate: 0 } });
    near(same.comparisons[0].probabilityToBeatControl, 0.5, 1e-4);
    for (const analysis of [tiny, same]) expect(numbersIn(analysis).every(Number.isFinite)).toBe(true);
  });

  it('reports an arm nobody entered as "no data" (never NaN) and waits for it', () => {
    const analysis = analyzeExperiment({
      arms: [arm('holdout', 1000, 45), arm('short', 0, 0), arm('long', 1000, 0)],
      control: 'holdout',
      minimumEffect: { absolute: 0.02 },
    });
    expect(analysis.arms[1]).toMatchObject({ rate: null, interval: null, moreNeeded: analysis.requiredPerArm });
    expect(analysis.comparisons[0]).toEqual({
      arm: 'short', absoluteLift: null, relativeLift: null, chiSquare: null, pValue: null, adjustedPValue: null, probabilityToBeatControl: null, outcome: 'no_data',
    });
    // No conversions at all is data: a rate of 0 with an interval above it.
    expect(analysis.arms[2]).toMatchObject({ rate: 0, interval: { lower: 0 } });
    expect(analysis.comparisons[1].outcome).toBe('not_significant_yet');
    expect(analysis.verdict.status).toBe('not_significant_yet');
    expect(analysis.verdict.summary).toContain('short ');
    expect(numbersIn(analysis).every(Number.isFinite)).toBe(true);
  });

  it('says "no data yet" while nobody is in the control', () => {
    const analysis = analyzeExperiment({ arms: [arm('holdout', 0, 0), arm('short', 200, 14)], control: 'holdout', minimumEffect: { relative: 0.1 } });
    expect(analysis.requiredPerArm).toBeNull();
    expect(analysis.comparisons.map((c) => c.outcome)).toEqual(['no_data']);
    expect(analysis.verdict).toEqual({ status: 'no_data', summary: 'no data yet: nobody is exposed in the control "holdout"' });
    expect(numbersIn(analysis).every(Number.isFinite)).toBe(true);
  });

  it('explains why a relative effect cannot be sized yet when the control has not converted once', () => {
    const analysis: ExperimentAnalysis = analyzeExperiment({ arms: [arm('holdout', 200, 0), arm('short', 200, 3)], control: 'holdout', minimumEffect: { relative: 0.1 } });
    expect(analysis.comparisons[0]).toMatchObject({ relativeLift: null, outcome: 'not_significant_yet' });
    expect(analysis.verdict).toEqual({ status: 'not_significant_yet', summary: "not significant yet: a relative effect of 0.1 cannot be sized while the control's rate is 0" });
  });

  it('refuses counts that cannot be, naming the arm and the field', () => {
    const effect = { absolute: 0.02 };
    expect(() => analyzeExperiment({ arms: [arm('holdout', 10, 1), arm('short', 10, 11)], control: 'holdout', minimumEffect: effect })).toThrow(
      'arm "short": successes must be a whole number from 0 to exposed (10), got 11',
    );
    expect(() => analyzeExperiment({ arms: [arm('holdout', 10, 1), arm('short', 10, 1)], control: 'long', minimumEffect: effect })).toThrow(
      'control "long" is not among the arms "holdout", "short"',
    );
  });
});

describe('selectWinner: new entrants switch only to a clear winner', () => {
  const winner = { metric: 'conversion' as const, minSample: 5000, alpha: 0.05 };
  const conversion = [arm('holdout', 1100, 100), arm('short', 5000, 600), arm('long', 5000, 500)];
  const click = [arm('short', 5000, 400), arm('long', 5000, 520)];

  it('picks nobody until every variant has minSample, whatever the rates say', () => {
    expect(selectWinner({ conversion: [arm('short', 4999, 600), arm('long', 5000, 500)], click }, winner)).toEqual({
      winner: null,
      reason: 'not yet: every variant needs 5000 exposed; short has 4999',
    });
  });

  it('picks the variant that is significantly better, leaving the smaller holdout out of it', () => {
    expect(selectWinner({ conversion, click }, winner)).toEqual({
      winner: 'short',
      reason: 'short is significantly better on conversion than long at alpha 0.05',
    });
  });

  it('reads the metric the experiment names', () => {
    expect(selectWinner({ conversion, click }, { ...winner, metric: 'click' }).winner).toBe('long');
  });

  it('picks nobody while the leader is not significantly better', () => {
    const close = [arm('short', 5000, 520), arm('long', 5000, 500)];
    expect(selectWinner({ conversion: close, click }, winner)).toEqual({
      winner: null,
      reason: 'no winner: short leads on conversion but is not significantly better than long at alpha 0.05',
    });
    // p = 0.0014 is not enough where the experiment asks for alpha 0.001.
    expect(selectWinner({ conversion, click }, { ...winner, alpha: 0.001 }).winner).toBeNull();
  });

  it('needs the leader to beat every other variant after Holm, not just one', () => {
    // C beats A at p = 0.037 alone, but Holm over its two rivals doubles that.
    const three = [arm('A', 10_000, 1000), arm('B', 10_000, 1040), arm('C', 10_000, 1090)];
    expect(selectWinner({ conversion: three, click }, winner).winner).toBeNull();
  });

  it('never lets the holdout win, however well it converts, and needs two variants', () => {
    expect(selectWinner({ conversion: [arm('holdout', 5000, 4000), ...conversion.slice(1)], click }, winner).winner).toBe('short');
    expect(selectWinner({ conversion: conversion.slice(0, 2), click }, winner)).toEqual({ winner: null, reason: 'a winner is chosen between two or more variants' });
  });
});

describe('experiment settings of a split', () => {
  it('fills in alpha 0.05 for the comparison and the winner', () => {
    expect(experimentSchema.parse({ minimumEffect: { relative: 0.1 }, winner: { metric: 'click', minSample: 2000 } })).toEqual({
      minimumEffect: { relative: 0.1 },
      alpha: 0.05,
      winner: { metric: 'click', minSample: 2000, alpha: 0.05 },
    });
  });

  it('names the field and the fix when a setting is wrong', () => {
    const issues = (input: unknown) => experimentSchema.safeParse(input).error?.issues.map((i) => [i.path.join('.'), i.message]);
    expect(issues({ minimumEffect: { absolute: 0.02, relative: 0.1 } })).toEqual([
      ['minimumEffect', 'minimumEffect needs exactly one of "absolute" (e.g. 0.02: two percentage points) or "relative" (e.g. 0.1: 10 % of the control\'s rate)'],
    ]);
    expect(issues({ minimumEffect: { absolute: 2 } })).toEqual([['minimumEffect.absolute', 'an absolute effect below 1 (a rate difference)']]);
    expect(issues({ minimumEffect: { relative: 0.1 }, alpha: 0 })).toEqual([['alpha', 'a significance level above 0, such as 0.05']]);
    expect(issues({ minimumEffect: { relative: 0.1 }, winner: { metric: 'open', minSample: 0 } })).toEqual([
      ['winner.metric', 'the metric that picks the winner: "conversion" or "click"'],
      ['winner.minSample', 'at least 1 customer per variant'],
    ]);
  });

  it('checks the control and the winner against the arms of the split', () => {
    const variants = [{ name: 'short' }, { name: 'long' }];
    const experiment = experimentSchema.parse({ control: 'medium', minimumEffect: { absolute: 0.02 } });
    expect(experimentIssues({ variants, holdout: { weight: 10 }, experiment })).toEqual([
      { path: ['experiment', 'control'], message: 'control "medium" is not an arm of this split; its arms are "short", "long", "holdout"' },
    ]);
    const winnerOfOne = experimentSchema.parse({ minimumEffect: { absolute: 0.02 }, winner: { metric: 'conversion', minSample: 100 } });
    expect(experimentIssues({ variants: [{ name: 'short' }], experiment: winnerOfOne })).toEqual([
      { path: ['experiment'], message: 'an experiment compares arms: add a second variant or a holdout' },
      { path: ['experiment', 'winner'], message: 'a winner is chosen between variants (the holdout never wins): add a second variant' },
    ]);
    expect(experimentIssues({ variants, experiment: { ...experiment, control: 'long' } })).toEqual([]);
  });

  it('compares with the holdout by default, else with the first variant', () => {
    const experiment = experimentSchema.parse({ minimumEffect: { absolute: 0.02 } });
    expect(controlArm({ variants: [{ name: 'short' }, { name: 'long' }], holdout: { weight: 10 }, experiment })).toBe('holdout');
    expect(controlArm({ variants: [{ name: 'short' }, { name: 'long' }], experiment })).toBe('short');
    expect(controlArm({ variants: [{ name: 'short' }, { name: 'long' }], holdout: { weight: 10 }, experiment: { ...experiment, control: 'long' } })).toBe('long');
  });
});
