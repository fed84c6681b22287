import type { Transporter } from 'nodemailer';

export function createBaselineActivities(mailer: Transporter, from: string) {
  return {
    async sendEmail(to: string): Promise<void> {
      await mailer.sendMail({ from, to, subject: 'Baseline', text: 'One email from a bare Temporal workflow.' });
    },
  };
}
