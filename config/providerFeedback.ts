// The settings of the provider feedback webhooks on the public listener (api/providerWebhooks.ts):
// what each provider authenticates its calls with. A provider left unset answers 404.
import { z } from 'zod';
import type { ProviderFeedbackSettings } from '../domain/delivery/providers/feedback';
import { sendgridPublicKeyProblem } from '../domain/delivery/providers/sendgrid';
import { SNS_TOPIC_ARN } from '../domain/delivery/providers/ses';

const schema = z
  .object({
    SES_SNS_TOPIC_ARNS: z
      .string()
      .transform((text) => text.split(',').map((arn) => arn.trim()).filter(Boolean))
      .refine((arns) => arns.every((arn) => SNS_TOPIC_ARN.test(arn)), 'list the SNS topics SES publishes to, e.g. "arn:aws:sns:eu-west-1:123456789012:ses-feedback", comma-separated')
      .optional(),
    SENDGRID_WEBHOOK_PUBLIC_KEY: z
      .string()
      .superRefine((text, ctx) => {
        const problem = sendgridPublicKeyProblem(text);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    MAILGUN_WEBHOOK_SIGNING_KEY: z.string().min(8, "the HTTP webhook signing key from Mailgun's Webhooks page").optional(),
    POSTMARK_WEBHOOK_USER: z.string().min(1).regex(/^[^:]*$/, 'a basic-auth user name has no ":"').optional(),
    POSTMARK_WEBHOOK_PASSWORD: z.string().min(12, 'use at least 12 characters, e.g. `openssl rand -hex 16`').optional(),
  })
  .superRefine((e, ctx) => {
    if ((e.POSTMARK_WEBHOOK_USER === undefined) !== (e.POSTMARK_WEBHOOK_PASSWORD === undefined)) {
      const missing = e.POSTMARK_WEBHOOK_USER === undefined ? 'POSTMARK_WEBHOOK_USER' : 'POSTMARK_WEBHOOK_PASSWORD';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'Postmark webhooks need POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD together (the basic-auth credentials set on the webhook)' });
    }
  });

/** Reads the provider settings from the environment; throws naming the setting and the problem (never a secret). */
export function readProviderFeedbackSettings(env: Record<string, string | undefined>): ProviderFeedbackSettings {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  const e = parsed.data;
  return {
    ...(e.SES_SNS_TOPIC_ARNS !== undefined && e.SES_SNS_TOPIC_ARNS.length > 0 && { ses: { topicArns: e.SES_SNS_TOPIC_ARNS } }),
    ...(e.SENDGRID_WEBHOOK_PUBLIC_KEY !== undefined && { sendgrid: { publicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY } }),
    ...(e.MAILGUN_WEBHOOK_SIGNING_KEY !== undefined && { mailgun: { signingKey: e.MAILGUN_WEBHOOK_SIGNING_KEY } }),
    ...(e.POSTMARK_WEBHOOK_USER !== undefined && e.POSTMARK_WEBHOOK_PASSWORD !== undefined && { postmark: { user: e.POSTMARK_WEBHOOK_USER, password: e.POSTMARK_WEBHOOK_PASSWORD } }),
  };
}
