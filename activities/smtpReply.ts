import { redactAddresses } from '../domain/delivery/redact';
import type { SmtpError } from './smtp';

/**
 * What an SMTP failure means for the customer and for us. Decided from the reply code, the
 * enhanced status code (RFC 3463), the command it answered and whether the message had
 * been handed to the server. Replies are given with addresses redacted.
 */
export type SmtpVerdict =
  /** Nothing was delivered; try again later (4xx, or a fault before the hand-off). */
  | { kind: 'retry' }
  /** The recipient's address is bad (5.1.x, or 5.2.1 disabled): suppress it, don't retry. */
  | { kind: 'badRecipient'; reply: string }
  /** Our side is refused (5.7.x: policy, authentication, reputation): alert us, don't blame the customer. */
  | { kind: 'senderRejected'; reply: string }
  /** Any other permanent refusal. */
  | { kind: 'rejected'; reply: string }
  /** No reply after the hand-off: the server may have taken the email. */
  | { kind: 'inDoubt' };

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

export function judgeSmtpFailure(err: SmtpError): SmtpVerdict {
  const code = err.responseCode;
  if (code === undefined) return err.handedOff ? { kind: 'inDoubt' } : { kind: 'retry' };
  if (code < 500) return { kind: 'retry' };
  const reply = redactAddresses((err.response ?? err.message).trim());
  const enhanced = ENHANCED.exec(reply);
  const [subject, detail] = enhanced ? [Number(enhanced[2]), Number(enhanced[3])] : [undefined, undefined];
  if (subject === 7) return { kind: 'senderRejected', reply };
  const atRecipient = err.command === 'RCPT TO';
  if (atRecipient && (subject === 1 || (subject === 2 && detail === 1))) return { kind: 'badRecipient', reply };
  return { kind: 'rejected', reply };
}
