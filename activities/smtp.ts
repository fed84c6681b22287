import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import DKIM from 'nodemailer/lib/dkim';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { StoredMessage } from '../store/types';

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  messageId: string;
  headers: Record<string, string>;
}

/**
 * Delivery over SMTP with the hand-off made visible. `open` connects, greets and logs in:
 * nothing can have been delivered when it fails. `send` runs MAIL, RCPT and DATA, then calls
 * `beforeBody` at the last moment before the first byte of the message goes out (the server
 * has answered 354); only from then on can the server have the message. nodemailer's
 * transports hide that boundary, so a send still connecting or queued looked the same as one
 * the server may have taken.
 */
export interface Mailer {
  /** The message bytes (DKIM-signed when configured) and envelope, for `send` and for the ledger. */
  compose(email: OutgoingEmail): Promise<StoredMessage>;
  open(): Promise<MailSession>;
}

export interface MailSession {
  /** Resolves with the server's final reply; rejects with an `SmtpError` telling whether the body was handed off. */
  send(message: StoredMessage, beforeBody: () => Promise<void>): Promise<{ response: string }>;
  close(): void;
}

export interface SmtpError extends Error {
  responseCode?: number;
  response?: string;
  command?: string;
  /** True once `beforeBody` returned and the message started to flow: the server may have it. */
  handedOff?: boolean;
}

/** Well under the send activity's start-to-close timeout, so an attempt fails on its own before Temporal starts another. */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 15_000, socketTimeout: 60_000 };

export interface SmtpMailerOptions {
  /** smtp://user:pass@host:port or smtps://… (nodemailer's connection URL). */
  url: string;
  dkim?: DKIM.Options;
}

export function createSmtpMailer({ url, dkim }: SmtpMailerOptions): Mailer {
  const options: SMTPConnection.Options = { ...parseConnectionUrl(url), ...SMTP_TIMEOUTS };
  const auth = options.auth as { user?: string; pass?: string } | undefined;
  const credentials = auth?.user ? { user: auth.user, pass: auth.pass ?? '' } : undefined;
  const signer = dkim && new DKIM(dkim);

  return {
    async compose(email) {
      const mime = new MailComposer({ ...email, headers: email.headers }).compile();
      const envelope = mime.getEnvelope();
      const built = await mime.build();
      const raw = signer ? Buffer.from(await text(signer.sign(built))) : built;
      return { envelope: { from: envelope.from || '', to: envelope.to }, raw };
    },

    async open() {
      const connection = new SMTPConnection(options);
      // A dropped connection or a timeout surfaces as an event, never through the pending
      // command's callback, so every step races against it.
      let fail: (err: SmtpError) => void = () => undefined;
      const broken = new Promise<never>((_, reject) => (fail = reject));
      broken.catch(() => undefined);
      connection.on('error', (err: SmtpError) => fail(err));
      connection.once('end', () => fail(Object.assign(new Error('the SMTP connection closed unexpectedly'), { command: 'CONN' })));
      const step = <T>(operation: Promise<T>) => Promise.race([operation, broken]);
      try {
        await step(new Promise<void>((resolve, reject) => connection.connect((err) => (err ? reject(err) : resolve()))));
        if (credentials) await step(new Promise<void>((resolve, reject) => connection.login(credentials, (err) => (err ? reject(err) : resolve()))));
      } catch (err) {
        connection.close();
        throw err;
      }
      return {
        send: (message, beforeBody) => transmit(connection, step, message, beforeBody),
        close: () => connection.quit(),
      };
    },
  };
}

function transmit(
  connection: SMTPConnection,
  step: <T>(operation: Promise<T>) => Promise<T>,
  message: StoredMessage,
  beforeBody: () => Promise<void>,
): Promise<{ response: string }> {
  let failedBeforeBody = false;
  let claim: Promise<boolean> | undefined;
  let refusal: unknown;
  // SMTPConnection pipes the message only after the server's 354, so the first read is the
  // hand-off. When MAIL, RCPT or DATA is refused it also drains the message into a sink, but
  // only after reporting the failure, which `failedBeforeBody` records first.
  const body = new Readable({
    read() {
      if (claim) return;
      if (failedBeforeBody) {
        this.push(null);
        return;
      }
      claim = beforeBody().then(
        () => {
          this.push(message.raw);
          this.push(null);
          return true;
        },
        (err: unknown) => {
          refusal = err;
          // Closing mid-DATA, before the terminating dot, leaves the server nothing to deliver.
          connection.close();
          this.destroy();
          return false;
        },
      );
    },
  });
  const sent = new Promise<{ response: string }>((resolve, reject) => {
    connection.send({ from: message.envelope.from, to: message.envelope.to }, body, (err, info) => {
      if (!err) return resolve({ response: info.response });
      if (!claim) failedBeforeBody = true;
      reject(err);
    });
  });
  return step(sent).catch(async (err: SmtpError) => {
    const handedOff = (await claim) ?? false;
    if (refusal !== undefined) throw refusal;
    throw Object.assign(err, { handedOff });
  });
}
