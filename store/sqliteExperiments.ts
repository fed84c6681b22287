import type Database from 'better-sqlite3';
import { EMAIL_CLICKED, EMAIL_OPENED } from '../domain/delivery/engagement';
import { epochMs } from './eventIdentity';
import { SEND_COLUMNS, toConsent, toEvent, toJourneyRun, toSend, type ConsentRow, type EventRow, type JourneyRunRow, type SendRow } from './rows';
import type { Conversion, Exposure, HeldOutEntry, SplitWinner, Store } from './types';

/** The engagement and provider feedback events a journey's report counts. */
export const REPORTED_EMAIL_EVENTS = ['email.delivered', 'email.bounced', EMAIL_OPENED, EMAIL_CLICKED];

export interface ExposureRow {
  workflow_id: string;
  step_id: string;
  journey_id: string;
  version: string;
  customer_id: string;
  arm: string;
  at: string;
}
export const toExposure = (row: ExposureRow): Exposure => ({
  workflowId: row.workflow_id,
  stepId: row.step_id,
  journeyId: row.journey_id,
  version: row.version,
  customerId: row.customer_id,
  arm: row.arm,
  at: row.at,
});

export interface HeldOutRow {
  workflow_id: string;
  journey_id: string;
  customer_id: string;
  at: string;
}
export const toHeldOut = (row: HeldOutRow): HeldOutEntry => ({ workflowId: row.workflow_id, journeyId: row.journey_id, customerId: row.customer_id, at: row.at });

export interface ConversionRow {
  event_id: string;
  journey_id: string;
  customer_id: string;
  occurred_at: string;
  value: number | null;
  workflow_id: string | null;
  step_id: string | null;
  template: string | null;
  /** JSON text in SQLite, an object from PostgreSQL's jsonb. */
  variants: string | Record<string, string> | null;
}
export function toConversion(row: ConversionRow): Conversion {
  const variants = typeof row.variants === 'string' ? (JSON.parse(row.variants) as Record<string, string>) : (row.variants ?? {});
  return {
    eventId: row.event_id,
    journeyId: row.journey_id,
    customerId: row.customer_id,
    occurredAt: row.occurred_at,
    ...(row.value !== null && { value: row.value }),
    ...(row.workflow_id !== null && row.step_id !== null && { email: { workflowId: row.workflow_id, stepId: row.step_id, ...(row.template !== null && { template: row.template }), variants } }),
  };
}

export interface WinnerRow {
  journey_id: string;
  step_id: string;
  winner: string;
  metric: SplitWinner['metric'];
  reason: string;
  version: string;
  decided_at: string;
}
export const toWinner = (row: WinnerRow): SplitWinner => ({
  journeyId: row.journey_id,
  stepId: row.step_id,
  winner: row.winner,
  metric: row.metric,
  reason: row.reason,
  version: row.version,
  decidedAt: row.decided_at,
});

type ExperimentStore = Pick<Store, 'recordExposure' | 'exposuresOf' | 'recordHeldOut' | 'heldOutOf' | 'recordConversion' | 'recordWinner' | 'winnersOf' | 'journeyActivity'>;

