import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

export interface OutboxMessage {
  file?: string;
  from: string;
  to: string[];
  raw: Buffer;
  receivedAt: Date;
}

export interface OutboxOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Where each message is kept as an .eml file; omit to keep messages in memory only. */
  dir?: string;
  /** Answers RCPT TO; return an Error with `responseCode` to refuse a recipient. */
  onRecipient?: (address: string) => Error | undefined;
}

export interface Outbox {
  port: number;
  messages: OutboxMessage[];
  onMessage(listener: (message: OutboxMessage) => void): void;
  close(): Promise<void>;
}

/**
 * The embedded SMTP server: a real SMTP peer on loopback that accepts every message and
 * keeps it as an .eml file, so `npm start` sends real email without a mail provider.
 */
export async function startOutbox(options: OutboxOptions = {}): Promise<Outbox> {
  const host = options.host ?? '127.0.0.1';
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  const messages: OutboxMessage[] = [];
  const listeners: ((message: OutboxMessage) => void)[] = [];
  let counter = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    size: 25 * 1024 * 1024,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      callback(options.onRecipient?.(address.address) ?? undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const message: OutboxMessage = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          receivedAt: new Date(),
        };
        if (options.dir) {
          const stamp = message.receivedAt.toISOString().replace(/[:.]/g, '-');
          message.file = join(options.dir, `${stamp}-${process.pid}-${++counter}.eml`);
          writeFileSync(message.file, message.raw);
        }
        messages.push(message);
        for (const listener of listeners) listener(message);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      // A client gone mid-transaction (a worker killed while sending) ends that connection, not
      // the outbox: smtp-server reports it as a server error, which unheard would stop the process.
      server.on('error', () => undefined);
      resolve();
    });
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    messages,
    onMessage: (listener) => listeners.push(listener),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
