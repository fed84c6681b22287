import { fork } from 'node:child_process';
import { join } from 'node:path';
import { buildHttpApi } from '../api/http';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import { startCpuMeter, type CpuShares } from './cpu';
import type { FromLoad, LoadResult, LoadSpec, ToLoad } from './loadProcess';
import { journeyClient, taskQueueOf, type BenchContext } from './phases';
import { storeCallTimer, type StoreCallTimes } from './probes';

export interface IngestReport extends LoadResult {
  events: number;
  concurrency: number;
  customers: number;
  perSecond: number;
  store: StoreCallTimes;
  /** server, api (this process: HTTP API, JourneyClient, store), load (the load generator), others. */
  cpu: CpuShares;
}

// Each customer gets about this many page views, whatever the phase's size, so a larger run
// does not grow each customer's history (which segment tracking reads on every event).
const EVENTS_PER_CUSTOMER = 5;
const PREFIX = 'ing-';

/**
 * Pure ingest: POST /v1/events of the product's HTTP API with page views, an event type no
 * journey listens to (nothing is started or signalled: each event is validated, recorded,
 * its customer's segments recomputed, and marked routed), `ingestConcurrency` requests in
 * flight from a load generator in its own process. The API and JourneyClient run here on a
 * fresh SQLite store of their own, every store call timed.
 */
export async function ingestPhase(ctx: BenchContext): Promise<IngestReport> {
  const { ingestEvents: events, ingestConcurrency: concurrency } = ctx.settings;
  const customers = Math.max(1, Math.ceil(events / EVENTS_PER_CUSTOMER));
  const sqlite = openSqliteStore(join(ctx.dir, 'ingest.db'));
  try {
    const timer = storeCallTimer(sqlite);
    // Customers have profiles, as a shop's do; seeding is not measured.
    for (let from = 0; from < customers; from += 5000) {
      const ids = Array.from({ length: Math.min(5000, customers - from) }, (_, i) => `${PREFIX}${from + i}`);
      await sqlite.upsertProfiles(ids.map((customerId) => ({ customerId, email: `${customerId}@bench.example`, attributes: { firstName: 'Ada', loyaltyTier: 'silver' } })));
    }
    // The product's catalogue: the event type is one none of its journeys starts, signals or waits for.
    const journeys = await journeyClient(ctx, taskQueueOf('ingest'), { catalogue: loadCatalogue(), store: timer.store });
    const api = buildHttpApi({ journeys, store: timer.store, bodyLimit: 256 * 1024 });
    const url = `${await api.listen({ host: '127.0.0.1', port: 0 })}/v1/events`;
    try {
      const load = await startLoad({ url, events, concurrency, customers, prefix: PREFIX });
      try {
        timer.reset();
        const cpu = startCpuMeter({ server: ctx.serverPid, api: process.pid, load: load.pid });
        const result = await load.go();
        // Read while the load generator is still there to be read.
        const shares = cpu();
        return { ...result, events, concurrency, customers, perSecond: result.accepted / result.seconds, store: timer.read(), cpu: shares };
      } finally {
        await load.stop();
      }
    } finally {
      await api.close();
    }
  } finally {
    await sqlite.close();
  }
}

/** Forks the load generator and waits until it is ready; `go` starts the load and resolves with its figures, `stop` ends the process. */
async function startLoad(spec: LoadSpec): Promise<{ pid: number; go(): Promise<LoadResult>; stop(): Promise<void> }> {
  const child = fork(join(__dirname, 'loadProcess.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_LOAD: JSON.stringify(spec) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = (type: FromLoad['type']) =>
    new Promise<FromLoad>((resolve, reject) => {
      child.on('message', (message: FromLoad) => {
        if (message.type === type) resolve(message);
        if (message.type === 'failed') reject(new Error(`the load generator failed: ${message.message}`));
      });
      void exited.then((code) => reject(new Error(`the load generator exited (code ${code}) early`)));
    });
  await next('ready');
  return {
    pid: child.pid ?? 0,
    async go() {
      const done = next('done');
      child.send({ type: 'go' } satisfies ToLoad);
      return ((await done) as Extract<FromLoad, { type: 'done' }>).result;
    },
    async stop() {
      if (child.exitCode === null && child.connected) child.send({ type: 'stop' } satisfies ToLoad);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
