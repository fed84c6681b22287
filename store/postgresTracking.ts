import type pg from 'pg';
import type { SendClaim, Store } from './types';

interface TrackedEmailRow {
  workflow_id: string;
  step_id: string;
  customer_id: string;
  links: string[];
  variants: Record<string, string>;
  recorded_at: string;
}

/** What the click redirect and the pixel read: the tracking recorded for a send. */
export function postgresTrackedEmails(pool: pg.Pool): Pick<Store, 'trackedEmail'> {
  return {
    async trackedEmail(workflowId, stepId) {
      const { rows } = await pool.query<TrackedEmailRow>('SELECT * FROM tracked_emails WHERE workflow_id = $1 AND step_id = $2', [workflowId, stepId]);
      const row = rows[0];
      return row && { workflowId: row.workflow_id, stepId: row.step_id, customerId: row.customer_id, links: row.links, variants: row.variants, recordedAt: row.recorded_at };
    },
  };
}

/**
 * The claim's part in tracking, on the claim's connection inside its transaction
 * (postgresSends.ts): as in SQLite (sqliteTracking.ts), a journey's send records the tracking of
 * the email it is about to hand over, replacing an earlier attempt's; a resend leaves it.
 */
export async function postgresTrackingAtClaim(client: pg.PoolClient, claim: SendClaim, customerId: string): Promise<void> {
  if (claim.from !== 'reserved') return;
  if (!claim.tracking) {
    await client.query('DELETE FROM tracked_emails WHERE workflow_id = $1 AND step_id = $2', [claim.workflowId, claim.stepId]);
    return;
  }
  await client.query(
    `INSERT INTO tracked_emails (workflow_id, step_id, customer_id, links, variants, recorded_at) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)
     ON CONFLICT (workflow_id, step_id) DO UPDATE SET customer_id = excluded.customer_id, links = excluded.links,
       variants = excluded.variants, recorded_at = excluded.recorded_at`,
    [claim.workflowId, claim.stepId, customerId, JSON.stringify(claim.tracking.links), JSON.stringify(claim.tracking.variants), claim.at],
  );
}
