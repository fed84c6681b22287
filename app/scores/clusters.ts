// `journeys clusters`: the natural groups of customers, found by K-means on standardized recency,
// frequency, monetary value and engagement, and told in words. Saved, each customer's cluster
// becomes a score (`scores.<prefix>` = "<prefix><n>"), which a segment in journeys/segments.ts reads.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { kmeansClusters, sampledSilhouette, type Clustering } from '../../domain/scores/kmeans';
import { fitStandardization, standardize } from '../../domain/scores/logistic';
import { scoreAttributes, scoreName } from '../../domain/scores/externalScores';
import type { Rule } from '../../domain/rules/types';
import type { Store } from '../../store/types';
import { parseInput } from '../errors';
import { customerFeatures } from './features';

/** What the clusters are made of, each with how a cluster far above or below the mean is told. */
export const CLUSTER_FEATURES = {
  recencyDays: ['long since their last order', 'ordered recently'],
  orders365d: ['frequent buyers', 'rarely buy'],
  revenue365d: ['high spenders', 'low spenders'],
  opens30d: ['open emails often', 'rarely open emails'],
  clicks30d: ['click often', 'rarely click'],
  views30d: ['browse a lot', 'rarely browse'],
  daysSinceLastActivity: ['inactive for a while', 'active recently'],
} as const satisfies Record<string, readonly [high: string, low: string]>;
export type ClusterFeature = keyof typeof CLUSTER_FEATURES;
const FEATURES = Object.keys(CLUSTER_FEATURES) as ClusterFeature[];

/** The k `--k auto` tries; more than 8 groups are more than a marketer acts on. */
export const AUTO_K = [2, 3, 4, 5, 6, 7, 8];
/** Rows the silhouette is computed on for each k (about 0.1 s each). */
const SILHOUETTE_SAMPLE = 1500;
/** How far (in standard deviations) a cluster's mean must be from everyone's to set it apart. */
const DISTINCT = 0.5;

export const clusterOptionsSchema = z.object({
  k: z.union([z.literal('auto'), z.coerce.number().int().min(2).max(20)], { error: 'a whole number from 2 to 20, or auto' }).default('auto'),
  seed: z.coerce.number().int().min(0).default(1),
  // A cluster id gets a number appended and must stay a segment id (24 characters).
  saveSegments: scoreName.refine((name) => name.length <= 22, 'at most 22 characters: the cluster number is appended').optional(),
});
export type ClusterOptions = z.input<typeof clusterOptionsSchema>;

export interface ClusterSummary {
  /** The cluster's number: 0 is the largest. */
  cluster: number;
  /** The id saved into profiles and of the segment that reads it, with `--save-segments`. */
  segmentId?: string;
  customers: number;
  share: number;
  description: string;
  /** The mean of each feature in the cluster, as the features count it. */
  means: Record<ClusterFeature, number>;
  /** How far each mean is from everyone's, in standard deviations of the standardized feature. */
  standing: Record<ClusterFeature, number>;
}

export interface ClusterReport {
  asOf: string;
  k: number;
  /** The silhouette of each k tried, with `--k auto`; the highest was chosen. */
  silhouettes?: { k: number; silhouette: number }[];
  silhouette: number;
  /** A hash of the centroids: saved beside each customer's cluster as `scores.<prefix>Version`. */
  version: string;
  customers: number;
  /** Customers who did nothing yet: no feature sets them apart, so they are in no cluster. */
  inactive: number;
  features: ClusterFeature[];
  overall: Record<ClusterFeature, number>;
  clusters: ClusterSummary[];
  /** With `--save-segments`: profiles written, and the segment definitions that read them. */
  saved?: { attribute: string; profiles: number; segments: { id: string; name: string; rule: Rule }[] };
}

