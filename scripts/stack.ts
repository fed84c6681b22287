import { createServer } from 'node:net';
import { NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import nodemailer from 'nodemailer';
import { connectJourneys } from '../client';
import { buildHttpApi } from '../client/http';
import { ensureSegmentSweepSchedule } from '../client/schedules';
import { temporalAddress, type Config } from '../domain/config';
import { createUnsubscribeSigner, unsubscribeLinks } from '../domain/unsubscribe';
import { dkimOptions, loadUnsubscribeKeys } from '../client/unsubscribe';
import { createActivityDeps } from '../worker/deps';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import { createJourneyWorker, type JourneyWorkerOptions } from '../worker';
import { journeySearchAttributes } from '../workflows/searchAttributes';
import { demoProfiles } from './demoProfiles';
import { startDevServer, type DevServer } from './devServer';
import { startOutbox, type Outbox } from './outbox';
import { temporalCliPath } from './temporalServers';

export interface Stack {
  apiUrl: string;
  temporalAddress: string;
  /** The Temporal Web UI, when the embedded dev server runs. */
  uiUrl?: string;
  /** Where the embedded SMTP server keeps emails, when it runs. */
  outboxDir?: string;
  stop(): Promise<void>;
}

export class PortTakenError extends Error {}

async function assertFree(host: string, port: number, what: string, setting: string) {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', () => reject(new PortTakenError(`${what} cannot listen on ${host}:${port}: the port is taken (is journeys already running? set ${setting} to use another port)`)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** Registers the journey search attributes on a Temporal that isn't the embedded dev server. */
async function ensureSearchAttributes(address: string, namespace: string) {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = journeySearchAttributes.filter((key) => !customAttributes?.[key.name]);
    if (missing.length > 0) {
      // 2 is KEYWORD in Temporal's IndexedValueType enum.
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((key) => [key.name, 2])) });
    }
  } finally {
    await connection.close();
  }
}

/**
 * The whole product on one machine: the Temporal dev server (unless TEMPORAL_ADDRESS
 * names one), the embedded SMTP outbox (unless SMTP_URL names a server), the worker and
 * the HTTP API. Stops in reverse order.
 */
export async function startStack(config: Config, log: (line: string) => void, extra: Partial<Pick<JourneyWorkerOptions, 'workflowBundle'>> = {}): Promise<Stack> {
  const host = config.http.host;
  await assertFree(host, config.http.port, 'the HTTP API', 'PORT');
  if (!config.smtp.url) await assertFree('127.0.0.1', config.smtp.outboxPort, 'the SMTP outbox', 'OUTBOX_PORT');
  if (!config.temporal.address) {
    await assertFree(host, config.temporal.port, 'the Temporal dev server', 'TEMPORAL_PORT');
    await assertFree(host, config.temporal.uiPort, 'the Temporal Web UI', 'TEMPORAL_UI_PORT');
  }

  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch((err: Error) => log(`while stopping: ${err.message}`));
  };
  try {
    let devServer: DevServer | undefined;
    if (!config.temporal.address) {
      devServer = await startDevServer({ cliPath: await temporalCliPath(log), ip: host, port: config.temporal.port, uiPort: config.temporal.uiPort, dbFile: config.temporal.dbFile, log });
      stops.push(() => devServer!.stop());
    } else {
      await ensureSearchAttributes(config.temporal.address, config.temporal.namespace);
    }
    const address = temporalAddress(config);

    let outbox: Outbox | undefined;
    if (!config.smtp.url) {
      outbox = await startOutbox({ port: config.smtp.outboxPort, dir: config.smtp.outboxDir });
      stops.push(() => outbox!.close());
    }

    const store = openSqliteStore(config.storeFile);
    stops.push(() => store.close());
    if ((await store.countProfiles()) === 0) {
      await store.upsertProfiles(demoProfiles);
      log(`loaded ${demoProfiles.length} demo profiles (${demoProfiles.map((p) => p.customerId).join(', ')})`);
    }
    const catalogue = loadCatalogue();
    const signer = createUnsubscribeSigner(loadUnsubscribeKeys(config));
    const dkim = dkimOptions(config);
    const mailer = config.smtp.url
      ? nodemailer.createTransport(config.smtp.url, { dkim })
      : nodemailer.createTransport({ host: '127.0.0.1', port: config.smtp.outboxPort, pool: true, maxConnections: 5, dkim });
    stops.push(async () => mailer.close());

    const connected = await connectJourneys(config, store);
    stops.push(() => connected.close());

    const nativeConnection = await NativeConnection.connect({ address });
    stops.push(() => nativeConnection.close());
    const worker = await createJourneyWorker({
      connection: nativeConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      maxCachedWorkflows: config.maxCachedWorkflows,
      ...extra,
      deps: createActivityDeps({
        store,
        mailer,
        catalogue,
        config,
        unsubscribe: unsubscribeLinks(signer, config.unsubscribe),
        sweepSegments: (now) => connected.journeys.sweepSegments(now),
      }),
    });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    await ensureSegmentSweepSchedule(new Client({ connection: connected.connection, namespace: config.temporal.namespace }), config.temporal.taskQueue, config.segmentSweepEvery);
    const api = buildHttpApi({
      journeys: connected.journeys,
      bodyLimit: config.http.bodyLimit,
      unsubscribe: { signer, store, topics: [...new Set(catalogue.journeys.map((j) => j.definition.topic))], optInTopics: config.consent.optInTopics },
    });
    await api.listen({ host, port: config.http.port });
    stops.push(() => api.close());

    return {
      apiUrl: `http://${host}:${config.http.port}`,
      temporalAddress: address,
      uiUrl: devServer?.uiUrl,
      outboxDir: outbox ? config.smtp.outboxDir : undefined,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
