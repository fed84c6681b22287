import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { ORDER_EVENT, type CountedOrder } from '../domain/delivery/recommendations';
import { eventDifferences, epochMs } from './eventIdentity';
import { migrate } from './migrations';
import { toConsent, toEvent, toJourneyRun, type ConsentRow, type EventRow, type JourneyRunRow } from './rows';
import { sqliteSegments } from './sqliteSegments';
import { sqliteTrust } from './sqliteTrust';
import { sqliteEventNotes } from './sqliteEventNotes';
import { sqliteExperiments } from './sqliteExperiments';
import { sqliteIdentity } from './sqliteIdentity';
import { sqliteJourneyVersions } from './sqliteJourneyVersions';
import { sqliteKeys } from './sqliteKeys';
import { sqliteSales } from './sqliteSales';
import { sqliteScores } from './sqliteScores';
import { sqliteSends } from './sqliteSends';
import { sqliteTrackedEmails } from './sqliteTracking';
import type { RecordedEvent, RecordOptions, Store } from './types';

/**
 * The most events one group commit takes. Each waits in its group for the others to arrive:
 * with 50 requests in flight (`npm run bench`, ingest), groups of 4 took pure ingest from 4,200
 * to 5,650 events/s with a store call's p99 at 4 ms; groups of 8 reached 5,900–7,100/s at 4.4–5.1
 * ms, and groups as large as the requests at hand 6,500–6,800/s at 9 ms. On a host a third
 * slower, groups of 4 gave 4,140–4,260/s at 4.6–5.0 ms, and 8 (with WAL_AUTOCHECKPOINT_PAGES)
 * 5,100–5,270/s at 3.8–4.5 ms; 16 no faster, at 5.2–6.4 ms.
 */
const GROUP_COMMIT_MAX = 8;

interface QueuedEvent {
  event: CustomerEvent;
  options: RecordOptions;
  resolve: (recorded: RecordedEvent) => void;
  reject: (err: unknown) => void;
}
interface ProfileRow {
  customer_id: string;
  email: string;
  attributes: string;
}
/** What a reused id is compared on, and whether its first copy was routed. */
interface FirstCopyRow {
  customer_id: string;
  type: string;
  occurred_at_ms: number;
  properties: string;
  routed_at: string | null;
}
/**
 * The WAL pages after which a commit copies them back into the database (SQLite's default is
 * 1,000). That copy and its fsyncs run inside the commit that crosses the mark, while every
 * event of its group and every request behind it waits: at 1,000 pages one group in a few
 * hundred paid it under pure ingest, enough to make the store's p99 (4.6–5.8 ms); at 4,000
 * (a WAL of about 16 MB) it fell to 2.2–2.5 ms with groups of 4, the rarer copies longer.
 */
const WAL_AUTOCHECKPOINT_PAGES = 4000;

/** A connection with the store's settings, before its tables (the bench's floor writes beside them with the same). */
export function openSqliteDatabase(file: string): Database.Database {
  const db = new Database(file);
  // busy_timeout first: switching to WAL itself needs a lock another process may hold.
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode can lose the last commits on power loss but never corrupts.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  return db;
}

/**
 * Opens (creating if needed) the SQLite store at `file`, or an in-memory one for ':memory:'.
 * The CLI and the server may open the same file at once: WAL lets readers run beside the
 * one writer, and busy_timeout makes a writer wait for the other process instead of failing.
 */
