import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../config';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { requiredEnv } from './support/journeyEnv';
import { freePort } from './support/ports';

// The production path: `npm run build` compiles to dist/ and prepares the workflow bundle;
// the roles then run on plain Node, without tsx.
describe('the compiled build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-build-'));
  let devServer: DevServer;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build'], { cwd: PROJECT_ROOT, stdio: 'pipe', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
    devServer = await startDevServer({ cliPath: requiredEnv('TEMPORAL_CLI_PATH'), ip: '127.0.0.1', port: await freePort(), uiPort: await freePort(), dbFile: join(dir, 'temporal.db'), log: () => {} });
  }, 180_000);
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await devServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the CLI from dist/ on plain Node', () => {
    const out = execFileSync(process.execPath, [join(PROJECT_ROOT, 'dist', 'cli', 'index.js'), 'lint'], { encoding: 'utf8' });
    expect(out).toContain('0 error(s), 0 warning(s) in shipped journeys');
  });

  it('starts the worker role from dist/ on the bundle the build prepared, with no webpack at start', async () => {
    const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), DATA_DIR: join(dir, 'data'), TEMPORAL_ADDRESS: devServer.address, TEMPORAL_TASK_QUEUE: 'build-test' };
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'cli', 'index.js'), 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker = child;
    const said: string[] = [];
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        said.push(chunk.toString());
        if (said.join('').includes('polling')) resolve();
      });
      child.stderr?.on('data', (chunk: Buffer) => said.push(chunk.toString()));
      child.once('exit', (code) => reject(new Error(`the worker exited (${code}):\n${said.join('')}`)));
    });
    expect(said.join('')).not.toContain('bundling');
    child.kill('SIGTERM');
    const exit = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    expect({ exit, said: said.join('') }).toMatchObject({ exit: [0, null] });
  }, 60_000);
});