/** Clusters every active customer as of `asOf` and, with `saveSegments`, writes each one's cluster into their profile. */
export async function clusterCustomers(store: Store, input: ClusterOptions, asOf: Date = new Date()): Promise<ClusterReport> {
  const options = parseInput(clusterOptionsSchema, input, 'clusters options');
  const table = await customerFeatures(store, asOf, { categories: [] });
  const columns = FEATURES.map((name) => table.names.indexOf(name));
  const active = table.rows.filter((row) => row.values.some((value) => value !== 0));
  const raw = active.map((row) => columns.map((column) => row.values[column]));
  const smallestK = options.k === 'auto' ? AUTO_K[0] : options.k;
  if (raw.length < smallestK * 2) throw new Error(`only ${raw.length} customers have any activity as of ${asOf.toISOString()}: too few to cluster into ${smallestK} groups`);
  const scaling = fitStandardization(raw, FEATURES.length);
  const rows = raw.map((values) => standardize(scaling, values));

  const tried: (Clustering & { silhouette: number })[] = [];
  for (const k of options.k === 'auto' ? AUTO_K.filter((k) => k * 2 <= rows.length) : [options.k]) {
    const clustering = await kmeansClusters(rows, k, options.seed);
    tried.push({ ...clustering, silhouette: sampledSilhouette(rows, clustering.assignments, k, SILHOUETTE_SAMPLE, options.seed) });
  }
  const best = tried.reduce((a, b) => (b.silhouette > a.silhouette ? b : a));

  // Numbered by size, largest first, so the numbers read the same way each run.
  const sizes = best.centroids.map((_, c) => best.assignments.filter((a) => a === c).length);
  const order = sizes.map((_, c) => c).filter((c) => sizes[c] > 0).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const version = createHash('sha256').update(JSON.stringify({ features: FEATURES, scaling, centroids: order.map((c) => best.centroids[c]) })).digest('hex').slice(0, 12);
  const clusters = order.map((c, number): ClusterSummary => {
    const members = raw.filter((_, i) => best.assignments[i] === c);
    const standing = recordOf((j) => best.centroids[c][j]);
    return {
      cluster: number,
      ...(options.saveSegments && { segmentId: `${options.saveSegments}${number}` }),
      customers: members.length,
      share: members.length / raw.length,
      description: describe(standing),
      means: recordOf((j) => mean(members.map((values) => values[j]))),
      standing,
    };
  });

  const report: ClusterReport = {
    asOf: asOf.toISOString(),
    k: clusters.length,
    ...(options.k === 'auto' && { silhouettes: tried.map(({ k, silhouette }) => ({ k, silhouette })) }),
    silhouette: best.silhouette,
    version,
    customers: raw.length,
    inactive: table.rows.length - raw.length,
    features: FEATURES,
    overall: recordOf((j) => mean(raw.map((values) => values[j]))),
    clusters,
  };
  if (!options.saveSegments) return report;

  const prefix = options.saveSegments;
  const numberOf = new Map(order.map((c, number) => [c, number]));
  const profiles = await store.writeScores(
    active.map((row, i) => ({ customerId: row.customerId, scores: scoreAttributes(prefix, `${prefix}${numberOf.get(best.assignments[i])!}`, version) })),
    { segmentsDirty: true },
  );
  const segments = clusters.map(({ segmentId, description }) => ({ id: segmentId!, name: description, rule: { attr: `profile.attributes.scores.${prefix}`, op: 'eq', value: segmentId! } as Rule }));
  return { ...report, saved: { attribute: `scores.${prefix}`, profiles, segments } };
}

/** The two or three features that set a cluster apart most, in words: "frequent buyers, high spenders, ordered recently". */
function describe(standing: Record<ClusterFeature, number>): string {
  const apart = FEATURES.filter((f) => Math.abs(standing[f]) >= DISTINCT)
    .sort((a, b) => Math.abs(standing[b]) - Math.abs(standing[a]))
    .slice(0, 3);
  return apart.length ? apart.map((f) => CLUSTER_FEATURES[f][standing[f] > 0 ? 0 : 1]).join(', ') : 'close to the average customer';
}

const recordOf = (value: (j: number) => number) => Object.fromEntries(FEATURES.map((f, j) => [f, value(j)])) as Record<ClusterFeature, number>;
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / Math.max(values.length, 1);