export function openSqliteStore(file: string): Store {
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });

  const db = openSqliteDatabase(file);
  migrate(db);

  const sql = {
    getProfile: db.prepare<[string], ProfileRow>(
      'SELECT customer_id, email, attributes FROM profiles WHERE customer_id = ?',
    ),
    getAttributes: db.prepare<[string], Pick<ProfileRow, 'attributes'>>(
      'SELECT attributes FROM profiles WHERE customer_id = ?',
    ),
    upsertProfile: db.prepare<[ProfileRow]>(
      `INSERT INTO profiles (customer_id, email, attributes) VALUES (@customer_id, @email, @attributes)
       ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, attributes = excluded.attributes`,
    ),
    countProfiles: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM profiles'),
    profilesAmong: db.prepare<[string], string>('SELECT customer_id FROM profiles WHERE customer_id IN (SELECT value FROM json_each(?))').pluck(),

    insertEvent: db.prepare<[EventRow & { occurred_at_ms: number; routed_at: string | null }]>(
      `INSERT INTO events (id, customer_id, type, occurred_at, occurred_at_ms, properties, routed_at)
       VALUES (@id, @customer_id, @type, @occurred_at, @occurred_at_ms, @properties, @routed_at)
       ON CONFLICT (id) DO NOTHING`,
    ),
    firstCopy: db.prepare<[string], FirstCopyRow>('SELECT customer_id, type, occurred_at_ms, properties, routed_at FROM events WHERE id = ?'),
    unrouted: db.prepare<[string, number], EventRow & { recorded_at: string }>(
      `SELECT id, customer_id, type, occurred_at, properties, recorded_at FROM events
       WHERE routed_at IS NULL AND recorded_at < ? ORDER BY seq LIMIT ?`,
    ),
    eventsSince: db.prepare<[string, string, number], EventRow>(
      `SELECT id, customer_id, type, occurred_at, properties FROM events
       WHERE customer_id = ? AND type IN (SELECT value FROM json_each(?)) AND occurred_at_ms >= ?
       ORDER BY occurred_at_ms, seq`,
    ),
    // The first routing time is kept: a re-route after a crash is not news.
    markEventRouted: db.prepare<[string, string]>(
      'UPDATE events SET routed_at = coalesce(routed_at, ?) WHERE id = ?',
    ),
    eventById: db.prepare<[string], EventRow>('SELECT id, customer_id, type, occurred_at, properties FROM events WHERE id = ?'),
    eventsOf: db.prepare<[string], EventRow>(
      `SELECT id, customer_id, type, occurred_at, properties FROM events
       WHERE customer_id = ? ORDER BY occurred_at_ms, seq`,
    ),

    insertConsent: db.prepare<[ConsentRow & { at_ms: number }]>(
      `INSERT INTO consent_ledger (customer_id, topic, status, source, at, at_ms)
       VALUES (@customer_id, @topic, @status, @source, @at, @at_ms)`,
    ),
    consentFor: db.prepare<[string, string], ConsentRow>(
      `SELECT customer_id, topic, status, source, at FROM consent_ledger
       WHERE customer_id = ? AND topic = ? ORDER BY at_ms DESC, seq DESC LIMIT 1`,
    ),
    consentLedger: db.prepare<[string], ConsentRow>(
      `SELECT customer_id, topic, status, source, at FROM consent_ledger
       WHERE customer_id = ? ORDER BY at_ms, seq`,
    ),

    upsertJourneyRun: db.prepare<[JourneyRunRow]>(
      `INSERT INTO journey_runs (workflow_id, journey_id, customer_id, topic, started_at)
       VALUES (@workflow_id, @journey_id, @customer_id, @topic, @started_at)
       ON CONFLICT (workflow_id) DO UPDATE SET journey_id = excluded.journey_id,
         customer_id = excluded.customer_id, topic = excluded.topic, started_at = excluded.started_at`,
    ),
    journeyRuns: db.prepare<[string], JourneyRunRow>(
      `SELECT workflow_id, journey_id, customer_id, topic, started_at FROM journey_runs
       WHERE customer_id = ? ORDER BY started_at, rowid`,
    ),

  };

  // Attributes merge shallowly: an import that carries only some columns must not erase
  // the others. A key set to null stays, as null, so a rule can tell "cleared" from "unknown".
  const upsertMany = db.transaction((profiles: Profile[], segmentsDirty: boolean) => {
    for (const profile of profiles) {
      if (segmentsDirty) segments.markDirty(profile.customerId);
      const existing = sql.getAttributes.get(profile.customerId);
      const attributes = existing
        ? { ...(JSON.parse(existing.attributes) as Record<string, unknown>), ...profile.attributes }
        : profile.attributes;
      sql.upsertProfile.run({
        customer_id: profile.customerId,
        email: profile.email,
        attributes: JSON.stringify(attributes ?? {}),
      });
    }
  });

  const segments = sqliteSegments(db);
  const sales = sqliteSales(db);
  /**
   * Inserts the event unless its id is taken, and then compares it with the first copy. An
   * order that is inserted joins `orders`, which the caller counts in the sales figures
   * before its transaction commits: a duplicate counts nothing.
   */
  const record = (event: CustomerEvent, { occurredAtGiven = true, segmentsDirty = false }: RecordOptions, routedAt: string | null, orders: CountedOrder[]): RecordedEvent => {
    const occurredAtMs = epochMs(event.occurredAt, 'occurredAt');
    const properties = event.properties ?? {};
    const inserted = sql.insertEvent.run({
      id: event.id,
      customer_id: event.customerId,
      type: event.type,
      occurred_at: event.occurredAt,
      occurred_at_ms: occurredAtMs,
      properties: JSON.stringify(properties),
      routed_at: routedAt,
    });
    if (inserted.changes === 1) {
      if (segmentsDirty) segments.markDirty(event.customerId);
      if (event.type === ORDER_EVENT) orders.push({ properties, atMs: occurredAtMs, seq: Number(inserted.lastInsertRowid) });
      return { firstSeen: true, routed: routedAt !== null };
    }
    const first = sql.firstCopy.get(event.id);
    if (!first) throw new Error(`event ${event.id} conflicted on insert but cannot be read back`);
    const differsIn = eventDifferences(
      { customerId: first.customer_id, type: first.type, occurredAtMs: first.occurred_at_ms, properties: JSON.parse(first.properties) },
      event,
      occurredAtGiven,
    );
    return { firstSeen: false, routed: first.routed_at !== null, ...(differsIn.length > 0 && { differsIn }) };
  };
  const recordEvent = db.transaction((event: CustomerEvent, options: RecordOptions) => {
    const orders: CountedOrder[] = [];
    const recorded = record(event, options, options.routed ? new Date().toISOString() : null, orders);
    sales.count(orders);
    return recorded;
  });
  // Inside this transaction each recordEvent is a savepoint: an event that fails rolls back alone.
  const recordEvents = db.transaction((group: QueuedEvent[]) =>
    group.map(({ event, options }): { recorded: RecordedEvent } | { error: unknown } => {
      try {
        return { recorded: recordEvent(event, options) };
      } catch (error) {
        return { error };
      }
    }),
  );
  /*
   * Group commit. A commit writes every page it changed (the events table, its four indexes,
   * the segment marks) to the WAL, which was most of an event's cost: events recorded together
   * share one transaction, committed before any of them is answered. A group commits when
   * GROUP_COMMIT_MAX events wait, or when the event loop has handled what it was handling (the
   * requests that arrived together); an event alone is committed at the end of that turn.
   */
  let queued: QueuedEvent[] = [];
  const commitQueued = () => {
    if (queued.length === 0) return;
    const group = queued;
    queued = [];
    let outcomes: ReturnType<typeof recordEvents>;
    try {
      outcomes = recordEvents.immediate(group);
    } catch (err) {
      for (const item of group) item.reject(err);
      return;
    }
    outcomes.forEach((outcome, i) => ('error' in outcome ? group[i].reject(outcome.error) : group[i].resolve(outcome.recorded)));
  };
  const recordHistory = db.transaction((events: CustomerEvent[], at: string) => {
    const orders: CountedOrder[] = [];
    const recorded = events.map((event) => record(event, {}, at, orders));
    sales.count(orders);
    return recorded;
  });

  const trust = sqliteTrust(db);
  // One read transaction, so the topics are read as of one moment.
  const consentsFor = db.transaction((customerId: string, topics: string[]) =>
    [...new Set(topics)].flatMap((topic) => {
      const row = sql.consentFor.get(customerId, topic);
      return row ? [toConsent(row)] : [];
    }),
  );

  return {
    async upsertProfiles(profiles, { segmentsDirty = false } = {}) {
      if (profiles.length > 0) upsertMany.immediate(profiles, segmentsDirty);
    },
    async getProfile(customerId) {
      const row = sql.getProfile.get(customerId);
      return row && { customerId: row.customer_id, email: row.email, attributes: JSON.parse(row.attributes) };
    },
    async countProfiles() {
      return sql.countProfiles.get()?.n ?? 0;
    },
    async customersWithProfiles(customerIds) {
      const found = new Set(sql.profilesAmong.all(JSON.stringify(customerIds)));
      return [...new Set(customerIds)].filter((id) => found.has(id));
    },

    recordEvent(event, options = {}) {
      return new Promise<RecordedEvent>((resolve, reject) => {
        const waiting = queued.push({ event, options, resolve, reject });
        if (waiting >= GROUP_COMMIT_MAX) commitQueued();
        else if (waiting === 1) setImmediate(commitQueued);
      });
    },
    async recordHistory(events) {
      return recordHistory.immediate(events, new Date().toISOString());
    },
    async unroutedEvents(recordedBefore, limit) {
      return sql.unrouted.all(new Date(recordedBefore).toISOString(), limit).map((row) => ({ event: toEvent(row), recordedAt: row.recorded_at }));
    },
    async eventsSince(customerId, types, since) {
      return sql.eventsSince.all(customerId, JSON.stringify(types), epochMs(since, 'since')).map(toEvent);
    },
    async markEventRouted(eventId) {
      const { changes } = sql.markEventRouted.run(new Date().toISOString(), eventId);
      if (changes === 0) throw new Error(`cannot mark event ${eventId} routed: it was never recorded`);
    },
    async eventById(eventId) {
      const row = sql.eventById.get(eventId);
      return row && toEvent(row);
    },
    async eventsOf(customerId) {
      return sql.eventsOf.all(customerId).map(toEvent);
    },
    ...sales.store,

    async recordConsent(record) {
      sql.insertConsent.run({
        customer_id: record.customerId,
        topic: record.topic,
        status: record.status,
        source: record.source,
        at: record.at,
        at_ms: epochMs(record.at, 'at'),
      });
    },
    async consentFor(customerId, topic) {
      const row = sql.consentFor.get(customerId, topic);
      return row && toConsent(row);
    },
    async consentsFor(customerId, topics) {
      return consentsFor(customerId, topics);
    },
    async consentLedger(customerId) {
      return sql.consentLedger.all(customerId).map(toConsent);
    },

    async recordJourneyRun(run) {
      sql.upsertJourneyRun.run({
        workflow_id: run.workflowId,
        journey_id: run.journeyId,
        customer_id: run.customerId,
        topic: run.topic,
        started_at: run.startedAt,
      });
    },
    async journeyRuns(customerId) {
      return sql.journeyRuns.all(customerId).map(toJourneyRun);
    },

    ...trust,
    ...sqliteEventNotes(db),
    ...sqliteSends(db),
    ...sqliteTrackedEmails(db),
    ...sqliteExperiments(db),
    ...sqliteJourneyVersions(db),
    ...sqliteKeys(db),
    ...sqliteScores(db, segments.markDirty),
    ...segments.store,
    ...sqliteIdentity(db, segments),
    // Erasure also removes the customer's segments (sqliteTrust erases the tables it knows).
    async eraseCustomer(customerId) {
      segments.erase(customerId);
      return trust.eraseCustomer(customerId);
    },
    async close() {
      if (queued.length > 0) commitQueued();
      if (db.open) db.close();
    },
  };
}
