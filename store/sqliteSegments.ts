import type Database from 'better-sqlite3';
import { epochMs } from './eventIdentity';
import { toEvent, type EventRow } from './rows';
import type { SegmentEventsRead, SegmentInputs, Store } from './types';

interface MembershipRow {
  segment_id: string;
  entered_at: string;
}

/** Before every event's time: the lower bound of a read of all time. */
const ALL_TIME_MS = -8.64e15;

/** Segment memberships in the SQLite store: the current segments of each customer, and the marks of those to recompute. */
export function sqliteSegments(db: Database.Database): {
  store: Pick<Store, 'segmentsOf' | 'setSegments' | 'customerIdsAfter' | 'dirtySegments' | 'clearDirtySegments' | 'segmentEvents' | 'segmentInputs'>;
  /** Marks the customer's segments for recomputation; run inside the caller's transaction. */
  markDirty(customerId: string): void;
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
    eraseMark: db.prepare<[string]>('DELETE FROM segment_dirty WHERE customer_id = ?'),
    mark: db.prepare<[string]>('INSERT INTO segment_dirty (customer_id, mark) VALUES (?, 1) ON CONFLICT (customer_id) DO UPDATE SET mark = mark + 1'),
    marksOf: db.prepare<[string], { customer_id: string; mark: number }>(
      'SELECT customer_id, mark FROM segment_dirty WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY customer_id',
    ),
    marks: db.prepare<[number], { customer_id: string; mark: number }>('SELECT customer_id, mark FROM segment_dirty ORDER BY customer_id LIMIT ?'),
    clearMark: db.prepare<[string, number]>('DELETE FROM segment_dirty WHERE customer_id = ? AND mark = ?'),
    // For each customer, the windows ({type: sinceMs}) and the latest of each type at or before
    // @until, each a seek on events_by_customer_type (CROSS JOIN keeps customers and windows
    // outer: a seek each, never a scan of a history), then rows by seq; an event both in a
    // window and the latest is one row.
    segmentEvents: db.prepare<{ customers: string; windows: string; latest: string; until: number }, EventRow>(
      `SELECT id, customer_id, type, occurred_at, properties FROM events
       WHERE seq IN (
         SELECT e.seq FROM json_each(@customers) c CROSS JOIN json_each(@windows) w CROSS JOIN events e
           ON e.customer_id = c.value AND e.type = w.key AND e.occurred_at_ms >= w.value
         UNION
         SELECT (SELECT seq FROM events WHERE customer_id = c.value AND type = l.value AND occurred_at_ms <= @until
                 ORDER BY occurred_at_ms DESC, seq DESC LIMIT 1)
         FROM json_each(@customers) c CROSS JOIN json_each(@latest) l
       )
       ORDER BY occurred_at_ms, seq`,
    ),
    eventsIn: db.prepare<[string], EventRow>(
      'SELECT id, customer_id, type, occurred_at, properties FROM events WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY occurred_at_ms, seq',
    ),
    profilesIn: db.prepare<[string], { customer_id: string; email: string; attributes: string }>(
      'SELECT customer_id, email, attributes FROM profiles WHERE customer_id IN (SELECT value FROM json_each(?))',
    ),
    membershipsIn: db.prepare<[string], MembershipRow & { customer_id: string }>(
      'SELECT customer_id, segment_id, entered_at FROM segment_memberships WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY entered_at, segment_id',
    ),
    // Each side takes at most a page from its index (profiles' key, events_by_customer_type) before
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

  const clear = db.transaction((marks: { customerId: string; mark: number }[]) => {
    for (const { customerId, mark } of marks) sql.clearMark.run(customerId, mark);
  });
  const eventsOf = (customerIds: string, read: SegmentRead) =>
    (read === 'all' ? sql.eventsIn.all(customerIds) : sql.segmentEvents.all({ customers: customerIds, ...read })).map(toEvent);
  // One read transaction, a statement per kind of row for the whole batch: every customer's
  // inputs as of one snapshot.
  const inputs = db.transaction((customerIds: string[], read: SegmentRead): SegmentInputs[] => {
    const ids = JSON.stringify(customerIds);
    const byCustomer = new Map<string, SegmentInputs>(customerIds.map((customerId) => [customerId, { customerId, events: [], memberships: [] }]));
    for (const row of sql.profilesIn.all(ids)) {
      byCustomer.get(row.customer_id)!.profile = { customerId: row.customer_id, email: row.email, attributes: JSON.parse(row.attributes) as Record<string, unknown> };
    }
    for (const event of eventsOf(ids, read)) byCustomer.get(event.customerId)!.events.push(event);
    for (const row of sql.membershipsIn.all(ids)) byCustomer.get(row.customer_id)!.memberships.push({ segmentId: row.segment_id, enteredAt: row.entered_at });
    for (const row of sql.marksOf.all(ids)) byCustomer.get(row.customer_id)!.dirtyMark = row.mark;
    return customerIds.map((customerId) => byCustomer.get(customerId)!);
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
      async dirtySegments(query) {
        const rows = 'customerIds' in query ? (query.customerIds.length > 0 ? sql.marksOf.all(JSON.stringify(query.customerIds)) : []) : sql.marks.all(query.limit);
        return rows.map((row) => ({ customerId: row.customer_id, mark: row.mark }));
      },
      async clearDirtySegments(marks) {
        if (marks.length > 0) clear.immediate(marks);
      },
      async segmentEvents(customerId, read) {
        return eventsOf(JSON.stringify([customerId]), segmentRead(read));
      },
      async segmentInputs(customerIds, read) {
        return inputs(customerIds, segmentRead(read));
      },
    },
    markDirty(customerId) {
      sql.mark.run(customerId);
    },
    erase(customerId) {
      sql.erase.run(customerId);
      sql.eraseMark.run(customerId);
    },
  };
}

/** A read as the statement takes it: windows as {type: sinceMs}, latest types as JSON, times in epoch ms. */
type SegmentRead = 'all' | { windows: string; latest: string; until: number };

function segmentRead(read: SegmentEventsRead): SegmentRead {
  if (read === 'all') return 'all';
  const windows = Object.fromEntries(read.windows.map(({ type, since }) => [type, since === undefined ? ALL_TIME_MS : epochMs(since, 'since')]));
  return { windows: JSON.stringify(windows), latest: JSON.stringify(read.latest), until: epochMs(read.until, 'until') };
}
