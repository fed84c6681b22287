import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import type { IngestResult, JourneyClient, SegmentChange } from '../../app/journeyClient';
import { compose, type Composition, type Overrides } from '../../compose';
import { startWorkerRole } from '../../compose/roles';
import { DEFAULT_MAX_CACHED_WORKFLOWS, PROJECT_ROOT, readConfig, type Config } from '../../config';
import { loadCatalogue, type Catalogue } from '../../journeys';
import type { OutboxOptions } from '../../scripts/outbox';
import { openSqliteStore } from '../../store/sqlite';
import type { Store } from '../../store/types';
import { journeyWorkflowBundle } from '../../worker';
import { startMailbox, type Mailbox } from './mail';

let runtimeInstalled = false;
/** What the worker logged at WARN and above in this test process, for tests of alerts. */
export const workerLogs: LogEntry[] = [];
/** Worker logs at WARN, so a test's output shows what went wrong rather than every state change. */
export function quietRuntime() {
  if (runtimeInstalled) return;
  const print = new DefaultLogger('WARN');
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      workerLogs.push(entry);
      print.log(entry.level, entry.message, entry.meta);
    }),
  });
  runtimeInstalled = true;
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\`, whose global setup provides the Temporal servers`);
  return value;
}

/** Test-only faults injected into the real store, to stand for a crash at a chosen point. */
export interface Faults {
  /** Fail this many `sent` ledger updates, as a worker that dies right after the SMTP server accepted would. */
  failAfterSmtpAccepted: number;
  /** Fail this many attempts right after `sent` is recorded, as a worker that dies before reporting to Temporal would. */
  failAfterSentRecorded: number;
}

function withFaults(store: Store, faults: Faults): Store {
  return Object.assign(Object.create(store) as Store, {
    async moveSend(...args: Parameters<Store['moveSend']>) {
      const sent = args[3].status === 'sent';
      if (sent && faults.failAfterSmtpAccepted > 0) {
        faults.failAfterSmtpAccepted--;
        throw new Error('worker lost after SMTP accepted the message');
      }
      const moved = await store.moveSend(...args);
      if (sent && moved && faults.failAfterSentRecorded > 0) {
        faults.failAfterSentRecorded--;
        throw new Error('worker lost after recording the send, before reporting it');
      }
      return moved;
    },
  });
}

export interface JourneyEnv {
  env: TestWorkflowEnvironment;
  store: Store;
  mailbox: Mailbox;
  /** The current deploy: its client, its policy and its worker. */
  app: Composition;
  client: JourneyClient;
  faults: Faults;
  /** What the background segment recomputation did for the customer since last asked: the runs a segment change started, signalled or left unstarted. */
  segmentChangesOf(customerId: string): IngestResult[];
  /** Another composition on this environment's store and Temporal (a client on other journeys, say), without a worker. */
  compose(overrides?: Overrides): Promise<Composition>;
  /** Stops the worker and starts a new one, and a new client, on another catalogue: a deploy of edited journeys. */
  redeploy(catalogue: Catalogue): Promise<void>;
  close(): Promise<void>;
}

/**
 * The time-skipping Temporal test server, a real worker running the shipped catalogue,
 * a SQLite store in a temp folder and an SMTP server on loopback.
 */
export interface JourneyEnvOptions {
  /** Frequency caps as the FREQUENCY_CAPS setting has them, e.g. [{ topic: 'marketing', max: 1, window: '24h' }]. */
  frequencyCaps?: Config['frequencyCaps'];
  /** Topics under the opt-in regime (no consent record means no email). */
  optInTopics?: string[];
  /** Off unless a test is about them, so journey timings elsewhere read plainly. */
  quietHours?: Config['quietHours'];
  /** SMTP server behaviour, e.g. refusing a recipient. */
  mailbox?: OutboxOptions;
  /** False for tests that redeploy (see `redeploy`). */
  cacheWorkflows?: boolean;
  /** Another SMTP server the worker sends to instead of the mailbox (one that misbehaves). */
  smtpUrl?: string;
  /** The journeys the worker and client run: the shipped catalogue when absent, test fixtures otherwise. */
  catalogue?: Catalogue;
  /** The client's clock, for tests in which events arrive as they happen on a day of the test's choosing; the real clock when absent. */
  now?: () => Date;
}

/** The unsubscribe links of the test suite: signed with a fixed test key, pointing at a fixed public address. */
export const TEST_UNSUBSCRIBE = {
  keys: [{ id: 'test', secret: 'test-secret-that-is-at-least-32-characters' }],
  publicUrl: 'https://journeys.test',
  mailto: 'unsubscribe@shop.example.com',
};

