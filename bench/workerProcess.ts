// Runs one Temporal worker for one bench phase, in its own process (started by WorkerProcess).
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import nodemailer from 'nodemailer';
import { compose } from '../compose';
import { startWorkerRole } from '../compose/roles';
import { PROJECT_ROOT, readConfig } from '../config';
import { loadCatalogue, type Catalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import { createBaselineActivities } from './baselineActivities';
import { openFloorLedger, type FloorLedger } from './floorLedger';
import { BENCH_TEMPLATES_DIR, benchWelcome } from './benchWelcome';
import { probe, type Probes } from './probes';
import { watchThreadHeaps } from './threadHeaps';
import type { FromWorker, ToWorker, WorkerSpec, WorkerStatus } from './workerHandle';

const FROM = 'Bench <bench@shop.example.com>';
const MB = 1024 * 1024;

const tell = (message: FromWorker) => process.send?.(message);

/** Workflows carry their definitions; the worker only needs every template they may name. */
function allJourneys(): Catalogue {
  const shipped = loadCatalogue();
  return { ...shipped, templates: { ...shipped.templates, ...loadCatalogue([benchWelcome], BENCH_TEMPLATES_DIR).templates } };
}

interface BenchWorker {
  worker: Worker;
  stopped: Promise<void>;
  close(): Promise<void>;
}

/** The product's worker role, composed as `npm run worker` composes it, on the bench's store timed by the probes. */
async function journeysWorker(spec: WorkerSpec, probes: Probes): Promise<BenchWorker> {
  // The product's defaults, except quiet hours (a run at night must measure sends, not
  // deferrals); the worker cache size passes through so its effect on memory can be compared.
  const config = readConfig(
    { TEMPORAL_ADDRESS: spec.address, TEMPORAL_TASK_QUEUE: spec.taskQueue, MAIL_FROM: FROM, QUIET_HOURS: 'off', PUBLIC_URL: 'https://shop.example.com', WORKER_MAX_CACHED_WORKFLOWS: process.env.WORKER_MAX_CACHED_WORKFLOWS },
    PROJECT_ROOT,
  );
  const sqlite = openSqliteStore(spec.storeFile);
  const app = await compose(config, {
    store: probes.timed(sqlite),
    catalogue: allJourneys(),
    // The product's own SMTP client: one session per email, the ledger claimed at the hand-off.
    smtpUrl: `smtp://127.0.0.1:${spec.smtpPort}`,
    workflowBundle: { codePath: spec.bundlePath },
    // Signed as in the product: an HMAC per email is part of what a send costs.
    unsubscribeKeys: [{ id: 'bench', secret: 'bench-secret-of-at-least-32-characters' }],
  });
  const { worker, stopped } = await startWorkerRole(app);
  return {
    worker,
    stopped,
    async close() {
      await app.close();
      await sqlite.close();
    },
  };
}

/**
 * Bare one-activity workflows sending through nodemailer's pool, as a bare sample would, on
 * no-delay sockets as the product's mailer uses: with Nagle's delay each email waited ~40 ms on
 * the SMTP server's delayed ACK, and the baseline measured its mail transport, not Temporal.
 */
async function baselineWorker(spec: WorkerSpec): Promise<BenchWorker> {
  const connection = await NativeConnection.connect({ address: spec.address });
  let ledger: FloorLedger | undefined;
  const floorLedger = () => (ledger ??= openFloorLedger(spec.storeFile));
  const mailer = nodemailer.createTransport({
    host: '127.0.0.1',
    port: spec.smtpPort,
    pool: true,
    maxConnections: 5,
    // nodemailer's default replaces a pooled connection after 100 messages; the product's pool keeps
    // its connections. A new one waits ~100 ms for the outbox's greeting, so rotating would put
    // the outbox's delay, not Temporal's, into the baseline's tail.
    maxMessages: Infinity,
    getSocket: (_options, done) => {
      const socket = createConnection({ host: '127.0.0.1', port: spec.smtpPort }, () => done(null, { connection: socket }));
      socket.setNoDelay(true);
      socket.once('error', (err) => done(err, undefined));
    },
  });
  const worker = await Worker.create({ connection, namespace: 'default', taskQueue: spec.taskQueue, workflowBundle: { codePath: spec.bundlePath }, activities: createBaselineActivities(mailer, FROM, floorLedger) });
  return {
    worker,
    stopped: worker.run(),
    async close() {
      ledger?.close();
      mailer.close();
      await connection.close();
    },
  };
}

function rssSplit(): { rssAnonMb: number; rssFileMb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const mb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rssAnonMb: mb('RssAnon'), rssFileMb: mb('RssFile') + mb('RssShmem') };
}

/** The CommonJS modules loaded, counted by package (this project's own files as "journeys"). */
function loadedModules(): { modules: number; topPackages: [string, number][] } {
  const files = Object.keys(require.cache);
  const counts = new Map<string, number>();
  for (const file of files) {
    const at = file.lastIndexOf('/node_modules/');
    const [scope, name] = at < 0 ? ['journeys'] : file.slice(at + '/node_modules/'.length).split('/');
    const pkg = scope.startsWith('@') ? `${scope}/${name}` : scope;
    counts.set(pkg, (counts.get(pkg) ?? 0) + 1);
  }
  return { modules: files.length, topPackages: [...counts].sort((x, y) => y[1] - x[1]).slice(0, 12) };
}

async function main() {
  const spec = JSON.parse(process.env.BENCH_WORKER ?? '') as WorkerSpec;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const probes = probe();
  const { worker, stopped, close } = spec.kind === 'journeys' ? await journeysWorker(spec, probes) : await baselineWorker(spec);

  const threads = watchThreadHeaps();
  const statusOf = async (): Promise<WorkerStatus> => {
    const status = worker.getStatus();
    const memory = process.memoryUsage();
    const thread = await threads.read();
    return {
      cachedWorkflows: status.numCachedWorkflows,
      inFlightActivations: status.numInFlightWorkflowActivations,
      inFlightActivities: status.numInFlightActivities,
      heapUsedMb: memory.heapUsed / MB,
      heapTotalMb: memory.heapTotal / MB,
      externalMb: memory.external / MB,
      threadHeapUsedMb: thread.usedMb,
      threadHeapTotalMb: thread.totalMb,
      ...rssSplit(),
      ...loadedModules(),
      probe: probes.read(),
    };
  };
  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') worker.shutdown();
    if (message.type === 'status') void statusOf().then((status) => tell({ type: 'status', status }));
    if (message.type === 'collect-garbage') void threads.collectGarbage().then(() => tell({ type: 'collected' }));
  });
  probes.reset(); // the phase's figures, not start-up's
  tell({ type: 'ready' });
  await stopped;
  await close();
  process.disconnect();
}

main().catch((err: Error) => {
  tell({ type: 'failed', message: err.stack ?? err.message });
  process.exitCode = 1;
  process.disconnect?.();
});
