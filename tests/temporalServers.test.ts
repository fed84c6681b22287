import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, describe, it, expect } from 'vitest';
import { temporalCliPath, testServerPath } from '../scripts/temporalServers';

const quiet = (): void => undefined;

const madeDirs: string[] = [];
afterAll(() => Promise.all(madeDirs.map((dir) => fs.rm(dir, { recursive: true, force: true }))));

async function freshDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'journeys-servers-'));
  madeDirs.push(dir);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

/**
 * A bin folder with a stand-in `java` and a `mvn` that behaves like the real build's outer
 * shape (writes cp.txt after a moment, or fails), so the lock and failure paths run in
 * milliseconds and without the network.
 */
async function fakeJavaAndMaven(mvnBody: string): Promise<string> {
  const bin = await freshDir();
  await fs.writeFile(path.join(bin, 'java'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await fs.writeFile(path.join(bin, 'mvn'), `#!/bin/sh\n${mvnBody}\n`, { mode: 0o755 });
  return bin;
}

describe('the Temporal servers the project provides', () => {
  it('runs a time-skipping test environment from the resolved test server', { timeout: 60_000 }, async () => {
    const executable = await testServerPath();
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: executable } },
    });
    try {
      expect(env.supportsTimeSkipping).toBe(true);
    } finally {
      await env.teardown();
    }
  });

  it('runs a local dev server from the resolved Temporal CLI', { timeout: 60_000 }, async () => {
    const executable = await temporalCliPath();
    const port = await freePort();
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: executable }, ip: '127.0.0.1', port, ui: false },
    });
    try {
      expect(env.address).toBe(`127.0.0.1:${port}`);
      const { namespaceInfo } = await env.connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(namespaceInfo?.name).toBe('default');
    } finally {
      await env.teardown();
    }
  });
});

describe('on a machine without the build tools and with an empty cache', () => {
  it('asks for Go or TEMPORAL_CLI_PATH', async () => {
    const env = { PATH: '', XDG_CACHE_HOME: await freshDir() };
    const failure = temporalCliPath(quiet, env);
    await expect(failure).rejects.toThrow(/Install Go >= 1\.22/);
    await expect(failure).rejects.toThrow(/TEMPORAL_CLI_PATH/);
  });

  it('asks for Java and Maven or TEMPORAL_TEST_SERVER_PATH', async () => {
    const env = { PATH: '', XDG_CACHE_HOME: await freshDir() };
    const failure = testServerPath(quiet, env);
    await expect(failure).rejects.toThrow(/`java` and `mvn` not on PATH/);
    await expect(failure).rejects.toThrow(/apt-get install openjdk-17-jre-headless maven/);
    await expect(failure).rejects.toThrow(/TEMPORAL_TEST_SERVER_PATH/);
  });

  it('refuses an explicit path where nothing is', async () => {
    const env = { PATH: '', TEMPORAL_CLI_PATH: '/nonexistent/temporal' };
    await expect(temporalCliPath(quiet, env)).rejects.toThrow(/TEMPORAL_CLI_PATH is set to \/nonexistent\/temporal/);
  });
});

describe('building the test server wrapper', () => {
  it('builds once when two callers race, and rebuilds when a jar of the classpath disappears', async () => {
    const jars = await freshDir();
    const [a, b] = [path.join(jars, 'a.jar'), path.join(jars, 'b.jar')];
    await Promise.all([fs.writeFile(a, ''), fs.writeFile(b, '')]);
    const bin = await fakeJavaAndMaven(`/bin/sleep 0.5; echo "${a}:${b}" > cp.txt`);
    const env = { PATH: bin, XDG_CACHE_HOME: await freshDir() };
    const lines: string[] = [];
    const log = (line: string): void => void lines.push(line);

    const [first, second] = await Promise.all([testServerPath(log, env), testServerPath(log, env)]);
    expect(second).toBe(first);
    expect(lines.filter((line) => line.startsWith('building'))).toHaveLength(1);
    expect(await fs.readFile(first, 'utf8')).toContain(`-cp '${a}:${b}' io.temporal.testserver.TestServer "$@"`);
    expect((await fs.stat(first)).mode & 0o777).toBe(0o755);

    lines.length = 0;
    await fs.rm(b);
    await testServerPath(log, env);
    expect(lines.filter((line) => line.startsWith('building'))).toHaveLength(1);
  });

  it('takes over a lock left by a process that died', async () => {
    const bin = await fakeJavaAndMaven('echo "/jar/a.jar" > cp.txt');
    const cache = await freshDir();
    const lock = path.join(cache, 'journeys', 'build.lock');
    await fs.mkdir(lock, { recursive: true });
    // PIDs above the kernel's pid_max are never alive.
    await fs.writeFile(path.join(lock, 'owner.json'), JSON.stringify({ pid: 2 ** 30, host: hostname() }));
    const wrapper = await testServerPath(quiet, { PATH: bin, XDG_CACHE_HOME: cache });
    expect(wrapper).toBe(path.join(cache, 'journeys', 'test-server', 'temporal-test-server'));
    await expect(fs.stat(lock)).rejects.toThrow(/ENOENT/);
  });

  it('names the log file and quotes its end when the build fails', async () => {
    const bin = await fakeJavaAndMaven('echo "[ERROR] Could not resolve io.temporal:temporal-test-server"; exit 1');
    const cache = await freshDir();
    const failure = testServerPath(quiet, { PATH: bin, XDG_CACHE_HOME: cache });
    await expect(failure).rejects.toThrow(path.join(cache, 'journeys', 'logs', 'test-server-build.log'));
    await expect(failure).rejects.toThrow(/exit code 1[\s\S]*Could not resolve io\.temporal:temporal-test-server/);
    await expect(fs.stat(path.join(cache, 'journeys', 'test-server', 'temporal-test-server'))).rejects.toThrow(/ENOENT/);
  });
});
