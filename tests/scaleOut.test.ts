import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Semaphore } from '../app/semaphore';
import { cacheDir } from '../config/cacheDir';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { openStore } from '../store/open';
import type { SendRecord, SendStatus, Store } from '../store/types';
import { cachedWorkflowBundle } from '../worker/bundle';
import { stateQuery } from '../workflows/messages';
import { startFaultySmtp, type FaultySmtp } from './support/faultySmtp';
import { requiredEnv, TEST_UNSUBSCRIBE } from './support/journeyEnv';
import { freePort } from './support/ports';
import { freshPostgresDatabase } from './support/postgres';
import { roleProcesses, type RoleProcess } from './support/roleProcess';

// The product as it runs beyond one machine: two `journeys api` and two `journeys worker`
// processes sharing one PostgreSQL store and one Temporal (the dev server), sending to a real
// SMTP server on loopback that answers each message after 50 ms. Waits are 3,600× shorter,
// so each first reminder is due a second after its cart; the daily cap of one marketing email
// is not scaled, so over the whole test every customer may get one email and no more.
const CUSTOMERS = 480;
/** Customers with two carts at once: two journeys racing for the one daily slot, on two workers. */
const RACERS = Array.from({ length: 20 }, (_, n) => n * 5);
const JOURNEYS = CUSTOMERS + RACERS.length;
const IN_FLIGHT = 16;
const KILL_AT_MESSAGE = 150;
const DAY_MS = 24 * 60 * 60 * 1000;

const customerId = (i: number) => `scale-${i}`;
const cartEvent = (i: number, cartId: string) => ({ id: `${cartId}-evt`, type: 'cart.updated', customerId: customerId(i), properties: { cartId, total: 40, currency: 'EUR', items: [] } });
const workflowIdOf = (i: number, cartId: string) => `cartAbandonment:${customerId(i)}:${cartId}`;

