import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../config';

export type RoleName = 'worker' | 'api';

/** What each role prints once it serves (compose/run.ts). */
const READY: Record<RoleName, string> = { worker: 'worker polling', api: 'public listener (/u) on' };

/** `journeys worker` or `journeys api` as a process of its own, started from the real entry (bin/journeys.js) as an operator would. */
export interface RoleProcess {
  role: RoleName;
  pid: number;
  /** What it wrote to stdout and stderr, for the message of a failing test. */
  output(): string;
  /** SIGKILL: no chance to finish anything, as a crash or an OOM kill. */
  kill(): void;
}

/**
 * The role processes of one test. `stopAll` ends every one of them, including any that failed
 * to start, so a test stops them in its `afterAll` whatever happened.
 */
export function roleProcesses() {
  const children: ChildProcess[] = [];

  /** Starts the role and resolves once it says it serves; rejects with its output when it exits or stays silent first. */
  async function start(role: RoleName, env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<RoleProcess> {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'journeys.js'), role], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', keep);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`journeys ${role} did not serve within ${timeoutMs / 1000} s:\n${output}`)), timeoutMs);
      child.stdout?.on('data', () => {
        if (!output.includes(READY[role])) return;
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`journeys ${role} exited (${code ?? signal}) before serving:\n${output}`));
      });
    });
    return {
      role,
      pid: child.pid ?? 0,
      output: () => output,
      kill: () => void (running(child) && child.kill('SIGKILL')),
    };
  }

  const stopAll = (graceMs = 5_000) => stopProcesses(children, graceMs);

  return { start, stopAll };
}

export const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** SIGTERM to every process still running, then SIGKILL to those not stopped within `graceMs`. */
export async function stopProcesses(children: ChildProcess[], graceMs: number): Promise<void> {
  await Promise.all(
    children.filter(running).map(async (child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}
