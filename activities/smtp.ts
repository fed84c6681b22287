import type { Socket } from 'node:net';
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
 * Delivery over SMTP with the hand-off made visible. `open` gets a connection ready for
 * `MAIL FROM`: an idle pooled one, or a new one (connected, greeted, logged in); nothing can
 * have been delivered when it fails. `send` runs MAIL, RCPT and DATA, then calls `beforeBody`
 * at the last moment before the first byte of the message goes out (the server has answered
 * 354); only from then on can the server have the message. nodemailer's transports hide that
 * boundary, so a send still connecting or queued looked the same as one the server may have
 * taken. A pooled connection the server dropped while it sat idle is found out before the
 * boundary, and `send` goes on over a new one.
 */
export interface Mailer {
  /** The message bytes (DKIM-signed when configured) and envelope, for `send` and for the ledger. */
  compose(email: OutgoingEmail): Promise<StoredMessage>;
  open(): Promise<MailSession>;
  /** Closes the idle connections (QUIT) now and each busy one as its session ends; `open` fails from then on. */
  close(): Promise<void>;
}

export interface MailSession {
  /** Resolves with the server's final reply; rejects with an `SmtpError` telling whether the body was handed off. */
  send(message: StoredMessage, beforeBody: () => Promise<void>): Promise<{ response: string }>;
  /** Ends the session: the connection goes back to the pool only after a 250 for the message; after any error it is closed. */
  release(): void;
}

export interface SmtpError extends Error {
  responseCode?: number;
  response?: string;
  command?: string;
  code?: string;
  /** True once `beforeBody` returned and the message started to flow: the server may have it. */
  handedOff?: boolean;
}

/** Well under the send activity's start-to-close timeout, so an attempt fails on its own before Temporal starts another. */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 15_000, socketTimeout: 60_000 };

/**
 * The connection pool of one mailer. `size` connections at most (idle, busy or opening);
 * a send that finds all busy waits up to `waitTimeout` for one, then fails before anything
 * was handed over (the attempt is retried). Idle connections are QUIT after `idleTimeout`.
 * One taken from the pool must answer MAIL, RCPT and DATA within `reuseTimeout`, else it is
 * closed (before the hand-off, so nothing was delivered) and a new one opened: a connection a
 * NAT forgot answers nothing, and the socket timeout alone would wait a minute. All of it fits
 * the send activity's 3-minute start-to-close timeout with the connect and greeting timeouts above.
 */
export const SMTP_POOL = { size: 5, idleTimeout: 30_000, reuseTimeout: 10_000, waitTimeout: 30_000 };

export interface SmtpMailerOptions {
  /** smtp://user:pass@host:port or smtps://… (nodemailer's connection URL). */
  url: string;
  dkim?: DKIM.Options;
  /** Connections kept and used at once (SMTP_POOL_SIZE); default `SMTP_POOL.size`. */
  poolSize?: number;
  /** How long a connection stays idle in the pool before it is closed; default `SMTP_POOL.idleTimeout`. */
  idleTimeoutMs?: number;
  /** How long a pooled connection has to answer MAIL, RCPT and DATA; default `SMTP_POOL.reuseTimeout`. */
  reuseTimeoutMs?: number;
}

