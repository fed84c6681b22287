// The least a journey email must write and read in a store, whatever its code: the event
// recorded before it is acknowledged, the customer's consent read before sending, and a row
// written before the SMTP hand-off and updated after it (without the first a retried attempt
// cannot tell a sent email from an unsent one; without the second, a crash after the hand-off
// leaves it undecided). Written by hand on better-sqlite3, beside the product's tables in the
// bench's SQLite file, on a connection with the store's settings.
import { openSqliteDatabase } from '../store/sqlite';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS floor_events (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, type TEXT NOT NULL, occurred_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS floor_consent (customer_id TEXT NOT NULL, topic TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (customer_id, topic));
  CREATE TABLE IF NOT EXISTS floor_sends (workflow_id TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

export function openFloorLedger(file: string) {
  const db = openSqliteDatabase(file);
  db.exec(SCHEMA);
  const sql = {
    event: db.prepare<[string, string, string, string]>('INSERT INTO floor_events (id, customer_id, type, occurred_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING'),
    consent: db.prepare<[string, string], { status: string }>('SELECT status FROM floor_consent WHERE customer_id = ? AND topic = ?'),
    claim: db.prepare<[string, string]>(`INSERT INTO floor_sends (workflow_id, status, updated_at) VALUES (?, 'sending', ?) ON CONFLICT (workflow_id) DO NOTHING`),
    sent: db.prepare<[string, string]>(`UPDATE floor_sends SET status = 'sent', updated_at = ? WHERE workflow_id = ? AND status = 'sending'`),
  };
  const now = () => new Date().toISOString();
  return {
    recordEvent(id: string, customerId: string, type: string): void {
      sql.event.run(id, customerId, type, now());
    },
    consentWithdrawn(customerId: string, topic: string): boolean {
      return sql.consent.get(customerId, topic)?.status === 'withdrawn';
    },
    /** False when another attempt claimed the send first. */
    claim(workflowId: string): boolean {
      return sql.claim.run(workflowId, now()).changes === 1;
    },
    sent(workflowId: string): void {
      sql.sent.run(now(), workflowId);
    },
    close(): void {
      db.close();
    },
  };
}

export type FloorLedger = ReturnType<typeof openFloorLedger>;
