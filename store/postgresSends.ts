import type pg from 'pg';
import { inTransaction, lockWithin, type Queryable } from './postgresPool';
import { postgresTrackingAtClaim } from './postgresTracking';
import { COUNTED_SENDS, SEND_COLUMNS, toSend, type SendRow } from './rows';
import type { FrequencyLimit, SendKey, Store } from './types';

/**
 * The send ledger in PostgreSQL, for store instances in several processes at once. Each
 * transition names the state it leaves in its WHERE clause, as in SQLite; where SQLite's single
 * writer also serialises a read with the write after it, a lock does it here: the row (claim)
 * or the customer and topic (reserve, so a frequency limit is counted by one reservation at a time).
 */
export function postgresSends(pool: pg.Pool): Pick<
  Store,
  'sendRecord' | 'reserveSend' | 'skipSend' | 'claimSend' | 'moveSend' | 'sendMessage' | 'sendsOf' | 'sendsWithStatus' | 'sendByMessageId'
> {
  const getSend = async (db: Queryable, workflowId: string, stepId: string, lock = '') => {
    const { rows } = await db.query<SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE workflow_id = $1 AND step_id = $2 ${lock}`, [workflowId, stepId]);
    return rows[0] && toSend(rows[0]);
  };
  const keyValues = (key: SendKey, at: string) => [key.workflowId, key.stepId, key.customerId, key.journeyId, key.topic, key.transactional ?? false, at];

  const capped = async (client: pg.PoolClient, key: SendKey, at: string, limits: FrequencyLimit[]) => {
    for (const limit of limits) {
      const since = new Date(Date.parse(at) - limit.windowMs).toISOString();
      const counted = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM sends WHERE customer_id = $1 AND topic = $2 AND created_at >= $3 AND ${COUNTED_SENDS}`,
        [key.customerId, key.topic, since],
      );
      const n = counted.rows[0].n;
      if (n < limit.max) continue;
      // A place frees when the oldest send that keeps the count at the limit leaves the window.
      const oldest = await client.query<{ created_at: string }>(
        `SELECT created_at FROM sends WHERE customer_id = $1 AND topic = $2 AND created_at >= $3 AND ${COUNTED_SENDS}
         ORDER BY created_at LIMIT 1 OFFSET $4`,
        [key.customerId, key.topic, since, n - limit.max],
      );
      const until = new Date(Date.parse(oldest.rows[0]?.created_at ?? at) + limit.windowMs).toISOString();
      return { limit: limit.label, until };
    }
    return undefined;
  };

  return {
    async sendRecord(workflowId, stepId) {
      return getSend(pool, workflowId, stepId);
    },
    async reserveSend(key, at, limits = []) {
      return inTransaction(pool, async (client) => {
        // Every reservation of the customer and topic takes the lock, with limits or without, so
        // none is inserted unseen while another counts (READ COMMITTED reads what committed before
        // each statement, and the lock holder commits before the next one counts).
        await lockWithin(client, 'journeys.sendCaps', `${key.customerId}/${key.topic}`);
        const existing = await getSend(client, key.workflowId, key.stepId);
        if (existing) return { record: existing };
        const full = await capped(client, key, at, limits);
        if (full) return { capped: full };
        await client.query(
          `INSERT INTO sends (workflow_id, step_id, customer_id, journey_id, topic, transactional, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7, $7)
           ON CONFLICT (workflow_id, step_id) DO NOTHING`,
          keyValues(key, at),
        );
        const record = await getSend(client, key.workflowId, key.stepId);
        if (!record) throw new Error(`send ledger row ${key.workflowId}/${key.stepId} vanished after reserving it`);
        return { record };
      });
    },
    async skipSend(key, reason, at) {
      await pool.query(
        `INSERT INTO sends (workflow_id, step_id, customer_id, journey_id, topic, transactional, status, reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'skipped', $8, $7, $7)
         ON CONFLICT (workflow_id, step_id) DO UPDATE SET status = 'skipped', reason = excluded.reason, updated_at = excluded.updated_at
         WHERE sends.status = 'reserved'`,
        [...keyValues(key, at), reason],
      );
    },
    async claimSend(c) {
      return inTransaction(pool, async (client) => {
        // The row lock makes a racing claim wait here, then find the row moved and lose.
        const row = await getSend(client, c.workflowId, c.stepId, 'FOR UPDATE');
        if (row?.status !== c.from) return { status: 'lost', record: row };
        const latest = await client.query<{ topic: string; status: string }>(
          `SELECT DISTINCT ON (topic) topic, status FROM consent_ledger WHERE customer_id = $1 AND topic = ANY($2::text[])
           ORDER BY topic, at_ms DESC, seq DESC`,
          [row.customerId, c.recheck.consent.map(({ topic }) => topic)],
        );
        const statusOf = new Map(latest.rows.map((r) => [r.topic, r.status]));
        const withdrawn = c.recheck.consent.some(({ topic, unrecorded }) => (statusOf.get(topic) ?? unrecorded) === 'withdrawn');
        const suppressed = (await client.query<{ reason: string }>('SELECT reason FROM suppressions WHERE address_hash = $1', [c.recheck.addressHash])).rows[0];
        const reason = withdrawn ? 'consent_withdrawn' : suppressed ? `suppressed: ${suppressed.reason}` : undefined;
        if (reason) {
          // A journey's send is over; an operator's resend leaves the row in doubt for them to decide.
          if (c.from === 'reserved') {
            await client.query(`UPDATE sends SET status = 'skipped', reason = $1, updated_at = $2 WHERE workflow_id = $3 AND step_id = $4`, [reason, c.at, c.workflowId, c.stepId]);
          }
          return { status: 'skipped', reason };
        }
        await client.query(
          `UPDATE sends SET status = 'sending', owner = $3, template = coalesce($4, template), message_id = $5,
             envelope = $6, raw = $7, reason = NULL, updated_at = $8
           WHERE workflow_id = $1 AND step_id = $2`,
          [c.workflowId, c.stepId, c.owner, c.template ?? null, c.messageId, JSON.stringify(c.message.envelope), c.message.raw, c.at],
        );
        await postgresTrackingAtClaim(client, c, row.customerId);
        return { status: 'claimed' };
      });
    },
    async moveSend(workflowId, stepId, from, to) {
      // The kept message goes once the row leaves the states whose fate is open.
      const { rowCount } = await pool.query(
        `UPDATE sends SET status = $4::text, reason = $5, updated_at = $6,
           envelope = CASE WHEN $4::text IN ('sending', 'in_doubt') THEN envelope END,
           raw = CASE WHEN $4::text IN ('sending', 'in_doubt') THEN raw END
         WHERE workflow_id = $1 AND step_id = $2 AND status = $3 AND ($7::text IS NULL OR owner = $7::text)`,
        [workflowId, stepId, from.status, to.status, to.reason ?? null, to.at, from.owner ?? null],
      );
      return rowCount === 1;
    },
    async sendMessage(workflowId, stepId) {
      const { rows } = await pool.query<{ envelope: string | null; raw: Buffer | null }>(
        'SELECT envelope, raw FROM sends WHERE workflow_id = $1 AND step_id = $2',
        [workflowId, stepId],
      );
      const row = rows[0];
      if (!row?.envelope || !row.raw) return undefined;
      return { envelope: JSON.parse(row.envelope) as { from: string; to: string[] }, raw: row.raw };
    },
    async sendsOf(customerId) {
      const { rows } = await pool.query<SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE customer_id = $1 ORDER BY created_at, seq`, [customerId]);
      return rows.map(toSend);
    },
    async sendsWithStatus(status, limit) {
      const { rows } = await pool.query<SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE status = $1 ORDER BY updated_at, seq LIMIT $2`, [status, limit]);
      return rows.map(toSend);
    },
    async sendByMessageId(messageId) {
      const { rows } = await pool.query<SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE message_id = $1 LIMIT 1`, [messageId]);
      return rows[0] && toSend(rows[0]);
    },
  };
}
