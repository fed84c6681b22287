import type Database from 'better-sqlite3';
import type { Store } from './types';

/** What merging needs of the segment tables: drop a customer's memberships and mark, mark another's. */
interface SegmentTables {
  markDirty(customerId: string): void;
  erase(customerId: string): void;
}

/** Anonymous visitors merged into identified customers (see Store.mergeCustomer). */
export function sqliteIdentity(db: Database.Database, segments: SegmentTables): Pick<Store, 'mergeCustomer' | 'mergedInto'> {
  const sql = {
    link: db.prepare<[string, string, string]>(
      `INSERT INTO customer_aliases (alias, customer_id, merged_at) VALUES (?, ?, ?)
       ON CONFLICT (alias) DO UPDATE SET customer_id = excluded.customer_id, merged_at = excluded.merged_at`,
    ),
    moveEvents: db.prepare<[string, string]>('UPDATE events SET customer_id = ? WHERE customer_id = ?'),
    moveNotes: db.prepare<[string, string]>('UPDATE event_notes SET customer_id = ? WHERE customer_id = ?'),
    mergedInto: db.prepare<[string], string>('SELECT customer_id FROM customer_aliases WHERE alias = ?').pluck(),
  };
  const merge = db.transaction((from: string, into: string, at: string) => {
    sql.link.run(from, into, at);
    const events = sql.moveEvents.run(into, from).changes;
    sql.moveNotes.run(into, from);
    // The visitor's memberships were computed from events that are the customer's now.
    segments.erase(from);
    if (events > 0) segments.markDirty(into);
    return { events };
  });
  return {
    async mergeCustomer(from, into, at) {
      if (from === into) return { events: 0 };
      return merge.immediate(from, into, at);
    },
    async mergedInto(from) {
      return sql.mergedInto.get(from);
    },
  };
}
