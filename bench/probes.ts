import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { instrumentStore } from '../observability/store';
import type { Store } from '../store/types';
import { percentile } from './measure';

/** Where a process spent its time in a phase: blocked event loop and time inside store calls. */
export interface ProbeReport {
  /** Event-loop delay: how long ready work waited for the thread (better-sqlite3 calls block it). */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Wall time inside store calls, summed, and the slowest call (SQLite busy waits show up here). */
  storeMs: number;
  storeCalls: number;
  storeMaxMs: number;
  storeMaxCall?: string;
}

export interface Probes {
  /** The same store with every call timed. */
  timed(store: Store): Store;
  reset(): void;
  read(): ProbeReport;
}

/** Watches this process's event loop and times the store calls of the stores it wraps. */
export function probe(): Probes {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let storeMs = 0;
  let storeCalls = 0;
  let storeMaxMs = 0;
  let storeMaxCall: string | undefined;
  const timed = (store: Store) => new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const start = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          const ms = performance.now() - start;
          storeMs += ms;
          storeCalls++;
          if (ms > storeMaxMs) [storeMaxMs, storeMaxCall] = [ms, String(name)];
        }
      };
    },
  });
  return {
    timed,
    reset() {
      loop.reset();
      [storeMs, storeCalls, storeMaxMs, storeMaxCall] = [0, 0, 0, undefined];
    },
    read: () => ({ loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, storeMs, storeCalls, storeMaxMs, storeMaxCall }),
  };
}

/** Store call times as a distribution: the p99 the ingest target is about, overall and per call. */
export interface StoreCallTimes {
  calls: number;
  totalMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The calls with the highest p99, slowest first (at most five). */
  slowest: { call: string; calls: number; p99Ms: number }[];
}

/**
 * Times every call of a store through the product's own wrapper (`instrumentStore`, which
 * feeds `journeys_store_call_duration_seconds` in production), keeping each duration.
 */
export function storeCallTimer(store: Store): { store: Store; reset(): void; read(): StoreCallTimes } {
  const byCall = new Map<string, number[]>();
  const timed = instrumentStore(store, {
    storeCall(call) {
      const start = performance.now();
      return () => {
        let durations = byCall.get(call);
        if (!durations) byCall.set(call, (durations = []));
        durations.push(performance.now() - start);
      };
    },
  });
  return {
    store: timed,
    reset: () => byCall.clear(),
    read() {
      const all = [...byCall.values()].flat().sort((a, b) => a - b);
      const slowest = [...byCall.entries()]
        .map(([call, durations]) => ({ call, calls: durations.length, p99Ms: percentile([...durations].sort((a, b) => a - b), 99) }))
        .sort((x, y) => y.p99Ms - x.p99Ms)
        .slice(0, 5);
      return { calls: all.length, totalMs: all.reduce((sum, ms) => sum + ms, 0), p50Ms: percentile(all, 50), p99Ms: percentile(all, 99), maxMs: all.at(-1) ?? NaN, slowest };
    },
  };
}
