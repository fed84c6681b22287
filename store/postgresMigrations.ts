import type pg from 'pg';
import type { Migration } from './migrations';
import { inTransaction, lockWithin } from './postgresPool';
import { backfillPostgresSales } from './postgresSales';

export interface PostgresMigration extends Omit<Migration, 'backfill'> {
  /** Fills what `sql` created from the rows already there, in the same transaction (e.g. figures derived from events). */
  backfill?: (client: pg.PoolClient) => Promise<void>;
}

/**
 * The PostgreSQL schema as an append-only history, with the ids of the SQLite migrations it
 * corresponds to: a change to the store adds one migration at the end of both lists, under one id.
 *
 * Text columns that are sorted or compared use COLLATE "C", byte order as in SQLite, whatever
 * locale the shop's database has: ISO times sort as text, customer ids list in the same order
 * on both stores, and lower(email) folds ASCII only, as SQLite's lower() does. Event and
 * consent times arrive with any UTC offset and are sorted by their epoch milliseconds (`*_ms`);
 * `seq` columns stand for SQLite's rowid, the order of arrival.
 */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    id: '0001_initial',
    sql: `
      CREATE TABLE profiles (
        customer_id text COLLATE "C" PRIMARY KEY,
        email       text COLLATE "C" NOT NULL,
        -- jsonb, so a profile update merges its attributes in the upsert itself (||).
        attributes  jsonb NOT NULL
      );

      -- No foreign key to profiles: events may arrive before the customer is imported.
      -- Properties are kept as the JSON text received; a reused id is compared on them in code.
      CREATE TABLE events (
        seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id             text COLLATE "C" NOT NULL UNIQUE,
        customer_id    text COLLATE "C" NOT NULL,
        type           text COLLATE "C" NOT NULL,
        occurred_at    text NOT NULL,
        occurred_at_ms bigint NOT NULL,
        properties     text NOT NULL,
        recorded_at    timestamptz(3) NOT NULL DEFAULT now(),
        routed_at      timestamptz(3)
      );
      CREATE INDEX events_by_customer ON events (customer_id, occurred_at_ms, seq);

      CREATE TABLE consent_ledger (
        seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer_id text COLLATE "C" NOT NULL,
        topic       text COLLATE "C" NOT NULL,
        status      text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
        source      text NOT NULL,
        at          text NOT NULL,
        at_ms       bigint NOT NULL
      );
      CREATE INDEX consent_by_customer_topic ON consent_ledger (customer_id, topic, at_ms, seq);

      CREATE TABLE journey_runs (
        workflow_id text COLLATE "C" PRIMARY KEY,
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        journey_id  text COLLATE "C" NOT NULL,
        customer_id text COLLATE "C" NOT NULL,
        topic       text COLLATE "C" NOT NULL,
        started_at  text COLLATE "C" NOT NULL
      );
      CREATE INDEX journey_runs_by_customer ON journey_runs (customer_id, started_at);

      -- Keyed by workflow id and step id, never the run id: a retried or reset run must
      -- find the row its earlier attempt left.
      CREATE TABLE sends (
        workflow_id text COLLATE "C" NOT NULL,
        step_id     text COLLATE "C" NOT NULL,
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        customer_id text COLLATE "C" NOT NULL,
        journey_id  text COLLATE "C" NOT NULL,
        topic       text COLLATE "C" NOT NULL,
        status      text NOT NULL
          CHECK (status IN ('reserved', 'sending', 'sent', 'skipped', 'in_doubt', 'failed')),
        template    text,
        message_id  text,
        reason      text,
        created_at  text COLLATE "C" NOT NULL,
        updated_at  text COLLATE "C" NOT NULL,
        PRIMARY KEY (workflow_id, step_id)
      );
      CREATE INDEX sends_by_customer ON sends (customer_id, created_at);
    `,
  },
  {
    id: '0002_suppressions',
    sql: `
      CREATE TABLE suppressions (
        address_hash text COLLATE "C" PRIMARY KEY,
        reason       text NOT NULL CHECK (reason IN ('bounce', 'complaint', 'manual', 'erased')),
        source       text NOT NULL,
        customer_id  text COLLATE "C",
        at           text COLLATE "C" NOT NULL
      );
      CREATE INDEX suppressions_by_customer ON suppressions (customer_id);
      -- Serves the frequency cap: counted sends of one customer and topic in a window.
      CREATE INDEX sends_by_customer_topic ON sends (customer_id, topic, created_at);
      CREATE INDEX profiles_by_address ON profiles (lower(email));
    `,
  },
  {
    id: '0003_segment_memberships',
    sql: `
      CREATE TABLE segment_memberships (
        customer_id text COLLATE "C" NOT NULL,
        segment_id  text COLLATE "C" NOT NULL,
        entered_at  text COLLATE "C" NOT NULL,
        PRIMARY KEY (customer_id, segment_id)
      );
    `,
  },
  {
    id: '0004_events_by_type',
    sql: `CREATE INDEX events_by_type ON events (type, occurred_at_ms);`,
  },
  {
    id: '0005_unrouted_events',
    sql: `CREATE INDEX events_unrouted ON events (seq) WHERE routed_at IS NULL;`,
  },
  {
    id: '0006_send_claims',
    sql: `
      ALTER TABLE sends ADD COLUMN owner text;
      ALTER TABLE sends ADD COLUMN transactional boolean NOT NULL DEFAULT false;
      ALTER TABLE sends ADD COLUMN envelope text;
      ALTER TABLE sends ADD COLUMN raw bytea;
      CREATE INDEX sends_by_status ON sends (status, updated_at);
    `,
  },
  {
    id: '0007_journey_versions',
    sql: `
      CREATE TABLE journey_versions (
        journey_id  text COLLATE "C" NOT NULL,
        version     text COLLATE "C" NOT NULL,
        templates   text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (journey_id, version)
      );
    `,
  },
  {
    id: '0008_api_keys',
    sql: `
      CREATE TABLE api_keys (
        id          text COLLATE "C" PRIMARY KEY,
        name        text NOT NULL UNIQUE,
        scope       text NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
        secret_hash text NOT NULL,
        created_at  text NOT NULL,
        revoked_at  text
      );
    `,
  },
  {
    id: '0009_event_notes',
    sql: `
      CREATE TABLE event_notes (
        seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id    text COLLATE "C" NOT NULL,
        customer_id text COLLATE "C" NOT NULL,
        path        text NOT NULL,
        reason      text NOT NULL,
        at          text NOT NULL,
        UNIQUE (event_id, path)
      );
      CREATE INDEX event_notes_by_customer ON event_notes (customer_id, seq);
    `,
  },
  {
    id: '0010_sales',
    sql: `
      CREATE TABLE product_sales (
        sku      text COLLATE "C" PRIMARY KEY,
        lines    bigint NOT NULL,
        last_ms  bigint NOT NULL,
        last_seq bigint NOT NULL,
        last_pos integer NOT NULL,
        info     jsonb NOT NULL,
        category text COLLATE "C" GENERATED ALWAYS AS (CASE WHEN jsonb_typeof(info -> 'category') = 'string' THEN info ->> 'category' END) STORED
      );
      CREATE INDEX product_sales_ranked ON product_sales (lines DESC, last_ms DESC, last_seq DESC, last_pos);
      CREATE INDEX product_sales_by_category ON product_sales (category, lines DESC, last_ms DESC, last_seq DESC, last_pos);

      CREATE TABLE co_purchases (
        sku      text COLLATE "C" NOT NULL,
        partner  text COLLATE "C" NOT NULL,
        lines    bigint NOT NULL,
        last_ms  bigint NOT NULL,
        last_seq bigint NOT NULL,
        last_pos integer NOT NULL,
        PRIMARY KEY (sku, partner)
      );
    `,
    backfill: backfillPostgresSales,
  },
  {
    id: '0011_segment_dirty',
    sql: `
      CREATE TABLE segment_dirty (
        customer_id text COLLATE "C" PRIMARY KEY,
        mark        bigint NOT NULL
      );
      -- Serves what events_by_customer did, and seeks by type: see the SQLite migration.
      CREATE INDEX events_by_customer_type ON events (customer_id, type, occurred_at_ms, seq);
      DROP INDEX events_by_customer;
      -- Events whose routing never finished were, before this, recomputed when routed: marked now instead.
      INSERT INTO segment_dirty (customer_id, mark) SELECT DISTINCT customer_id, 1 FROM events WHERE routed_at IS NULL ON CONFLICT DO NOTHING;
    `,
  },
  {
    id: '0012_tracked_emails',
    sql: `
      -- The tracking of each marketing email, written by the send ledger's claim: see the SQLite migration.
      CREATE TABLE tracked_emails (
        workflow_id text COLLATE "C" NOT NULL,
        step_id     text COLLATE "C" NOT NULL,
        customer_id text COLLATE "C" NOT NULL,
        links       jsonb NOT NULL,
        variants    jsonb NOT NULL,
        recorded_at text NOT NULL,
        PRIMARY KEY (workflow_id, step_id)
      );
      CREATE INDEX tracked_emails_by_customer ON tracked_emails (customer_id);
    `,
  },
  {
    id: '0013_sends_by_message_id',
    sql: `
      -- Provider notifications name the email by its Message-ID: see the SQLite migration.
      CREATE INDEX sends_by_message_id ON sends (message_id) WHERE message_id IS NOT NULL;
    `,
  },
  {
    id: '0014_customer_aliases',
    sql: `
      -- Anonymous visitors merged into the customer an identify named: see the SQLite migration.
      CREATE TABLE customer_aliases (
        alias       text COLLATE "C" PRIMARY KEY,
        customer_id text COLLATE "C" NOT NULL,
        merged_at   text NOT NULL
      );
      CREATE INDEX customer_aliases_by_customer ON customer_aliases (customer_id);
    `,
  },
  {
    id: '0015_score_models',
    sql: `
      -- Each training of the predictive scores: see the SQLite migration.
      CREATE TABLE score_models (
        version       text COLLATE "C" PRIMARY KEY,
        trained_at    text NOT NULL,
        trained_at_ms bigint NOT NULL,
        content       jsonb NOT NULL
      );
      CREATE INDEX score_models_by_time ON score_models (trained_at_ms);
    `,
  },
  {
    id: '0016_experiments',
    sql: `
      -- Exposures, held-out entries, conversions and split winners: see the SQLite migration.
      CREATE TABLE exposures (
        workflow_id text COLLATE "C" NOT NULL,
        step_id     text COLLATE "C" NOT NULL,
        journey_id  text COLLATE "C" NOT NULL,
        version     text COLLATE "C" NOT NULL,
        customer_id text COLLATE "C" NOT NULL,
        arm         text COLLATE "C" NOT NULL,
        at          text NOT NULL,
        at_ms       bigint NOT NULL,
        PRIMARY KEY (workflow_id, step_id)
      );
      CREATE INDEX exposures_by_journey ON exposures (journey_id, at_ms);
      CREATE INDEX exposures_by_customer ON exposures (customer_id);
      CREATE TABLE held_out_entries (
        workflow_id text COLLATE "C" PRIMARY KEY,
        journey_id  text COLLATE "C" NOT NULL,
        customer_id text COLLATE "C" NOT NULL,
        at          text NOT NULL,
        at_ms       bigint NOT NULL
      );
      CREATE INDEX held_out_by_journey ON held_out_entries (journey_id, at_ms);
      CREATE INDEX held_out_by_customer ON held_out_entries (customer_id);
      CREATE TABLE conversions (
        event_id       text COLLATE "C" NOT NULL,
        journey_id     text COLLATE "C" NOT NULL,
        customer_id    text COLLATE "C" NOT NULL,
        occurred_at    text NOT NULL,
        occurred_at_ms bigint NOT NULL,
        value          double precision,
        workflow_id    text COLLATE "C",
        step_id        text COLLATE "C",
        template       text,
        variants       jsonb,
        PRIMARY KEY (event_id, journey_id)
      );
      CREATE INDEX conversions_by_journey ON conversions (journey_id, occurred_at_ms);
      CREATE INDEX conversions_by_customer ON conversions (customer_id);
      CREATE TABLE split_winners (
        journey_id text COLLATE "C" NOT NULL,
        step_id    text COLLATE "C" NOT NULL,
        winner     text NOT NULL,
        metric     text NOT NULL,
        reason     text NOT NULL,
        version    text NOT NULL,
        decided_at text NOT NULL,
        PRIMARY KEY (journey_id, step_id)
      );
      CREATE INDEX journey_runs_by_journey ON journey_runs (journey_id);
      CREATE INDEX sends_by_journey ON sends (journey_id);
    `,
  },
];

/**
 * Applies the migrations this database has not seen yet and returns their ids. PostgreSQL's
 * DDL is transactional, so all of them apply in one transaction or none does; the advisory
 * lock makes a second process starting at the same moment wait, then find them applied.
 */
export async function migratePostgres(pool: pg.Pool, list: readonly PostgresMigration[] = postgresMigrations): Promise<string[]> {
  return inTransaction(pool, async (client) => {
    await lockWithin(client, 'journeys.migrations', 'schema');
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id         text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Set((await client.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((row) => row.id));
    const fresh: string[] = [];
    for (const migration of list) {
      if (applied.has(migration.id)) continue;
      await client.query(migration.sql);
      await migration.backfill?.(client);
      await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      fresh.push(migration.id);
    }
    return fresh;
  });
}
