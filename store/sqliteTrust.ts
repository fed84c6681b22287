import type Database from 'better-sqlite3';
import { toSuppression, type SuppressionRow } from './rows';
import type { Store } from './types';

/** The parts of the SQLite store that protect customers: suppressions and erasure. */
export function sqliteTrust(db: Database.Database): Pick<Store, 'addSuppression' | 'suppressionFor' | 'suppressionsOf' | 'customersWithAddress' | 'eraseCustomer'> {
  const sql = {
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
    // The sales figures (product_sales, co_purchases) are not decremented: they hold products and
    // counts of order lines, never a customer or an event, so nothing in them is the customer's.
    erase: ['profiles', 'events', 'event_notes', 'consent_ledger', 'journey_runs', 'sends', 'customer_aliases', 'tracked_emails', 'exposures', 'held_out_entries', 'conversions'].map((table) =>
      db.prepare<[string]>(`DELETE FROM ${table} WHERE customer_id = ?`),
    ),
    anonymizeSuppressions: db.prepare<[string]>('UPDATE suppressions SET customer_id = NULL WHERE customer_id = ?'),
  };

  const erase = db.transaction((customerId: string) => {
    const email = sql.profileEmail.get(customerId)?.email;
    for (const statement of sql.erase) statement.run(customerId);
    sql.anonymizeSuppressions.run(customerId);
    return { email };
  });

  return {
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
    async eraseCustomer(customerId) {
      return erase.immediate(customerId);
    },
  };
}
