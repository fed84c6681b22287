import type Database from 'better-sqlite3';
import type { FrequencyLimit, SendKey, SendReservation, SendRecord, Store, Suppression } from './types';

interface SuppressionRow {
  address_hash: string;
  reason: Suppression['reason'];
  source: string;
  customer_id: string | null;
  at: string;
}

/** Statuses that hold a place under a frequency limit: sent, or on its way. */
const COUNTED = `status IN ('reserved', 'sending', 'sent')`;

/**
 * The parts of the SQLite store that protect customers: frequency-capped reservations,
 * suppressions and erasure. `insertReserved` and `getSend` come from the core store so
 * both share one definition of a send ledger row.
 */
export function sqliteTrust(
  db: Database.Database,
  ledger: { insertReserved(key: SendKey, at: string): void; getSend(workflowId: string, stepId: string): SendRecord | undefined },
): Pick<Store, 'reserveSend' | 'skipSend' | 'addSuppression' | 'suppressionFor' | 'suppressionsOf' | 'customersWithAddress' | 'forgetCustomer'> {
  const sql = {
    countSince: db.prepare<[string, string, string], { n: number }>(
      `SELECT count(*) AS n FROM sends WHERE customer_id = ? AND topic = ? AND created_at >= ? AND ${COUNTED}`,
    ),
    nthSince: db.prepare<[string, string, string, number], { created_at: string }>(
      `SELECT created_at FROM sends WHERE customer_id = ? AND topic = ? AND created_at >= ? AND ${COUNTED}
       ORDER BY created_at LIMIT 1 OFFSET ?`,
    ),
    skip: db.prepare<[{ workflow_id: string; step_id: string; customer_id: string; journey_id: string; topic: string; reason: string; at: string }]>(
      `INSERT INTO sends (workflow_id, step_id, customer_id, journey_id, topic, status, reason, created_at, updated_at)
       VALUES (@workflow_id, @step_id, @customer_id, @journey_id, @topic, 'skipped', @reason, @at, @at)
       ON CONFLICT (workflow_id, step_id) DO UPDATE SET status = 'skipped', reason = excluded.reason, updated_at = excluded.updated_at
       WHERE sends.status = 'reserved'`,
    ),
    upsertSuppression: db.prepare<[SuppressionRow]>(
      `INSERT INTO suppressions (address_hash, reason, source, customer_id, at)
       VALUES (@address_hash, @reason, @source, @customer_id, @at)
       ON CONFLICT (address_hash) DO UPDATE SET reason = excluded.reason, source = excluded.source,
         customer_id = coalesce(excluded.customer_id, suppressions.customer_id), at = excluded.at`,
    ),
    suppressionFor: db.prepare<[string], SuppressionRow>('SELECT * FROM suppressions WHERE address_hash = ?'),
    suppressionsOf: db.prepare<[string], SuppressionRow>('SELECT * FROM suppressions WHERE customer_id = ? ORDER BY at'),
    customersWithAddress: db.prepare<[string], { customer_id: string }>('SELECT customer_id FROM profiles WHERE lower(email) = lower(?) ORDER BY customer_id'),
    profileEmail: db.prepare<[string], { email: string }>('SELECT email FROM profiles WHERE customer_id = ?'),
    erase: ['profiles', 'events', 'consent_ledger', 'journey_runs', 'sends'].map((table) =>
      db.prepare<[string]>(`DELETE FROM ${table} WHERE customer_id = ?`),
    ),
    anonymizeSuppressions: db.prepare<[string]>('UPDATE suppressions SET customer_id = NULL WHERE customer_id = ?'),
  };

  const capped = (key: SendKey, at: string, limits: FrequencyLimit[]) => {
    for (const limit of limits) {
      const since = new Date(Date.parse(at) - limit.windowMs).toISOString();
      const { n } = sql.countSince.get(key.customerId, key.topic, since) ?? { n: 0 };
      if (n < limit.max) continue;
      // A place frees when the oldest send that keeps the count at the limit leaves the window.
      const oldest = sql.nthSince.get(key.customerId, key.topic, since, n - limit.max);
      const until = new Date(Date.parse(oldest?.created_at ?? at) + limit.windowMs).toISOString();
      return { limit: limit.label, until };
    }
    return undefined;
  };

  const reserve = db.transaction((key: SendKey, at: string, limits: FrequencyLimit[]): SendReservation => {
    const existing = ledger.getSend(key.workflowId, key.stepId);
    if (existing) return { record: existing };
    const full = capped(key, at, limits);
    if (full) return { capped: full };
    ledger.insertReserved(key, at);
    const record = ledger.getSend(key.workflowId, key.stepId);
    if (!record) throw new Error(`send ledger row ${key.workflowId}/${key.stepId} vanished after reserving it`);
    return { record };
  });

  const forget = db.transaction((customerId: string) => {
    const email = sql.profileEmail.get(customerId)?.email;
    for (const statement of sql.erase) statement.run(customerId);
    sql.anonymizeSuppressions.run(customerId);
    return { email };
  });

  return {
    async reserveSend(key, at, limits = []) {
      return reserve.immediate(key, at, limits);
    },
    async skipSend(key, reason, at) {
      sql.skip.run({ workflow_id: key.workflowId, step_id: key.stepId, customer_id: key.customerId, journey_id: key.journeyId, topic: key.topic, reason, at });
    },
    async addSuppression(s) {
      sql.upsertSuppression.run({ address_hash: s.addressHash, reason: s.reason, source: s.source, customer_id: s.customerId ?? null, at: s.at });
    },
    async suppressionFor(addressHash) {
      const row = sql.suppressionFor.get(addressHash);
      return row && toSuppression(row);
    },
    async suppressionsOf(customerId) {
      return sql.suppressionsOf.all(customerId).map(toSuppression);
    },
    async customersWithAddress(email) {
      return sql.customersWithAddress.all(email.trim()).map((row) => row.customer_id);
    },
    async forgetCustomer(customerId) {
      return forget.immediate(customerId);
    },
  };
}

function toSuppression(row: SuppressionRow): Suppression {
  return { addressHash: row.address_hash, reason: row.reason, source: row.source, at: row.at, ...(row.customer_id !== null && { customerId: row.customer_id }) };
}
