import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Store } from '../store/types';

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
