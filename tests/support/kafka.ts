import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type IHeaders } from 'kafkajs';
import { PROJECT_ROOT } from '../../config';
import { startKafkaBroker } from '../../scripts/kafkaBroker';
import { running, stopProcesses } from './roleProcess';

/** How the global setup tells the test workers where the run's Kafka broker is. */
export const TEST_KAFKA_ENV = 'JOURNEYS_TEST_KAFKA_BROKERS';

/**
 * The Kafka broker of one test run, from Maven Central's artifacts (scripts/kafkaBroker.ts).
 * Never skipped: without Java or Maven the run fails, saying what to install.
 */
export async function provideTestKafka(): Promise<{ brokers: string; description: string; stop(): Promise<void> }> {
  const broker = await startKafkaBroker();
  return { brokers: broker.bootstrap, description: `a Kafka broker (KRaft) on ${broker.bootstrap}, started in ${(broker.startedInMs / 1000).toFixed(1)} s`, stop: broker.stop };
}

export function testKafkaBrokers(): string {
  const brokers = process.env[TEST_KAFKA_ENV];
  if (!brokers) throw new Error(`${TEST_KAFKA_ENV} is unset: run the tests with vitest, whose global setup (tests/globalSetup.ts) starts the Kafka broker`);
  return brokers;
}

/** A message as a test reads it back: text value and headers. */
export interface ReadMessage {
  offset: string;
  key?: string;
  value?: string;
  headers: Record<string, string>;
}

/** The shop's side of the run's broker: topics, messages, and what a consumer group committed. */
export function testKafka() {
  const kafka = new Kafka({ clientId: 'journeys-test', brokers: [testKafkaBrokers()], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  let connecting: Promise<void> | undefined;
  const connected = () => (connecting ??= Promise.all([admin.connect(), producer.connect()]).then(() => undefined));

  return {
    async createTopics(...topics: string[]): Promise<void> {
      await connected();
      await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    },
    /** Produces each value (an object as JSON, a string as it is) to partition 0, in order; resolves to their offsets. */
    async produce(topic: string, ...values: unknown[]): Promise<string[]> {
      await connected();
      const offsets: string[] = [];
      for (const value of values) {
        const [sent] = await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: typeof value === 'string' ? value : JSON.stringify(value) }] });
        offsets.push(sent.baseOffset ?? '');
      }
      return offsets;
    },
    /** The offset the group committed on the topic's partition 0: the next one it will read; -1 when it committed none. */
    async committedOffset(groupId: string, topic: string): Promise<number> {
      await connected();
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return Number(committed?.partitions.find((p) => p.partition === 0)?.offset ?? -1);
    },
    /** The first `count` messages of the topic, read by a consumer group of their own. */
    async read(topic: string, count: number, timeoutMs = 30_000): Promise<ReadMessage[]> {
      const consumer = kafka.consumer({ groupId: `journeys-test-reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 500 });
      const messages: ReadMessage[] = [];
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            messages.push({ offset: message.offset, key: message.key?.toString(), value: message.value?.toString(), headers: textHeaders(message.headers) });
          },
        });
        for (const deadline = Date.now() + timeoutMs; messages.length < count; ) {
          if (Date.now() > deadline) throw new Error(`${topic} had ${messages.length} messages after ${timeoutMs / 1000} s, not ${count}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return messages.slice(0, count);
      } finally {
        await consumer.disconnect();
      }
    },
    async close(): Promise<void> {
      if (!connecting) return;
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

function textHeaders(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(Array.isArray(value) ? value.join(',') : (value ?? ''))]));
}

/** `journeys consume kafka` as a process of its own, started from the real entry (bin/journeys.js) as an operator would. */
export interface ConsumerProcess {
  /** What it wrote to stdout and stderr. */
  output(): string;
  /** SIGKILL: no chance to commit anything, as a crash or an OOM kill. */
  kill(): Promise<void>;
  /** SIGTERM, as an operator or an orchestrator stops it; resolves to its exit code. */
  stop(): Promise<number | null>;
}

/** The consumer processes of one test file; `stopAll` ends any still running (afterAll). */
export function consumerProcesses() {
  const children: ChildProcess[] = [];

  /** Starts the consumer and resolves once it has joined its group, or rejects with its output. */
  async function start(env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<ConsumerProcess> {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'journeys.js'), 'consume', 'kafka'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`journeys consume kafka did not join its group within ${timeoutMs / 1000} s:\n${output}`)), timeoutMs);
      child.stdout?.on('data', () => {
        if (!output.includes('joined group')) return;
        clearTimeout(timer);
        resolve();
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`journeys consume kafka exited (${code ?? child.signalCode}) before joining its group:\n${output}`));
      });
    });
    const signal = async (name: NodeJS.Signals) => {
      if (running(child)) child.kill(name);
      return exited;
    };
    return { output: () => output, kill: async () => void (await signal('SIGKILL')), stop: () => signal('SIGTERM') };
  }

  const stopAll = (graceMs = 10_000) => stopProcesses(children, graceMs);

  return { start, stopAll };
}
