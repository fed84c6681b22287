// Scores pushed in bulk by a data-science pipeline (POST /v1/scores, `journeys scores import`):
// written into the profiles of known customers, never creating one.
import { z } from 'zod';
import { importedScoreSchema, scoreAttributes, type ImportedScore } from '../../domain/scores/externalScores';
import type { ProfileScores, Store } from '../../store/types';
import { parseInput } from '../errors';

/** Most scores one request may carry (about 80 KB of JSON, well inside BODY_LIMIT_BYTES); more get 413. */
export const MAX_SCORES_PER_REQUEST = 1000;

export const scoreBatchSchema = z.object({ scores: z.array(importedScoreSchema).min(1).max(MAX_SCORES_PER_REQUEST) });

export interface ScoreImportResult {
  /** Scores written, each into its customer's profile. */
  written: number;
  /** Customers with no profile: their scores were not written (import the profiles first). */
  unknownCustomers: string[];
}

/**
 * Writes valid scores into the profiles of the customers that have one, in one store write; a
 * later score of the same customer and name wins. The scored customers' segments are marked for
 * recomputation, so a segment on a score follows at the next segment sweep.
 */
export async function writeImportedScores(store: Store, scores: ImportedScore[]): Promise<ScoreImportResult> {
  const known = new Set(await store.customersWithProfiles([...new Set(scores.map((score) => score.customerId))]));
  const rows: ProfileScores[] = scores
    .filter((score) => known.has(score.customerId))
    .map((score) => ({ customerId: score.customerId, scores: scoreAttributes(score.name, score.value, score.modelVersion) }));
  await store.writeScores(rows, { segmentsDirty: true });
  const unknownCustomers = [...new Set(scores.map((score) => score.customerId).filter((customerId) => !known.has(customerId)))];
  return { written: rows.length, unknownCustomers };
}

/** The body of POST /v1/scores: every score valid or nothing written (400 naming each bad field). */
export function importScoreBatch(store: Store, body: unknown): Promise<ScoreImportResult> {
  const { scores } = parseInput(scoreBatchSchema, body, 'scores');
  return writeImportedScores(store, scores);
}
