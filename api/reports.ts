// GET /v1/journeys/:journeyId/report: the report `journeys report` prints and the dashboard
// draws (app/reports/journeyReport.ts), as JSON. Scope `read`: counts and rates, no customer.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../app/errors';
import { journeyReport } from '../app/reports/journeyReport';
import { journeyReportSchema, reportQuerySchema } from '../app/reports/schema';
import type { JourneyClient } from '../app/journeyClient';
import type { Store } from '../store/types';
import type { ErrorBody } from './server';

export interface ReportRoutesOptions {
  store: Store;
  /** The catalogue the report describes, and GLOBAL_CONTROL_PERCENT. */
  journeys: Pick<JourneyClient, 'catalogue' | 'globalControlPercent'>;
  now: () => Date;
}

const params = z.object({ journeyId: z.string().min(1) });

export function registerReportRoutes(app: FastifyInstance, options: ReportRoutesOptions): void {
  app.get<{ Params: { journeyId: string } }>(
    '/v1/journeys/:journeyId/report',
    {
      config: {
        scope: 'read',
        doc: {
          summary: "A journey's report: per step and per template/variant (entered, sent, skipped by reason, delivered, bounced, unique opens and clicks by people, conversions, revenue, unsubscribes, rates), each split's experiment, and the global control comparison",
          params,
          query: reportQuerySchema,
          response: journeyReportSchema,
          responses: { 200: 'the report (schema below)', 404: 'no journey with this id; the message lists the journeys' },
        },
      },
    },
    async (request, reply) => {
      const { journeyId } = request.params;
      const { catalogue, globalControlPercent } = options.journeys;
      if (!catalogue.get(journeyId)) {
        const known = catalogue.journeys.map((j) => j.definition.id).join(', ');
        return reply.code(404).send({ error: 'not_found', message: `no journey "${journeyId}"; the journeys are ${known}` } satisfies ErrorBody);
      }
      const query = parseInput(reportQuerySchema, request.query, 'report query');
      return journeyReport(options.store, catalogue, journeyId, { ...query, now: options.now(), globalControlPercent });
    },
  );
}
