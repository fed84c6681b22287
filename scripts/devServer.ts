import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { journeySearchAttributes } from '../workflows/searchAttributes';

export interface DevServerOptions {
  cliPath: string;
  ip: string;
  port: number;
  uiPort: number;
  /** SQLite file: journeys survive a restart. */
  dbFile: string;
  log: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

/**
 * Runs `temporal server start-dev` as a child process: SQLite in WAL mode with
 * synchronous=normal (twice the throughput of the default pragmas, measured in
 * TEMPORAL-SERVERS.md) and the journey search attributes registered.
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
    '--log-level', 'error',
    ...journeySearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean).slice(-20));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const address = `${options.ip}:${options.port}`;
  await waitUntilServing(address, child, exited, output);
  return {
    address,
    uiUrl: `http://${options.ip}:${options.uiPort}`,
    stop: () => stop(child, exited),
  };
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

async function stop(child: ChildProcess, exited: Promise<number | null>) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
