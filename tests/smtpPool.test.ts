import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities, type SendStepInput, type SendStepResult } from '../activities';
import { createSmtpMailer } from '../activities/smtp';
import { compose, type Composition } from '../compose';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { listenOnLoopback } from './support/faultySmtp';
import { testConfig } from './support/journeyEnv';
import { suiteOutboxFolder } from './support/suiteOutbox';

// The send activity's SMTP connection pool against a real smtp-server on loopback that
// misbehaves on request. What the server sees and what the send ledger does go into one
// log, in the order they happen, so a test can tell where the hand-off (the claim, row
// `reserved` → `sending`) fell relative to MAIL FROM, a new connection and the message.

/** 250; 421 (then the close); the connection dropped; or no answer at all, as from a connection a NAT forgot. */
type MailAnswer = 'ok' | 'refuse' | 'drop' | 'silent';

interface PoolServerOptions {
  /** How the server answers the m-th MAIL FROM on its n-th connection. */
  onMail?: (connection: number, mail: number) => MailAnswer;
  /** A reply code (4xx/5xx) for a recipient, else accepted. */
  onRecipient?: (address: string) => number | undefined;
  /** A reply code for the n-th message once its body is in, else 250. */
  onMessage?: (n: number) => number | undefined;
  /** False for bare test messages, which the suite's check of every product email would refuse. */
  keepInSuiteOutbox?: boolean;
}

interface ServerConnection {
  session: { id: string };
  _socket: { destroy(): void };
  send(code: number, text: string): void;
  handler_RSET(command: unknown, callback: () => void): void;
  handler_QUIT(command: unknown, callback: () => void): void;
}

