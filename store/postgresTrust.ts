import type pg from 'pg';
import { inTransaction } from './postgresPool';
import { toSuppression, type SuppressionRow } from './rows';
import type { Store } from './types';

/**
 * Every table that holds a customer's data by customer id: what erasure deletes. The sales
 * figures (product_sales, co_purchases) are not decremented: they hold products and counts of
 * order lines, never a customer or an event, so nothing in them is the customer's.
 */
const ERASED = ['events', 'event_notes', 'consent_ledger', 'journey_runs', 'sends', 'segment_memberships', 'segment_dirty', 'customer_aliases', 'tracked_emails', 'exposures', 'held_out_entries', 'conversions'];

/** The parts of the PostgreSQL store that protect customers: suppressions and erasure. */
export function postgresTrust(pool: pg.Pool): Pick<Store, 'addSuppression' | 'suppressionFor' | 'suppressionsOf' | 'customersWithAddress' | 'eraseCustomer'> {
  return {
    async addSuppression(s) {
      await pool.query(
        `INSERT INTO suppressions (address_hash, reason, source, customer_id, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (address_hash) DO UPDATE SET reason = excluded.reason, source = excluded.source,
           customer_id = coalesce(excluded.customer_id, suppressions.customer_id), at = excluded.at`,
        [s.addressHash, s.reason, s.source, s.customerId ?? null, s.at],
      );
    },
    async suppressionFor(addressHash) {
      const { rows } = await pool.query<SuppressionRow>('SELECT * FROM suppressions WHERE address_hash = $1', [addressHash]);
      return rows[0] && toSuppression(rows[0]);
    },
    async suppressionsOf(customerId) {
      const { rows } = await pool.query<SuppressionRow>('SELECT * FROM suppressions WHERE customer_id = $1 ORDER BY at', [customerId]);
      return rows.map(toSuppression);
    },
    async customersWithAddress(email) {
      // The "C" collation on both sides folds ASCII only, as SQLite's lower() does.
      const { rows } = await pool.query<{ customer_id: string }>(
        'SELECT customer_id FROM profiles WHERE lower(email) = lower($1 COLLATE "C") ORDER BY customer_id',
        [email.trim()],
      );
      return rows.map((row) => row.customer_id);
    },
    async eraseCustomer(customerId) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ email: string }>('DELETE FROM profiles WHERE customer_id = $1 RETURNING email', [customerId]);
        for (const table of ERASED) await client.query(`DELETE FROM ${table} WHERE customer_id = $1`, [customerId]);
        await client.query('UPDATE suppressions SET customer_id = NULL WHERE customer_id = $1', [customerId]);
        return { email: rows[0]?.email };
      });
    },
  };
}
