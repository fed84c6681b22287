// Mailgun webhooks: `{signature: {timestamp, token, signature}, "event-data": {…}}`, the
// signature being hex HMAC-SHA256 of timestamp + token under the domain's webhook signing key.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { asMessageId, diagnosticOf, isoInstant, type DeliveryFeedback } from './feedback';

export const mailgunWebhookSchema = z.object({
  signature: z.object({ timestamp: z.string().min(1), token: z.string().min(1), signature: z.string().min(1) }),
  'event-data': z.object({
    event: z.string(),
    id: z.string().min(1).max(100),
    timestamp: z.number(),
    severity: z.string().optional(),
    reason: z.string().optional(),
    recipient: z.string().optional(),
    'delivery-status': z.object({ message: z.string().optional(), description: z.string().optional() }).optional(),
    message: z.object({ headers: z.object({ 'message-id': z.string().optional() }).optional() }).optional(),
  }),
});
export type MailgunWebhook = z.infer<typeof mailgunWebhookSchema>;

/** Compared in constant time: how long a wrong guess takes tells nothing about the right one. */
export function mailgunSignatureValid(signingKey: string, { timestamp, token, signature }: MailgunWebhook['signature']): boolean {
  const expected = createHmac('sha256', signingKey).update(timestamp + token).digest();
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * `delivered`; `failed` (severity `permanent` is a hard bounce, `temporary` a soft one);
 * `complained`. Matched by the message's `message-id` header, which Mailgun gives without
 * angle brackets. Mailgun's event id is unique within a day only, so its time is part of ours.
 */
export function mailgunFeedback(webhook: MailgunWebhook): DeliveryFeedback[] {
  const data = webhook['event-data'];
  const messageId = data.message?.headers?.['message-id'];
  const base = {
    provider: 'mailgun' as const,
    eventId: `mailgun:${data.id}:${data.timestamp}`,
    messageIds: messageId ? [asMessageId(messageId)] : [],
    recipients: data.recipient ? [data.recipient] : [],
    occurredAt: isoInstant(data.timestamp),
  };
  switch (data.event) {
    case 'delivered':
      return [{ ...base, kind: 'delivered' }];
    case 'failed': {
      const status = data['delivery-status'];
      return [{ ...base, kind: 'bounced', bounceType: data.severity === 'permanent' ? 'hard' : 'soft', diagnostic: diagnosticOf(status?.message, status?.description, data.reason) }];
    }
    case 'complained':
      return [{ ...base, kind: 'complained' }];
    default:
      return [];
  }
}
