import type pg from 'pg';
import { inTransaction } from './postgresPool';
import type { Store } from './types';

/** Anonymous visitors merged into identified customers (see Store.mergeCustomer). */
export function postgresIdentity(pool: pg.Pool): Pick<Store, 'mergeCustomer' | 'mergedInto'> {
  return {
    async mergeCustomer(from, into, at) {
      if (from === into) return { events: 0 };
      return inTransaction(pool, async (client) => {
        await client.query(
          `INSERT INTO customer_aliases (alias, customer_id, merged_at) VALUES ($1, $2, $3)
           ON CONFLICT (alias) DO UPDATE SET customer_id = excluded.customer_id, merged_at = excluded.merged_at`,
          [from, into, at],
        );
        const events = (await client.query('UPDATE events SET customer_id = $2 WHERE customer_id = $1', [from, into])).rowCount ?? 0;
        await client.query('UPDATE event_notes SET customer_id = $2 WHERE customer_id = $1', [from, into]);
        // The visitor's memberships were computed from events that are the customer's now.
        await client.query('DELETE FROM segment_memberships WHERE customer_id = $1', [from]);
        await client.query('DELETE FROM segment_dirty WHERE customer_id = $1', [from]);
        if (events > 0) {
          await client.query(
            `INSERT INTO segment_dirty (customer_id, mark) VALUES ($1, 1)
             ON CONFLICT (customer_id) DO UPDATE SET mark = segment_dirty.mark + 1`,
            [into],
          );
        }
        return { events };
      });
    },
    async mergedInto(from) {
      const { rows } = await pool.query<{ customer_id: string }>('SELECT customer_id FROM customer_aliases WHERE alias = $1', [from]);
      return rows[0]?.customer_id;
    },
  };
}
