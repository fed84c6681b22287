import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compose, type Composition } from '../compose';
import { configFromEnv, PROJECT_ROOT } from '../config';
import { runCli } from '../cli';
import { Captured } from './support/captured';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { startFaultySmtp, type FaultySmtp } from './support/faultySmtp';
import { requiredEnv, TEST_UNSUBSCRIBE } from './support/journeyEnv';
import { freePort } from './support/ports';

// The worker as its own process (`npm run worker`), on the real Temporal dev server, sending
// to a real SMTP server on loopback that answers each message after 150 ms, and for three
// customers takes the message and drops the connection instead. Waits are 3,600× shorter,
// so the first reminder is due a second after its cart.
const CUSTOMERS = 40;
const KILL_AT_MESSAGE = 10;
const DROPPED = ['crash-5@example.com', 'crash-22@example.com', 'crash-33@example.com'];

describe('a worker killed with SIGKILL in the middle of a burst of first reminders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-crash-'));
  const workers: ChildProcess[] = [];
  let devServer: DevServer;
  let smtp: FaultySmtp;
  let connected: Composition;
  let env: NodeJS.ProcessEnv;
  let killed: () => void;
  const killedAt = new Promise<void>((resolve) => (killed = resolve));
  let inProgressAtKill = -1;

  const startWorker = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'worker', 'main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    workers.push(child);
    const output: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('polling')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before polling:\n${output.join('')}`)));
    });
    return child;
  };

  beforeAll(async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    devServer = await startDevServer({ cliPath: requiredEnv('TEMPORAL_CLI_PATH'), ip: '127.0.0.1', port, uiPort, dbFile: join(dir, 'temporal.db'), log: () => {} });
    const dropped = new Set<string>();
    smtp = await startFaultySmtp({
      replyDelayMs: 150,
      dropAfterBody: ({ to }) => DROPPED.includes(to[0]) && !dropped.has(to[0]) && Boolean(dropped.add(to[0])),
      onBody: (n) => {
        if (n !== KILL_AT_MESSAGE) return;
        inProgressAtKill = smtp.inProgress();
        workers[0].kill('SIGKILL');
        killed();
      },
    });
    env = {
      ...process.env,
      DATA_DIR: dir,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: 'crash-test',
      SMTP_URL: smtp.url,
      // Real email needs an https PUBLIC_URL for its unsubscribe links.
      PUBLIC_URL: TEST_UNSUBSCRIBE.publicUrl,
      JOURNEY_WAIT_SCALE: '3600',
      QUIET_HOURS: 'off',
    };
    connected = await compose(configFromEnv(env));
  }, 180_000);

  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await connected?.close();
    await smtp?.close();
    await devServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends no step twice and leaves in doubt only the sends the killed worker was handing over and those the server dropped', async () => {
    await startWorker();
    for (let i = 0; i < CUSTOMERS; i++) {
      const customerId = `crash-${i}`;
      await connected.journeys.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: {} });
      await connected.journeys.ingest({ id: `cart-${i}`, type: 'cart.updated', customerId, properties: { cartId: `c${i}`, total: 20, items: [] } });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await killedAt;
    const reminder1 = async () => (await Promise.all(Array.from({ length: CUSTOMERS }, (_, i) => connected.store.sendsOf(`crash-${i}`)))).flat().filter((s) => s.stepId === 'reminder1');
    // What the killed worker left mid-hand-off, read once it is gone and before another worker
    // can retry: its message reached the server, but whether it was accepted the worker never
    // recorded (still in progress, or answered after the worker's last instant).
    if (workers[0].exitCode === null && workers[0].signalCode === null) await new Promise((resolve) => workers[0].once('exit', resolve));
    const handingOverAtKill = (await reminder1()).filter((s) => s.status === 'sending').map((s) => `${s.customerId}@example.com`);
    const bodiesAtKill = smtp.bodiesStarted();
    await startWorker();

    // The killed worker's sends end with their workflow tasks' timeout (10 s), then the new worker runs them again.
    await vi.waitFor(async () => expect((await reminder1()).filter((s) => s.status === 'sent' || s.status === 'in_doubt').length).toBe(CUSTOMERS), { timeout: 120_000, interval: 500 });

    const rows = await reminder1();
    const inDoubt = rows.filter((s) => s.status === 'in_doubt');
    const copies = new Map<string, number>();
    for (const message of smtp.messages) {
      const key = `${message.to.join(',')} ${message.journeyStep}`;
      copies.set(key, (copies.get(key) ?? 0) + 1);
    }
    const withReminder1 = [...copies.keys()].filter((key) => key.endsWith(' reminder1')).length;
    console.log(
      `SIGKILL at message ${KILL_AT_MESSAGE}: ${inProgressAtKill} SMTP transactions in progress, ${handingOverAtKill.length} ledger rows sending, ${DROPPED.length} dropped by the server after the message, ` +
        `${inDoubt.length} ledger rows in doubt, ${rows.length - inDoubt.length} sent, ${withReminder1} of ${CUSTOMERS} customers have their first reminder`,
    );
    expect([...copies.entries()].filter(([, n]) => n > 1)).toEqual([]);
    // A row goes `sending` only at the hand-off, and nothing but a hand-off the worker died in, or one the server cut off, is left in doubt.
    for (const address of handingOverAtKill) expect(bodiesAtKill).toContain(address);
    expect(inDoubt.map((s) => `${s.customerId}@example.com`).filter((address) => !handingOverAtKill.includes(address) && !DROPPED.includes(address))).toEqual([]);
    for (const address of DROPPED) expect(inDoubt.map((s) => `${s.customerId}@example.com`)).toContain(address);

    // What an operator sees: every send in doubt, with what to do about it.
    const stdout = new Captured();
    const code = await runCli(['sends', '--status', 'in_doubt'], {
      connect: () => Promise.reject(new Error('listing needs only the store')),
      openStore: async () => ({ store: connected.store, close: async () => undefined }),
      stdout,
      stderr: new Captured(),
    });
    console.log(`$ journeys sends --status in_doubt\n${stdout.text}`);
    expect(code).toBe(0);
    for (const row of inDoubt) expect(stdout.text).toContain(row.workflowId);
    // Every customer not in doubt got the reminder exactly once.
    expect(withReminder1).toBeGreaterThanOrEqual(CUSTOMERS - inDoubt.length);
  }, 180_000);
});
