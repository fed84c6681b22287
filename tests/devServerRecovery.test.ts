import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../config';
import { requiredEnv } from './support/journeyEnv';
import { freeStackPorts } from './support/devStack';
import { freePort } from './support/ports';

// `npm start` as a user runs it, in a process of its own, so it can be killed the way a crash
// or `kill -9` kills it: without a chance to stop the Temporal dev server it started.

interface Product {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const spawned: ChildProcess[] = [];
const dataDirs: string[] = [];

function startProduct(env: Record<string, string>): Product {
  // Node itself runs start.ts (not npx or the tsx launcher), so the pid is the product's own process.
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts', 'start.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TEMPORAL_CLI_PATH: requiredEnv('TEMPORAL_CLI_PATH'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function settings() {
  const dataDir = mkdtempSync(join(tmpdir(), 'journeys-recovery-'));
  dataDirs.push(dataDir);
  return {
    DATA_DIR: dataDir,
    ...(await freeStackPorts()),
  };
}

async function serving(product: Product, apiUrl: string) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (product.child.exitCode !== null) throw new Error(`journeys exited (code ${product.child.exitCode}) before serving:\n${product.output()}`);
    const ok = await fetch(`${apiUrl}/healthz`).then((res) => res.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`journeys did not serve ${apiUrl}/healthz:\n${product.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function held(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Every process whose command line names this data folder: the dev servers the products started. */
function processesOn(dataDir: string): number[] {
  const table = execFileSync('ps', ['-ww', '-e', '-o', 'pid=', '-o', 'args='], { encoding: 'utf8' });
  return table
    .split('\n')
    .filter((line) => line.includes(dataDir))
    .map((line) => Number.parseInt(line, 10));
}

/** A pid that no process has any more. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

const stateFileIn = (dataDir: string) => join(dataDir, 'temporal-dev-server.json');

afterEach(() => {
  for (const child of spawned.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dataDir of dataDirs.splice(0)) {
    for (const pid of processesOn(dataDir)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('npm start after journeys was killed with SIGKILL', () => {
  it('stops the dev server the killed journeys left running, says so, and serves the journeys started before', async () => {
    const env = await settings();
    const dbFile = join(env.DATA_DIR, 'temporal.db');
    const apiUrl = `http://127.0.0.1:${env.PORT}`;
    // A state file left by a journeys long gone, whose pid now belongs to another program (this test runner).
    writeFileSync(stateFileIn(env.DATA_DIR), JSON.stringify({ pid: process.pid, ownerPid: deadPid(), ip: '127.0.0.1', port: Number(env.TEMPORAL_PORT), uiPort: Number(env.TEMPORAL_UI_PORT), dbFile }));

    const first = startProduct(env);
    await serving(first, apiUrl);
    expect(first.output()).not.toContain('stopped the Temporal dev server');
    const [devServerPid] = processesOn(env.DATA_DIR);
    expect(JSON.parse(readFileSync(stateFileIn(env.DATA_DIR), 'utf8'))).toMatchObject({ pid: devServerPid, ownerPid: first.child.pid, dbFile });
    const posted = await fetch(`${apiUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'recovery-evt-1', type: 'cart.updated', customerId: 'c-ada', properties: { cartId: 'r1', items: [], total: 10 } }),
    });
    expect(await posted.json()).toMatchObject({ started: ['cartAbandonment:c-ada:r1'] });

    // A second start on the same data while the first still runs must not take its dev server.
    const twice = startProduct({ ...env, PORT: String(await freePort()), PUBLIC_PORT: String(await freePort()), OUTBOX_PORT: String(await freePort()) });
    expect(await twice.exited).toBe(1);
    expect(twice.output()).toContain(`the Temporal dev server cannot listen on 127.0.0.1:${env.TEMPORAL_PORT}: the port is taken`);
    expect(processesOn(env.DATA_DIR)).toEqual([devServerPid]);

    first.child.kill('SIGKILL');
    await first.exited;
    expect(await held(env.TEMPORAL_PORT)).toBe(true);

    const second = startProduct(env);
    await serving(second, apiUrl);
    expect(second.output()).toContain(`journeys: stopped the Temporal dev server (pid ${devServerPid}) that an earlier journeys left running on ${dbFile}\n`);
    expect(processesOn(env.DATA_DIR)).not.toContain(devServerPid);
    // Asked of Temporal, not the API: a query would first wait out the killed worker's sticky queue (5 s).
    const connection = await Connection.connect({ address: `127.0.0.1:${env.TEMPORAL_PORT}` });
    try {
      const run = await new Client({ connection }).workflow.getHandle('cartAbandonment:c-ada:r1').describe();
      expect(run.status.name).toBe('RUNNING');
    } finally {
      await connection.close();
    }

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(existsSync(stateFileIn(env.DATA_DIR))).toBe(false);
    expect(await held(env.TEMPORAL_PORT)).toBe(false);
  }, 240_000);

  it('leaves a program it did not start alone, even when a stale state file names it, and reports the taken port', async () => {
    const env = await settings();
    const dbFile = join(env.DATA_DIR, 'temporal.db');
    // Another dev server (on another data folder, by its command line) that took the port.
    const foreign = spawn(
      process.execPath,
      ['-e', `require('node:net').createServer().listen(${env.TEMPORAL_PORT}, '127.0.0.1', () => console.log('listening'))`, 'server', 'start-dev', '--db-filename', join(tmpdir(), 'elsewhere.db')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    spawned.push(foreign);
    await new Promise((resolve) => foreign.stdout?.once('data', resolve));
    writeFileSync(stateFileIn(env.DATA_DIR), JSON.stringify({ pid: foreign.pid, ownerPid: deadPid(), ip: '127.0.0.1', port: Number(env.TEMPORAL_PORT), uiPort: Number(env.TEMPORAL_UI_PORT), dbFile }));

    const product = startProduct(env);
    expect(await product.exited).toBe(1);
    expect(product.output()).toContain(`the Temporal dev server cannot listen on 127.0.0.1:${env.TEMPORAL_PORT}: the port is taken`);
    expect(product.output()).not.toContain('stopped the Temporal dev server');
    expect(foreign.exitCode).toBeNull();
    expect(await held(env.TEMPORAL_PORT)).toBe(true);
  }, 60_000);
});
