import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { z } from 'zod';
import { journeySearchAttributes } from '../workflows/searchAttributes';

export interface DevServerOptions {
  cliPath: string;
  ip: string;
  port: number;
  uiPort: number;
  /** SQLite file: journeys survive a restart. */
  dbFile: string;
  log: (line: string) => void;
  /** The Web UI decodes payloads through this codec endpoint (the API's /codec, when PAYLOAD_KEYS is set). */
  uiCodecEndpoint?: string;
  /** Serves the server's Prometheus metrics on this port (the CLI otherwise picks a random one). */
  metricsPort?: number;
  /** Dynamic config values (`--dynamic-config-value KEY=VALUE`), values as JSON, over EMBEDDED_SERVER_DYNAMIC_CONFIG. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

/**
 * Dynamic config every embedded server runs with (README, "Running in production", for a cluster).
 * - Eager activity dispatch (off in Temporal's server by default): the worker that completes a
 *   workflow task scheduling an activity on its own task queue, with a slot free, gets the
 *   activity in the server's reply instead of from a poll of the matching service, so a send
 *   starts at once rather than about 30 ms later, and the server does a round trip and a write
 *   of the run's state less per email.
 * - The transfer queue's reads: the history service hands a new run's first workflow task to
 *   matching from its transfer queue, which it reads at most 20 times a second per shard by
 *   default, and the embedded server has one shard. Past 20 starts a second each start waited
 *   for the next read, 25–55 ms at the median at 20 events/s; read on every new task, 3–5 ms.
 */
export const EMBEDDED_SERVER_DYNAMIC_CONFIG: Record<string, boolean | number> = {
  'system.enableActivityEagerExecution': true,
  'history.transferProcessorMaxPollRPS': 1000,
};

/**
 * Runs `temporal server start-dev` as a child process, with the journey search attributes
 * registered and SQLite set for throughput:
 * - WAL with synchronous=normal: twice the throughput of the default pragmas.
 * - A 64 MB page cache and the file memory-mapped: the server runs every query on one
 *   connection, whose default cache is 2 MB, and once its database outgrew that the pages came
 *   from the kernel, a system call each. The server then spent 20 ms of CPU per bare email on
 *   a fresh database and 26–35 ms a few thousand workflows later (the bench's bare phase ran
 *   36–48/s from round to round); with the cache, 21–25 ms and 46–48/s throughout.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', options.ip,
    '--port', String(options.port),
    '--ui-port', String(options.uiPort),
    '--db-filename', options.dbFile,
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    '--sqlite-pragma', 'cache_size=-65536',
    '--sqlite-pragma', 'mmap_size=268435456',
    '--log-level', 'error',
    ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...(options.metricsPort ? ['--metrics-port', String(options.metricsPort)] : []),
    ...Object.entries({ ...EMBEDDED_SERVER_DYNAMIC_CONFIG, ...options.dynamicConfig }).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
    ...journeySearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stateFile = devServerStateFile(options.dbFile);
  if (child.pid !== undefined) {
    const state: DevServerState = { pid: child.pid, ownerPid: process.pid, ip: options.ip, port: options.port, uiPort: options.uiPort, dbFile: options.dbFile };
    // Written before the wait, so a journeys killed while the server starts leaves a trace too.
    writeFileSync(stateFile, JSON.stringify(state));
  }
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean).slice(-20));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const address = `${options.ip}:${options.port}`;
  const stopThis = () => stop(child, exited, stateFile);
  try {
    await waitUntilServing(address, child, exited, output);
  } catch (err) {
    // A server that never answered would otherwise outlive the failed start and hold the port.
    await stopThis();
    throw err;
  }
  return { address, uiUrl: `http://${options.ip}:${options.uiPort}`, stop: stopThis };
}

async function waitUntilServing(address: string, child: ChildProcess, exited: Promise<number | null>, output: string[]) {
  let done = false;
  const died = exited.then((code) => {
    if (!done) throw new Error(`the Temporal dev server exited (code ${code}) before serving:\n${output.slice(-10).join('\n')}`);
  });
  const deadline = Date.now() + 60_000;
  const ready = (async () => {
    for (;;) {
      try {
        const connection = await Connection.connect({ address, connectTimeout: '1s' });
        await connection.close();
        return;
      } catch (err) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the Temporal dev server did not answer at ${address}: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  await Promise.race([ready, died]);
  done = true;
}

async function stop(child: ChildProcess, exited: Promise<number | null>, stateFile: string) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (readState(stateFile)?.pid === child.pid) rmSync(stateFile, { force: true });
}

/*
 * A journeys killed with SIGKILL cannot stop its dev server, which then keeps the ports and the
 * database. Each start records the server in its data folder, so the next start on that folder
 * can stop it. The record alone proves nothing (the pid may since belong to any program), so
 * the process must still be, by its command line, `temporal server start-dev` on this database,
 * and no longer a child of the journeys that started it; anything else is left alone, and the
 * taken port is then reported as before.
 */
const devServerState = z.object({
  pid: z.number().int().positive(),
  /** The journeys process that started it. */
  ownerPid: z.number().int().positive(),
  ip: z.string(),
  port: z.number().int(),
  uiPort: z.number().int(),
  dbFile: z.string(),
});
type DevServerState = z.infer<typeof devServerState>;

export function devServerStateFile(dbFile: string): string {
  return join(dirname(dbFile), 'temporal-dev-server.json');
}

function readState(stateFile: string): DevServerState | undefined {
  try {
    return devServerState.parse(JSON.parse(readFileSync(stateFile, 'utf8')));
  } catch {
    return undefined; // absent, or torn by a kill while it was written: nothing to recover
  }
}

/** Stops the dev server an earlier, killed journeys left running on `dbFile`, if there is one. */
export async function stopLeftoverDevServer(dbFile: string, log: (line: string) => void): Promise<void> {
  const state = readState(devServerStateFile(dbFile));
  if (state?.dbFile !== dbFile) return;
  const leftover = async () => {
    const it = await describeProcess(state.pid);
    return it !== undefined && it.parentPid !== state.ownerPid && isDevServerOn(it.command, dbFile);
  };
  const gone = async () => !(await leftover());
  if (await gone()) return;

  if (!signal(state.pid, 'SIGTERM')) return;
  if (!(await waitFor(gone, 10_000))) {
    signal(state.pid, 'SIGKILL');
    await waitFor(gone, 5_000);
  }
  await waitFor(async () => (await isPortFree(state.ip, state.port)) && (await isPortFree(state.ip, state.uiPort)), 5_000);
  rmSync(devServerStateFile(dbFile), { force: true });
  log(`stopped the Temporal dev server (pid ${state.pid}) that an earlier journeys left running on ${dbFile}`);
}

// `ps` answers alike on Linux and macOS; -ww keeps the long command line whole. A zombie
// shows as `[temporal] <defunct>`, so it no longer counts as the server.
async function describeProcess(pid: number): Promise<{ parentPid: number; command: string } | undefined> {
  try {
    const { stdout } = await promisify(execFile)('ps', ['-ww', '-o', 'ppid=', '-o', 'args=', '-p', String(pid)]);
    const match = /^(\d+)\s+(.*)$/.exec(stdout.trim());
    return match ? { parentPid: Number(match[1]), command: match[2] } : undefined;
  } catch {
    return undefined; // no such process (or no `ps`): nothing we may stop
  }
}

function isDevServerOn(command: string, dbFile: string): boolean {
  const padded = ` ${command} `;
  return padded.includes(' server start-dev ') && padded.includes(` --db-filename ${dbFile} `);
}

/** False when the process cannot be signalled: gone meanwhile, or not ours to stop (EPERM). */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}
