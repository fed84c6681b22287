import { Client, Connection } from '@temporalio/client';
import { connectJourneys } from '../client';
import { buildHttpApi } from '../client/http';
import { ensureEventRoutingSweepSchedule, ensureSegmentSweepSchedule } from '../client/schedules';
import { temporalAddress, type Config } from '../domain/config';
import { createUnsubscribeSigner } from '../domain/unsubscribe';
import { loadUnsubscribeKeys } from '../client/unsubscribe';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import { startWorkerRole, type WorkerRoleOptions } from '../worker/run';
import { journeySearchAttributes } from '../workflows/searchAttributes';
import { demoProfiles } from './demoProfiles';
import { isPortFree, startDevServer, stopLeftoverDevServer, type DevServer } from './devServer';
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
  if (!(await isPortFree(host, port))) {
    throw new PortTakenError(`${what} cannot listen on ${host}:${port}: the port is taken (is journeys already running? set ${setting} to use another port)`);
  }
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
export async function startStack(config: Config, log: (line: string) => void, extra: Pick<WorkerRoleOptions, 'workflowBundle'> = {}): Promise<Stack> {
  const host = config.http.host;
  await assertFree(host, config.http.port, 'the HTTP API', 'PORT');
  if (!config.smtp.url) await assertFree('127.0.0.1', config.smtp.outboxPort, 'the SMTP outbox', 'OUTBOX_PORT');
  if (!config.temporal.address) {
    await stopLeftoverDevServer(config.temporal.dbFile, log);
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

    const connected = await connectJourneys(config, store);
    stops.push(() => connected.close());

    const workerRole = await startWorkerRole(config, { store, workflowBundle: extra.workflowBundle });
    stops.push(() => workerRole.stop());

    const scheduleClient = new Client({ connection: connected.connection, namespace: config.temporal.namespace });
    await ensureSegmentSweepSchedule(scheduleClient, config.temporal.taskQueue, config.segmentSweepEvery);
    await ensureEventRoutingSweepSchedule(scheduleClient, config.temporal.taskQueue);
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