describe('two APIs and two workers on one PostgreSQL store, one worker killed mid-burst', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-scale-'));
  const roles = roleProcesses();
  let devServer: DevServer | undefined;
  let smtp: FaultySmtp | undefined;
  let database: { url: string; drop(): Promise<void> } | undefined;
  let store: Store | undefined;
  let connection: Connection | undefined;
  let apis: string[] = [];
  let workers: RoleProcess[] = [];
  /** When the worker was killed (performance.now()). */
  let killedAt: number | undefined;
  let inProgressAtKill = -1;
  /** Ledger rows mid-hand-off right after the kill: the killed worker's stay so until its sends are retried, 20 s later. */
  let sendingAtKill: Promise<number> | undefined;

  beforeAll(async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    [devServer, smtp, database] = await Promise.all([
      startDevServer({ cliPath: requiredEnv('TEMPORAL_CLI_PATH'), ip: '127.0.0.1', port, uiPort, dbFile: join(dir, 'temporal.db'), log: () => {} }),
      startFaultySmtp({
        replyDelayMs: 50,
        onBody: (n) => {
          if (n !== KILL_AT_MESSAGE) return;
          inProgressAtKill = smtp?.inProgress() ?? -1;
          workers[0].kill();
          sendingAtKill = store?.sendsWithStatus('sending', 10_000).then((rows) => rows.length);
          killedAt = performance.now();
        },
      }),
      freshPostgresDatabase(),
      // Built once per code change: here, so the two workers do not both run webpack on two cores.
      cachedWorkflowBundle(cacheDir()),
    ]);
    const env = {
      ...process.env,
      DATA_DIR: dir,
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: `scale-out-${randomBytes(4).toString('hex')}`,
      SMTP_URL: smtp.url,
      UNSUBSCRIBE_KEYS: TEST_UNSUBSCRIBE.keys.map(({ id, secret }) => `${id}:${secret}`).join(','),
      PUBLIC_URL: TEST_UNSUBSCRIBE.publicUrl,
      MAIL_FROM: 'Shop <hello@shop.example.com>',
      JOURNEY_WAIT_SCALE: '3600',
      QUIET_HOURS: 'off',
      FREQUENCY_CAPS: 'marketing:1/24h',
    };
    const apiPorts = [await freePort(), await freePort()];
    const publicPorts = [await freePort(), await freePort()];
    // All four at once on an empty database: the migrations run once, under their lock.
    const started = await Promise.all([
      roles.start('worker', env),
      roles.start('worker', env),
      ...apiPorts.map((p, i) => roles.start('api', { ...env, HOST: '127.0.0.1', PORT: String(p), PUBLIC_PORT: String(publicPorts[i]) })),
    ]);
    workers = started.slice(0, 2);
    apis = apiPorts.map((p) => `http://127.0.0.1:${p}`);
    store = await openStore({ databaseUrl: database.url, storeFile: join(dir, 'unused.db') });
    connection = await Connection.connect({ address: devServer.address });
  }, 180_000);

  afterAll(async () => {
    await roles.stopAll();
    await connection?.close();
    await store?.close();
    await smtp?.close();
    await devServer?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (api: string, path: string, body: unknown) => {
    const response = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  /** Every ledger row, whatever its state. */
  const ledger = async (): Promise<SendRecord[]> => {
    const statuses: SendStatus[] = ['reserved', 'sending', 'sent', 'skipped', 'in_doubt', 'failed'];
    return (await Promise.all(statuses.map((status) => store!.sendsWithStatus(status, 10_000)))).flat();
  };

  it('sends every first reminder once, holds the daily cap across workers, and leaves in doubt at most what the killed worker was handing over', async () => {
    const load = loadavg()[0];
    const burstStarted = performance.now();
    // Profiles and carts through both APIs in turn; a racer's two carts go to both at once.
    const limit = new Semaphore(IN_FLIGHT);
    const answers = await Promise.all(
      Array.from({ length: CUSTOMERS }, (_, i) =>
        limit.run(async () => {
          const profile = await post(apis[i % 2], '/v1/profiles', { customerId: customerId(i), email: `${customerId(i)}@example.com`, attributes: {} });
          const carts = RACERS.includes(i) ? [`cart-${i}`, `cart-${i}-second`] : [`cart-${i}`];
          const events = await Promise.all(carts.map((cartId, n) => post(apis[(i + 1 + n) % 2], '/v1/events', cartEvent(i, cartId))));
          return { profile, events: events.map((event, n) => ({ ...event, expected: workflowIdOf(i, carts[n]) })) };
        }),
      ),
    );
    const startsSeconds = (performance.now() - burstStarted) / 1000;
    expect(answers.filter((a) => a.profile.status !== 200)).toEqual([]);
    const events = answers.flatMap((a) => a.events);
    expect(events.length).toBe(JOURNEYS);
    expect(events.filter((e) => e.status !== 202 || JSON.stringify(e.body.started) !== JSON.stringify([e.expected]) || e.body.routingPending)).toEqual([]);

    const killMoment = await vi.waitFor(
      () => killedAt ?? Promise.reject(new Error(`no kill yet: the SMTP server has ${smtp!.messages.length} messages, not ${KILL_AT_MESSAGE}`)),
      { timeout: 120_000, interval: 200 },
    );
    const sendingRows = await sendingAtKill;
    // The killed worker's sends are run again by the other one once their workflow tasks time out (10 s).
    const settled = (rows: SendRecord[]) => new Set(rows.filter((s) => s.stepId === 'reminder1' && (s.status === 'sent' || s.status === 'in_doubt')).map((s) => s.customerId));
    await vi.waitFor(async () => expect(settled(await ledger()).size).toBe(CUSTOMERS), { timeout: 150_000, interval: 1_000 });
    const burstSeconds = (performance.now() - burstStarted) / 1000;

    const rows = await ledger();
    const reminder1 = rows.filter((s) => s.stepId === 'reminder1');
    const inDoubt = rows.filter((s) => s.status === 'in_doubt');
    const perRecipient = new Map<string, string[]>();
    for (const { to, journeyStep } of smtp!.messages) for (const address of to) perRecipient.set(address, [...(perRecipient.get(address) ?? []), journeyStep ?? '?']);
    const duplicates = [...perRecipient.values()].reduce((sum, steps) => sum + steps.length - 1, 0);

    // Which worker ran each racer's send: the identity (`<pid>@<host>`) its history records, of
    // the workflow task that ran it as a local activity (or of the activity it went on as).
    const client = new Client({ connection: connection! });
    const workerOf = async (workflowId: string) => {
      const history = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const byId = (id: unknown) => history.find((e) => String(e.eventId) === String(id));
      const marker = history.find((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
      const scheduled = history.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendStep')?.eventId;
      const identity =
        (marker ? byId(marker.markerRecordedEventAttributes?.workflowTaskCompletedEventId)?.workflowTaskCompletedEventAttributes?.identity : undefined) ??
        history.find((e) => scheduled && String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled))?.activityTaskStartedEventAttributes?.identity ??
        '';
      return workers.findIndex((w) => identity.startsWith(`${w.pid}@`));
    };
    const races = await Promise.all(
      RACERS.map(async (i) => {
        const pair = [workflowIdOf(i, `cart-${i}`), workflowIdOf(i, `cart-${i}-second`)];
        const rowsOfCustomer = reminder1.filter((s) => s.customerId === customerId(i));
        const loser = pair.find((id) => id !== rowsOfCustomer[0]?.workflowId) ?? pair[1];
        const state = await client.workflow.getHandle(loser).query(stateQuery);
        const [a, b] = await Promise.all(pair.map(workerOf));
        return {
          customerId: customerId(i),
          ledgerRows: rowsOfCustomer.length,
          step: state.currentStep,
          outcome: state.history.filter((h) => h.stepId === 'reminder1').at(-1)?.outcome ?? '',
          deferredFor: Date.parse(state.nextWakeAt ?? '') - Date.parse(rowsOfCustomer[0]?.createdAt ?? ''),
          onTwoWorkers: a >= 0 && b >= 0 && a !== b,
        };
      }),
    );
    const racesOnTwoWorkers = races.filter((r) => r.onTwoWorkers).length;

    console.log(
      [
        `scale-out: 2 APIs, 2 workers, 1 PostgreSQL, 1 Temporal dev server; load average ${load.toFixed(2)} on entry, ${loadavg()[0].toFixed(2)} at the end`,
        `  journeys started       ${JOURNEYS} (${CUSTOMERS} customers, ${RACERS.length} with two carts) in ${startsSeconds.toFixed(1)} s through the APIs (${(JOURNEYS / startsSeconds).toFixed(0)}/s)`,
        `  emails received        ${smtp!.messages.length} (${perRecipient.size} recipients), duplicates ${duplicates}`,
        `  SIGKILL at message     ${KILL_AT_MESSAGE}, ${((killMoment - burstStarted) / 1000).toFixed(1)} s into the burst: ${inProgressAtKill} SMTP transactions in progress, ${sendingRows} ledger rows sending`,
        `  in doubt               ${inDoubt.length}, of which the SMTP server has ${inDoubt.filter((s) => perRecipient.has(`${s.customerId}@example.com`)).length}; ${rows.filter((s) => s.status === 'sent').length} sent`,
        `  cap races              ${RACERS.length}, ${racesOnTwoWorkers} of them on two workers; one email each, the other send deferred a day`,
        `  burst wall time        ${burstSeconds.toFixed(1)} s from the first request until every customer's reminder1 was sent or in doubt`,
      ].join('\n'),
    );

    // Each customer got one email at most (the cap), never a copy; every `sent` row's email arrived.
    expect(duplicates).toBe(0);
    expect([...perRecipient.values()].filter((steps) => steps.join() !== 'reminder1')).toEqual([]);
    for (const row of reminder1.filter((s) => s.status === 'sent')) expect(perRecipient.get(`${row.customerId}@example.com`), row.customerId).toEqual(['reminder1']);
    // One reminder1 row per customer, none failed; the only rows in doubt are the kill's.
    expect(reminder1.length).toBe(CUSTOMERS);
    expect(rows.filter((s) => s.status === 'failed' || s.status === 'skipped')).toEqual([]);
    expect(inDoubt.every((s) => s.stepId === 'reminder1' && /stopped while handing the email/.test(s.reason ?? ''))).toBe(true);
    expect(inDoubt.length).toBeLessThanOrEqual(inProgressAtKill);
    expect(inDoubt.length).toBeLessThanOrEqual(sendingRows ?? -1);
    // The racers: one journey of each has the customer's only reminder1 row; the other's
    // reminder1 waits a day, until the first send leaves the cap's window.
    for (const race of races) {
      expect(race, race.customerId).toMatchObject({ ledgerRows: 1, step: 'reminder1', deferredFor: DAY_MS });
      expect(race.outcome, race.customerId).toMatch(/^deferred until \S+: frequency cap 1 per 24h on marketing$/);
    }
    expect(racesOnTwoWorkers).toBeGreaterThan(0);
  }, 240_000);
});