/** The suite's settings: the product's defaults with the suite's addresses, and the send policies a test asks for. */
export function testConfig(options: Pick<JourneyEnvOptions, 'frequencyCaps' | 'optInTopics' | 'quietHours' | 'cacheWorkflows'> = {}): Config {
  const env = { TEMPORAL_TASK_QUEUE: 'journeys-test', MAIL_FROM: 'Shop <hello@shop.example.com>', PUBLIC_URL: TEST_UNSUBSCRIBE.publicUrl, UNSUBSCRIBE_MAILTO: TEST_UNSUBSCRIBE.mailto };
  const config = readConfig(env, PROJECT_ROOT);
  return {
    ...config,
    unsubscribe: { ...config.unsubscribe, keys: TEST_UNSUBSCRIBE.keys },
    consent: { optInTopics: options.optInTopics ?? [] },
    frequencyCaps: options.frequencyCaps ?? [],
    quietHours: options.quietHours,
    // A stopped worker's sticky queue would hold the next task of its cached runs for its
    // timeout, which the time-skipping server never lets pass: tests that redeploy cache none.
    maxCachedWorkflows: options.cacheWorkflows === false ? 0 : DEFAULT_MAX_CACHED_WORKFLOWS,
  };
}

/** The calls that take the client's clock, each preceded by reading Temporal's time. */
const CLOCKED = new Set(['ingest', 'ingestBatch', 'upsertProfile', 'sweepSegments', 'routePendingEvents', 'changeConsent', 'suppress', 'erase', 'resolveSend']);

function followServerTime(client: JourneyClient, sync: () => Promise<void>): JourneyClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !CLOCKED.has(String(property))) return value;
      return async (...args: unknown[]) => {
        await sync();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * The calls after which a customer's segments change. JourneyClient recomputes segments in the
 * background, after the call returns; the suite waits for that (`settle`) before it goes on,
 * so the segment events and the runs they start exist when the next line looks.
 */
const SETTLED = new Set(['ingest', 'ingestBatch', 'upsertProfile']);

function settlingSegments(client: JourneyClient, seen: SegmentChange[]): JourneyClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !SETTLED.has(String(property))) return value;
      return async (...args: unknown[]) => {
        const answer: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
        seen.push(...(await target.settle()));
        return answer;
      };
    },
  });
}

export async function startJourneyEnv(options: JourneyEnvOptions = {}): Promise<JourneyEnv> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requiredEnv('TEMPORAL_TEST_SERVER_PATH') } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'journeys-test-'));
  const faults: Faults = { failAfterSmtpAccepted: 0, failAfterSentRecorded: 0 };
  const sqlite = openSqliteStore(join(dir, 'journeys.db'));
  const store = withFaults(sqlite, faults);
  const mailbox = await startMailbox(options.mailbox);
  const config = testConfig(options);
  // Events are accepted on Temporal's clock, as the workflows and activities run on it: on the
  // real clock a test's "61 days ago" would be in the future once the server has skipped ahead.
  // The offset is read before each call that accepts something (see `followServerTime`).
  let offset = 0;
  const syncClock = async () => {
    offset = (await env.currentTimeMs()) - Date.now();
  };
  await syncClock();
  const shared: Overrides = {
    store,
    smtpUrl: options.smtpUrl ?? mailbox.url,
    clock: options.now ?? (() => new Date(Date.now() + offset)),
    workerClock: async () => new Date(await env.currentTimeMs()),
    temporal: { client: env.client, workerConnection: env.nativeConnection },
    workflowBundle: await journeyWorkflowBundle(),
  };
  const others: Composition[] = [];

  /** A client and a worker on one catalogue, as one deploy of the product would run them. */
  const deploy = async (catalogue: Catalogue) => {
    const app = await compose(config, { ...shared, catalogue });
    await startWorkerRole(app);
    return app;
  };

  const first = await deploy(options.catalogue ?? loadCatalogue());
  await first.ensureSearchAttributes();
  const segmentChanges: SegmentChange[] = [];
  const journeyEnv: JourneyEnv = {
    env,
    store,
    mailbox,
    app: first,
    get client() {
      const client = settlingSegments(journeyEnv.app.journeys, segmentChanges);
      return options.now ? client : followServerTime(client, syncClock);
    },
    faults,
    segmentChangesOf(customerId) {
      const mine = segmentChanges.filter((change) => change.customerId === customerId);
      segmentChanges.splice(0, segmentChanges.length, ...segmentChanges.filter((change) => change.customerId !== customerId));
      return mine.map((change) => change.result);
    },
    async compose(overrides = {}) {
      const app = await compose(config, { ...shared, ...overrides });
      others.push(app);
      return app;
    },
    async redeploy(catalogue) {
      await journeyEnv.app.close();
      journeyEnv.app = await deploy(catalogue);
    },
    async close() {
      for (const app of [...others, journeyEnv.app]) await app.close();
      await env.teardown();
      await mailbox.close();
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return journeyEnv;
}
