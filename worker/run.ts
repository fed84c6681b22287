import { NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { connectJourneys } from '../client';
import { dkimOptions, loadUnsubscribeKeys } from '../client/unsubscribe';
import { temporalAddress, type Config } from '../domain/config';
import { createUnsubscribeSigner, unsubscribeLinks } from '../domain/unsubscribe';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { createSmtpMailer } from '../activities/smtp';
import { createActivityDeps } from './deps';
import { createJourneyWorker } from './index';

export interface WorkerRole {
  stop(): Promise<void>;
}

export interface WorkerRoleOptions {
  /** The store to use; opened from the config (and closed on stop) when absent. */
  store?: Store;
  workflowBundle?: WorkflowBundleOption;
}

/**
 * The worker role: every journey's workflows and activities, polling the configured task
 * queue. It needs the store, SMTP and Temporal; the segment sweep it runs routes the
 * segment events it emits through a JourneyClient of its own.
 */
export async function startWorkerRole(config: Config, options: WorkerRoleOptions = {}): Promise<WorkerRole> {
  const store = options.store ?? openSqliteStore(config.storeFile);
  const stops: (() => Promise<void>)[] = options.store ? [] : [() => store.close()];
  const stop = async () => {
    for (const step of stops.reverse()) await step();
  };
  try {
    const catalogue = loadCatalogue();
    const signer = createUnsubscribeSigner(loadUnsubscribeKeys(config));
    const mailer = createSmtpMailer({ url: config.smtp.url ?? `smtp://127.0.0.1:${config.smtp.outboxPort}`, dkim: dkimOptions(config) });
    const connected = await connectJourneys(config, store);
    stops.push(() => connected.close());
    const connection = await NativeConnection.connect({ address: temporalAddress(config) });
    stops.push(() => connection.close());
    const worker = await createJourneyWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      maxCachedWorkflows: config.maxCachedWorkflows,
      workflowBundle: options.workflowBundle,
      deps: createActivityDeps({
        store,
        mailer,
        catalogue,
        config,
        unsubscribe: unsubscribeLinks(signer, config.unsubscribe),
        sweepSegments: (now) => connected.journeys.sweepSegments(now),
        routePendingEvents: (now) => connected.journeys.routePendingEvents(now),
      }),
    });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    return { stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
