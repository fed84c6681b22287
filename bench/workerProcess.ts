// Runs one Temporal worker for one bench phase, in its own process (started by WorkerProcess).
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import nodemailer from 'nodemailer';
import { readConfig } from '../domain/config';
import { loadCatalogue, type Catalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import { createJourneyWorker } from '../worker';
import { createUnsubscribeSigner, unsubscribeLinks } from '../domain/unsubscribe';
import { createActivityDeps } from '../worker/deps';
import { createSmtpMailer } from '../activities/smtp';
import { createBaselineActivities } from './baselineActivities';
import { BENCH_TEMPLATES_DIR, benchWelcome } from './benchWelcome';
import { probe } from './probes';
import type { FromWorker, ToWorker, WorkerSpec } from './workerHandle';

const FROM = 'Bench <bench@shop.example.com>';
const MB = 1024 * 1024;

const tell = (message: FromWorker) => process.send?.(message);

/** Workflows carry their definitions; the worker only needs every template they may name. */
function allJourneys(): Catalogue {
  const shipped = loadCatalogue();
  return { ...shipped, templates: { ...shipped.templates, ...loadCatalogue([benchWelcome], BENCH_TEMPLATES_DIR).templates } };
}

async function main() {
  const spec = JSON.parse(process.env.BENCH_WORKER ?? '') as WorkerSpec;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: spec.address });
  // Journeys send through the product's own SMTP client (one session per email, the ledger
  // claimed at the hand-off); the baseline through nodemailer's pool, as a bare sample would.
  const smtpUrl = `smtp://127.0.0.1:${spec.smtpPort}`;
  const baselineMailer = nodemailer.createTransport({ host: '127.0.0.1', port: spec.smtpPort, pool: true, maxConnections: 5 });
  const probes = probe();
  const sqlite = spec.kind === 'journeys' ? openSqliteStore(spec.storeFile) : undefined;
  const store = sqlite && probes.timed(sqlite);
  const workflowBundle = { codePath: spec.bundlePath };

  // The product's defaults, except quiet hours (a run at night must measure sends, not
  // deferrals); the worker cache size passes through so its effect on memory can be compared.
  const config = readConfig({ MAIL_FROM: FROM, QUIET_HOURS: 'off', WORKER_MAX_CACHED_WORKFLOWS: process.env.WORKER_MAX_CACHED_WORKFLOWS }, join(__dirname, '..'));
  const worker = store
    ? await createJourneyWorker({
        connection,
        namespace: 'default',
        taskQueue: spec.taskQueue,
        workflowBundle,
        maxCachedWorkflows: config.maxCachedWorkflows,
        deps: createActivityDeps({
          store,
          mailer: createSmtpMailer({ url: smtpUrl }),
          catalogue: allJourneys(),
          config,
          // Signed as in the product: an HMAC per email is part of what a send costs.
          unsubscribe: unsubscribeLinks(createUnsubscribeSigner([{ id: 'bench', secret: 'bench-secret-of-at-least-32-characters' }]), {
            publicUrl: 'https://shop.example.com',
            mailto: 'unsubscribe@shop.example.com',
          }),
          sweepSegments: async () => {
            throw new Error('the bench starts no segment-sweep Schedule');
          },
          routePendingEvents: async () => {
            throw new Error('the bench starts no event-routing-sweep Schedule');
          },
        }),
      })
    : await Worker.create({ connection, namespace: 'default', taskQueue: spec.taskQueue, workflowBundle, activities: createBaselineActivities(baselineMailer, FROM) });

  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') worker.shutdown();
    if (message.type === 'status') {
      const status = worker.getStatus();
      const memory = process.memoryUsage();
      tell({
        type: 'status',
        status: {
          cachedWorkflows: status.numCachedWorkflows,
          inFlightActivations: status.numInFlightWorkflowActivations,
          inFlightActivities: status.numInFlightActivities,
          heapUsedMb: memory.heapUsed / MB,
          heapTotalMb: memory.heapTotal / MB,
          externalMb: memory.external / MB,
          probe: probes.read(),
        },
      });
    }
  });
  const running = worker.run();
  probes.reset(); // the phase's figures, not start-up's
  tell({ type: 'ready' });
  await running;
  baselineMailer.close();
  await connection.close();
  await sqlite?.close();
  process.disconnect();
}

main().catch((err: Error) => {
  tell({ type: 'failed', message: err.stack ?? err.message });
  process.exitCode = 1;
  process.disconnect?.();
});
