import type pg from 'pg';
import { toEventNote, type EventNoteRow } from './rows';
import type { Store } from './types';

/** Notes on recorded events: what ingest dropped and why, for the customer's audit. */
export function postgresEventNotes(pool: pg.Pool): Pick<Store, 'recordEventNotes' | 'eventNotesOf'> {
  return {
    async recordEventNotes(notes) {
      if (notes.length === 0) return;
      // One statement, so the notes are kept together or not at all.
      await pool.query(
        `INSERT INTO event_notes (event_id, customer_id, path, reason, at)
         SELECT event_id, customer_id, path, reason, at FROM jsonb_to_recordset($1::jsonb)
           AS n(event_id text, customer_id text, path text, reason text, at text)
         ON CONFLICT (event_id, path) DO NOTHING`,
        [JSON.stringify(notes.map((n) => ({ event_id: n.eventId, customer_id: n.customerId, path: n.path, reason: n.reason, at: n.at })))],
      );
    },
    async eventNotesOf(customerId) {
      const { rows } = await pool.query<EventNoteRow>('SELECT event_id, customer_id, path, reason, at FROM event_notes WHERE customer_id = $1 ORDER BY seq', [customerId]);
      return rows.map(toEventNote);
    },
  };
}
