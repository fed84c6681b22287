import type Database from 'better-sqlite3';
import { toEventNote, type EventNoteRow } from './rows';
import type { EventNote, Store } from './types';

/** Notes on recorded events: what ingest dropped and why, for the customer's audit. */
export function sqliteEventNotes(db: Database.Database): Pick<Store, 'recordEventNotes' | 'eventNotesOf'> {
  const sql = {
    insert: db.prepare<[EventNoteRow]>(
      `INSERT INTO event_notes (event_id, customer_id, path, reason, at) VALUES (@event_id, @customer_id, @path, @reason, @at)
       ON CONFLICT (event_id, path) DO NOTHING`,
    ),
    of: db.prepare<[string], EventNoteRow>('SELECT event_id, customer_id, path, reason, at FROM event_notes WHERE customer_id = ? ORDER BY seq'),
  };
  const insertAll = db.transaction((notes: EventNote[]) => {
    for (const n of notes) sql.insert.run({ event_id: n.eventId, customer_id: n.customerId, path: n.path, reason: n.reason, at: n.at });
  });
  return {
    async recordEventNotes(notes) {
      if (notes.length > 0) insertAll.immediate(notes);
    },
    async eventNotesOf(customerId) {
      return sql.of.all(customerId).map(toEventNote);
    },
  };
}
