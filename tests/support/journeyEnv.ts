import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type LogEntry, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createSmtpMailer } from '../../activities/smtp';
import { JourneyClient } from '../../client/journeyClient';
import { consentDefault, type Config } from '../../domain/config';
import { createUnsubscribeSigner, unsubscribeLinks } from '../../domain/unsubscribe';
import { loadCatalogue, type Catalogue } from '../../journeys';
import { openSqliteStore } from '../../store/sqlite';
import type { Store } from '../../store/types';
import { createJourneyWorker, WORKFLOWS_PATH } from '../../worker';
import { createActivityDeps } from '../../worker/deps';
import type { OutboxOptions } from '../../scripts/outbox';
import { journeySearchAttributes } from '../../workflows/searchAttributes';
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

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** One webpack bundle of the interpreter per test process. */
export function workflowBundle() {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  return bundle;
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
  client: JourneyClient;
  faults: Faults;
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

export async function startJourneyEnv(options: JourneyEnvOptions = {}): Promise<JourneyEnv> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requiredEnv('TEMPORAL_TEST_SERVER_PATH') } },
  });
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    // 2 is KEYWORD in Temporal's IndexedValueType enum.
    searchAttributes: Object.fromEntries(journeySearchAttributes.map((key) => [key.name, 2])),
  });
  const dir = mkdtempSync(join(tmpdir(), 'journeys-test-'));
  const faults: Faults = { failAfterSmtpAccepted: 0, failAfterSentRecorded: 0 };
  const sqlite = openSqliteStore(join(dir, 'journeys.db'));
  const store = withFaults(sqlite, faults);
  const mailbox = await startMailbox(options.mailbox);
  const taskQueue = 'journeys-test';
  const mailer = createSmtpMailer({ url: options.smtpUrl ?? mailbox.url });
  const bundle = await workflowBundle();

  /** A client and a worker on one catalogue, as one deploy of the product would run them. */
  const deploy = async (catalogue: Catalogue) => {
    const client = new JourneyClient({ temporal: env.client, store, catalogue, taskQueue, consentDefault: consentDefault({ consent: { optInTopics: options.optInTopics ?? [] } }), now: options.now });
    const worker = await createJourneyWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: bundle,
      // A stopped worker's sticky queue would hold the next task of its cached runs for its
      // timeout, which the time-skipping server never lets pass: tests that redeploy cache none.
      maxCachedWorkflows: options.cacheWorkflows === false ? 0 : undefined,
      deps: createActivityDeps({
        store,
        mailer,
        catalogue,
        config: {
          mailFrom: 'Shop <hello@shop.example.com>',
          consent: { optInTopics: options.optInTopics ?? [] },
          frequencyCaps: options.frequencyCaps ?? [],
          quietHours: options.quietHours,
          defaultTimezone: 'UTC',
        },
        unsubscribe: unsubscribeLinks(createUnsubscribeSigner(TEST_UNSUBSCRIBE.keys), TEST_UNSUBSCRIBE),
        sweepSegments: (now) => client.sweepSegments(now),
        routePendingEvents: (now) => client.routePendingEvents(now),
        clock: async () => new Date(await env.currentTimeMs()),
      }),
    });
    const running = worker.run();
    return {
      client,
      async stop() {
        worker.shutdown();
        await running;
      },
    };
  };
  let deployed = await deploy(options.catalogue ?? loadCatalogue());

  const journeyEnv: JourneyEnv = {
    env,
    store,
    mailbox,
    client: deployed.client,
    faults,
    async redeploy(catalogue) {
      await deployed.stop();
      deployed = await deploy(catalogue);
      journeyEnv.client = deployed.client;
    },
    async close() {
      await deployed.stop();
      await env.teardown();
      await mailbox.close();
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return journeyEnv;
}
