// Deterministic A/B assignment for `split` steps. Pure and free of node:crypto so the
// workflow can call it: the same customer gets the same variant of a split in every run
// and on every replay, and a split needs no state anywhere.
import type { SplitStep } from './types';

export interface SplitAssignment {
  /** The variant's name, or "holdout". */
  name: string;
  /** The step the customer goes on to; undefined ends the journey (a holdout's default). */
  next?: string;
  holdout: boolean;
}

export const HOLDOUT = 'holdout';

/** 32-bit FNV-1a over UTF-16 code units (IDs here are ASCII, so these are the UTF-8 bytes). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Where a customer falls in a split, uniformly in [0, 1). The step id is part of the key,
 * so two splits in one journey are independent of each other; a final avalanche (the
 * murmur3 finaliser) spreads IDs that differ only in their last character ("c1", "c2").
 */
export function splitPosition(journeyId: string, stepId: string, customerId: string): number {
  let h = fnv1a32(`${journeyId}:${stepId}:${customerId}`);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** The variant (or holdout) a customer gets, in proportion to the weights. */
export function assignVariant(step: Pick<SplitStep, 'id' | 'variants' | 'holdout'>, journeyId: string, customerId: string): SplitAssignment {
  const buckets: SplitAssignment[] = step.variants.map((v) => ({ name: v.name, next: v.next, holdout: false }));
  const weights = step.variants.map((v) => v.weight);
  if (step.holdout) {
    buckets.push({ name: HOLDOUT, next: step.holdout.next, holdout: true });
    weights.push(step.holdout.weight);
  }
  const total = weights.reduce((sum, w) => sum + w, 0);
  let point = splitPosition(journeyId, step.id, customerId) * total;
  for (let i = 0; i < buckets.length; i++) {
    if (point < weights[i]) return buckets[i];
    point -= weights[i];
  }
  return buckets[buckets.length - 1];
}