export function createSmtpMailer({ url, dkim, poolSize = SMTP_POOL.size, idleTimeoutMs = SMTP_POOL.idleTimeout, reuseTimeoutMs = SMTP_POOL.reuseTimeout }: SmtpMailerOptions): Mailer {
  const options: SMTPConnection.Options = { ...parseConnectionUrl(url), ...SMTP_TIMEOUTS };
  const auth = options.auth as { user?: string; pass?: string } | undefined;
  const credentials = auth?.user ? { user: auth.user, pass: auth.pass ?? '' } : undefined;
  const signer = dkim && new DKIM(dkim);
  const pool = new ConnectionPool(Math.max(1, Math.floor(poolSize)), idleTimeoutMs);

  const connect = async (): Promise<PooledConnection> => {
    const connection = new PooledConnection(options, (broken) => pool.dropIdle(broken));
    try {
      await connection.step(new Promise<void>((resolve, reject) => connection.smtp.connect((err) => (err ? reject(err) : resolve()))));
      // Without it, the last small write of a command or of the message (the terminating
      // dot) waits for the server's delayed ACK of the write before it (Nagle): ~40 ms per
      // email on loopback. The socket is the one the handshake left: TLS after STARTTLS or on
      // smtps (whose setNoDelay reaches the TCP socket under it), plain TCP otherwise.
      connection.socket()?.setNoDelay(true);
      if (credentials) await connection.step(new Promise<void>((resolve, reject) => connection.smtp.login(credentials, (err) => (err ? reject(err) : resolve()))));
    } catch (err) {
      connection.smtp.close();
      throw err;
    }
    return connection;
  };

  /** A new connection in a slot the pool granted; the slot is given up if it cannot be opened. */
  const connectInSlot = async (): Promise<PooledConnection> => {
    try {
      return await connect();
    } catch (err) {
      pool.freeSlot();
      throw err;
    }
  };

  const sessionOn = (first: PooledConnection, pooled: boolean): MailSession => {
    let connection = first;
    let accepted = false;
    let released = false;

    /**
     * Over a connection from the pool, which the server may have dropped while it sat idle:
     * found out before the hand-off (droppedWhileIdle, or no answer within `reuseTimeoutMs`),
     * with nothing handed over and the row still only reserved, the send goes on over a new
     * connection rather than failing its attempt. The others idled as long or longer, likely
     * gone as well; the slot of this one opens the new one.
     */
    const transmitReused = async (message: StoredMessage, beforeBody: () => Promise<void>) => {
      const silent = setTimeout(() => connection.smtp.close(), reuseTimeoutMs);
      try {
        return await transmit(connection, message, () => {
          clearTimeout(silent);
          return beforeBody();
        });
      } catch (err) {
        if (!droppedWhileIdle(err as SmtpError)) throw err;
      } finally {
        clearTimeout(silent);
      }
      pooled = false;
      pool.retireIdle();
      pool.abandon(connection);
      connection = await connectInSlot();
      return transmit(connection, message, beforeBody);
    };

    return {
      async send(message, beforeBody) {
        accepted = false;
        const reply = pooled ? await transmitReused(message, beforeBody) : await transmit(connection, message, beforeBody);
        accepted = true;
        return reply;
      },
      release() {
        if (released) return;
        released = true;
        if (accepted) pool.giveBack(connection);
        else pool.retire(connection);
      },
    };
  };

  return {
    async compose(email) {
      const mime = new MailComposer({ ...email, headers: email.headers }).compile();
      const envelope = mime.getEnvelope();
      const built = await mime.build();
      const raw = signer ? Buffer.from(await text(signer.sign(built))) : built;
      return { envelope: { from: envelope.from || '', to: envelope.to }, raw };
    },

    async open() {
      const granted = await pool.acquire();
      return granted === 'slot' ? sessionOn(await connectInSlot(), false) : sessionOn(granted, true);
    },

    close: () => pool.close(),
  };
}

/**
 * A pooled connection the server dropped while it sat idle (its idle timeout, a restart, a NAT
 * forgetting it) without our noticing yet: the first command finds the socket gone, or the
 * server's 421 closing it. Only before the hand-off, so nothing can have been delivered; any
 * other reply is the server's verdict on this email.
 */
function droppedWhileIdle(err: SmtpError): boolean {
  return err.handedOff === false && (err.responseCode === undefined || err.responseCode === 421);
}

/** One SMTP connection of a mailer's pool. It is used by one session at a time. */
class PooledConnection {
  readonly smtp: SMTPConnection;
  /** Set once the connection broke or closed: it is never used again. */
  fault?: SmtpError;
  /** Closed (or being closed) by the pool, its slot given up or passed on. */
  retired = false;
  idleTimer?: NodeJS.Timeout;
  private readonly broken: Promise<never>;
  private fail: (err: SmtpError) => void = () => undefined;

  constructor(options: SMTPConnection.Options, onBroken: (connection: PooledConnection) => void) {
    this.smtp = new SMTPConnection(options);
    this.broken = new Promise<never>((_, reject) => (this.fail = reject));
    this.broken.catch(() => undefined);
    // A dropped connection or a timeout surfaces as an event, never through the pending
    // command's callback, so every step races against it. Listened to for the connection's
    // whole life: one that breaks while idle leaves the pool at once.
    const broke = (err: SmtpError) => {
      if (this.fault) return;
      this.fault = err;
      this.fail(err);
      onBroken(this);
    };
    this.smtp.on('error', broke);
    this.smtp.once('end', () => broke(Object.assign(new Error('the SMTP connection closed unexpectedly'), { command: 'CONN' })));
  }

  /** `operation`, unless the connection breaks first. */
  step<T>(operation: Promise<T>): Promise<T> {
    return Promise.race([operation, this.broken]);
  }

  /**
   * The socket nodemailer holds (it keeps it private: `_socket`, see
   * node_modules/nodemailer/lib/smtp-connection); a TLSSocket after STARTTLS or on smtps.
   */
  socket(): Socket | undefined {
    return (this.smtp as unknown as { _socket?: Socket | false })._socket || undefined;
  }

