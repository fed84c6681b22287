import { Context } from '@temporalio/activity';
import type { Transporter } from 'nodemailer';
import type { FloorLedger } from './floorLedger';

/** `ledger` opens the floor's ledger on first use: the workers of the bare phases hold no connection to the store. */
export function createBaselineActivities(mailer: Transporter, from: string, ledger: () => FloorLedger) {
  const sendEmail = async (to: string): Promise<void> => {
    await mailer.sendMail({ from, to, subject: 'Baseline', text: 'One email from a bare Temporal workflow.' });
  };
  return {
    sendEmail,
    /** The same email with what any journey email must read and write around it (bench/floorLedger.ts). */
    async sendEmailOnce(to: string, customerId: string): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (!workflowId) throw new Error('sendEmailOnce runs only in a workflow: its ledger row is keyed by workflow ID');
      if (ledger().consentWithdrawn(customerId, 'marketing')) return;
      if (!ledger().claim(workflowId)) return;
      await sendEmail(to);
      ledger().sent(workflowId);
    },
  };
}
