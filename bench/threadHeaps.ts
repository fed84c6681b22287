// The V8 heaps of a worker process's threads: the Temporal SDK runs workflows in a worker
// thread of its own (reuseV8Context), whose heap process.memoryUsage() does not count. Read
// through the inspector's NodeWorker domain, which reaches every worker thread of the process.
import { Session } from 'node:inspector';

export interface HeapUsage {
  usedMb: number;
  totalMb: number;
}

const MB = 1024 * 1024;

export interface ThreadHeaps {
  /** Each worker thread's heap, added up (the SDK starts one workflow thread). */
  read(): Promise<HeapUsage & { threads: number }>;
  /** A full garbage collection in the main thread and every worker thread: what is left is what is held. */
  collectGarbage(): Promise<void>;
}

export function watchThreadHeaps(): ThreadHeaps {
  const session = new Session();
  session.connect();
  const threads = new Set<string>();
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 0;
  session.on('NodeWorker.attachedToWorker', ({ params }: { params: { sessionId: string } }) => threads.add(params.sessionId));
  session.on('NodeWorker.detachedFromWorker', ({ params }: { params: { sessionId: string } }) => threads.delete(params.sessionId));
  session.on('NodeWorker.receivedMessageFromWorker', ({ params }: { params: { message: string } }) => {
    const reply = JSON.parse(params.message) as { id?: number; result?: unknown };
    if (reply.id !== undefined) pending.get(reply.id)?.(reply.result);
    if (reply.id !== undefined) pending.delete(reply.id);
  });
  session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
  const ask = <T>(sessionId: string, method: string) =>
    new Promise<T>((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve as (result: unknown) => void);
      session.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method }) });
    });
  return {
    async read() {
      const usages = await Promise.all([...threads].map((thread) => ask<{ usedSize: number; totalSize: number }>(thread, 'Runtime.getHeapUsage')));
      return { usedMb: usages.reduce((sum, u) => sum + u.usedSize, 0) / MB, totalMb: usages.reduce((sum, u) => sum + u.totalSize, 0) / MB, threads: usages.length };
    },
    async collectGarbage() {
      await Promise.all([...threads].map((thread) => ask(thread, 'HeapProfiler.collectGarbage')));
      await new Promise<void>((resolve) => session.post('HeapProfiler.collectGarbage', () => resolve()));
    },
  };
}
