import type { Profile } from '../domain/customer/types';
import { epochMs } from './eventIdentity';
import { postgresEvents } from './postgresEvents';
import { postgresEventNotes } from './postgresEventNotes';
import { postgresExperiments } from './postgresExperiments';
import { postgresIdentity } from './postgresIdentity';
import { postgresJourneyVersions } from './postgresJourneyVersions';
import { postgresKeys } from './postgresKeys';
import { migratePostgres } from './postgresMigrations';
import { createPool, inTransaction } from './postgresPool';
import { postgresSales } from './postgresSales';
import { postgresScores } from './postgresScores';
import { postgresSegments } from './postgresSegments';
import { postgresSends } from './postgresSends';
import { postgresTrackedEmails } from './postgresTracking';
import { postgresTrust } from './postgresTrust';
import { toConsent, toJourneyRun, type ConsentRow, type JourneyRunRow } from './rows';
import type { Store } from './types';

/** Rows per upsert statement: a 100k-row import goes as a few statements, each a few MB of JSON. */
const PROFILES_PER_STATEMENT = 10_000;

/**
 * Opens the store on the PostgreSQL database at `url`, applying the migrations it lacks first.
 * For several workers and APIs on several hosts sharing one database; it behaves as the SQLite
 * store does, and both pass one test suite.
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = createPool(url);
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  let closed = false;

  return {
    async upsertProfiles(profiles, { segmentsDirty = false } = {}) {
      if (profiles.length === 0) return;
      // One statement cannot update a row twice, so a customer listed twice merges here first,
      // as two upserts in a row would. Sorted by id, two imports lock shared rows in one order
      // and never deadlock.
      const merged = new Map<string, Profile>();
      for (const profile of profiles) {
        const before = merged.get(profile.customerId);
        merged.set(profile.customerId, { ...profile, attributes: { ...before?.attributes, ...profile.attributes } });
      }
      const rows = [...merged.values()].sort((a, b) => (a.customerId < b.customerId ? -1 : 1));
      await inTransaction(pool, async (client) => {
        for (let start = 0; start < rows.length; start += PROFILES_PER_STATEMENT) {
          const chunk = rows.slice(start, start + PROFILES_PER_STATEMENT);
          // Attributes merge shallowly in the upsert itself (jsonb ||): keys absent from the new
          // row are kept, and a key set to null stays null, so a rule can tell "cleared" from "unknown".
          await client.query(
            `INSERT INTO profiles (customer_id, email, attributes)
             SELECT customer_id, email, attributes FROM jsonb_to_recordset($1::jsonb) AS p(customer_id text, email text, attributes jsonb)
             ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, attributes = profiles.attributes || excluded.attributes`,
            [JSON.stringify(chunk.map((p) => ({ customer_id: p.customerId, email: p.email, attributes: p.attributes ?? {} })))],
          );
          if (segmentsDirty) {
            await client.query(
              `INSERT INTO segment_dirty (customer_id, mark) SELECT unnest($1::text[]), 1
               ON CONFLICT (customer_id) DO UPDATE SET mark = segment_dirty.mark + 1`,
              [chunk.map((p) => p.customerId)],
            );
          }
        }
      });
    },
    async getProfile(customerId) {
      const { rows } = await pool.query<{ customer_id: string; email: string; attributes: Record<string, unknown> }>(
        'SELECT customer_id, email, attributes FROM profiles WHERE customer_id = $1',
        [customerId],
      );
      return rows[0] && { customerId: rows[0].customer_id, email: rows[0].email, attributes: rows[0].attributes };
    },
    async countProfiles() {
      return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM profiles')).rows[0].n;
    },
    async customersWithProfiles(customerIds) {
      const { rows } = await pool.query<{ customer_id: string }>('SELECT customer_id FROM profiles WHERE customer_id = ANY($1::text[])', [customerIds]);
      const found = new Set(rows.map((row) => row.customer_id));
      return [...new Set(customerIds)].filter((id) => found.has(id));
    },

    ...postgresEvents(pool),
    ...postgresSales(pool),
    ...postgresEventNotes(pool),

    async recordConsent(record) {
      await pool.query('INSERT INTO consent_ledger (customer_id, topic, status, source, at, at_ms) VALUES ($1, $2, $3, $4, $5, $6)', [
        record.customerId,
        record.topic,
        record.status,
        record.source,
        record.at,
        epochMs(record.at, 'at'),
      ]);
    },
    async consentFor(customerId, topic) {
      const { rows } = await pool.query<ConsentRow>(
        `SELECT customer_id, topic, status, source, at FROM consent_ledger
         WHERE customer_id = $1 AND topic = $2 ORDER BY at_ms DESC, seq DESC LIMIT 1`,
        [customerId, topic],
      );
      return rows[0] && toConsent(rows[0]);
    },
    async consentsFor(customerId, topics) {
      const { rows } = await pool.query<ConsentRow>(
        `SELECT DISTINCT ON (topic) customer_id, topic, status, source, at FROM consent_ledger
         WHERE customer_id = $1 AND topic = ANY($2::text[]) ORDER BY topic, at_ms DESC, seq DESC`,
        [customerId, topics],
      );
      return rows.map(toConsent);
    },
    async consentLedger(customerId) {
      const { rows } = await pool.query<ConsentRow>(
        'SELECT customer_id, topic, status, source, at FROM consent_ledger WHERE customer_id = $1 ORDER BY at_ms, seq',
        [customerId],
      );
      return rows.map(toConsent);
    },

    async recordJourneyRun(run) {
      await pool.query(
        `INSERT INTO journey_runs (workflow_id, journey_id, customer_id, topic, started_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workflow_id) DO UPDATE SET journey_id = excluded.journey_id,
           customer_id = excluded.customer_id, topic = excluded.topic, started_at = excluded.started_at`,
        [run.workflowId, run.journeyId, run.customerId, run.topic, run.startedAt],
      );
    },
    async journeyRuns(customerId) {
      const { rows } = await pool.query<JourneyRunRow>(
        'SELECT workflow_id, journey_id, customer_id, topic, started_at FROM journey_runs WHERE customer_id = $1 ORDER BY started_at, seq',
        [customerId],
      );
      return rows.map(toJourneyRun);
    },

    ...postgresSends(pool),
    ...postgresTrackedEmails(pool),
    ...postgresExperiments(pool),
    ...postgresTrust(pool),
    ...postgresSegments(pool),
    ...postgresJourneyVersions(pool),
    ...postgresKeys(pool),
    ...postgresScores(pool),
    ...postgresIdentity(pool),

    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
