import type { Store } from '../store/types';
import type { MetricsRecorder } from './recorder';

/**
 * The store with every call timed (`journeys_store_call_duration_seconds{call}`, the call being
 * the Store method's name), failed calls included. The implementations (SQLite, PostgreSQL)
 * stay untouched: compose wraps whichever it opened, or was given.
 */
export function instrumentStore(store: Store, metrics: Pick<MetricsRecorder, 'storeCall'>): Store {
  const timed = new WeakMap<(...args: unknown[]) => unknown, (...args: unknown[]) => unknown>();
  const timedCall = (call: string, method: (...args: unknown[]) => unknown) => {
    let wrapper = timed.get(method);
    if (!wrapper) {
      wrapper = (...args: unknown[]) => {
        const stop = metrics.storeCall(call);
        let result: unknown;
        try {
          result = method.apply(store, args);
        } catch (err) {
          stop();
          throw err;
        }
        if (result instanceof Promise) return result.finally(stop);
        stop();
        return result;
      };
      timed.set(method, wrapper);
    }
    return wrapper;
  };
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return timedCall(property, value as (...args: unknown[]) => unknown);
    },
  });
}
