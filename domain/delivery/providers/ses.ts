// Amazon SES feedback, delivered by Amazon SNS: the SNS envelope, its signature, and the SES
// bounce, complaint and delivery notifications it carries.
import { verify, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { asMessageId, diagnosticOf, distinct, isoInstant, type DeliveryFeedback } from './feedback';

export const snsMessageSchema = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Subject: z.string().optional(),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
  SubscribeURL: z.string().optional(),
  Token: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
});
export type SnsMessage = z.infer<typeof snsMessageSchema>;

/** An SNS topic ARN, e.g. arn:aws:sns:eu-west-1:123456789012:ses-feedback. */
export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/**
 * Whether `url` is Amazon SNS's own: https on `sns.<region>.amazonaws.com` (`.com.cn` in
 * China), no user, no other port. Certificates and subscription confirmations are fetched
 * from nowhere else, so a forged message cannot bring its own key or make us call a host of its choosing.
 */
export function isSnsUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' && parsed.port === '' && parsed.username === '' && parsed.password === '' && /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(parsed.hostname);
}

export function isSnsCertificateUrl(url: string): boolean {
  return isSnsUrl(url) && new URL(url).pathname.endsWith('.pem');
}

/**
 * The string SNS signs: the documented fields in byte order, each as `name\nvalue\n`. A
 * notification signs Message, MessageId, Subject (when present), Timestamp, TopicArn and Type;
 * a (un)subscription confirmation signs SubscribeURL and Token instead of Subject.
 */
export function snsStringToSign(message: SnsMessage): string {
  const fields: (keyof SnsMessage)[] =
    message.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields
    .filter((field) => message[field] !== undefined)
    .map((field) => `${field}\n${message[field]}\n`)
    .join('');
}

/** SignatureVersion 1 is SHA1withRSA, 2 SHA256withRSA, over `snsStringToSign`, with the certificate's key. */
export function snsSignatureValid(message: SnsMessage, certificate: X509Certificate): boolean {
  const algorithm = message.SignatureVersion === '1' ? 'sha1' : 'sha256';
  try {
    return verify(algorithm, Buffer.from(snsStringToSign(message), 'utf8'), certificate.publicKey, Buffer.from(message.Signature, 'base64'));
  } catch {
    // A certificate whose key cannot make such a signature at all.
    return false;
  }
}

const recipient = z.object({ emailAddress: z.string(), diagnosticCode: z.string().optional() });
const sesMail = z.object({
  messageId: z.string().min(1),
  // Present when the identity's notifications include the original headers: our Message-ID is there.
  headers: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  commonHeaders: z.object({ messageId: z.string().optional() }).optional(),
});
const sesNotificationSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('Bounce'),
    mail: sesMail,
    bounce: z.object({
      bounceType: z.string(),
      bounceSubType: z.string().optional(),
      bouncedRecipients: z.array(recipient),
      timestamp: z.string().optional(),
      feedbackId: z.string().min(1),
    }),
  }),
  z.object({
    type: z.literal('Complaint'),
    mail: sesMail,
    complaint: z.object({
      complainedRecipients: z.array(recipient),
      complaintFeedbackType: z.string().optional(),
      timestamp: z.string().optional(),
      feedbackId: z.string().min(1),
    }),
  }),
  z.object({
    type: z.literal('Delivery'),
    mail: sesMail,
    delivery: z.object({ recipients: z.array(z.string()), timestamp: z.string().optional() }),
  }),
]);

/**
 * The feedback in an SNS notification's Message: an SES notification (`notificationType`) or
 * event (`eventType`, from a configuration set). Anything else (an SNS test message, an open
 * or click event) is none. Only a Permanent bounce is hard: Transient and Undetermined may pass.
 */
export function sesFeedback(message: string): DeliveryFeedback[] {
  let json: { notificationType?: unknown; eventType?: unknown } | null;
  try {
    json = JSON.parse(message) as typeof json;
  } catch {
    return [];
  }
  const parsed = sesNotificationSchema.safeParse({ ...json, type: json?.notificationType ?? json?.eventType });
  if (!parsed.success) return [];
  const notification = parsed.data;
  const { mail } = notification;
  const messageIds = distinct([mail.commonHeaders?.messageId, ...(mail.headers ?? []).filter((h) => h.name.toLowerCase() === 'message-id').map((h) => h.value)]).map(asMessageId);
  const base = { provider: 'ses' as const, messageIds };
  switch (notification.type) {
    case 'Bounce': {
      const { bounce } = notification;
      return [
        {
          ...base,
          eventId: `ses:bounce:${bounce.feedbackId}`,
          kind: 'bounced',
          recipients: bounce.bouncedRecipients.map((r) => r.emailAddress),
          bounceType: bounce.bounceType === 'Permanent' ? 'hard' : 'soft',
          diagnostic: diagnosticOf(bounce.bouncedRecipients[0]?.diagnosticCode, [bounce.bounceType, bounce.bounceSubType].filter(Boolean).join('/')),
          occurredAt: isoInstant(bounce.timestamp),
        },
      ];
    }
    case 'Complaint': {
      const { complaint } = notification;
      return [
        {
          ...base,
          eventId: `ses:complaint:${complaint.feedbackId}`,
          kind: 'complained',
          recipients: complaint.complainedRecipients.map((r) => r.emailAddress),
          diagnostic: diagnosticOf(complaint.complaintFeedbackType),
          occurredAt: isoInstant(complaint.timestamp),
        },
      ];
    }
    case 'Delivery':
      // One delivery notification per message: SES's own message id names it.
      return [{ ...base, eventId: `ses:delivery:${mail.messageId}`, kind: 'delivered', recipients: notification.delivery.recipients, occurredAt: isoInstant(notification.delivery.timestamp) }];
  }
}
