import type Database from 'better-sqlite3';
import { epochMs } from './eventIdentity';
import { toEvent, type EventRow } from './rows';
import type { ProfileScores, Store } from './types';

type ScoreMethods = 'eventsOfCustomers' | 'lastEventAt' | 'writeScores' | 'recordScoreModels' | 'latestScoreModels';

/** Before every event's time: the lower bound of a read of all time. */
const ALL_TIME_MS = -8.64e15;

/** Predictive scores in the SQLite store: bulk reads of history as of a cutoff, scores on profiles, trained models. */
export function sqliteScores(db: Database.Database, markDirty: (customerId: string) => void): Pick<Store, ScoreMethods> {
  const sql = {
    // A seek on events_by_customer_type per customer and type, so a page of customers costs its own
    // events, never a scan of the log. (Joined to json_each of the types instead of IN, the planner
    // takes events_by_type and reads every customer's events of the type: a thousand times slower.)
    eventsOfTypes: db.prepare<{ customers: string; types: string; after: number; until: number }, EventRow>(
      `SELECT e.id, e.customer_id, e.type, e.occurred_at, e.properties
       FROM json_each(@customers) c CROSS JOIN events e
         ON e.customer_id = c.value AND e.type IN (SELECT value FROM json_each(@types)) AND e.occurred_at_ms > @after AND e.occurred_at_ms <= @until
       ORDER BY e.occurred_at_ms, e.seq`,
    ),
    eventsOfAllTypes: db.prepare<{ customers: string; after: number; until: number }, EventRow>(
      `SELECT e.id, e.customer_id, e.type, e.occurred_at, e.properties
       FROM json_each(@customers) c CROSS JOIN events e
         ON e.customer_id = c.value AND e.occurred_at_ms > @after AND e.occurred_at_ms <= @until
       ORDER BY e.occurred_at_ms, e.seq`,
    ),
    lastEventAt: db.prepare<[], { ms: number | null }>('SELECT max(occurred_at_ms) AS ms FROM events'),
    // json_patch merges one level into `scores` (an absent or non-object one starts empty), and
    // json_set writes it back: no other attribute is read or rewritten by the application.
    writeScores: db.prepare<[string, string]>(
      `UPDATE profiles SET attributes = json_set(attributes, '$.scores', json_patch(
         CASE json_type(attributes, '$.scores') WHEN 'object' THEN json_extract(attributes, '$.scores') ELSE '{}' END, ?))
       WHERE customer_id = ?`,
    ),
    recordModels: db.prepare<[string, string, number, string]>(
      `INSERT INTO score_models (version, trained_at, trained_at_ms, content) VALUES (?, ?, ?, ?)
       ON CONFLICT (version) DO UPDATE SET trained_at = excluded.trained_at, trained_at_ms = excluded.trained_at_ms, content = excluded.content`,
    ),
    latestModels: db.prepare<[], { version: string; trained_at: string; content: string }>(
      'SELECT version, trained_at, content FROM score_models ORDER BY trained_at_ms DESC, version DESC LIMIT 1',
    ),
  };

  const write = db.transaction((scores: ProfileScores[], segmentsDirty: boolean) => {
    let updated = 0;
    for (const { customerId, scores: values } of scores) {
      if (sql.writeScores.run(JSON.stringify(values), customerId).changes === 0) continue;
      updated++;
      if (segmentsDirty) markDirty(customerId);
    }
    return updated;
  });

  return {
    async eventsOfCustomers(customerIds, read) {
      if (customerIds.length === 0) return [];
      const bounds = {
        customers: JSON.stringify(customerIds),
        after: read.after === undefined ? ALL_TIME_MS : epochMs(read.after, 'after'),
        until: epochMs(read.until, 'until'),
      };
      const rows = read.types ? sql.eventsOfTypes.all({ ...bounds, types: JSON.stringify(read.types) }) : sql.eventsOfAllTypes.all(bounds);
      return rows.map(toEvent);
    },
    async lastEventAt() {
      const ms = sql.lastEventAt.get()?.ms;
      return ms === null || ms === undefined ? undefined : new Date(ms).toISOString();
    },
    async writeScores(scores, { segmentsDirty = false } = {}) {
      if (scores.length === 0) return 0;
      // A customer listed twice is one profile written, its later keys winning, as in PostgreSQL.
      const merged = new Map<string, ProfileScores>();
      for (const row of scores) merged.set(row.customerId, { customerId: row.customerId, scores: { ...merged.get(row.customerId)?.scores, ...row.scores } });
      return write.immediate([...merged.values()], segmentsDirty);
    },
    async recordScoreModels(record) {
      sql.recordModels.run(record.version, record.trainedAt, epochMs(record.trainedAt, 'trainedAt'), JSON.stringify(record.content));
    },
    async latestScoreModels() {
      const row = sql.latestModels.get();
      return row && { version: row.version, trainedAt: row.trained_at, content: JSON.parse(row.content) as unknown };
    },
  };
}
