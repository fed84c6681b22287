// The pure-ingest phase's load generator, in a process of its own (started by ingestPhase.ts)
// so that building requests and reading answers does not share the API's event loop: the
// API's process (apiProcess.ts) then runs the API and the store alone, as `journeys api` does.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { offerAll, percentile } from './measure';

/** What the parent asks for, as JSON in BENCH_LOAD. */
export interface LoadSpec {
  url: string;
  events: number;
  /** Page views sent first, not timed, with ids of their own: the API's JIT and caches warm up on them. */
  warmup: number;
  concurrency: number;
  /** Events go to customer `${prefix}${i % customers}`, each of whom has a profile. */
  customers: number;
  prefix: string;
}

export interface LoadResult {
  accepted: number;
  failed: number;
  /** Answers that started, signalled or ignored a journey: the event type was meant to concern none. */
  routed: number;
  /** From the first request to the last answer. */
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  firstError?: string;
}

export type FromLoad = { type: 'ready' } | { type: 'warmed'; result: LoadResult } | { type: 'done'; result: LoadResult } | { type: 'failed'; message: string };
/** warm: send the warm-up; go: send the timed load; stop: exit (sent once the parent has read this process's CPU time). */
export type ToLoad = { type: 'warm' } | { type: 'go' } | { type: 'stop' };

/** A page view: the most frequent event a shop sends, and one no shipped journey starts, signals or waits for. */
export const pageView = (prefix: string, i: number, customers: number) => ({
  id: `${prefix}view-${i}`,
  type: 'product.viewed',
  customerId: `${prefix}${i % customers}`,
  occurredAt: new Date().toISOString(),
  properties: { sku: `sku-${i % 500}`, name: `Product ${i % 500}`, category: 'accessories', price: 19.9 },
});

/**
 * Sends `count` page views, numbered from `first` (the warm-up's follow the timed ones'),
 * `spec.concurrency` in flight, over `pool`: the timed load reuses the connections the warm-up
 * opened, so no connection set-up is timed.
 */
async function run(spec: LoadSpec, pool: Pool, count: number, first: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let [failed, routed] = [0, 0];
  let firstError: string | undefined;
  const { pathname } = new URL(spec.url);
  const started = performance.now();
  await offerAll(count, spec.concurrency, async (i) => {
    const body = JSON.stringify(pageView(spec.prefix, first + i, spec.customers));
    const sent = performance.now();
    try {
      const response = await pool.request({ method: 'POST', path: pathname, headers: { 'content-type': 'application/json' }, body });
      const answer = (await response.body.json()) as { started?: unknown[]; signalled?: unknown[]; ignored?: unknown[] };
      if (response.statusCode !== 202) throw new Error(`POST /v1/events answered ${response.statusCode}: ${JSON.stringify(answer)}`);
      latencies.push(performance.now() - sent);
      if (answer.started?.length || answer.signalled?.length || answer.ignored?.length) routed++;
    } catch (err) {
      failed++;
      firstError ??= (err as Error).message;
    }
  });
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { accepted: latencies.length, failed, routed, seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.at(-1) ?? NaN, firstError };
}

if (process.env.BENCH_LOAD) {
  const tell = (message: FromLoad) => process.send?.(message);
  const spec = JSON.parse(process.env.BENCH_LOAD) as LoadSpec;
  // undici's pool of kept-alive connections, one per request in flight: global fetch spent a
  // whole core at about 4,000 requests/s, so the generator rather than the API set the pace.
  const pool = new Pool(new URL(spec.url).origin, { connections: spec.concurrency, pipelining: 1 });
  // Its kept-alive connections would hold the process open: closed before it lets go of the parent.
  const leave = () => void pool.close().finally(() => process.disconnect());
  process.on('message', (message: ToLoad) => {
    if (message.type === 'stop') return leave();
    const [load, answer] = message.type === 'warm' ? [run(spec, pool, spec.warmup, spec.events), 'warmed' as const] : [run(spec, pool, spec.events, 0), 'done' as const];
    load.then(
      (result) => tell({ type: answer, result }),
      (err: Error) => {
        tell({ type: 'failed', message: err.stack ?? err.message });
        leave();
      },
    );
  });
  tell({ type: 'ready' });
}
