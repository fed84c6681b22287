/**
 * Finds or builds the two Temporal servers the project runs on, so it works where only the
 * package registries answer: the CLI from Go modules, the test server from Maven (README,
 * "Temporal servers").
 *
 * The SDK's own download is deliberately not tried: without internet it fails at once, and
 * users who have internet can install the CLI themselves (PATH) or set TEMPORAL_CLI_PATH /
 * TEMPORAL_TEST_SERVER_PATH.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { cacheDir } from '../config/cacheDir';

type Log = (line: string) => void;
type Env = NodeJS.ProcessEnv;

// v1.5.1 is the newest tag `go install` accepts: later ones `replace` a nested module.
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
const TEST_SERVER_VERSION_RANGE = '[1.30,2.0)';

const logToStderr: Log = (line) => process.stderr.write(`${line}\n`);

export { cacheDir };

export async function temporalCliPath(log: Log = logToStderr, env: Env = process.env): Promise<string> {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) return requireExecutable(explicit, 'TEMPORAL_CLI_PATH');
  const onPath = await which('temporal', env);
  if (onPath) return onPath;

  const cache = cacheDir(env);
  const cached = path.join(cache, 'bin', 'temporal');
  if (await isExecutable(cached)) return cached;

  const go = await which('go', env);
  if (!go) {
    throw new Error(
      'The Temporal CLI (dev server) was not found and cannot be built: `go` is not on PATH. ' +
        'Install Go >= 1.22 (https://go.dev/dl; it fetches the newer toolchain the CLI needs by itself) so it is built once, ' +
        'or set TEMPORAL_CLI_PATH to an existing `temporal` binary.',
    );
  }
  return withBuildLock(cache, log, async () => {
    // Another process may have finished the build while this one waited for the lock.
    if (await isExecutable(cached)) return cached;
    log(`building the Temporal CLI from Go modules (about 3 minutes, once; cached in ${cache})`);
    const logFile = path.join(cache, 'logs', 'cli-build.log');
    await withTempDir(cache, async (gobin) => {
      await run(go, ['install', CLI_MODULE], { cwd: gobin, env: { ...env, GOBIN: gobin }, logFile, what: 'Temporal CLI' });
      await fs.mkdir(path.dirname(cached), { recursive: true });
      // Same filesystem, so the rename is atomic: readers see no binary or a whole one.
      await fs.rename(path.join(gobin, 'temporal'), cached);
    });
    return cached;
  });
}

export async function testServerPath(log: Log = logToStderr, env: Env = process.env): Promise<string> {
  const explicit = env.TEMPORAL_TEST_SERVER_PATH;
  if (explicit) return requireExecutable(explicit, 'TEMPORAL_TEST_SERVER_PATH');

  const cache = cacheDir(env);
  const dir = path.join(cache, 'test-server');
  const wrapper = path.join(dir, 'temporal-test-server');
  if (await isUsableWrapper(wrapper)) return wrapper;

  const [java, mvn] = [await which('java', env), await which('mvn', env)];
  if (!java || !mvn) {
    const missing = [!java && '`java`', !mvn && '`mvn`'].filter(Boolean).join(' and ');
    throw new Error(
      `The Temporal time-skipping test server was not found and cannot be built: ${missing} not on PATH. ` +
        'Install Java and Maven (e.g. `apt-get install openjdk-17-jre-headless maven`) so it is built once, ' +
        'or set TEMPORAL_TEST_SERVER_PATH to an existing test server executable.',
    );
  }
  return withBuildLock(cache, log, async () => {
    if (await isUsableWrapper(wrapper)) return wrapper;
    log(`building the Temporal test server from Maven (about 10 seconds, once; cached in ${cache})`);
    const classpath = await mavenClasspath(mvn, { dir, pom: pomXml(), env, logFile: path.join(cache, 'logs', 'test-server-build.log'), what: 'the Temporal test server' });
    const script =
      '#!/usr/bin/env bash\n' +
      // The SDK passes the port as the only argument; C1 + serial GC start the JVM in under a second.
      `exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp ${shellQuote(classpath)} io.temporal.testserver.TestServer "$@"\n`;
    await withTempDir(cache, async (tmp) => {
      const temp = path.join(tmp, 'temporal-test-server');
      await fs.writeFile(temp, script);
      await fs.chmod(temp, 0o755);
      await fs.rename(temp, wrapper);
    });
    return wrapper;
  });
}

/**
 * The Java classpath of the artifacts a pom depends on, resolved by Maven in `dir` (where the pom
 * is written): `mvn dependency:build-classpath`, which fetches from Maven Central into ~/.m2.
 */
export async function mavenClasspath(mvn: string, options: { dir: string; pom: string; env: Env; logFile: string; what: string }): Promise<string> {
  const { dir, env, logFile, what } = options;
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'pom.xml'), options.pom);
  const cpFile = path.join(dir, 'cp.txt');
  // A classpath left by an older or interrupted run must not be mistaken for this one's.
  await fs.rm(cpFile, { force: true });
  await run(mvn, ['-q', '-B', 'dependency:build-classpath', '-Dmdep.outputFile=cp.txt'], { cwd: dir, env, logFile, what });
  const classpath = (await fs.readFile(cpFile, 'utf8')).trim();
  if (!classpath) throw new Error(`Maven resolved an empty classpath for ${what}; see ${cpFile}.`);
  return classpath;
}

