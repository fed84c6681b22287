import type pg from 'pg';
import { epochMs } from './eventIdentity';
import { inTransaction } from './postgresPool';
import { SEND_COLUMNS, toConsent, toEvent, toJourneyRun, toSend, type ConsentRow, type EventRow, type JourneyRunRow, type SendRow } from './rows';
import { REPORTED_EMAIL_EVENTS, toConversion, toExposure, toHeldOut, toWinner, type ConversionRow, type ExposureRow, type HeldOutRow, type WinnerRow } from './sqliteExperiments';
import type { Store } from './types';

type ExperimentStore = Pick<Store, 'recordExposure' | 'exposuresOf' | 'recordHeldOut' | 'heldOutOf' | 'recordConversion' | 'recordWinner' | 'winnersOf' | 'journeyActivity'>;

/** As in SQLite (sqliteExperiments.ts). */
export function postgresExperiments(pool: pg.Pool): ExperimentStore {
  return {
    async recordExposure(e) {
      await pool.query(
        `INSERT INTO exposures (workflow_id, step_id, journey_id, version, customer_id, arm, at, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [e.workflowId, e.stepId, e.journeyId, e.version, e.customerId, e.arm, e.at, epochMs(e.at, 'at')],
      );
    },
    async exposuresOf(customerId) {
      const { rows } = await pool.query<ExposureRow>('SELECT * FROM exposures WHERE customer_id = $1 ORDER BY at_ms', [customerId]);
      return rows.map(toExposure);
    },
    async recordHeldOut(entry) {
      await pool.query(
        'INSERT INTO held_out_entries (workflow_id, journey_id, customer_id, at, at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [entry.workflowId, entry.journeyId, entry.customerId, entry.at, epochMs(entry.at, 'at')],
      );
    },
    async heldOutOf(customerId) {
      const { rows } = await pool.query<HeldOutRow>('SELECT * FROM held_out_entries WHERE customer_id = $1 ORDER BY at_ms', [customerId]);
      return rows.map(toHeldOut);
    },
    async recordConversion(c) {
      const { rowCount } = await pool.query(
        `INSERT INTO conversions (event_id, journey_id, customer_id, occurred_at, occurred_at_ms, value, workflow_id, step_id, template, variants)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) ON CONFLICT DO NOTHING`,
        [
          c.eventId,
          c.journeyId,
          c.customerId,
          c.occurredAt,
          epochMs(c.occurredAt, 'occurredAt'),
          c.value ?? null,
          c.email?.workflowId ?? null,
          c.email?.stepId ?? null,
          c.email?.template ?? null,
          c.email ? JSON.stringify(c.email.variants) : null,
        ],
      );
      return rowCount === 1;
    },
    async recordWinner(w) {
      await pool.query(
        `INSERT INTO split_winners (journey_id, step_id, winner, metric, reason, version, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [w.journeyId, w.stepId, w.winner, w.metric, w.reason, w.version, w.decidedAt],
      );
      const { rows } = await pool.query<WinnerRow>('SELECT * FROM split_winners WHERE journey_id = $1 AND step_id = $2', [w.journeyId, w.stepId]);
      return toWinner(rows[0]);
    },
    async winnersOf(journeyId) {
      const { rows } = await pool.query<WinnerRow>('SELECT * FROM split_winners WHERE journey_id = $1 ORDER BY decided_at', [journeyId]);
      return rows.map(toWinner);
    },
    async journeyActivity(journeyId) {
      // One repeatable-read snapshot, so the parts of a report agree with each other.
      return inTransaction(pool, async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const read = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => client.query<R>(text, values).then((result) => result.rows);
        const runs = await read<JourneyRunRow>('SELECT workflow_id, journey_id, customer_id, topic, started_at FROM journey_runs WHERE journey_id = $1', [journeyId]);
        const sends = await read<SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE journey_id = $1 ORDER BY created_at, seq`, [journeyId]);
        const exposures = await read<ExposureRow>('SELECT * FROM exposures WHERE journey_id = $1 ORDER BY at_ms', [journeyId]);
        const heldOut = await read<HeldOutRow>('SELECT * FROM held_out_entries WHERE journey_id = $1 ORDER BY at_ms', [journeyId]);
        const conversions = await read<ConversionRow>('SELECT * FROM conversions WHERE journey_id = $1 ORDER BY occurred_at_ms', [journeyId]);
        const emailEvents = await read<EventRow>(
          `SELECT id, customer_id, type, occurred_at, properties FROM events
           WHERE type = ANY($1::text[]) AND (properties::jsonb)->>'journeyId' = $2 ORDER BY occurred_at_ms, seq`,
          [REPORTED_EMAIL_EVENTS, journeyId],
        );
        const withdrawals = await read<ConsentRow>(
          `SELECT customer_id, topic, status, source, at FROM consent_ledger
           WHERE status = 'withdrawn' AND customer_id IN (SELECT customer_id FROM sends WHERE journey_id = $1) ORDER BY at_ms, seq`,
          [journeyId],
        );
        const winners = await read<WinnerRow>('SELECT * FROM split_winners WHERE journey_id = $1 ORDER BY decided_at', [journeyId]);
        return {
          runs: runs.map(toJourneyRun),
          sends: sends.map(toSend),
          exposures: exposures.map(toExposure),
          heldOut: heldOut.map(toHeldOut),
          conversions: conversions.map(toConversion),
          emailEvents: emailEvents.map(toEvent),
          withdrawals: withdrawals.map(toConsent),
          winners: winners.map(toWinner),
        };
      });
    },
  };
}
