// SendGrid's Signed Event Webhook: an ECDSA (P-256, SHA-256) signature over the timestamp
// header followed by the raw body, and a JSON array of events.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { asMessageId, diagnosticOf, isoInstant, type DeliveryFeedback } from './feedback';

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

/** The verification key as SendGrid shows it (base64 of the DER public key), or as PEM. */
export function sendgridPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN') ? createPublicKey(trimmed) : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('it is not an ECDSA P-256 public key');
  return key;
}

/** Why the text is not a usable verification key, for the settings' error; undefined when it is one. */
export function sendgridPublicKeyProblem(text: string): string | undefined {
  try {
    sendgridPublicKey(text);
    return undefined;
  } catch (err) {
    return `the Signed Event Webhook verification key from SendGrid's Mail Settings (base64, "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…"), or its PEM, is expected: ${(err as Error).message}`;
  }
}

/** Whether SendGrid signed exactly these bytes at this timestamp. */
export function sendgridSignatureValid(key: KeyObject, signature: string, timestamp: string, body: Buffer): boolean {
  const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), body]);
  try {
    return verify('sha256', signed, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    // A signature that is not DER at all.
    return false;
  }
}

const sendgridEventSchema = z.object({
  event: z.string(),
  email: z.string().optional(),
  timestamp: z.number().optional(),
  'smtp-id': z.string().optional(),
  sg_event_id: z.string().min(1).max(150),
  type: z.string().optional(),
  reason: z.string().optional(),
  response: z.string().optional(),
});
/** The body: an array of events (a batch). */
export const sendgridEventsSchema = z.array(z.unknown());

/** Drop reasons that say the address itself cannot receive mail (SendGrid's own list holds it as bounced or invalid). */
const HARD_DROPS = new Set(['bounced address', 'invalid']);

/**
 * `delivered`; `bounce` (type `bounce` hard, `blocked` soft); `dropped` (hard when SendGrid
 * holds the address as bounced or invalid, else soft: spam content, quota, its own
 * unsubscribe list); `spamreport`. Other events (processed, deferred, opens, clicks) are none.
 * Matched by `smtp-id`, the Message-ID the message was sent with.
 */
export function sendgridFeedback(events: unknown[]): DeliveryFeedback[] {
  return events.flatMap((raw): DeliveryFeedback[] => {
    const parsed = sendgridEventSchema.safeParse(raw);
    if (!parsed.success) return [];
    const event = parsed.data;
    const base = {
      provider: 'sendgrid' as const,
      eventId: `sendgrid:${event.sg_event_id}`,
      messageIds: event['smtp-id'] ? [asMessageId(event['smtp-id'])] : [],
      recipients: event.email ? [event.email] : [],
      occurredAt: isoInstant(event.timestamp),
    };
    switch (event.event) {
      case 'delivered':
        return [{ ...base, kind: 'delivered' }];
      case 'bounce':
        return [{ ...base, kind: 'bounced', bounceType: event.type === 'blocked' ? 'soft' : 'hard', diagnostic: diagnosticOf(event.reason) }];
      case 'dropped':
        return [{ ...base, kind: 'bounced', bounceType: HARD_DROPS.has((event.reason ?? '').toLowerCase()) ? 'hard' : 'soft', diagnostic: diagnosticOf(event.reason) }];
      case 'spamreport':
        return [{ ...base, kind: 'complained' }];
      default:
        return [];
    }
  });
}
