import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { suiteOutboxFolder } from './suiteOutbox';

export interface FaultySmtpOptions {
  /** How long the server takes to answer each message once its body arrived. */
  replyDelayMs?: number;
  /** Messages after whose body the server drops the connection instead of answering. */
  dropAfterBody?: (message: ReceivedMessage) => boolean;
  /** Called as each message's body arrives, before any reply. */
  onBody?: (n: number) => void;
  /** Runs before the server answers MAIL FROM, i.e. while the client's session is open and nothing is handed over yet. */
  onMailFrom?: () => Promise<void> | void;
  /** Holds every DATA reply until the returned promise settles. */
  holdReply?: (n: number) => Promise<void>;
}

export interface ReceivedMessage {
  to: string[];
  journeyStep?: string;
  raw: Buffer;
}

/**
 * A real SMTP server (the smtp-server package) on loopback that misbehaves on request:
 * answers slowly, or takes a whole message and then drops the connection before its
 * reply, as servers and networks do. Every message it takes counts as arrived: from the
 * customer's side it may well have been delivered.
 */
export interface FaultySmtp {
  url: string;
  messages: ReceivedMessage[];
  /** Transactions begun (MAIL FROM received), whether or not a message followed. */
  transactions(): number;
  /** Transactions whose body has started and whose connection is still open: their outcome may be unknown to the client. */
  inProgress(): number;
  /** The recipients of every transaction whose body has started (answered, dropped or still open), in order. */
  bodiesStarted(): string[];
  close(): Promise<void>;
}

export async function startFaultySmtp(options: FaultySmtpOptions = {}): Promise<FaultySmtp> {
  const folder = suiteOutboxFolder();
  const messages: ReceivedMessage[] = [];
  const open = new Set<string>();
  const started: string[] = [];
  let transactions = 0;
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onMailFrom(_address, _session, callback) {
      transactions++;
      void Promise.resolve(options.onMailFrom?.()).then(() => callback(), callback);
    },
    onClose(session) {
      open.delete(session.id);
    },
    onData(stream, session, callback) {
      open.add(session.id);
      started.push(...session.envelope.rcptTo.map((r) => r.address));
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const header = (name: string) => new RegExp(`^${name}: *(.+)$`, 'im').exec(raw.toString('utf8').split(/\r?\n\r?\n/)[0])?.[1]?.trim();
        const message = { to: session.envelope.rcptTo.map((r) => r.address), journeyStep: header('X-Journey-Step'), raw };
        messages.push(message);
        const n = messages.length;
        if (folder) writeFileSync(join(folder, `faulty-${n}.eml`), raw);
        options.onBody?.(n);
        if (options.dropAfterBody?.(message)) {
          for (const connection of (server as unknown as { connections: Set<{ session: { id: string }; _socket: { destroy(): void } }> }).connections) {
            if (connection.session.id === session.id) connection._socket.destroy();
          }
          return;
        }
        // Replied: the transaction is over, though a pooled connection stays open for the next one.
        void Promise.all([options.holdReply?.(n), new Promise((resolve) => setTimeout(resolve, options.replyDelayMs ?? 0))]).then(() => {
          open.delete(session.id);
          callback();
        });
      });
    },
  });
  return {
    url: await listenOnLoopback(server),
    messages,
    transactions: () => transactions,
    inProgress: () => open.size,
    bodiesStarted: () => [...started],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Starts an SMTP server of a test on a free loopback port and returns its smtp:// URL. */
export async function listenOnLoopback(server: SMTPServer): Promise<string> {
  // A client killed mid-transaction (the crash tests do it) resets that connection only; smtp-server reports it as a server error.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  return `smtp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}
