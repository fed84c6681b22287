import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
}

export interface WorkerStatus {
  cachedWorkflows: number;
  inFlightActivations: number;
  inFlightActivities: number;
  /** V8's own figures, to tell JavaScript objects from native memory in the RSS. */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  probe: ProbeReport;
}

export type ToWorker = { type: 'status' } | { type: 'stop' };
export type FromWorker = { type: 'ready' } | { type: 'status'; status: WorkerStatus } | { type: 'failed'; message: string };

const MB = 1024 * 1024;

/** The journey worker in its own process, so its memory is its own and not the load generator's. */
export class WorkerProcess {
  private readonly replies: ((status: WorkerStatus) => void)[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.on('message', (message: FromWorker) => {
      if (message.type === 'status') this.replies.shift()?.(message.status);
    });
  }

  static async start(spec: WorkerSpec): Promise<WorkerProcess> {
    // Plain node with tsx as a loader (not the tsx CLI, which would add a wrapper process), so
    // the pid we read /proc for is the worker itself.
    const child = fork(join(__dirname, 'workerProcess.ts'), [], {
      execArgv: ['--import', 'tsx'],
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
