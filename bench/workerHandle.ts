import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { WorkerCode } from './build';
import type { ProbeReport } from './probes';

/** What the parent tells bench/workerProcess.ts to run, passed as JSON in BENCH_WORKER. */
export interface WorkerSpec {
  /** baseline: the bare one-activity workflow; journeys: the real journey worker and store. */
  kind: 'baseline' | 'journeys';
  address: string;
  taskQueue: string;
  /** A workflow bundle prebuilt once by the parent, so no worker pays for webpack (in time or in RSS). */
  bundlePath: string;
  smtpPort: number;
  storeFile: string;
  /** Compiled JavaScript (the production path) or the sources through tsx. */
  code: WorkerCode;
}

export interface WorkerStatus {
  cachedWorkflows: number;
  inFlightActivations: number;
  inFlightActivities: number;
  /** V8's own figures, to tell JavaScript objects from native memory in the RSS. */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  /** The workflow thread's V8 heap (the SDK runs workflows in a worker thread of its own). */
  threadHeapUsedMb: number;
  threadHeapTotalMb: number;
  /** The RSS split as the kernel counts it: anonymous (V8 heaps of both threads, malloc of the Temporal core and SQLite) and file-backed (node's and the native addons' code). */
  rssAnonMb: number;
  rssFileMb: number;
  /** CommonJS modules the worker process has loaded, and the packages with the most of them: what it holds besides journeys. */
  modules: number;
  topPackages: [name: string, modules: number][];
  probe: ProbeReport;
}

export type ToWorker = { type: 'status' } | { type: 'collect-garbage' } | { type: 'stop' };
export type FromWorker = { type: 'ready' } | { type: 'status'; status: WorkerStatus } | { type: 'collected' } | { type: 'failed'; message: string };

const MB = 1024 * 1024;

/** The journey worker in its own process, so its memory is its own and not the load generator's. */
export class WorkerProcess {
  private readonly replies: ((status: WorkerStatus) => void)[] = [];
  private readonly collections: (() => void)[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.on('message', (message: FromWorker) => {
      if (message.type === 'status') this.replies.shift()?.(message.status);
      if (message.type === 'collected') this.collections.shift()?.();
    });
  }

  static async start(spec: WorkerSpec): Promise<WorkerProcess> {
    // Plain node (with tsx as a loader for the sources, not the tsx CLI, which would add a
    // wrapper process), so the pid we read /proc for is the worker itself.
    const child = fork(spec.code.entry, [], {
      execArgv: spec.kind === 'journeys' ? [...spec.code.nodeFlags, ...spec.code.execArgv] : spec.code.execArgv,
      env: { ...process.env, BENCH_WORKER: JSON.stringify(spec) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new WorkerProcess(child);
    await new Promise<void>((resolve, reject) => {
      child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'failed') reject(new Error(`the bench worker failed to start: ${message.message}`));
      });
      void worker.exited.then((code) => reject(new Error(`the bench worker exited (code ${code}) before it was ready`)));
    });
    return worker;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  status(): Promise<WorkerStatus> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error('the bench worker has exited'));
      this.replies.push(resolve);
      this.child.send({ type: 'status' } satisfies ToWorker);
    });
  }

  /** A full garbage collection in every thread of the worker: the RSS read after it is what the worker holds, not garbage. */
  collectGarbage(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error('the bench worker has exited'));
      this.collections.push(resolve);
      this.child.send({ type: 'collect-garbage' } satisfies ToWorker);
    });
  }

  /** Resident and peak resident memory as the kernel counts them (VmRSS, VmHWM), in MB. */
  memory(): { rssMb: number; peakMb: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: (kb('VmRSS') * 1024) / MB, peakMb: (kb('VmHWM') * 1024) / MB };
  }

  /** Shuts the worker down cleanly (in-flight tasks finish) and waits for the process to end. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send({ type: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}
