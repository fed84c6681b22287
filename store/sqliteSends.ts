import type Database from 'better-sqlite3';
import { COUNTED_SENDS, SEND_COLUMNS, toSend, type SendRow } from './rows';
import { sqliteTrackingAtClaim } from './sqliteTracking';
import type { FrequencyLimit, SendClaim, SendClaimResult, SendKey, SendReservation, Store } from './types';

/**
 * The send ledger in SQLite. Every write is one statement or one IMMEDIATE transaction whose
 * WHERE clause names the state it leaves, so concurrent attempts (two activity attempts, a
 * worker and an operator) serialise on SQLite's write lock and only one of them wins.
 */
export function sqliteSends(db: Database.Database): Pick<
  Store,
  'sendRecord' | 'reserveSend' | 'skipSend' | 'claimSend' | 'moveSend' | 'sendMessage' | 'sendsOf' | 'sendsWithStatus' | 'sendByMessageId'
> {
  const sql = {
    get: db.prepare<[string, string], SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE workflow_id = ? AND step_id = ?`),
    insertReserved: db.prepare<[Record<string, string | number>]>(
      `INSERT INTO sends (workflow_id, step_id, customer_id, journey_id, topic, transactional, status, created_at, updated_at)
       VALUES (@workflow_id, @step_id, @customer_id, @journey_id, @topic, @transactional, 'reserved', @at, @at)
       ON CONFLICT (workflow_id, step_id) DO NOTHING`,
    ),
    skip: db.prepare<[Record<string, string | number>]>(
      `INSERT INTO sends (workflow_id, step_id, customer_id, journey_id, topic, transactional, status, reason, created_at, updated_at)
       VALUES (@workflow_id, @step_id, @customer_id, @journey_id, @topic, @transactional, 'skipped', @reason, @at, @at)
       ON CONFLICT (workflow_id, step_id) DO UPDATE SET status = 'skipped', reason = excluded.reason, updated_at = excluded.updated_at
       WHERE sends.status = 'reserved'`,
    ),
    countSince: db.prepare<[string, string, string], { n: number }>(
      `SELECT count(*) AS n FROM sends WHERE customer_id = ? AND topic = ? AND created_at >= ? AND ${COUNTED_SENDS}`,
    ),
    nthSince: db.prepare<[string, string, string, number], { created_at: string }>(
      `SELECT created_at FROM sends WHERE customer_id = ? AND topic = ? AND created_at >= ? AND ${COUNTED_SENDS}
       ORDER BY created_at LIMIT 1 OFFSET ?`,
    ),
    consent: db.prepare<[string, string], { status: string }>(
      'SELECT status FROM consent_ledger WHERE customer_id = ? AND topic = ? ORDER BY at_ms DESC, seq DESC LIMIT 1',
    ),
    suppression: db.prepare<[string], { reason: string }>('SELECT reason FROM suppressions WHERE address_hash = ?'),
    claim: db.prepare<[Record<string, string | Buffer | null>]>(
      `UPDATE sends SET status = 'sending', owner = @owner, template = coalesce(@template, template), message_id = @message_id,
         envelope = @envelope, raw = @raw, reason = NULL, updated_at = @at
       WHERE workflow_id = @workflow_id AND step_id = @step_id AND status = @from`,
    ),
    skipClaimed: db.prepare<[string, string, string, string, string]>(
      `UPDATE sends SET status = 'skipped', reason = ?, updated_at = ? WHERE workflow_id = ? AND step_id = ? AND status = ?`,
    ),
    // The kept message goes once the row leaves the states whose fate is open.
    move: db.prepare<[Record<string, string | null>]>(
      `UPDATE sends SET status = @to, reason = @reason, updated_at = @at,
         envelope = CASE WHEN @to IN ('sending', 'in_doubt') THEN envelope END,
         raw = CASE WHEN @to IN ('sending', 'in_doubt') THEN raw END
       WHERE workflow_id = @workflow_id AND step_id = @step_id AND status = @from AND (@owner IS NULL OR owner = @owner)`,
    ),
    message: db.prepare<[string, string], { envelope: string | null; raw: Buffer | null }>(
      'SELECT envelope, raw FROM sends WHERE workflow_id = ? AND step_id = ?',
    ),
    sendsOf: db.prepare<[string], SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE customer_id = ? ORDER BY created_at, rowid`),
    withStatus: db.prepare<[string, number], SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE status = ? ORDER BY updated_at, rowid LIMIT ?`),
    byMessageId: db.prepare<[string], SendRow>(`SELECT ${SEND_COLUMNS} FROM sends WHERE message_id = ? LIMIT 1`),
  };

  const getSend = (workflowId: string, stepId: string) => {
    const row = sql.get.get(workflowId, stepId);
    return row && toSend(row);
  };
  const keyRow = (key: SendKey, at: string) => ({
    workflow_id: key.workflowId,
    step_id: key.stepId,
    customer_id: key.customerId,
    journey_id: key.journeyId,
    topic: key.topic,
    transactional: key.transactional ? 1 : 0,
    at,
  });

  const capped = (key: SendKey, at: string, limits: FrequencyLimit[]) => {
    for (const limit of limits) {
      const since = new Date(Date.parse(at) - limit.windowMs).toISOString();
      const { n } = sql.countSince.get(key.customerId, key.topic, since) ?? { n: 0 };
      if (n < limit.max) continue;
      // A place frees when the oldest send that keeps the count at the limit leaves the window.
      const oldest = sql.nthSince.get(key.customerId, key.topic, since, n - limit.max);
      const until = new Date(Date.parse(oldest?.created_at ?? at) + limit.windowMs).toISOString();
      return { limit: limit.label, until };
    }
    return undefined;
  };

  const reserve = db.transaction((key: SendKey, at: string, limits: FrequencyLimit[]): SendReservation => {
    const existing = getSend(key.workflowId, key.stepId);
    if (existing) return { record: existing };
    const full = capped(key, at, limits);
    if (full) return { capped: full };
    sql.insertReserved.run(keyRow(key, at));
    const record = getSend(key.workflowId, key.stepId);
    if (!record) throw new Error(`send ledger row ${key.workflowId}/${key.stepId} vanished after reserving it`);
    return { record };
  });

  const trackingAtClaim = sqliteTrackingAtClaim(db);
  const claim = db.transaction((c: SendClaim): SendClaimResult => {
    const row = getSend(c.workflowId, c.stepId);
    if (row?.status !== c.from) return { status: 'lost', record: row };
    const customerId = row.customerId;
    const withdrawn = c.recheck.consent.find(({ topic, unrecorded }) => (sql.consent.get(customerId, topic)?.status ?? unrecorded) === 'withdrawn');
    const suppressed = sql.suppression.get(c.recheck.addressHash);
    const reason = withdrawn ? 'consent_withdrawn' : suppressed ? `suppressed: ${suppressed.reason}` : undefined;
    if (reason) {
      // A journey's send is over; an operator's resend leaves the row in doubt for them to decide.
      if (c.from === 'reserved') sql.skipClaimed.run(reason, c.at, c.workflowId, c.stepId, c.from);
      return { status: 'skipped', reason };
    }
    sql.claim.run({
      workflow_id: c.workflowId,
      step_id: c.stepId,
      from: c.from,
      owner: c.owner,
      template: c.template ?? null,
      message_id: c.messageId,
      envelope: JSON.stringify(c.message.envelope),
      raw: c.message.raw,
      at: c.at,
    });
    trackingAtClaim(c, customerId);
    return { status: 'claimed' };
  });

  return {
    async sendRecord(workflowId, stepId) {
      return getSend(workflowId, stepId);
    },
    async reserveSend(key, at, limits = []) {
      return reserve.immediate(key, at, limits);
    },
    async skipSend(key, reason, at) {
      sql.skip.run({ ...keyRow(key, at), reason });
    },
    async claimSend(c) {
      return claim.immediate(c);
    },
    async moveSend(workflowId, stepId, from, to) {
      const { changes } = sql.move.run({
        workflow_id: workflowId,
        step_id: stepId,
        from: from.status,
        owner: from.owner ?? null,
        to: to.status,
        reason: to.reason ?? null,
        at: to.at,
      });
      return changes === 1;
    },
    async sendMessage(workflowId, stepId) {
      const row = sql.message.get(workflowId, stepId);
      if (!row?.envelope || !row.raw) return undefined;
      return { envelope: JSON.parse(row.envelope) as { from: string; to: string[] }, raw: row.raw };
    },
    async sendsOf(customerId) {
      return sql.sendsOf.all(customerId).map(toSend);
    },
    async sendsWithStatus(status, limit) {
      return sql.withStatus.all(status, limit).map(toSend);
    },
    async sendByMessageId(messageId) {
      const row = sql.byMessageId.get(messageId);
      return row && toSend(row);
    },
  };
}
