import type pg from 'pg';
import type { CustomerEvent } from '../domain/customer/types';
import { ORDER_EVENT, type CountedOrder } from '../domain/delivery/recommendations';
import { eventDifferences, epochMs } from './eventIdentity';
import { inTransaction, type Queryable } from './postgresPool';
import { countPostgresSales } from './postgresSales';
import { toEvent, type EventRow } from './rows';
import type { RecordedEvent, Store } from './types';

interface FirstCopyRow {
  id: string;
  customer_id: string;
  type: string;
  // bigint arrives as text: pg will not round a number that may exceed 2^53.
  occurred_at_ms: string;
  properties: string;
  routed_at: Date | null;
}

const COLUMNS = 'id, customer_id, type, occurred_at, properties';

/** The event log in PostgreSQL: recorded once per id, in order of arrival, routed by the sweep if routing failed. */
export function postgresEvents(pool: pg.Pool): Pick<
  Store,
  'recordEvent' | 'recordHistory' | 'markEventRouted' | 'unroutedEvents' | 'eventsSince' | 'eventById' | 'eventsOf'
> {
  const select = async (text: string, values: unknown[]) => (await pool.query<EventRow>(text, values)).rows.map(toEvent);

  return {
    async recordEvent(event, { occurredAtGiven = true, routed = false, segmentsDirty = false } = {}) {
      // An order also counts in the sales figures, in the transaction of its insert; any other event is one statement.
      const options = { asRouted: routed, occurredAtGiven, segmentsDirty };
      const [recorded] =
        event.type === ORDER_EVENT ? await inTransaction(pool, (client) => recordAll(client, [event], options)) : await recordAll(pool, [event], options);
      return recorded;
    },
    async recordHistory(events) {
      if (events.length === 0) return [];
      return inTransaction(pool, (client) => recordAll(client, events, { asRouted: true, occurredAtGiven: true, segmentsDirty: false }));
    },
    async markEventRouted(eventId) {
      // The first routing time is kept: a re-route after a crash is not news.
      const { rowCount } = await pool.query('UPDATE events SET routed_at = coalesce(routed_at, now()) WHERE id = $1', [eventId]);
      if (rowCount === 0) throw new Error(`cannot mark event ${eventId} routed: it was never recorded`);
    },
    async unroutedEvents(recordedBefore, limit) {
      const { rows } = await pool.query<EventRow & { recorded_at: Date }>(
        `SELECT ${COLUMNS}, recorded_at FROM events WHERE routed_at IS NULL AND recorded_at < $1 ORDER BY seq LIMIT $2`,
        [new Date(recordedBefore).toISOString(), limit],
      );
      return rows.map((row) => ({ event: toEvent(row), recordedAt: row.recorded_at.toISOString() }));
    },
    async eventsSince(customerId, types, since) {
      return select(
        `SELECT ${COLUMNS} FROM events WHERE customer_id = $1 AND type = ANY($2::text[]) AND occurred_at_ms >= $3 ORDER BY occurred_at_ms, seq`,
        [customerId, types, epochMs(since, 'since')],
      );
    },
    async eventById(eventId) {
      const [event] = await select(`SELECT ${COLUMNS} FROM events WHERE id = $1`, [eventId]);
      return event;
    },
    async eventsOf(customerId) {
      return select(`SELECT ${COLUMNS} FROM events WHERE customer_id = $1 ORDER BY occurred_at_ms, seq`, [customerId]);
    },
  };
}

interface RecordAllOptions {
  /** Recorded as routed already (history, or an event no journey can take). */
  asRouted: boolean;
  occurredAtGiven: boolean;
  /** Marks the customers of the inserted events for segment recomputation, in the same statement. */
  segmentsDirty: boolean;
}

/**
 * Inserts the events in one statement, in their order, keeping the first copy of every id
 * (also of an id repeated within `events`), then compares each later copy with its first.
 * Inserting waits for a concurrent insert of the same id to commit, so the read after it
 * always finds the first copy. The orders it inserts are counted in the sales figures (a
 * duplicate counts nothing), so with orders among `events` `db` must be a transaction's client.
 */
async function recordAll(db: Queryable, events: CustomerEvent[], { asRouted, occurredAtGiven, segmentsDirty }: RecordAllOptions): Promise<RecordedEvent[]> {
  const occurredAtMs = events.map((event) => epochMs(event.occurredAt, 'occurredAt'));
  // The dirty marks are a data-modifying CTE of the same statement: atomic with the insert, and
  // only for the events it inserted (a repeated id marks nothing).
  const { rows } = await db.query<{ id: string; seq: string }>(
    `WITH inserted AS (
       INSERT INTO events (id, customer_id, type, occurred_at, occurred_at_ms, properties, routed_at)
       SELECT e.id, e.customer_id, e.type, e.occurred_at, e.occurred_at_ms, e.properties, CASE WHEN $7 THEN now() END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) WITH ORDINALITY
         AS e(id, customer_id, type, occurred_at, occurred_at_ms, properties, position)
       ORDER BY e.position
       ON CONFLICT (id) DO NOTHING
       RETURNING id, seq, customer_id
     ), marked AS (
       INSERT INTO segment_dirty (customer_id, mark)
       SELECT DISTINCT customer_id, 1 FROM inserted WHERE $8
       ON CONFLICT (customer_id) DO UPDATE SET mark = segment_dirty.mark + 1
     )
     SELECT id, seq FROM inserted`,
    [
      events.map((e) => e.id),
      events.map((e) => e.customerId),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt),
      occurredAtMs,
      events.map((e) => JSON.stringify(e.properties ?? {})),
      asRouted,
      segmentsDirty,
    ],
  );
  const inserted = new Map(rows.map((row) => [row.id, Number(row.seq)]));
  const firstIndex = new Map<string, number>();
  events.forEach((event, index) => firstIndex.has(event.id) || firstIndex.set(event.id, index));
  const isFirstCopy = (event: CustomerEvent, index: number) => inserted.has(event.id) && firstIndex.get(event.id) === index;

  const orders: CountedOrder[] = events.flatMap((event, index) =>
    event.type === ORDER_EVENT && isFirstCopy(event, index) ? [{ properties: event.properties ?? {}, atMs: occurredAtMs[index], seq: inserted.get(event.id)! }] : [],
  );
  await countPostgresSales(db, orders);

  const repeated = [...new Set(events.filter((event, index) => !isFirstCopy(event, index)).map((event) => event.id))];
  const firstCopies = new Map<string, FirstCopyRow>();
  if (repeated.length > 0) {
    const found = await db.query<FirstCopyRow>(
      'SELECT id, customer_id, type, occurred_at_ms, properties, routed_at FROM events WHERE id = ANY($1::text[])',
      [repeated],
    );
    for (const row of found.rows) firstCopies.set(row.id, row);
  }

  return events.map((event, index) => {
    if (isFirstCopy(event, index)) return { firstSeen: true, routed: asRouted };
    const first = firstCopies.get(event.id);
    if (!first) throw new Error(`event ${event.id} conflicted on insert but cannot be read back`);
    const differsIn = eventDifferences(
      { customerId: first.customer_id, type: first.type, occurredAtMs: Number(first.occurred_at_ms), properties: JSON.parse(first.properties) },
      event,
      occurredAtGiven,
    );
    return { firstSeen: false, routed: first.routed_at !== null, ...(differsIn.length > 0 && { differsIn }) };
  });
}
