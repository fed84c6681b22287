import { simpleParser, type ParsedMail } from 'mailparser';
import { startOutbox, type Outbox, type OutboxOptions } from '../../scripts/outbox';
import { suiteOutboxFolder } from './suiteOutbox';

export interface ReceivedEmail {
  to: string;
  subject: string;
  html: string;
  text: string;
  headers: ParsedMail['headers'];
  journeyStep?: string;
  receivedAt: Date;
}

/** A real SMTP server on loopback whose messages tests read back parsed. */
export interface Mailbox {
  outbox: Outbox;
  url: string;
  emails(): Promise<ReceivedEmail[]>;
  /** Emails to one address, in arrival order. */
  emailsTo(address: string): Promise<ReceivedEmail[]>;
  /** Resolves once at least `count` emails (to `to`, if given) have arrived, or fails after `timeoutMs` of wall time. */
  waitForCount(count: number, options?: { to?: string; timeoutMs?: number }): Promise<ReceivedEmail[]>;
  close(): Promise<void>;
}

export async function startMailbox(options: OutboxOptions = {}): Promise<Mailbox> {
  const outbox = await startOutbox({ dir: suiteOutboxFolder(), ...options });
  const parse = async (): Promise<ReceivedEmail[]> =>
    Promise.all(
      outbox.messages.map(async (message) => {
        const mail = await simpleParser(message.raw);
        return {
          to: message.to.join(','),
          subject: mail.subject ?? '',
          html: typeof mail.html === 'string' ? mail.html : '',
          text: mail.text ?? '',
          headers: mail.headers,
          journeyStep: mail.headers.get('x-journey-step') as string | undefined,
          receivedAt: message.receivedAt,
        };
      }),
    );
  return {
    outbox,
    url: `smtp://127.0.0.1:${outbox.port}`,
    emails: parse,
    emailsTo: async (address) => (await parse()).filter((email) => email.to === address),
    async waitForCount(count, { to, timeoutMs = 20_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      const arrived = () => outbox.messages.filter((m) => to === undefined || m.to.includes(to)).length;
      while (arrived() < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} emails${to ? ` to ${to}` : ''}, ${arrived()} arrived within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return to === undefined ? parse() : (await parse()).filter((email) => email.to === to);
    },
    close: () => outbox.close(),
  };
}

/** What the mailbox answers at RCPT TO for a recipient, for the next `times` attempts. */
export interface ScriptedReply {
  code: number;
  text: string;
  times: number;
}

/** A mailbox's `onRecipient` that answers from `replies`, which a test fills as it goes; an address without one is accepted. */
export function scriptedReplies(): { replies: Map<string, ScriptedReply>; onRecipient(address: string): Error | undefined } {
  const replies = new Map<string, ScriptedReply>();
  return {
    replies,
    onRecipient(address) {
      const reply = replies.get(address);
      if (!reply || reply.times <= 0) return undefined;
      reply.times--;
      return Object.assign(new Error(reply.text), { responseCode: reply.code });
    },
  };
}
