import type Database from 'better-sqlite3';
import type { SendClaim, Store, TrackedEmail } from './types';

interface TrackedEmailRow {
  workflow_id: string;
  step_id: string;
  customer_id: string;
  /** JSON: the URLs by link index. */
  links: string;
  /** JSON: split step id → variant. */
  variants: string;
  recorded_at: string;
}

const toTrackedEmail = (row: TrackedEmailRow): TrackedEmail => ({
  workflowId: row.workflow_id,
  stepId: row.step_id,
  customerId: row.customer_id,
  links: JSON.parse(row.links) as string[],
  variants: JSON.parse(row.variants) as Record<string, string>,
  recordedAt: row.recorded_at,
});

/** What the click redirect and the pixel read: the tracking recorded for a send. */
export function sqliteTrackedEmails(db: Database.Database): Pick<Store, 'trackedEmail'> {
  const get = db.prepare<[string, string], TrackedEmailRow>('SELECT * FROM tracked_emails WHERE workflow_id = ? AND step_id = ?');
  return {
    async trackedEmail(workflowId, stepId) {
      const row = get.get(workflowId, stepId);
      return row && toTrackedEmail(row);
    },
  };
}

/**
 * The claim's part in tracking, run inside its transaction (sqliteSends.ts): a journey's send
 * records the tracking of the email it is about to hand over, replacing an earlier attempt's
 * (one that got a 4xx delivered nothing, and its retry may render other links); an operator's
 * resend of the kept message leaves it as it is.
 */
export function sqliteTrackingAtClaim(db: Database.Database): (claim: SendClaim, customerId: string) => void {
  const upsert = db.prepare<[TrackedEmailRow]>(
    `INSERT INTO tracked_emails (workflow_id, step_id, customer_id, links, variants, recorded_at)
     VALUES (@workflow_id, @step_id, @customer_id, @links, @variants, @recorded_at)
     ON CONFLICT (workflow_id, step_id) DO UPDATE SET customer_id = excluded.customer_id, links = excluded.links,
       variants = excluded.variants, recorded_at = excluded.recorded_at`,
  );
  const drop = db.prepare<[string, string]>('DELETE FROM tracked_emails WHERE workflow_id = ? AND step_id = ?');
  return (claim, customerId) => {
    if (claim.from !== 'reserved') return;
    if (!claim.tracking) {
      drop.run(claim.workflowId, claim.stepId);
      return;
    }
    upsert.run({
      workflow_id: claim.workflowId,
      step_id: claim.stepId,
      customer_id: customerId,
      links: JSON.stringify(claim.tracking.links),
      variants: JSON.stringify(claim.tracking.variants),
      recorded_at: claim.at,
    });
  };
}
