// Postmark webhooks: HTTP basic auth with the credentials set on the webhook, and one record
// per request (`RecordType` Delivery, Bounce, SpamComplaint, …).
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { asMessageId, diagnosticOf, distinct, isoInstant, messageIdsIn, type DeliveryFeedback } from './feedback';

/**
 * Whether an `Authorization` header carries these basic-auth credentials. Both sides are
 * hashed first, so the comparison takes the same time whatever was sent and however long.
 */
export function postmarkAuthValid(authorization: string | undefined, expected: { user: string; password: string }): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  const given = Buffer.from(match?.[1] ?? '', 'base64').toString('utf8');
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(`${expected.user}:${expected.password}`)) && match !== null;
}

export const postmarkRecordSchema = z.object({
  RecordType: z.string(),
  // Postmark's id of the message (a UUID), not its Message-ID header; records without one are none of ours.
  MessageID: z.string().min(1).max(100).optional(),
  Type: z.string().optional(),
  Email: z.string().optional(),
  Recipient: z.string().optional(),
  // Part of a bounce's event id: bounded, as event ids are.
  BouncedAt: z.string().max(40).optional(),
  DeliveredAt: z.string().optional(),
  Description: z.string().optional(),
  Details: z.string().optional(),
  // The raw bounce or complaint, when the webhook includes bounce content: it quotes the message's headers.
  Content: z.string().optional(),
  Headers: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
  Metadata: z.record(z.string(), z.unknown()).optional(),
});
export type PostmarkRecord = z.infer<typeof postmarkRecordSchema>;

/**
 * Postmark's webhooks carry its own message id, not the Message-ID header we sent. Ours is
 * found where the payload has the message's headers (`Headers`, or the raw report in
 * `Content` of a bounce or complaint webhook that includes bounce content), else in the
 * metadata (`X-PM-Metadata-MessageID` on the message, any case, `-`/`_` optional).
 */
function messageIdsOf(record: PostmarkRecord): string[] {
  const fromHeaders = (record.Headers ?? []).filter((h) => h.Name.toLowerCase() === 'message-id').map((h) => h.Value);
  const fromMetadata = Object.entries(record.Metadata ?? {})
    .filter(([key, value]) => /^message[-_]?id$/i.test(key) && typeof value === 'string')
    .map(([, value]) => value as string);
  return distinct([...fromHeaders, ...messageIdsIn(record.Content ?? ''), ...fromMetadata]).map(asMessageId);
}

/**
 * `Delivery`; `Bounce` (Type `HardBounce` is hard, every other type soft); `SpamComplaint`.
 * Other records (opens, clicks, subscription changes) are none. A bounce is named by message
 * and time: Postmark's numeric bounce ID can exceed what a JSON number holds exactly.
 */
export function postmarkFeedback(record: PostmarkRecord): DeliveryFeedback[] {
  if (record.MessageID === undefined) return [];
  const base = { provider: 'postmark' as const, messageIds: messageIdsOf(record) };
  switch (record.RecordType) {
    case 'Delivery':
      return [{ ...base, eventId: `postmark:delivery:${record.MessageID}`, kind: 'delivered', recipients: distinct([record.Recipient]), occurredAt: isoInstant(record.DeliveredAt) }];
    case 'Bounce':
      return [
        {
          ...base,
          eventId: `postmark:bounce:${record.MessageID}:${record.BouncedAt ?? ''}`,
          kind: 'bounced',
          recipients: distinct([record.Email]),
          bounceType: record.Type === 'HardBounce' ? 'hard' : 'soft',
          diagnostic: diagnosticOf(record.Details, record.Description),
          occurredAt: isoInstant(record.BouncedAt),
        },
      ];
    case 'SpamComplaint':
      return [{ ...base, eventId: `postmark:complaint:${record.MessageID}`, kind: 'complained', recipients: distinct([record.Email]), diagnostic: diagnosticOf(record.Details), occurredAt: isoInstant(record.BouncedAt) }];
    default:
      return [];
  }
}
