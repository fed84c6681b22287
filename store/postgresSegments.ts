import type pg from 'pg';
import { inTransaction, lockWithin, type Queryable } from './postgresPool';
import type { Store } from './types';

interface MembershipRow {
  segment_id: string;
  entered_at: string;
}

/** Segment memberships in the PostgreSQL store: the current segments of each customer. */
export function postgresSegments(pool: pg.Pool): Pick<Store, 'segmentsOf' | 'setSegments' | 'customerIdsAfter'> {
  const membershipsOf = async (db: Queryable, customerId: string) =>
    (await db.query<MembershipRow>('SELECT segment_id, entered_at FROM segment_memberships WHERE customer_id = $1 ORDER BY entered_at, segment_id', [customerId])).rows;

  return {
    async segmentsOf(customerId) {
      return (await membershipsOf(pool, customerId)).map((row) => ({ segmentId: row.segment_id, enteredAt: row.entered_at }));
    },
    async setSegments(customerId, segmentIds, at) {
      return inTransaction(pool, async (client) => {
        // Two recomputations of one customer (an event and the sweep, on two hosts) queue here,
        // so the second reads what the first wrote and cannot report the same entry again.
        await lockWithin(client, 'journeys.segments', customerId);
        const current = new Set((await membershipsOf(client, customerId)).map((row) => row.segment_id));
        const wanted = new Set(segmentIds);
        const entered = [...wanted].filter((id) => !current.has(id));
        const left = [...current].filter((id) => !wanted.has(id));
        await client.query(
          'INSERT INTO segment_memberships (customer_id, segment_id, entered_at) SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING',
          [customerId, entered, at],
        );
        await client.query('DELETE FROM segment_memberships WHERE customer_id = $1 AND segment_id = ANY($2::text[])', [customerId, left]);
        return { entered, left };
      });
    },
    async customerIdsAfter(after, limit) {
      // Both columns are COLLATE "C": the cursor compares in the byte order the pages are in.
      // Each side takes at most a page from its index before the union, so late pages cost no more.
      const { rows } = await pool.query<{ customer_id: string }>(
        `SELECT customer_id FROM (
           (SELECT customer_id FROM profiles WHERE customer_id > $1 ORDER BY customer_id LIMIT $2)
           UNION
           (SELECT DISTINCT customer_id FROM events WHERE customer_id > $1 ORDER BY customer_id LIMIT $2)
         ) AS ids ORDER BY customer_id LIMIT $2`,
        [after ?? '', limit],
      );
      return rows.map((row) => row.customer_id);
    },
  };
}
