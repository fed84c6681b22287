import type pg from 'pg';
import { epochMs } from './eventIdentity';
import { inTransaction, lockWithin, type Queryable } from './postgresPool';
import { toEvent, type EventRow } from './rows';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import type { SegmentEventsRead, SegmentMembership, Store } from './types';

interface MembershipRow {
  segment_id: string;
  entered_at: string;
}

/** Segment memberships in the PostgreSQL store: the current segments of each customer, and the marks of those to recompute. */
export function postgresSegments(pool: pg.Pool): Pick<Store, 'segmentsOf' | 'setSegments' | 'customerIdsAfter' | 'dirtySegments' | 'clearDirtySegments' | 'segmentEvents' | 'segmentInputs'> {
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
    async dirtySegments(query) {
      const { rows } =
        'customerIds' in query
          ? await pool.query<{ customer_id: string; mark: string }>('SELECT customer_id, mark FROM segment_dirty WHERE customer_id = ANY($1::text[]) ORDER BY customer_id', [query.customerIds])
          : await pool.query<{ customer_id: string; mark: string }>('SELECT customer_id, mark FROM segment_dirty ORDER BY customer_id LIMIT $1', [query.limit]);
      return rows.map((row) => ({ customerId: row.customer_id, mark: Number(row.mark) }));
    },
    async clearDirtySegments(marks) {
      if (marks.length === 0) return;
      await pool.query(
        `DELETE FROM segment_dirty d USING unnest($1::text[], $2::bigint[]) AS m(customer_id, mark)
         WHERE d.customer_id = m.customer_id AND d.mark = m.mark`,
        [marks.map((m) => m.customerId), marks.map((m) => m.mark)],
      );
    },
    async segmentEvents(customerId, read) {
      return (await segmentEventRows(pool, [customerId], read)).map(toEvent);
    },
    async segmentInputs(customerIds, read) {
      if (customerIds.length === 0) return [];
      // One snapshot for the three reads (REPEATABLE READ), as SQLite's one read transaction gives.
      const [profiles, memberships, events, marks] = await inTransaction(pool, async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const profileRows = await client.query<{ customer_id: string; email: string; attributes: Record<string, unknown> }>(
          'SELECT customer_id, email, attributes FROM profiles WHERE customer_id = ANY($1::text[])',
          [customerIds],
        );
        const membershipRows = await client.query<MembershipRow & { customer_id: string }>(
          'SELECT customer_id, segment_id, entered_at FROM segment_memberships WHERE customer_id = ANY($1::text[]) ORDER BY customer_id, entered_at, segment_id',
          [customerIds],
        );
        const markRows = await client.query<{ customer_id: string; mark: string }>('SELECT customer_id, mark FROM segment_dirty WHERE customer_id = ANY($1::text[])', [customerIds]);
        return [profileRows.rows, membershipRows.rows, await segmentEventRows(client, customerIds, read), markRows.rows] as const;
      });
      const byCustomer = new Map(
        customerIds.map((customerId) => [customerId, { profile: undefined as Profile | undefined, events: [] as CustomerEvent[], memberships: [] as SegmentMembership[], dirtyMark: undefined as number | undefined }]),
      );
      for (const row of profiles) byCustomer.get(row.customer_id)!.profile = { customerId: row.customer_id, email: row.email, attributes: row.attributes };
      for (const row of memberships) byCustomer.get(row.customer_id)!.memberships.push({ segmentId: row.segment_id, enteredAt: row.entered_at });
      for (const row of events) byCustomer.get(row.customer_id)!.events.push(toEvent(row));
      for (const row of marks) byCustomer.get(row.customer_id)!.dirtyMark = Number(row.mark);
      return customerIds.map((customerId) => {
        const { profile, events: customerEvents, memberships: customerMemberships, dirtyMark } = byCustomer.get(customerId)!;
        return { customerId, ...(profile && { profile }), events: customerEvents, memberships: customerMemberships, ...(dirtyMark !== undefined && { dirtyMark }) };
      });
    },
  };
}

/** Before every event's time: the `since` of a window over all time. */
const ALL_TIME_MS = -8.64e15;

/**
 * The customers' events a segment recomputation reads, by customer, then as `eventsOf` orders
 * them: the windows and the latest of each type at or before `until`, each a seek on
 * events_by_customer_type; an event both in a window and the latest is one row.
 */
async function segmentEventRows(db: Queryable, customerIds: string[], read: SegmentEventsRead): Promise<EventRow[]> {
  if (read === 'all') {
    return (await db.query<EventRow>('SELECT id, customer_id, type, occurred_at, properties FROM events WHERE customer_id = ANY($1::text[]) ORDER BY customer_id, occurred_at_ms, seq', [customerIds])).rows;
  }
  const { rows } = await db.query<EventRow>(
    `WITH c(customer_id) AS (SELECT DISTINCT unnest($1::text[]))
     SELECT id, customer_id, type, occurred_at, properties FROM events
     WHERE seq IN (
       SELECT w.seq FROM c CROSS JOIN unnest($2::text[], $3::bigint[]) AS t(type, since)
         CROSS JOIN LATERAL (SELECT seq FROM events WHERE customer_id = c.customer_id AND type = t.type AND occurred_at_ms >= t.since) AS w
       UNION
       SELECT l.seq FROM c CROSS JOIN unnest($4::text[]) AS t(type)
         CROSS JOIN LATERAL (SELECT seq FROM events WHERE customer_id = c.customer_id AND type = t.type AND occurred_at_ms <= $5
                             ORDER BY occurred_at_ms DESC, seq DESC LIMIT 1) AS l
     )
     ORDER BY customer_id, occurred_at_ms, seq`,
    [
      customerIds,
      read.windows.map((w) => w.type),
      read.windows.map((w) => (w.since === undefined ? ALL_TIME_MS : epochMs(w.since, 'since'))),
      read.latest,
      epochMs(read.until, 'until'),
    ],
  );
  return rows;
}
