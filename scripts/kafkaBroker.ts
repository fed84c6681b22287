/**
 * A real Apache Kafka broker for the tests and for trying `journeys consume kafka` on one machine:
 * a single-node KRaft broker (broker and controller in one JVM) run from Maven Central's
 * artifacts, resolved once and cached the way the Temporal test server is
 * (scripts/temporalServers.ts), so it works where only the package registries answer.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cacheDir } from '../config/cacheDir';
import { exists, mavenClasspath, run, which, withBuildLock } from './temporalServers';

type Log = (line: string) => void;
type Env = NodeJS.ProcessEnv;

const KAFKA = { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: '4.1.1' };
// The broker logs through SLF4J 1.7 (the version Kafka brings); without a binding it logs nothing
// at all, with this one what the start's level lets through (warnings and errors), to its log file.
const SLF4J_SIMPLE = { groupId: 'org.slf4j', artifactId: 'slf4j-simple', version: '1.7.36' };
/** The first line of the cached classpath: a cache written for other versions is resolved again. */
const CLASSPATH_KEY = `# ${[KAFKA, SLF4J_SIMPLE].map((a) => `${a.groupId}:${a.artifactId}:${a.version}`).join(' ')}`;
// C1 only and the serial collector: both JVMs start in about half the time on a small machine, and
// a broker for tests and trials never runs long enough for C2's code to pay off.
const JVM_START_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

const logToStderr: Log = (line) => process.stderr.write(`${line}\n`);

export interface KafkaBroker {
  /** host:port of the PLAINTEXT listener, as KAFKA_BROKERS takes it. */
  bootstrap: string;
  /** How long the start took, from formatting the storage until the port answered. */
  startedInMs: number;
  /** Stops the broker (SIGTERM, SIGKILL after 15 s) and removes its data. */
  stop(): Promise<void>;
}

/** The broker's Java classpath, resolved by Maven once (about 45 jars) and cached. */
export async function kafkaClasspath(log: Log = logToStderr, env: Env = process.env): Promise<string> {
  const cache = cacheDir(env);
  const dir = path.join(cache, 'kafka-broker');
  const cached = path.join(dir, 'classpath.txt');
  const usable = await usableClasspath(cached);
  if (usable) return usable;

  const [java, mvn] = [await which('java', env), await which('mvn', env)];
  if (!java || !mvn) throw new Error(missingJava([!java && '`java`', !mvn && '`mvn`']));
  return withBuildLock(cache, log, async () => {
    const again = await usableClasspath(cached);
    if (again) return again;
    log(`resolving the Kafka broker (${KAFKA.artifactId} ${KAFKA.version}) from Maven (about 20 seconds, once; cached in ${cache})`);
    const classpath = await mavenClasspath(mvn, { dir, pom: pomXml(), env, logFile: path.join(cache, 'logs', 'kafka-broker-build.log'), what: 'the Kafka broker' });
    // Renamed into place: a reader sees no classpath or a whole one.
    const temp = `${cached}.${process.pid}`;
    await fs.writeFile(temp, `${CLASSPATH_KEY}\n${classpath}\n`);
    await fs.rename(temp, cached);
    return classpath;
  });
}

/**
 * Starts a single-node broker on free loopback ports with its data in a temp folder, and
 * resolves once its port answers (about 5 s). The broker is killed if this process exits
 * without stopping it.
 */
export async function startKafkaBroker(log: Log = logToStderr, env: Env = process.env): Promise<KafkaBroker> {
  const classpath = await kafkaClasspath(log, env);
  const java = await which('java', env);
  if (!java) throw new Error(missingJava(['`java`']));
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'journeys-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const properties = path.join(dir, 'server.properties');
  await fs.writeFile(properties, serverProperties(port, controllerPort, path.join(dir, 'data')));
  const logFile = path.join(dir, 'broker.log');
  const started = performance.now();
  try {
    await run(java, [...JVM_START_FLAGS, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties], {
      cwd: dir,
      env,
      logFile: path.join(dir, 'format.log'),
      what: 'Kafka broker storage',
    });
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const out = await fs.open(logFile, 'w');
  const child = spawn(java, [...JVM_START_FLAGS, '-Xmx512m', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', classpath, 'kafka.Kafka', properties], {
    cwd: dir,
    env,
    stdio: ['ignore', out.fd, out.fd],
  });
  await out.close();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
      await fs.rm(dir, { recursive: true, force: true });
    })());

  try {
    await waitForPort(port, () => child.exitCode !== null || child.signalCode !== null);
  } catch (err) {
    const tail = (await fs.readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-15).join('\n');
    await stop();
    throw new Error(`The Kafka broker did not start: ${(err as Error).message}\nLast lines of its log:\n${tail}`);
  }
  return { bootstrap: `127.0.0.1:${port}`, startedInMs: Math.round(performance.now() - started), stop };
}

function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    // One broker: every internal topic has one replica, and one partition of the group offsets
    // topic is created at the first group join instead of 50.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

/** A cluster id as `StorageTool random-uuid` prints it (16 random bytes, base64url), without starting a JVM for it. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // The tool's own ids never start with "-", which a command line would take for an option.
    if (!id.startsWith('-')) return id;
  }
}

function pomXml(): string {
  const dependency = ({ groupId, artifactId, version }: typeof KAFKA) => `    <dependency>
      <groupId>${groupId}</groupId>
      <artifactId>${artifactId}</artifactId>
      <version>${version}</version>
    </dependency>`;
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>journeys</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${dependency(KAFKA)}
${dependency(SLF4J_SIMPLE)}
  </dependencies>
</project>
`;
}

// The classpath points into the Maven repository (~/.m2); if that was cleaned, resolve again
// rather than start a broker that dies with ClassNotFoundException.
async function usableClasspath(file: string): Promise<string | undefined> {
  const [key, classpath] = (await fs.readFile(file, 'utf8').catch(() => '')).split('\n');
  if (key !== CLASSPATH_KEY || !classpath) return undefined;
  const present = await Promise.all(classpath.split(path.delimiter).map((jar) => exists(jar)));
  return present.every(Boolean) ? classpath : undefined;
}

function missingJava(missing: (string | false)[]): string {
  return (
    `The Kafka broker cannot be started: ${missing.filter(Boolean).join(' and ')} not on PATH. ` +
    'Install Java 17 or newer and Maven (e.g. `apt-get install openjdk-17-jre-headless maven`); ' +
    'the broker is then resolved from Maven Central once.'
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, died: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (died()) throw new Error('the JVM exited');
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// `npx tsx scripts/kafkaBroker.ts`: the tests' broker, to try `journeys consume kafka` with, until Ctrl-C.
if (require.main === module) {
  startKafkaBroker().then(
    async (broker) => {
      console.log(`KAFKA_BROKERS=${broker.bootstrap}`);
      console.log('a single-node broker that creates topics on first use; Ctrl-C stops it and deletes its data');
      await new Promise((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await broker.stop();
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
