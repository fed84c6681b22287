import { fork } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import type { ApiSpec, FromApi, ToApi } from './apiProcess';
import { startCpuMeter, type CpuShares } from './cpu';
import type { FromLoad, LoadResult, LoadSpec, ToLoad } from './loadProcess';
import { taskQueueOf, type BenchContext } from './phases';
import type { StoreCallTimes } from './probes';

export interface IngestReport extends LoadResult {
  events: number;
  /** The untimed page views before the timed ones, and how fast they went. */
  warmup: { events: number; perSecond: number };
  concurrency: number;
  customers: number;
  perSecond: number;
  store: StoreCallTimes;
  /** server, api (the API's process: HTTP API, JourneyClient, store), load (the load generator), others. */
  cpu: CpuShares;
}

// Each customer gets about this many timed page views (and one of the warm-up), whatever the
// phase's size, so a larger run does not grow each customer's history (which segment tracking
// reads on every event).
const EVENTS_PER_CUSTOMER = 5;
/**
 * Untimed page views first, a fifth as many, as the rules and templates phases warm up for a
 * fifth of their time: a fresh API process compiles its hot paths and fills SQLite's page cache
 * first. Its first 4,000 went at 5,800/s and the next 20,000 at 12,000–13,000/s; timed from the
 * start, the same 20,000 read 9,337–10,744/s.
 */
const WARMUP_SHARE = 5;
const PREFIX = 'ing-';
// Far above what one caller may send by default (API_RATE_LIMIT 1000/1s): a shop that sends
// thousands of events a second from one key raises it so, and its limiter still counts each.
const RATE_LIMIT = '1000000/1s';

/**
 * Pure ingest: POST /v1/events of the product's HTTP API with page views, an event type no
 * journey listens to (nothing is started or signalled: each event is validated, recorded,
 * its customer's segments recomputed, and marked routed), `ingestConcurrency` requests in
 * flight. The API runs in a process of its own, as `journeys api` does, on a fresh SQLite
 * store, every store call timed; the load generator runs in another.
 */
export async function ingestPhase(ctx: BenchContext): Promise<IngestReport> {
  const { ingestEvents: events, ingestConcurrency: concurrency } = ctx.settings;
  const customers = Math.max(1, Math.ceil(events / EVENTS_PER_CUSTOMER));
  const warmupEvents = Math.ceil(events / WARMUP_SHARE);
  const apiSpec: ApiSpec = { temporalAddress: ctx.worker.address, taskQueue: taskQueueOf('ingest'), storeFile: join(ctx.dir, 'ingest.db'), customers, prefix: PREFIX, rateLimit: RATE_LIMIT };
  // The code the workers run (compiled by default, as `node dist/cli/index.js api` runs), from the same build.
  const { code } = ctx.worker;
  const apiEntry = join(dirname(code.entry), `apiProcess${extname(code.entry)}`);
  const api = await forkChild<ApiSpec, FromApi, ToApi>(apiEntry, code.execArgv, 'BENCH_API', apiSpec);
  try {
    const { url } = (await api.next('ready')) as Extract<FromApi, { type: 'ready' }>;
    const load = await forkChild<LoadSpec, FromLoad, ToLoad>(join(__dirname, 'loadProcess.ts'), ['--import', 'tsx'], 'BENCH_LOAD', { url, events, warmup: warmupEvents, concurrency, customers, prefix: PREFIX });
    try {
      await load.next('ready');
      const warmed = load.next('warmed');
      load.send({ type: 'warm' });
      const warmup = ((await warmed) as Extract<FromLoad, { type: 'warmed' }>).result;
      api.send({ type: 'reset' });
      const cpu = startCpuMeter({ server: ctx.serverPid, api: api.pid, load: load.pid });
      const done = load.next('done');
      load.send({ type: 'go' });
      const { result } = (await done) as Extract<FromLoad, { type: 'done' }>;
      // Read while both processes are still there to be read.
      const shares = cpu();
      const storeTimes = api.next('store');
      api.send({ type: 'read' });
      const { times } = (await storeTimes) as Extract<FromApi, { type: 'store' }>;
      return { ...result, events, warmup: { events: warmupEvents, perSecond: warmup.accepted / warmup.seconds }, concurrency, customers, perSecond: result.accepted / result.seconds, store: times, cpu: shares };
    } finally {
      await load.stop();
    }
  } finally {
    await api.stop();
  }
}

interface Child<From extends { type: string }, To> {
  pid: number;
  /** The next message of this type; rejects when the child fails or exits first. */
  next(type: From['type']): Promise<From>;
  send(message: To): void;
  /** Asks the child to stop, and kills it if it has not exited 10 s later. */
  stop(): Promise<void>;
}

/** Forks one of the bench's helper processes with its spec as JSON in `envName`. */
function forkChild<Spec, From extends { type: string; message?: string }, To extends { type: string }>(file: string, execArgv: string[], envName: string, spec: Spec): Child<From, To> {
  const child = fork(file, [], {
    execArgv,
    env: { ...process.env, [envName]: JSON.stringify(spec) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    pid: child.pid ?? 0,
    next: (type) =>
      new Promise<From>((resolve, reject) => {
        child.on('message', (message: From) => {
          if (message.type === type) resolve(message);
          if (message.type === 'failed') reject(new Error(`${file} failed: ${message.message}`));
        });
        void exited.then((code) => reject(new Error(`${file} exited (code ${code}) early`)));
      }),
    send: (message) => {
      child.send(message);
    },
    async stop() {
      if (child.exitCode === null && child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
