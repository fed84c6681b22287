// The pure-ingest phase's HTTP API, in a process of its own (started by ingestPhase.ts), as
// `journeys api` runs deployed: the product's API role composed from settings, on a fresh
// SQLite store of its own with every store call timed. In the bench's process it shared a
// heap grown by every phase before it, and read slower in full runs than alone.
import { PROJECT_ROOT, readConfig } from '../config';
import { compose } from '../compose';
import { httpApi } from '../compose/apiRole';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import { storeCallTimer, type StoreCallTimes } from './probes';

/** What the parent asks for, as JSON in BENCH_API. */
export interface ApiSpec {
  temporalAddress: string;
  taskQueue: string;
  storeFile: string;
  /** Customers `${prefix}0` … `${prefix}${customers - 1}` get profiles before the load, as a shop's customers have. */
  customers: number;
  prefix: string;
  /** API_RATE_LIMIT: one load generator on one address sends far more than the default allows one caller. */
  rateLimit: string;
}

export type FromApi = { type: 'ready'; url: string } | { type: 'store'; times: StoreCallTimes } | { type: 'failed'; message: string };
/** reset: forget the store calls timed so far; read: send them; stop: close and exit. */
export type ToApi = { type: 'reset' } | { type: 'read' } | { type: 'stop' };

async function serve(spec: ApiSpec, tell: (message: FromApi) => void): Promise<void> {
  const sqlite = openSqliteStore(spec.storeFile);
  for (let from = 0; from < spec.customers; from += 5000) {
    const ids = Array.from({ length: Math.min(5000, spec.customers - from) }, (_, i) => `${spec.prefix}${from + i}`);
    await sqlite.upsertProfiles(ids.map((customerId) => ({ customerId, email: `${customerId}@bench.example`, attributes: { firstName: 'Ada', loyaltyTier: 'silver' } })));
  }
  const timer = storeCallTimer(sqlite);
  const config = readConfig({ TEMPORAL_ADDRESS: spec.temporalAddress, TEMPORAL_TASK_QUEUE: spec.taskQueue, API_RATE_LIMIT: spec.rateLimit }, PROJECT_ROOT);
  // The product's catalogue: the event type is one none of its journeys starts, signals or waits for.
  const app = await compose(config, { store: timer.store, catalogue: loadCatalogue() });
  const api = httpApi(app);
  const url = `${await api.listen({ host: '127.0.0.1', port: 0 })}/v1/events`;
  process.on('message', (message: ToApi) => {
    if (message.type === 'reset') timer.reset();
    if (message.type === 'read') tell({ type: 'store', times: timer.read() });
    if (message.type === 'stop') {
      // Disconnected whatever closing threw, so the parent sees the exit rather than its 10 s kill.
      void (async () => {
        try {
          await api.close();
          await app.close();
          await sqlite.close();
        } finally {
          process.disconnect();
        }
      })();
    }
  });
  tell({ type: 'ready', url });
}

if (process.env.BENCH_API) {
  const tell = (message: FromApi) => process.send?.(message);
  serve(JSON.parse(process.env.BENCH_API) as ApiSpec, tell).catch((err: Error) => {
    tell({ type: 'failed', message: err.stack ?? err.message });
    process.disconnect();
  });
}