function pomXml(): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>journeys</groupId>
  <artifactId>temporal-test-server</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION_RANGE}</version>
    </dependency>
  </dependencies>
</project>
`;
}

// The wrapper points into the Maven repository (~/.m2); if that was cleaned, rebuild rather
// than hand the SDK a server that dies with ClassNotFoundException.
async function isUsableWrapper(wrapper: string): Promise<boolean> {
  if (!(await isExecutable(wrapper))) return false;
  const match = /-cp '((?:[^']|'\\'')*)'/.exec(await fs.readFile(wrapper, 'utf8'));
  if (!match) return true; // written by hand or by another tool: trust it
  const jars = match[1].replace(/'\\''/g, "'").split(path.delimiter);
  const present = await Promise.all(jars.map((jar) => exists(jar)));
  return present.every(Boolean);
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

async function requireExecutable(file: string, variable: string): Promise<string> {
  if (await isExecutable(file)) return path.resolve(file);
  throw new Error(`${variable} is set to ${file}, but no executable file is there. Fix or unset ${variable}.`);
}

export async function which(command: string, env: Env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (await isExecutable(candidate)) return path.resolve(candidate);
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

// Only used under the build lock, so other folders in tmp are debris of interrupted builds. Each
// build gets its own folder anyway: an orphaned `go install` must not write into a later one's.
async function withTempDir(cache: string, use: (dir: string) => Promise<void>): Promise<void> {
  const tmp = path.join(cache, 'tmp');
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  const dir = await fs.mkdtemp(path.join(tmp, 'build-'));
  try {
    await use(dir);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

interface RunOptions {
  cwd: string;
  env: Env;
  logFile: string;
  what: string;
}

/** Runs a build with its output going only to `logFile`; on failure the error quotes the log's end. */
export async function run(command: string, args: string[], { cwd, env, logFile, what }: RunOptions): Promise<void> {
  await fs.mkdir(path.dirname(logFile), { recursive: true });
  const out = await fs.open(logFile, 'w');
  const started = Date.now();
  let outcome: string;
  try {
    await out.write(`$ ${[command, ...args].join(' ')}\n(in ${cwd}, ${new Date().toISOString()})\n`);
    outcome = await new Promise<string>((resolve) => {
      const child = spawn(command, args, { cwd, env, stdio: ['ignore', out.fd, out.fd] });
      child.on('error', (error) => resolve(`could not start: ${error.message}`));
      child.on('close', (code, signal) => resolve(code === 0 ? '' : signal ? `killed by ${signal}` : `exit code ${code}`));
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    await out.write(`\n${outcome ? `failed: ${outcome}` : 'done'} after ${seconds} s\n`);
  } finally {
    await out.close();
  }
  if (outcome) {
    const tail = (await fs.readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-15).join('\n');
    throw new Error(`Building the ${what} failed (${outcome}). Full log: ${logFile}\nLast lines:\n${tail}`);
  }
}

/*
 * Build lock: a directory (mkdir is atomic) holding the owner's pid and host, whose mtime the
 * owner refreshes while it builds. A waiter takes the lock over when the owner is a dead process
 * on this host, or when the heartbeat stopped (owner on another host sharing the cache, or
 * frozen). Even if a takeover ever raced, builds only ever rename complete files into place,
 * so the worst case is building twice.
 */
const HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 60_000;
const POLL_MS = 500;

export async function withBuildLock<T>(cache: string, log: Log, build: () => Promise<T>): Promise<T> {
  await fs.mkdir(cache, { recursive: true });
  const lock = path.join(cache, 'build.lock');
  let announcedWait = false;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStale(lock)) {
      const tomb = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      await fs.rename(lock, tomb).then(
        () => fs.rm(tomb, { recursive: true, force: true }),
        () => undefined, // another waiter took it over first
      );
      continue;
    }
    if (!announcedWait) {
      log(`waiting for another process that is building a Temporal server or the Kafka broker's classpath (lock ${lock})`);
      announcedWait = true;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }

  const owner = path.join(lock, 'owner.json');
  await fs.writeFile(owner, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lock, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await build();
  } finally {
    clearInterval(heartbeat);
    await fs.rm(lock, { recursive: true, force: true });
  }
}

async function isStale(lock: string): Promise<boolean> {
  let stat;
  try {
    stat = await fs.stat(lock);
  } catch {
    return false; // released meanwhile: just retry mkdir
  }
  const owner = await fs
    .readFile(path.join(lock, 'owner.json'), 'utf8')
    .then((text) => JSON.parse(text) as { pid?: number; host?: string })
    .catch(() => undefined);
  if (owner?.host === hostname() && typeof owner.pid === 'number' && !isAlive(owner.pid)) return true;
  // Also covers an owner that died between mkdir and writing owner.json.
  return Date.now() - stat.mtimeMs > STALE_AFTER_MS;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
