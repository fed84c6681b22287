// K-means on standardized rows (mljs's ml-kmeans, k-means++ from a seed) and the sampled
// silhouette that picks k. Pure: the same rows and seed give the same clusters.
import { seededRandom } from './random';

export interface Clustering {
  k: number;
  /** The cluster of each row, 0 to k-1. */
  assignments: number[];
  centroids: number[][];
  /** Sum of squared distances of the rows to their centroids: the lower, the tighter. */
  inertia: number;
}

/** k-means++ can still start badly: the tightest of a few seeded starts wins (scikit-learn's n_init). */
const STARTS = 4;

export async function kmeansClusters(rows: number[][], k: number, seed: number): Promise<Clustering> {
  // ml-kmeans is an ES module; this CommonJS code loads it once, on first use.
  const { kmeans } = await import('ml-kmeans');
  let best: Clustering | undefined;
  for (let start = 0; start < STARTS; start++) {
    const result = kmeans(rows, k, { initialization: 'kmeans++', seed: seed + start, maxIterations: 300 });
    const inertia = rows.reduce((sum, row, i) => sum + squaredDistance(row, result.centroids[result.clusters[i]]), 0);
    if (!best || inertia < best.inertia) best = { k, assignments: result.clusters, centroids: result.centroids, inertia };
  }
  return best!;
}

/**
 * The mean silhouette of a seeded sample of rows, the sample standing in for the whole as in
 * scikit-learn's `silhouette_score(sample_size=…)`: for each row, how much nearer its own cluster
 * is than the next nearest (-1 to 1; higher means tighter, better separated clusters). The exact
 * value costs time quadratic in the rows; the sample keeps it to a fraction of a second.
 */
export function sampledSilhouette(rows: number[][], assignments: number[], k: number, sampleSize: number, seed: number): number {
  const sample = seededRandom(seed).shuffle(rows.map((_, i) => i)).slice(0, sampleSize);
  let total = 0;
  for (const i of sample) {
    const sums = new Array<number>(k).fill(0);
    const counts = new Array<number>(k).fill(0);
    for (const j of sample) {
      if (j === i) continue;
      sums[assignments[j]] += Math.sqrt(squaredDistance(rows[i], rows[j]));
      counts[assignments[j]]++;
    }
    const own = assignments[i];
    // A row alone in its cluster (in the sample) scores 0, as the definition has it.
    if (counts[own] === 0) continue;
    const a = sums[own] / counts[own];
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c] > 0) b = Math.min(b, sums[c] / counts[c]);
    if (b !== Infinity && Math.max(a, b) > 0) total += (b - a) / Math.max(a, b);
  }
  return total / sample.length;
}

function squaredDistance(a: number[], b: number[]): number {
  let sum = 0;
  for (let j = 0; j < a.length; j++) sum += (a[j] - b[j]) ** 2;
  return sum;
}
