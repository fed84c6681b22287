// POST /v1/scores: scores computed elsewhere (a data-science pipeline, a warehouse job) written
// into profiles in bulk. Scope `ingest`, as for POST /v1/profiles: a score is a profile attribute,
// which an ingest key can set already, so a stricter scope would protect nothing.
import type { FastifyInstance } from 'fastify';
import { importScoreBatch, MAX_SCORES_PER_REQUEST, scoreBatchSchema } from '../app/scores/importScores';
import type { Store } from '../store/types';
import type { ErrorBody } from './server';

export function registerScoreRoutes(app: FastifyInstance, store: Store): void {
  app.post(
    '/v1/scores',
    {
      config: {
        scope: 'ingest',
        doc: {
          summary: `Write up to ${MAX_SCORES_PER_REQUEST} scores into profiles: scores.<name> and scores.<name>Version (modelVersion, or "unversioned")`,
          body: scoreBatchSchema,
          responses: {
            200: '`{written, unknownCustomers}`: customers without a profile get no score and are listed (nothing is created for them)',
            413: `more than ${MAX_SCORES_PER_REQUEST} scores`,
          },
        },
      },
    },
    async (request, reply) => {
      const scores = (request.body as { scores?: unknown } | null)?.scores;
      if (Array.isArray(scores) && scores.length > MAX_SCORES_PER_REQUEST) {
        return reply
          .code(413)
          .send({ error: 'batch_too_large', message: `a request holds at most ${MAX_SCORES_PER_REQUEST} scores and this one has ${scores.length}: send it in parts` } satisfies ErrorBody);
      }
      return importScoreBatch(store, request.body);
    },
  );
}