async function startPoolServer(log: string[], options: PoolServerOptions = {}) {
  const folder = options.keepInSuiteOutbox === false ? undefined : suiteOutboxFolder();
  const numbers = new Map<string, number>();
  const mails = new Map<number, number>();
  const open = new Set<number>();
  const messages: { to: string[]; connection: number }[] = [];
  let connects = 0;
  let mostOpen = 0;
  const connectionNo = (session: { id: string }) => numbers.get(session.id) ?? 0;
  const fail = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const connectionOf = (session: { id: string }) => [...(server as unknown as { connections: Set<ServerConnection> }).connections].find((c) => c.session.id === session.id);
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onConnect(session, callback) {
      const n = ++connects;
      numbers.set(session.id, n);
      open.add(n);
      mostOpen = Math.max(mostOpen, open.size);
      log.push(`server: connect #${n}`);
      const connection = connectionOf(session);
      if (connection) {
        const reset = connection.handler_RSET.bind(connection);
        connection.handler_RSET = (command, done) => {
          log.push(`server: RSET #${n}`);
          reset(command, done);
        };
        const quit = connection.handler_QUIT.bind(connection);
        connection.handler_QUIT = (command, done) => {
          log.push(`server: QUIT #${n}`);
          quit(command, done);
        };
      }
      callback();
    },
    onClose(session) {
      const n = connectionNo(session);
      if (!open.delete(n)) return;
      log.push(`server: close #${n}`);
    },
    onMailFrom(_address, session, callback) {
      const n = connectionNo(session);
      const mail = (mails.get(n) ?? 0) + 1;
      mails.set(n, mail);
      const answer = options.onMail?.(n, mail) ?? 'ok';
      log.push(`server: MAIL #${n}${answer === 'ok' ? '' : ` ${answer}`}`);
      if (answer === 'ok') return callback();
      // smtp-server closes the connection after any 421 it sends.
      if (answer === 'refuse') return callback(fail(421, 'Service not available, closing transmission channel'));
      if (answer === 'drop') connectionOf(session)?._socket.destroy();
    },
    onRcptTo(address, _session, callback) {
      const code = options.onRecipient?.(address.address);
      callback(code ? fail(code, `${code === 450 ? '4.2.0 Mailbox busy' : 'refused'}`) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const n = messages.push({ to: session.envelope.rcptTo.map((r) => r.address), connection: connectionNo(session) });
        log.push(`server: message #${connectionNo(session)}`);
        if (folder) writeFileSync(join(folder, `pool-${n}.eml`), Buffer.concat(chunks));
        const code = options.onMessage?.(n);
        callback(code ? fail(code, '4.3.0 Temporary failure after the message') : undefined);
      });
    },
  });
  return {
    url: await listenOnLoopback(server),
    messages,
    connects: () => connects,
    /** The most connections open at one time. */
    mostOpen: () => mostOpen,
    openConnections: () => [...open],
    /** Closes the n-th connection from the server's side as its idle timeout would: a 421, then the close. */
    closeIdle(n: number) {
      const id = [...numbers].find(([, number]) => number === n)?.[0];
      if (id) connectionOf({ id })?.send(421, 'Timeout - closing connection');
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The real store, every ledger change also written to `log`. */
function loggedLedger(store: Store, log: string[]): Store {
  return Object.assign(Object.create(store) as Store, {
    async reserveSend(...args: Parameters<Store['reserveSend']>) {
      const reservation = await store.reserveSend(...args);
      if (reservation.record) log.push(`ledger: ${args[0].customerId} reserved`);
      return reservation;
    },
    async claimSend(...args: Parameters<Store['claimSend']>) {
      const result = await store.claimSend(...args);
      if (result.status === 'claimed') log.push(`ledger: ${(await store.sendRecord(args[0].workflowId, args[0].stepId))?.customerId} sending`);
      return result;
    },
    async moveSend(...args: Parameters<Store['moveSend']>) {
      const moved = await store.moveSend(...args);
      if (moved) log.push(`ledger: ${(await store.sendRecord(args[0], args[1]))?.customerId} ${args[3].status}`);
      return moved;
    },
  });
}

const input = (customerId: string): SendStepInput => ({
  journeyId: 'cartAbandonment',
  topic: 'marketing',
  customerId,
  stepId: 'reminder1',
  template: { rules: [], fallback: 'reminder1' },
  event: {
    id: `evt-${customerId}`,
    type: 'cart.updated',
    customerId,
    properties: { cartId: 'c1', total: 129.5, currency: 'EUR', items: [{ name: 'Trail shoes', quantity: 1, price: 129.5 }] },
    occurredAt: new Date().toISOString(),
  },
});

/** Only the entries of one customer's row and of the server, in order. */
const of = (log: string[], customerId: string) => log.filter((line) => line.startsWith('server:') || line.startsWith(`ledger: ${customerId} `));

describe('the SMTP connection pool of the send activity', () => {
  let dir: string;
  let sqlite: Store;
  let log: string[];
  let app: Composition | undefined;
  let server: Awaited<ReturnType<typeof startPoolServer>> | undefined;

  /** The shipped send activity on the product's composition (its mailer, its pool), run as one attempt. */
  async function start(options: PoolServerOptions = {}, poolSize?: number) {
    server = await startPoolServer(log, options);
    const config = testConfig();
    app = await compose(poolSize ? { ...config, smtp: { ...config.smtp, poolSize } } : config, { store: loggedLedger(sqlite, log), smtpUrl: server.url });
    const { sendStep } = createActivities(app.activityDeps());
    const customers = new Set<string>();
    return async (customerId: string, attempt = 1): Promise<SendStepResult> => {
      if (!customers.has(customerId)) await sqlite.upsertProfiles([{ customerId, email: `${customerId}@example.com`, attributes: { firstName: 'Ada' } }]);
      customers.add(customerId);
      return new MockActivityEnvironment({ attempt, activityId: '1', workflowExecution: { workflowId: `cartAbandonment:${customerId}:c1`, runId: 'run-1' } }).run(sendStep, input(customerId)) as Promise<SendStepResult>;
    };
  }
  const statusOf = async (customerId: string) => (await sqlite.sendRecord(`cartAbandonment:${customerId}:c1`, 'reminder1'))?.status;
  const arrivals = (customerId: string) => server?.messages.filter((m) => m.to.includes(`${customerId}@example.com`)).length;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-pool-'));
    sqlite = openSqliteStore(join(dir, 'journeys.db'));
    log = [];
  });
  afterEach(async () => {
    // Closing the composition QUITs the pooled connections, so the server closes at once.
    await app?.close();
    await server?.close();
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
    app = undefined;
    server = undefined;
  });

  it('sends ten emails in a row over one connection, each starting with MAIL FROM (no RSET round trip), each arriving once', async () => {
    const send = await start();
    for (let i = 0; i < 10; i++) expect(await send(`seq-${i}`)).toMatchObject({ status: 'sent' });
    expect(server?.connects()).toBe(1);
    for (let i = 0; i < 10; i++) expect(arrivals(`seq-${i}`)).toBe(1);
    // A reused connection's transaction ended with its last message's 250, so MAIL FROM comes
    // first: to a remote relay each RSET was one more round trip per email.
    expect(log.filter((line) => line.startsWith('server: RSET'))).toEqual([]);
    expect(of(log, 'seq-3')).toEqual(expect.arrayContaining(['ledger: seq-3 reserved', 'ledger: seq-3 sending', 'ledger: seq-3 sent']));
    const at = (line: string) => log.indexOf(line);
    expect(at('ledger: seq-3 reserved')).toBeLessThan(at('ledger: seq-3 sending'));
    expect(log.slice(at('ledger: seq-3 reserved'), at('ledger: seq-3 sending'))).toEqual(['ledger: seq-3 reserved', 'server: MAIL #1']);

    // The composition's close QUITs the idle connection.
    await app?.close();
    app = undefined;
    await vi.waitFor(() => expect(server?.openConnections()).toEqual([]), { timeout: 5_000 });
    expect(log.slice(-2)).toEqual(['server: QUIT #1', 'server: close #1']);
  });

  it('uses at most SMTP_POOL_SIZE connections for ten sends at once, one send per connection at a time', async () => {
    const send = await start({}, 2);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`burst-${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill('sent'));
    expect(server?.connects()).toBe(2);
    expect(server?.mostOpen()).toBe(2);
    for (let i = 0; i < 10; i++) expect(arrivals(`burst-${i}`)).toBe(1);
    for (let i = 0; i < 10; i++) expect(await statusOf(`burst-${i}`)).toBe('sent');
  });

  it('opens a new connection when the server closed the idle one, and delivers once: reserved → sending → sent', async () => {
    const send = await start();
    expect(await send('first')).toMatchObject({ status: 'sent' });
    // The server's idle timeout: a 421 and the close, while the connection sits in the pool.
    server?.closeIdle(1);
    await vi.waitFor(() => expect(server?.openConnections()).toEqual([]));

    expect(await send('after-idle')).toMatchObject({ status: 'sent' });
    expect(server?.connects()).toBe(2);
    expect(arrivals('after-idle')).toBe(1);
    expect(of(log, 'after-idle').slice(of(log, 'after-idle').indexOf('ledger: after-idle reserved'))).toEqual([
      'ledger: after-idle reserved',
      'server: connect #2',
      'server: MAIL #2',
      'ledger: after-idle sending',
      'server: message #2',
      'ledger: after-idle sent',
    ]);
  });

  it('finds at MAIL FROM a pooled connection the server dropped, keeps the row reserved and delivers once over a new one', async () => {
    // The client has not noticed yet: the connection breaks as its second MAIL FROM arrives.
    const send = await start({ onMail: (n, mail) => (n === 1 && mail === 2 ? 'drop' : 'ok') });
    expect(await send('first')).toMatchObject({ status: 'sent' });

    expect(await send('dropped-at-mail')).toMatchObject({ status: 'sent' });
    expect(server?.connects()).toBe(2);
    expect(arrivals('dropped-at-mail')).toBe(1);
    const seen = of(log, 'dropped-at-mail');
    expect(seen.slice(seen.indexOf('ledger: dropped-at-mail reserved')).filter((line) => !line.startsWith('server: close'))).toEqual([
      'ledger: dropped-at-mail reserved',
      'server: MAIL #1 drop',
      'server: connect #2',
      'server: MAIL #2',
      'ledger: dropped-at-mail sending',
      'server: message #2',
      'ledger: dropped-at-mail sent',
    ]);
    expect(await statusOf('dropped-at-mail')).toBe('sent');
  });

  it('drops a pooled connection whose server answers MAIL FROM with 421 and delivers once over a new one', async () => {
    const send = await start({ onMail: (n, mail) => (n === 1 && mail === 2 ? 'refuse' : 'ok') });
    expect(await send('first')).toMatchObject({ status: 'sent' });

    expect(await send('refused-mail')).toMatchObject({ status: 'sent' });
    expect(server?.connects()).toBe(2);
    expect(arrivals('refused-mail')).toBe(1);
    const seen = of(log, 'refused-mail');
    expect(seen.slice(seen.indexOf('ledger: refused-mail reserved')).filter((line) => !line.startsWith('server: close'))).toEqual([
      'ledger: refused-mail reserved',
      'server: MAIL #1 refuse',
      'server: connect #2',
      'server: MAIL #2',
      'ledger: refused-mail sending',
      'server: message #2',
      'ledger: refused-mail sent',
    ]);
    // Connection 1 carried nothing after the refused MAIL FROM, and is gone.
    await vi.waitFor(() => expect(server?.openConnections()).toEqual([2]));
    expect(log.filter((line) => line.endsWith('#1')).at(-1)).toBe('server: close #1');
  });

  it('fails the attempt, the row still reserved, when a new connection answers MAIL FROM with 421', async () => {
    // Only a pooled connection may have died while idle; a fresh one's 421 is the server's answer.
    const send = await start({ onMail: (n) => (n === 1 ? 'refuse' : 'ok') });
    await expect(send('fresh-421', 1)).rejects.toThrow(/SMTP: .*421/);
    expect(await statusOf('fresh-421')).toBe('reserved');
    expect(server?.connects()).toBe(1);
    expect(await send('fresh-421', 2)).toMatchObject({ status: 'sent' });
    expect(arrivals('fresh-421')).toBe(1);
  });

  it('closes a connection whose message got an error after the claim, and never uses it again', async () => {
    // The first message is answered 451 after its body: the claim was made, nothing delivered.
    const send = await start({ onMessage: (n) => (n === 1 ? 451 : undefined) });
    await expect(send('after-claim', 1)).rejects.toThrow(/SMTP: .*451/);
    expect(await statusOf('after-claim')).toBe('reserved');
    await vi.waitFor(() => expect(log).toContain('server: close #1'));

    // The retry, and another send: both on a new connection; connection 1 saw nothing more.
    expect(await send('after-claim', 2)).toMatchObject({ status: 'sent' });
    expect(await send('next')).toMatchObject({ status: 'sent' });
    expect(server?.connects()).toBe(2);
    expect(server?.messages.map((m) => [m.to[0], m.connection])).toEqual([
      ['after-claim@example.com', 1],
      ['after-claim@example.com', 2],
      ['next@example.com', 2],
    ]);
    const first = log.filter((line) => line.endsWith(' #1'));
    expect(first).toEqual(['server: connect #1', 'server: MAIL #1', 'server: message #1', 'server: close #1']);
    expect(of(log, 'after-claim').filter((line) => line.startsWith('ledger:'))).toEqual([
      'ledger: after-claim reserved',
      'ledger: after-claim sending',
      'ledger: after-claim reserved',
      'ledger: after-claim sending',
      'ledger: after-claim sent',
    ]);
  });

  it('closes a connection whose recipient was refused before the claim, and never uses it again', async () => {
    let busy = true;
    const send = await start({ onRecipient: (address) => (address === 'busy@example.com' && busy ? 450 : undefined) });
    await expect(send('busy', 1)).rejects.toThrow(/SMTP: .*450/);
    busy = false;
    expect(await statusOf('busy')).toBe('reserved');
    await vi.waitFor(() => expect(log).toContain('server: close #1'));
    expect(await send('busy', 2)).toMatchObject({ status: 'sent' });
    expect(server?.connects()).toBe(2);
    expect(log.filter((line) => line.endsWith(' #1'))).toEqual(['server: connect #1', 'server: MAIL #1', 'server: close #1']);
    expect(of(log, 'busy').filter((line) => line.startsWith('ledger:'))).toEqual(['ledger: busy reserved', 'ledger: busy sending', 'ledger: busy sent']);
  });
});

describe('an idle pooled connection', () => {
  it('that answers nothing to MAIL FROM (a NAT forgot it) is closed after the reuse timeout, and the send goes on over a new one', async () => {
    const log: string[] = [];
    const server = await startPoolServer(log, { keepInSuiteOutbox: false, onMail: (n, mail) => (n === 1 && mail === 2 ? 'silent' : 'ok') });
    const mailer = createSmtpMailer({ url: server.url, reuseTimeoutMs: 300 });
    try {
      const message = await mailer.compose({ from: 'hello@shop.example.com', to: 'nat@example.com', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi', messageId: '<nat@journeys>', headers: {} });
      for (let send = 1; send <= 2; send++) {
        const session = await mailer.open();
        const handOffs = log.length;
        await session.send(message, async () => void log.push('client: hand-off'));
        session.release();
        expect(log.slice(handOffs).filter((line) => line === 'client: hand-off')).toHaveLength(1);
      }
      expect(server.messages.map((m) => m.connection)).toEqual([1, 2]);
      expect(log.filter((line) => !line.startsWith('server: close'))).toEqual([
        'server: connect #1',
        'server: MAIL #1',
        'client: hand-off',
        'server: message #1',
        'server: MAIL #1 silent',
        'server: connect #2',
        'server: MAIL #2',
        'client: hand-off',
        'server: message #2',
      ]);
      await vi.waitFor(() => expect(server.openConnections()).toEqual([2]));
    } finally {
      await mailer.close();
      await server.close();
    }
  });

  it('is closed with QUIT after the idle timeout', async () => {
    const log: string[] = [];
    const server = await startPoolServer(log, { keepInSuiteOutbox: false });
    const mailer = createSmtpMailer({ url: server.url, idleTimeoutMs: 200 });
    try {
      const message = await mailer.compose({ from: 'hello@shop.example.com', to: 'idle@example.com', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi', messageId: '<idle@journeys>', headers: {} });
      const session = await mailer.open();
      await session.send(message, async () => undefined);
      session.release();
      expect(server.openConnections()).toEqual([1]);
      await vi.waitFor(() => expect(server.openConnections()).toEqual([]), { timeout: 3_000 });
      expect(log.slice(-2)).toEqual(['server: QUIT #1', 'server: close #1']);
      // The next send opens a new connection.
      const next = await mailer.open();
      await next.send(message, async () => undefined);
      next.release();
      expect(server.connects()).toBe(2);
    } finally {
      await mailer.close();
      await server.close();
    }
  });
});
