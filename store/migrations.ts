import type Database from 'better-sqlite3';
import { backfillSqliteSales } from './sqliteSales';

export interface Migration {
  /** Never renamed or edited once released: the id is what `schema_migrations` remembers. */
  id: string;
  sql: string;
  /** Fills what `sql` created from the rows already there, in the same transaction (e.g. figures derived from events). */
  backfill?: (db: Database.Database) => void;
}

/**
 * The SQLite schema as an append-only history. Later changes add a migration at the end;
 * editing one that has shipped would leave existing databases on the old shape.
 *
 * Ordering columns: event and consent times arrive from outside with any UTC offset, so
 * they are also stored as epoch milliseconds (`*_ms`) for sorting; ISO text only sorts
 * correctly when every value is in the same offset. `seq` columns keep insertion order
 * stable even across VACUUM, which may renumber implicit rowids.
 */
export const migrations: readonly Migration[] = [
  {
    id: '0001_initial',
    sql: `
      CREATE TABLE profiles (
        customer_id TEXT PRIMARY KEY,
        email       TEXT NOT NULL,
        attributes  TEXT NOT NULL
      );

      -- No foreign key to profiles: events may arrive before the customer is imported.
      CREATE TABLE events (
        seq            INTEGER PRIMARY KEY,
        id             TEXT NOT NULL UNIQUE,
        customer_id    TEXT NOT NULL,
        type           TEXT NOT NULL,
        occurred_at    TEXT NOT NULL,
        occurred_at_ms INTEGER NOT NULL,
        properties     TEXT NOT NULL,
        recorded_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        routed_at      TEXT
      );
      CREATE INDEX events_by_customer ON events (customer_id, occurred_at_ms, seq);

      CREATE TABLE consent_ledger (
        seq         INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        topic       TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('granted', 'withdrawn')),
        source      TEXT NOT NULL,
        at          TEXT NOT NULL,
        at_ms       INTEGER NOT NULL
      );
      CREATE INDEX consent_by_customer_topic ON consent_ledger (customer_id, topic, at_ms, seq);

      CREATE TABLE journey_runs (
        workflow_id TEXT PRIMARY KEY,
        journey_id  TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        topic       TEXT NOT NULL,
        started_at  TEXT NOT NULL
      );
      CREATE INDEX journey_runs_by_customer ON journey_runs (customer_id, started_at);

      -- Keyed by workflow id and step id, never the run id: a retried or reset run must
      -- find the row its earlier attempt left.
      CREATE TABLE sends (
        workflow_id TEXT NOT NULL,
        step_id     TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        journey_id  TEXT NOT NULL,
        topic       TEXT NOT NULL,
        status      TEXT NOT NULL
          CHECK (status IN ('reserved', 'sending', 'sent', 'skipped', 'in_doubt', 'failed')),
        template    TEXT,
        message_id  TEXT,
        reason      TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (workflow_id, step_id)
      );
      -- Also serves the frequency cap (sends per customer in a time window).
      CREATE INDEX sends_by_customer ON sends (customer_id, created_at);
    `,
  },
  {
    id: '0002_suppressions',
    sql: `
      -- One row per address, by hash: the address itself is never needed to check it.
      CREATE TABLE suppressions (
        address_hash TEXT PRIMARY KEY,
        reason       TEXT NOT NULL CHECK (reason IN ('bounce', 'complaint', 'manual', 'erased')),
        source       TEXT NOT NULL,
        customer_id  TEXT,
        at           TEXT NOT NULL
      );
      CREATE INDEX suppressions_by_customer ON suppressions (customer_id);
      CREATE INDEX sends_by_customer_topic ON sends (customer_id, topic, created_at);
      CREATE INDEX profiles_by_address ON profiles (lower(email));
    `,
  },
  {
    id: '0003_segment_memberships',
    sql: `
      -- The segments a customer is in now; leaving deletes the row (the left event is the history).
      CREATE TABLE segment_memberships (
        customer_id TEXT NOT NULL,
        segment_id  TEXT NOT NULL,
        entered_at  TEXT NOT NULL,
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
    // The event-routing sweep looks for the few events whose routing failed, every minute:
    // a partial index keeps that a lookup, however many routed events there are.
    sql: `CREATE INDEX events_unrouted ON events (seq) WHERE routed_at IS NULL;`,
  },
  {
    id: '0006_send_claims',
    sql: `
      -- The attempt that holds 'sending', so only it can settle the row; the message as
      -- handed to SMTP while its fate is open (an operator may resend it byte for byte).
      ALTER TABLE sends ADD COLUMN owner TEXT;
      ALTER TABLE sends ADD COLUMN transactional INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sends ADD COLUMN envelope TEXT;
      ALTER TABLE sends ADD COLUMN raw BLOB;
      CREATE INDEX sends_by_status ON sends (status, updated_at);
    `,
  },
  {
    id: '0007_journey_versions',
    sql: `
      -- The templates each journey version renders, so a run keeps its templates after an edit.
      CREATE TABLE journey_versions (
        journey_id  TEXT NOT NULL,
        version     TEXT NOT NULL,
        templates   TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (journey_id, version)
      );
    `,
  },
  {
    id: '0008_api_keys',
    sql: `
      -- Only a hash of each key's secret part is kept; the key is shown once, at creation.
      CREATE TABLE api_keys (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        scope       TEXT NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
        secret_hash TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
      );
    `,
  },
  {
    id: '0009_event_notes',
    sql: `
      -- What ingest did not keep of an event (a link outside LINK_HOSTS) and why, for the
      -- customer's audit; never the value itself. One note per event and path: a retry adds none.
      CREATE TABLE event_notes (
        seq         INTEGER PRIMARY KEY,
        event_id    TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        path        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        at          TEXT NOT NULL,
        UNIQUE (event_id, path)
      );
      CREATE INDEX event_notes_by_customer ON event_notes (customer_id, seq);
    `,
  },
  {
    id: '0010_sales',
    sql: `
      -- Sales figures for recommendations, counted from the items of order.completed events in the
      -- transaction that records each, so an email reads a few rows instead of thousands of orders.
      -- Products and counts only, never a customer or an event: erasure leaves them as they are.
      -- lines: order lines with the product (with the partner, in orders that also had sku).
      -- last_*: the newest order (occurred_at_ms, then seq) with it and its place there, which
      -- ranks equal counts. info: name, category, price, url, the newest order's first.
      CREATE TABLE product_sales (
        sku      TEXT PRIMARY KEY,
        lines    INTEGER NOT NULL,
        last_ms  INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_pos INTEGER NOT NULL,
        info     TEXT NOT NULL,
        category TEXT GENERATED ALWAYS AS (CASE json_type(info, '$.category') WHEN 'text' THEN json_extract(info, '$.category') END) VIRTUAL
      );
      CREATE INDEX product_sales_ranked ON product_sales (lines DESC, last_ms DESC, last_seq DESC, last_pos);
      CREATE INDEX product_sales_by_category ON product_sales (category, lines DESC, last_ms DESC, last_seq DESC, last_pos);

      -- Both ways round: (a, b) and (b, a), so the partners of a product are one range of the key.
      CREATE TABLE co_purchases (
        sku      TEXT NOT NULL,
        partner  TEXT NOT NULL,
        lines    INTEGER NOT NULL,
        last_ms  INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_pos INTEGER NOT NULL,
        PRIMARY KEY (sku, partner)
      ) WITHOUT ROWID;
    `,
    // The orders recorded before: an upgraded store recommends as it did.
    backfill: backfillSqliteSales,
  },
  {
    id: '0011_segment_dirty',
    sql: `
      -- Customers whose segments are to be recomputed: marked in the transaction that records an
      -- event a segment rule reads (or a profile change), cleared once recomputed. The mark grows
      -- with every mark, so clearing the mark a recomputation read leaves a later one in place.
      CREATE TABLE segment_dirty (
        customer_id TEXT PRIMARY KEY,
        mark        INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- What a recomputation reads of a customer's history: the events of a type in a window, and
      -- the latest of a type (whether one ever occurred), each a seek however long the history.
      -- It serves what events_by_customer did (a customer's events, customers in id order), so
      -- that one goes: an event costs no more index writes than before.
      CREATE INDEX events_by_customer_type ON events (customer_id, type, occurred_at_ms, seq);
      DROP INDEX events_by_customer;
      -- Events whose routing never finished were, before this, recomputed when routed: marked now instead.
      INSERT OR IGNORE INTO segment_dirty (customer_id, mark) SELECT DISTINCT customer_id, 1 FROM events WHERE routed_at IS NULL;
    `,
  },
  {
    id: '0012_tracked_emails',
    sql: `
      -- The tracking of each marketing email, written by the send ledger's claim as the email is
      -- handed to SMTP: links is the JSON array of the original URLs by link index (where the
      -- click redirect may lead), variants the JSON object of the splits the send knew.
      -- customer_id is for erasure: the URLs may name the customer's cart or order.
      CREATE TABLE tracked_emails (
        workflow_id TEXT NOT NULL,
        step_id     TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        links       TEXT NOT NULL,
        variants    TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (workflow_id, step_id)
      ) WITHOUT ROWID;
      CREATE INDEX tracked_emails_by_customer ON tracked_emails (customer_id);
    `,
  },
  {
    id: '0013_sends_by_message_id',
    sql: `
      -- A provider's delivery, bounce or complaint notification names the email by the Message-ID we sent it with.
      CREATE INDEX sends_by_message_id ON sends (message_id) WHERE message_id IS NOT NULL;
    `,
  },
  {
    id: '0014_customer_aliases',
    sql: `
      -- Anonymous visitors merged into the customer an identify named: a later event with only
      -- the visitor's id is the customer's. Erasing the customer deletes their rows.
      CREATE TABLE customer_aliases (
        alias       TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        merged_at   TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX customer_aliases_by_customer ON customer_aliases (customer_id);
    `,
  },
  {
    id: '0015_score_models',
    sql: `
      -- Each training of the predictive scores (churn, propensity): coefficients, standardization,
      -- feature names and the time-split metrics, as JSON. Aggregates only, never a customer, so
      -- erasure leaves them. The latest by trained_at_ms scores the profiles.
      CREATE TABLE score_models (
        version       TEXT PRIMARY KEY,
        trained_at    TEXT NOT NULL,
        trained_at_ms INTEGER NOT NULL,
        content       TEXT NOT NULL
      );
      CREATE INDEX score_models_by_time ON score_models (trained_at_ms);
    `,
  },
  {
    id: '0016_experiments',
    sql: `
      -- The arm each run got at a split step, recorded by the split itself: reports count
      -- exposures per arm, holdouts included, who get no email to count them by.
      CREATE TABLE exposures (
        workflow_id TEXT NOT NULL,
        step_id     TEXT NOT NULL,
        journey_id  TEXT NOT NULL,
        version     TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        arm         TEXT NOT NULL,
        at          TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        PRIMARY KEY (workflow_id, step_id)
      ) WITHOUT ROWID;
      CREATE INDEX exposures_by_journey ON exposures (journey_id, at_ms);
      CREATE INDEX exposures_by_customer ON exposures (customer_id);
      -- Customers the global control group held out of a journey they would have entered.
      CREATE TABLE held_out_entries (
        workflow_id TEXT PRIMARY KEY,
        journey_id  TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        at          TEXT NOT NULL,
        at_ms       INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX held_out_by_journey ON held_out_entries (journey_id, at_ms);
      CREATE INDEX held_out_by_customer ON held_out_entries (customer_id);
      -- One row per conversion event and journey: a redelivered event is no second conversion.
      -- The email columns name the email it is attributed to (NULL: none in the window).
      CREATE TABLE conversions (
        event_id       TEXT NOT NULL,
        journey_id     TEXT NOT NULL,
        customer_id    TEXT NOT NULL,
        occurred_at    TEXT NOT NULL,
        occurred_at_ms INTEGER NOT NULL,
        value          REAL,
        workflow_id    TEXT,
        step_id        TEXT,
        template       TEXT,
        variants       TEXT,
        PRIMARY KEY (event_id, journey_id)
      ) WITHOUT ROWID;
      CREATE INDEX conversions_by_journey ON conversions (journey_id, occurred_at_ms);
      CREATE INDEX conversions_by_customer ON conversions (customer_id);
      -- A split's winner, decided once; no customer in it, so erasure leaves it.
      CREATE TABLE split_winners (
        journey_id TEXT NOT NULL,
        step_id    TEXT NOT NULL,
        winner     TEXT NOT NULL,
        metric     TEXT NOT NULL,
        reason     TEXT NOT NULL,
        version    TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        PRIMARY KEY (journey_id, step_id)
      ) WITHOUT ROWID;
      -- A report reads a journey's runs and sends whole.
      CREATE INDEX journey_runs_by_journey ON journey_runs (journey_id);
      CREATE INDEX sends_by_journey ON sends (journey_id);
    `,
  },
];

/**
 * Applies the migrations this database has not seen yet and returns their ids.
 * Runs in one IMMEDIATE transaction, so a second process opening the same file at the
 * same moment waits (busy_timeout) and then finds everything applied.
 */
export function migrate(db: Database.Database, list: readonly Migration[] = migrations): string[] {
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id         TEXT PRIMARY KEY,
      applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )`);
    const applied = new Set(
      (db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((row) => row.id),
    );
    const record = db.prepare('INSERT INTO schema_migrations (id) VALUES (?)');
    const fresh: string[] = [];
    for (const migration of list) {
      if (applied.has(migration.id)) continue;
      db.exec(migration.sql);
      migration.backfill?.(db);
      record.run(migration.id);
      fresh.push(migration.id);
    }
    return fresh;
  });
  return run.immediate();
}
