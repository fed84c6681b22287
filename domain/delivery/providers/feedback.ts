// What an email provider tells us about a message after it left: delivered, bounced or
// complained about. Each provider's webhook (./ses, ./sendgrid, ./mailgun, ./postmark) is
// verified and mapped to this one shape; app/providerFeedback.ts turns it into events.

export type FeedbackProvider = 'ses' | 'sendgrid' | 'mailgun' | 'postmark';

/** The event it becomes: `email.delivered`, `email.bounced` or `email.complained`. */
export type FeedbackKind = 'delivered' | 'bounced' | 'complained';

/** A hard bounce means the address cannot receive mail (it is suppressed); a soft one, not now. */
export type BounceType = 'hard' | 'soft';

export interface DeliveryFeedback {
  provider: FeedbackProvider;
  /**
   * The provider's own id of this event, prefixed with the provider: the id of the recorded
   * event, so a redelivered webhook is a duplicate.
   */
  eventId: string;
  kind: FeedbackKind;
  /** The Message-IDs the notification names, each as `<…>`: ours among them when it is about one of our sends. */
  messageIds: string[];
  /** The addresses it is about: a hard bounce or a complaint suppresses each of them. */
  recipients: string[];
  bounceType?: BounceType;
  /** What the receiving server or the provider said, for a bounce or a complaint. */
  diagnostic?: string;
  /** ISO-8601 instant of the event at the provider; absent when it gave none we could read. */
  occurredAt?: string;
}

/** The providers' settings (config/): a provider without them answers 404. */
export interface ProviderFeedbackSettings {
  ses?: { topicArns: string[] };
  /** The Signed Event Webhook's verification key, base64 DER as SendGrid shows it, or PEM. */
  sendgrid?: { publicKey: string };
  mailgun?: { signingKey: string };
  postmark?: { user: string; password: string };
}

/** Diagnostics are the receiving server's words, kept short enough for an event. */
const DIAGNOSTIC_LIMIT = 500;

/** A Message-ID as our send ledger keeps it, `<…>`: some providers (Mailgun) drop the angle brackets. */
export function asMessageId(text: string): string {
  const id = text.trim();
  return id.startsWith('<') ? id : `<${id}>`;
}

/** The values of every `Message-ID:` header line in a raw message or delivery report. */
export function messageIdsIn(raw: string): string[] {
  return [...raw.matchAll(/^message-id:[ \t]*(<[^>\s]+>)/gim)].map((match) => match[1]);
}

export function diagnosticOf(...candidates: (string | undefined)[]): string | undefined {
  const text = candidates.map((candidate) => candidate?.trim()).find(Boolean);
  return text && text.slice(0, DIAGNOSTIC_LIMIT);
}

/** An instant as ISO-8601 UTC, or undefined when it is not one. */
export function isoInstant(value: string | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  const date = new Date(typeof value === 'number' ? value * 1000 : value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Distinct, non-empty values, in order. */
export function distinct(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => Boolean(value)))];
}
