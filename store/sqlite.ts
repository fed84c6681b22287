import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { CustomerEvent, Profile } from '../domain/customer';
import { migrate } from './migrations';
import { sqliteSegments } from './sqliteSegments';
import { sqliteTrust } from './sqliteTrust';
import type { ConsentRecord, RecordedEvent, SendKey, SendRecord, SendStatus, Store } from './types';

interface ProfileRow {
  customer_id: string;
  email: string;
  attributes: string;
}
interface EventRow {
  id: string;
  customer_id: string;
  type: string;
  occurred_at: string;
  properties: string;
}
interface ConsentRow {
  customer_id: string;
  topic: string;
  status: ConsentRecord['status'];
  source: string;
  at: string;
}
interface JourneyRunRow {
  workflow_id: string;
  journey_id: string;
  customer_id: string;
  topic: string;
  started_at: string;
}
interface SendRow {
  workflow_id: string;
  step_id: string;
  customer_id: string;
  journey_id: string;
  topic: string;
  status: SendStatus;
  template: string | null;
  message_id: string | null;
  reason: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * Opens (creating if needed) the SQLite store at `file`, or an in-memory one for ':memory:'.
 * The CLI and the server may open the same file at once: WAL lets readers run beside the
 * one writer, and busy_timeout makes a writer wait for the other process instead of failing.
 */
export function openSqliteStore(file: string): Store {
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });

  const db = new Database(file);
  // busy_timeout first: switching to WAL itself needs a lock another process may hold.
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode can lose the last commits on power loss but never corrupts.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);

  const sql = {
    getProfile: db.prepare<[string], ProfileRow>(
      'SELECT customer_id, email, attributes FROM profiles WHERE customer_id = ?',
    ),
    getAttributes: db.prepare<[string], Pick<ProfileRow, 'attributes'>>(
      'SELECT attributes FROM profiles WHERE customer_id = ?',
    ),
    upsertProfile: db.prepare<[ProfileRow]>(
      `INSERT INTO profiles (customer_id, email, attributes) VALUES (@customer_id, @email, @attributes)
       ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, attributes = excluded.attributes`,
    ),
    countProfiles: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM profiles'),

    insertEvent: db.prepare<[EventRow & { occurred_at_ms: number }]>(
      `INSERT INTO events (id, customer_id, type, occurred_at, occurred_at_ms, properties)
       VALUES (@id, @customer_id, @type, @occurred_at, @occurred_at_ms, @properties)
       ON CONFLICT (id) DO NOTHING`,
    ),
    eventRouted: db.prepare<[string], { routed_at: string | null }>('SELECT routed_at FROM events WHERE id = ?'),
    // The first routing time is kept: a re-route after a crash is not news.
    markEventRouted: db.prepare<[string, string]>(
      'UPDATE events SET routed_at = coalesce(routed_at, ?) WHERE id = ?',
    ),
    latestOfType: db.prepare<[string, number], EventRow>(
      `SELECT id, customer_id, type, occurred_at, properties FROM events
       WHERE type = ? ORDER BY occurred_at_ms DESC, seq DESC LIMIT ?`,
    ),
    eventById: db.prepare<[string], EventRow>('SELECT id, customer_id, type, occurred_at, properties FROM events WHERE id = ?'),
    eventsOf: db.prepare<[string], EventRow>(
      `SELECT id, customer_id, type, occurred_at, properties FROM events
       WHERE customer_id = ? ORDER BY occurred_at_ms, seq`,
    ),

    insertConsent: db.prepare<[ConsentRow & { at_ms: number }]>(
      `INSERT INTO consent_ledger (customer_id, topic, status, source, at, at_ms)
       VALUES (@customer_id, @topic, @status, @source, @at, @at_ms)`,
    ),
    consentFor: db.prepare<[string, string], ConsentRow>(
      `SELECT customer_id, topic, status, source, at FROM consent_ledger
       WHERE customer_id = ? AND topic = ? ORDER BY at_ms DESC, seq DESC LIMIT 1`,
    ),
    consentLedger: db.prepare<[string], ConsentRow>(
      `SELECT customer_id, topic, status, source, at FROM consent_ledger
       WHERE customer_id = ? ORDER BY at_ms, seq`,
    ),

    upsertJourneyRun: db.prepare<[JourneyRunRow]>(
      `INSERT INTO journey_runs (workflow_id, journey_id, customer_id, topic, started_at)
       VALUES (@workflow_id, @journey_id, @customer_id, @topic, @started_at)
       ON CONFLICT (workflow_id) DO UPDATE SET journey_id = excluded.journey_id,
         customer_id = excluded.customer_id, topic = excluded.topic, started_at = excluded.started_at`,
    ),
    journeyRuns: db.prepare<[string], JourneyRunRow>(
      `SELECT workflow_id, journey_id, customer_id, topic, started_at FROM journey_runs
       WHERE customer_id = ? ORDER BY started_at, rowid`,
    ),

    reserveSend: db.prepare<[Omit<SendRow, 'template' | 'message_id' | 'reason'>]>(
      `INSERT INTO sends (workflow_id, step_id, customer_id, journey_id, topic, status, created_at, updated_at)
       VALUES (@workflow_id, @step_id, @customer_id, @journey_id, @topic, @status, @created_at, @updated_at)
       ON CONFLICT (workflow_id, step_id) DO NOTHING`,
    ),
    getSend: db.prepare<[string, string], SendRow>('SELECT * FROM sends WHERE workflow_id = ? AND step_id = ?'),
    // `reason` is replaced, not kept: a row that later succeeds must not carry an old failure.
    updateSend: db.prepare<
      [{ workflow_id: string; step_id: string; status: SendStatus; template: string | null; message_id: string | null; reason: string | null; updated_at: string }]
    >(
      `UPDATE sends SET status = @status, template = coalesce(@template, template),
         message_id = coalesce(@message_id, message_id), reason = @reason, updated_at = @updated_at
       WHERE workflow_id = @workflow_id AND step_id = @step_id`,
    ),
    sendsOf: db.prepare<[string], SendRow>('SELECT * FROM sends WHERE customer_id = ? ORDER BY created_at, rowid'),
  };

  // Attributes merge shallowly: an import that carries only some columns must not erase
  // the others. A key set to null stays, as null, so a rule can tell "cleared" from "unknown".
  const upsertMany = db.transaction((profiles: Profile[]) => {
    for (const profile of profiles) {
      const existing = sql.getAttributes.get(profile.customerId);
      const attributes = existing
        ? { ...(JSON.parse(existing.attributes) as Record<string, unknown>), ...profile.attributes }
        : profile.attributes;
      sql.upsertProfile.run({
        customer_id: profile.customerId,
        email: profile.email,
        attributes: JSON.stringify(attributes ?? {}),
      });
    }
  });

  const recordEvent = db.transaction((event: CustomerEvent): RecordedEvent => {
    const inserted = sql.insertEvent.run({
      id: event.id,
      customer_id: event.customerId,
      type: event.type,
      occurred_at: event.occurredAt,
      occurred_at_ms: epochMs(event.occurredAt, 'occurredAt'),
      properties: JSON.stringify(event.properties ?? {}),
    });
    if (inserted.changes === 1) return { firstSeen: true, routed: false };
    const stored = sql.eventRouted.get(event.id);
    return { firstSeen: false, routed: stored?.routed_at != null };
  });

  const ledger = {
    insertReserved(key: SendKey, at: string) {
      sql.reserveSend.run({
        workflow_id: key.workflowId,
        step_id: key.stepId,
        customer_id: key.customerId,
        journey_id: key.journeyId,
        topic: key.topic,
        status: 'reserved',
        created_at: at,
        updated_at: at,
      });
    },
    getSend(workflowId: string, stepId: string) {
      const row = sql.getSend.get(workflowId, stepId);
      return row && toSend(row);
    },
  };

  const trust = sqliteTrust(db, ledger);
  const segments = sqliteSegments(db);

  return {
    async upsertProfiles(profiles) {
      if (profiles.length > 0) upsertMany.immediate(profiles);
    },
    async getProfile(customerId) {
      const row = sql.getProfile.get(customerId);
      return row && { customerId: row.customer_id, email: row.email, attributes: JSON.parse(row.attributes) };
    },
    async countProfiles() {
      return sql.countProfiles.get()?.n ?? 0;
    },

    async recordEvent(event) {
      return recordEvent.immediate(event);
    },
    async markEventRouted(eventId) {
      const { changes } = sql.markEventRouted.run(new Date().toISOString(), eventId);
      if (changes === 0) throw new Error(`cannot mark event ${eventId} routed: it was never recorded`);
    },
    async eventById(eventId) {
      const row = sql.eventById.get(eventId);
      return row && toEvent(row);
    },
    async eventsOf(customerId) {
      return sql.eventsOf.all(customerId).map(toEvent);
    },
    async latestEventsOfType(type, limit) {
      return sql.latestOfType.all(type, limit).map(toEvent);
    },

    async recordConsent(record) {
      sql.insertConsent.run({
        customer_id: record.customerId,
        topic: record.topic,
        status: record.status,
        source: record.source,
        at: record.at,
        at_ms: epochMs(record.at, 'at'),
      });
    },
    async consentFor(customerId, topic) {
      const row = sql.consentFor.get(customerId, topic);
      return row && toConsent(row);
    },
    async consentLedger(customerId) {
      return sql.consentLedger.all(customerId).map(toConsent);
    },

    async recordJourneyRun(run) {
      sql.upsertJourneyRun.run({
        workflow_id: run.workflowId,
        journey_id: run.journeyId,
        customer_id: run.customerId,
        topic: run.topic,
        started_at: run.startedAt,
      });
    },
    async journeyRuns(customerId) {
      return sql.journeyRuns.all(customerId).map((row) => ({
        workflowId: row.workflow_id,
        journeyId: row.journey_id,
        customerId: row.customer_id,
        topic: row.topic,
        startedAt: row.started_at,
      }));
    },

    ...trust,
    ...segments.store,
    // Erasure also forgets the customer's segments (sqliteTrust erases the tables it knows).
    async forgetCustomer(customerId) {
      segments.forget(customerId);
      return trust.forgetCustomer(customerId);
    },
    async sendRecord(workflowId, stepId) {
      return ledger.getSend(workflowId, stepId);
    },
    async updateSend(workflowId, stepId, change) {
      const { changes } = sql.updateSend.run({
        workflow_id: workflowId,
        step_id: stepId,
        status: change.status,
        template: change.template ?? null,
        message_id: change.messageId ?? null,
        reason: change.reason ?? null,
        updated_at: change.at,
      });
      if (changes === 0) throw new Error(`send ledger has no row ${workflowId}/${stepId}: reserve it before updating`);
    },
    async sendsOf(customerId) {
      return sql.sendsOf.all(customerId).map(toSend);
    },

    async close() {
      if (db.open) db.close();
    },
  };
}

function toEvent(row: EventRow): CustomerEvent {
  return { id: row.id, customerId: row.customer_id, type: row.type, occurredAt: row.occurred_at, properties: JSON.parse(row.properties) };
}

function epochMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`${field} "${iso}" is not an ISO-8601 date-time`);
  return ms;
}

function toConsent(row: ConsentRow): ConsentRecord {
  return { customerId: row.customer_id, topic: row.topic, status: row.status, source: row.source, at: row.at };
}

function toSend(row: SendRow): SendRecord {
  return {
    workflowId: row.workflow_id,
    stepId: row.step_id,
    customerId: row.customer_id,
    journeyId: row.journey_id,
    topic: row.topic,
    status: row.status,
    ...(row.template !== null && { template: row.template }),
    ...(row.message_id !== null && { messageId: row.message_id }),
    ...(row.reason !== null && { reason: row.reason }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
