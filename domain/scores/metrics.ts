// How good a score is, measured on customers and outcomes it was not trained on. Pure.
import type { CalibrationBin } from './model';

/**
 * The area under the ROC curve: the chance that a random positive scores above a random negative,
 * ties counting half (Mann–Whitney U from average ranks). 0.5 is a coin; undefined without both
 * a positive and a negative.
 */
export function rocAuc(scores: number[], labels: boolean[]): number | undefined {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    // Ranks start + 1 … end + 1 share their average.
    const rank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) {
      if (labels[order[k]]) {
        positives++;
        rankSum += rank;
      }
    }
    start = end + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return undefined;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface ThresholdMetrics {
  threshold: number;
  /** Of the customers scored at or above the threshold, the share that were positive; undefined when none was. */
  precision?: number;
  /** Of the positives, the share scored at or above the threshold. */
  recall?: number;
  /** Customers at or above the threshold: those a rule `gte threshold` picks. */
  flagged: number;
}

export function atThreshold(scores: number[], labels: boolean[], threshold: number): ThresholdMetrics {
  let flagged = 0;
  let hits = 0;
  let positives = 0;
  scores.forEach((score, i) => {
    if (labels[i]) positives++;
    if (score >= threshold) {
      flagged++;
      if (labels[i]) hits++;
    }
  });
  return { threshold, flagged, ...(flagged > 0 && { precision: hits / flagged }), ...(positives > 0 && { recall: hits / positives }) };
}

/**
 * The threshold with the best F1 (the balance of precision and recall) on these scores: chosen on
 * the training customers, then reported on the later, unseen ones.
 */
export function bestF1Threshold(scores: number[], labels: boolean[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const positives = labels.filter(Boolean).length;
  let hits = 0;
  let best = { f1: -1, threshold: 0.5 };
  for (let k = 0; k < order.length; k++) {
    if (labels[order[k]]) hits++;
    // Only between distinct scores: a threshold cannot split a tie.
    if (k + 1 < order.length && scores[order[k + 1]] === scores[order[k]]) continue;
    const f1 = (2 * hits) / (k + 1 + positives);
    if (f1 > best.f1) best = { f1, threshold: scores[order[k]] };
  }
  return best.threshold;
}

/**
 * Calibration by deciles of the score (decile 1 the tenth with the lowest scores): the mean score
 * beside the share that was positive. A calibrated score predicts about what is observed in each.
 */
export function calibrationTable(scores: number[], labels: boolean[], bins = 10): CalibrationBin[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const table: CalibrationBin[] = [];
  for (let bin = 0; bin < bins; bin++) {
    const members = order.slice(Math.floor((bin * order.length) / bins), Math.floor(((bin + 1) * order.length) / bins));
    if (members.length === 0) continue;
    const predicted = members.reduce((sum, i) => sum + scores[i], 0) / members.length;
    const observed = members.filter((i) => labels[i]).length / members.length;
    table.push({ decile: bin + 1, customers: members.length, predicted, observed });
  }
  return table;
}
