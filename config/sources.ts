// The secrets of the event sources on the private API (api/sources.ts): the shared secret a
// Segment or RudderStack destination signs with, and one HMAC secret per signed webhook.
import { z } from 'zod';
import { WEBHOOK_NAME } from '../domain/sources/webhookMapping';

/** Shorter secrets are guessable offline from one signed request. */
const MIN_SECRET = 16;

export interface WebhookSecret {
  /** The webhook's name, as journeys/webhooks.ts declares it and its route ends. */
  name: string;
  secret: string;
}

export interface SourceSettings {
  /** SEGMENT_SHARED_SECRET; absent: POST /v1/sources/segment answers that it is not configured. */
  segmentSecret?: string;
  /** WEBHOOK_SECRETS: every secret of a name verifies, so a secret rotates by listing the new one beside the old. */
  webhookSecrets: WebhookSecret[];
}

const schema = z.object({
  SEGMENT_SHARED_SECRET: z.string().min(MIN_SECRET, `use at least ${MIN_SECRET} characters, e.g. \`openssl rand -hex 32\``).optional(),
  WEBHOOK_SECRETS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const secrets: WebhookSecret[] = [];
      for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
        const colon = entry.indexOf(':');
        const [name, secret] = colon < 0 ? [entry, ''] : [entry.slice(0, colon), entry.slice(colon + 1)];
        // The secret itself is never quoted: this message ends up in logs.
        if (!WEBHOOK_NAME.test(name)) ctx.addIssue({ code: 'custom', message: `write name:secret pairs, e.g. "shopify-orders:<secret>"; "${name.slice(0, 64)}" is no webhook name (lower-case letters, digits, "_", "-")` });
        else if (secret.length < MIN_SECRET) ctx.addIssue({ code: 'custom', message: `the secret of ${name} is shorter than ${MIN_SECRET} characters; use e.g. \`openssl rand -hex 32\`` });
        else secrets.push({ name, secret });
      }
      return secrets;
    }),
});

/** Reads the source settings from the environment; throws naming the setting and the problem. */
export function readSourceSettings(env: Record<string, string | undefined>): SourceSettings {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  return { segmentSecret: parsed.data.SEGMENT_SHARED_SECRET, webhookSecrets: parsed.data.WEBHOOK_SECRETS };
}