export function sqliteExperiments(db: Database.Database): ExperimentStore {
  const sql = {
    insertExposure: db.prepare<[ExposureRow & { at_ms: number }]>(
      `INSERT INTO exposures (workflow_id, step_id, journey_id, version, customer_id, arm, at, at_ms)
       VALUES (@workflow_id, @step_id, @journey_id, @version, @customer_id, @arm, @at, @at_ms) ON CONFLICT DO NOTHING`,
    ),
    exposuresOf: db.prepare<[string], ExposureRow>('SELECT * FROM exposures WHERE customer_id = ? ORDER BY at_ms'),
    insertHeldOut: db.prepare<[HeldOutRow & { at_ms: number }]>(
      `INSERT INTO held_out_entries (workflow_id, journey_id, customer_id, at, at_ms)
       VALUES (@workflow_id, @journey_id, @customer_id, @at, @at_ms) ON CONFLICT DO NOTHING`,
    ),
    heldOutOf: db.prepare<[string], HeldOutRow>('SELECT * FROM held_out_entries WHERE customer_id = ? ORDER BY at_ms'),
    insertConversion: db.prepare<[ConversionRow & { occurred_at_ms: number }]>(
      `INSERT INTO conversions (event_id, journey_id, customer_id, occurred_at, occurred_at_ms, value, workflow_id, step_id, template, variants)
       VALUES (@event_id, @journey_id, @customer_id, @occurred_at, @occurred_at_ms, @value, @workflow_id, @step_id, @template, @variants)
       ON CONFLICT DO NOTHING`,
    ),
    insertWinner: db.prepare<[WinnerRow]>(
      `INSERT INTO split_winners (journey_id, step_id, winner, metric, reason, version, decided_at)
       VALUES (@journey_id, @step_id, @winner, @metric, @reason, @version, @decided_at) ON CONFLICT DO NOTHING`,
    ),
    winner: db.prepare<[string, string], WinnerRow>('SELECT * FROM split_winners WHERE journey_id = ? AND step_id = ?'),
    winnersOf: db.prepare<[string], WinnerRow>('SELECT * FROM split_winners WHERE journey_id = ? ORDER BY decided_at'),
    runs: db.prepare<[string], JourneyRunRow>('SELECT workflow_id, journey_id, customer_id, topic, started_at FROM journey_runs WHERE journey_id = ?'),
    sends: db.prepare<[string], SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE journey_id = ? ORDER BY created_at`),
    exposures: db.prepare<[string], ExposureRow>('SELECT * FROM exposures WHERE journey_id = ? ORDER BY at_ms'),
    heldOut: db.prepare<[string], HeldOutRow>('SELECT * FROM held_out_entries WHERE journey_id = ? ORDER BY at_ms'),
    conversions: db.prepare<[string], ConversionRow>('SELECT * FROM conversions WHERE journey_id = ? ORDER BY occurred_at_ms'),
    emailEvents: db.prepare<[string, string], EventRow>(
      `SELECT id, customer_id, type, occurred_at, properties FROM events
       WHERE type IN (SELECT value FROM json_each(?)) AND json_extract(properties, '$.journeyId') = ?
       ORDER BY occurred_at_ms, seq`,
    ),
    withdrawals: db.prepare<[string], ConsentRow>(
      `SELECT customer_id, topic, status, source, at FROM consent_ledger
       WHERE status = 'withdrawn' AND customer_id IN (SELECT customer_id FROM sends WHERE journey_id = ?)
       ORDER BY at_ms, seq`,
    ),
  };
  // One read transaction, so the parts of a report agree with each other.
  const activity = db.transaction((journeyId: string) => ({
    runs: sql.runs.all(journeyId).map(toJourneyRun),
    sends: sql.sends.all(journeyId).map(toSend),
    exposures: sql.exposures.all(journeyId).map(toExposure),
    heldOut: sql.heldOut.all(journeyId).map(toHeldOut),
    conversions: sql.conversions.all(journeyId).map(toConversion),
    emailEvents: sql.emailEvents.all(JSON.stringify(REPORTED_EMAIL_EVENTS), journeyId).map(toEvent),
    withdrawals: sql.withdrawals.all(journeyId).map(toConsent),
    winners: sql.winnersOf.all(journeyId).map(toWinner),
  }));

  return {
    async recordExposure(e) {
      sql.insertExposure.run({ workflow_id: e.workflowId, step_id: e.stepId, journey_id: e.journeyId, version: e.version, customer_id: e.customerId, arm: e.arm, at: e.at, at_ms: epochMs(e.at, 'at') });
    },
    async exposuresOf(customerId) {
      return sql.exposuresOf.all(customerId).map(toExposure);
    },
    async recordHeldOut(entry) {
      sql.insertHeldOut.run({ workflow_id: entry.workflowId, journey_id: entry.journeyId, customer_id: entry.customerId, at: entry.at, at_ms: epochMs(entry.at, 'at') });
    },
    async heldOutOf(customerId) {
      return sql.heldOutOf.all(customerId).map(toHeldOut);
    },
    async recordConversion(c) {
      const { changes } = sql.insertConversion.run({
        event_id: c.eventId,
        journey_id: c.journeyId,
        customer_id: c.customerId,
        occurred_at: c.occurredAt,
        occurred_at_ms: epochMs(c.occurredAt, 'occurredAt'),
        value: c.value ?? null,
        workflow_id: c.email?.workflowId ?? null,
        step_id: c.email?.stepId ?? null,
        template: c.email?.template ?? null,
        variants: c.email ? JSON.stringify(c.email.variants) : null,
      });
      return changes === 1;
    },
    async recordWinner(w) {
      sql.insertWinner.run({ journey_id: w.journeyId, step_id: w.stepId, winner: w.winner, metric: w.metric, reason: w.reason, version: w.version, decided_at: w.decidedAt });
      return toWinner(sql.winner.get(w.journeyId, w.stepId)!);
    },
    async winnersOf(journeyId) {
      return sql.winnersOf.all(journeyId).map(toWinner);
    },
    async journeyActivity(journeyId) {
      return activity(journeyId);
    },
  };
}
