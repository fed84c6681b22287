import type Database from 'better-sqlite3';
import type { Store } from './types';

interface MembershipRow {
  segment_id: string;
  entered_at: string;
}

/** Segment memberships in the SQLite store: the current segments of each customer. */
export function sqliteSegments(db: Database.Database): {
  store: Pick<Store, 'segmentsOf' | 'setSegments' | 'customerIdsAfter'>;
  /** Erasure's part: called by the store's eraseCustomer. */
  erase(customerId: string): void;
} {
  const sql = {
    segmentsOf: db.prepare<[string], MembershipRow>(
      'SELECT segment_id, entered_at FROM segment_memberships WHERE customer_id = ? ORDER BY entered_at, segment_id',
    ),
    enter: db.prepare<[string, string, string]>(
      'INSERT INTO segment_memberships (customer_id, segment_id, entered_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    leave: db.prepare<[string, string]>('DELETE FROM segment_memberships WHERE customer_id = ? AND segment_id = ?'),
    erase: db.prepare<[string]>('DELETE FROM segment_memberships WHERE customer_id = ?'),
    // Each side takes at most a page from its index (profiles' key, events_by_customer) before
    // the union, so a page costs the same at the end of 100,000 customers as at the start.
    customerIdsAfter: db.prepare<{ after: string; limit: number }, { customer_id: string }>(
      `SELECT customer_id FROM (SELECT customer_id FROM profiles WHERE customer_id > @after ORDER BY customer_id LIMIT @limit)
       UNION
       SELECT customer_id FROM (SELECT DISTINCT customer_id FROM events WHERE customer_id > @after ORDER BY customer_id LIMIT @limit)
       ORDER BY customer_id LIMIT @limit`,
    ),
  };

  // Read and write in one IMMEDIATE transaction, so two recomputations of one customer
  // cannot both report the same entry.
  const set = db.transaction((customerId: string, segmentIds: string[], at: string) => {
    const current = new Set(sql.segmentsOf.all(customerId).map((row) => row.segment_id));
    const wanted = new Set(segmentIds);
    const entered = [...wanted].filter((id) => !current.has(id));
    const left = [...current].filter((id) => !wanted.has(id));
    for (const id of entered) sql.enter.run(customerId, id, at);
    for (const id of left) sql.leave.run(customerId, id);
    return { entered, left };
  });

  return {
    store: {
      async segmentsOf(customerId) {
        return sql.segmentsOf.all(customerId).map((row) => ({ segmentId: row.segment_id, enteredAt: row.entered_at }));
      },
      async setSegments(customerId, segmentIds, at) {
        return set.immediate(customerId, segmentIds, at);
      },
      async customerIdsAfter(after, limit) {
        // Customer ids are never empty, so '' is before the first.
        return sql.customerIdsAfter.all({ after: after ?? '', limit }).map((row) => row.customer_id);
      },
    },
    erase(customerId) {
      sql.erase.run(customerId);
    },
  };
}