  /**
   * QUIT, then closed on the reply (or after 5 s without one): for a sound connection the
   * pool no longer needs. Otherwise (an error, a failed RSET) closed at once, mid-anything.
   */
  shutdown(quit: boolean): void {
    if (!quit || this.fault) {
      this.smtp.close();
      return;
    }
    const force = setTimeout(() => this.smtp.close(), 5_000);
    force.unref();
    this.smtp.once('end', () => clearTimeout(force));
    this.smtp.quit();
  }
}

type Grant = PooledConnection | 'slot';

interface Waiter {
  grant(granted: Grant): void;
  refuse(err: SmtpError): void;
}

/**
 * The pool's bookkeeping. `slots` counts connections open or opening, idle ones included;
 * a slot passes from a connection that is closed to the next waiting send, if any.
 */
class ConnectionPool {
  private readonly idle: PooledConnection[] = [];
  private readonly waiting: Waiter[] = [];
  private slots = 0;
  private closed = false;
  /** Connections closing, until they have: `close` waits for them. */
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly size: number,
    private readonly idleTimeoutMs: number,
  ) {}

  /** The most recently used idle connection (the likeliest alive), a free slot to open one in, or the first of either to come within `waitTimeout`. */
  acquire(): Promise<Grant> {
    if (this.closed) return Promise.reject(poolError('the mailer is closed'));
    const idle = this.idle.pop();
    if (idle) {
      clearTimeout(idle.idleTimer);
      idle.socket()?.ref();
      return Promise.resolve(idle);
    }
    if (this.slots < this.size) {
      this.slots++;
      return Promise.resolve('slot');
    }
    return new Promise<Grant>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (granted) => {
          clearTimeout(timer);
          resolve(granted);
        },
        refuse: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(poolError(`all ${this.size} SMTP connections stayed busy for ${SMTP_POOL.waitTimeout / 1000} s (SMTP_POOL_SIZE)`));
      }, SMTP_POOL.waitTimeout);
      this.waiting.push(waiter);
    });
  }

  /** After a 250 for its message: to the next waiting send, else idle until it is taken or times out. */
  giveBack(connection: PooledConnection): void {
    if (this.closed || connection.fault) return this.retire(connection, { quit: true });
    const waiter = this.waiting.shift();
    if (waiter) return waiter.grant(connection);
    // Idle, it keeps no process alive: a worker that stops need not wait for it.
    connection.socket()?.unref();
    connection.idleTimer = setTimeout(() => this.retire(connection, { quit: true }), this.idleTimeoutMs);
    connection.idleTimer.unref();
    this.idle.push(connection);
  }

  /** Closes the connection (QUIT first when `quit`) and frees its slot. */
  retire(connection: PooledConnection, { quit = false } = {}): void {
    if (connection.retired) return;
    this.abandon(connection, { quit });
    this.freeSlot();
  }

  /** Closes the connection but keeps its slot, for a new connection in its place. */
  abandon(connection: PooledConnection, { quit = false } = {}): void {
    if (connection.retired) return;
    connection.retired = true;
    clearTimeout(connection.idleTimer);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    if (!connection.fault) {
      const closed: Promise<void> = new Promise<void>((resolve) => connection.smtp.once('end', () => resolve())).then(() => {
        this.closing.delete(closed);
      });
      this.closing.add(closed);
    }
    connection.shutdown(quit);
  }

  /** A connection broke: if it was idle, it leaves the pool now; a busy one leaves when its session ends. */
  dropIdle(connection: PooledConnection): void {
    if (this.idle.includes(connection)) this.retire(connection);
  }

  /** Every idle connection, politely (QUIT). */
  retireIdle(): void {
    for (const connection of [...this.idle]) this.retire(connection, { quit: true });
  }

  freeSlot(): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.grant('slot');
    else this.slots--;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.refuse(poolError('the mailer closed'));
    this.retireIdle();
    await Promise.all([...this.closing]);
  }
}

function poolError(message: string): SmtpError {
  // No reply code and nothing handed over: the send is retried, its row still reserved.
  return Object.assign(new Error(message), { command: 'CONN', code: 'EPOOL' });
}

function transmit(connection: PooledConnection, message: StoredMessage, beforeBody: () => Promise<void>): Promise<{ response: string }> {
  const { smtp } = connection;
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
          smtp.close();
          this.destroy();
          return false;
        },
      );
    },
  });
  const sent = new Promise<{ response: string }>((resolve, reject) => {
    smtp.send({ from: message.envelope.from, to: message.envelope.to }, body, (err, info) => {
      if (!err) return resolve({ response: info.response });
      if (!claim) failedBeforeBody = true;
      reject(err);
    });
  });
  return connection.step(sent).catch(async (err: SmtpError) => {
    const handedOff = (await claim) ?? false;
    if (refusal !== undefined) throw refusal;
    throw Object.assign(err, { handedOff });
  });
}
