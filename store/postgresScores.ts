import type pg from 'pg';
import { epochMs } from './eventIdentity';
import { inTransaction } from './postgresPool';
import { toEvent, type EventRow } from './rows';
import type { ProfileScores, Store } from './types';

type ScoreMethods = 'eventsOfCustomers' | 'lastEventAt' | 'writeScores' | 'recordScoreModels' | 'latestScoreModels';

/** Before every event's time: the lower bound of a read of all time. */
const ALL_TIME_MS = -8.64e15;
/** Profiles per update statement, as in upsertProfiles. */
const SCORES_PER_STATEMENT = 10_000;

/** Predictive scores in PostgreSQL: bulk reads of history as of a cutoff, scores on profiles, trained models. */
export function postgresScores(pool: pg.Pool): Pick<Store, ScoreMethods> {
  return {
    async eventsOfCustomers(customerIds, read) {
      if (customerIds.length === 0) return [];
      const { rows } = await pool.query<EventRow>(
        `SELECT id, customer_id, type, occurred_at, properties FROM events
         WHERE customer_id = ANY($1::text[]) AND ($2::text[] IS NULL OR type = ANY($2::text[]))
           AND occurred_at_ms > $3 AND occurred_at_ms <= $4
         ORDER BY occurred_at_ms, seq`,
        [customerIds, read.types ?? null, read.after === undefined ? ALL_TIME_MS : epochMs(read.after, 'after'), epochMs(read.until, 'until')],
      );
      return rows.map(toEvent);
    },
    async lastEventAt() {
      // bigint arrives as text.
      const { rows } = await pool.query<{ ms: string | null }>('SELECT max(occurred_at_ms) AS ms FROM events');
      return rows[0].ms === null ? undefined : new Date(Number(rows[0].ms)).toISOString();
    },
    async writeScores(scores, { segmentsDirty = false } = {}) {
      if (scores.length === 0) return 0;
      // One statement updates a row once: a customer listed twice merges here first, as two writes
      // in a row would. Sorted by id, two writers lock shared rows in one order and never deadlock.
      const merged = new Map<string, ProfileScores>();
      for (const row of scores) merged.set(row.customerId, { customerId: row.customerId, scores: { ...merged.get(row.customerId)?.scores, ...row.scores } });
      const rows = [...merged.values()].sort((a, b) => (a.customerId < b.customerId ? -1 : 1));
      return inTransaction(pool, async (client) => {
        let updated = 0;
        for (let start = 0; start < rows.length; start += SCORES_PER_STATEMENT) {
          const chunk = rows.slice(start, start + SCORES_PER_STATEMENT);
          // `scores` merges one level (jsonb ||) into the stored one (an absent or non-object one
          // starts empty); every other attribute stays as it is. The dirty marks are a
          // data-modifying CTE of the same statement, for the profiles it updated only.
          const { rows: counted } = await client.query<{ n: number }>(
            `WITH s AS (
               SELECT customer_id, scores FROM jsonb_to_recordset($1::jsonb) AS s(customer_id text, scores jsonb)
             ), updated AS (
               UPDATE profiles p SET attributes = jsonb_set(p.attributes, '{scores}',
                 CASE jsonb_typeof(p.attributes -> 'scores') WHEN 'object' THEN p.attributes -> 'scores' ELSE '{}'::jsonb END || s.scores)
               FROM s WHERE p.customer_id = s.customer_id
               RETURNING p.customer_id
             ), marked AS (
               INSERT INTO segment_dirty (customer_id, mark) SELECT customer_id, 1 FROM updated WHERE $2
               ON CONFLICT (customer_id) DO UPDATE SET mark = segment_dirty.mark + 1
             )
             SELECT count(*)::int AS n FROM updated`,
            [JSON.stringify(chunk.map((row) => ({ customer_id: row.customerId, scores: row.scores }))), segmentsDirty],
          );
          updated += counted[0].n;
        }
        return updated;
      });
    },
    async recordScoreModels(record) {
      await pool.query(
        `INSERT INTO score_models (version, trained_at, trained_at_ms, content) VALUES ($1, $2, $3, $4)
         ON CONFLICT (version) DO UPDATE SET trained_at = excluded.trained_at, trained_at_ms = excluded.trained_at_ms, content = excluded.content`,
        [record.version, record.trainedAt, epochMs(record.trainedAt, 'trainedAt'), JSON.stringify(record.content)],
      );
    },
    async latestScoreModels() {
      const { rows } = await pool.query<{ version: string; trained_at: string; content: unknown }>(
        'SELECT version, trained_at, content FROM score_models ORDER BY trained_at_ms DESC, version DESC LIMIT 1',
      );
      return rows[0] && { version: rows[0].version, trainedAt: rows[0].trained_at, content: rows[0].content };
    },
  };
}
