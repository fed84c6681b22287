// The Kafka consumer role's core: reads the configured topics with a consumer group, feeds each
// message to the same ingest path as the API, and commits a message's offset only once its event
// is recorded (or its dead letter written), so a crash re-reads what it had not finished, and the
// event id makes that a duplicate. Transient failures (store or Temporal down) hold the
// partition and are retried; they never dead-letter a message.
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaConfig, type logCreator } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { JourneyClient } from '../app/journeyClient';
import type { KafkaFormat, KafkaSettings } from '../config/kafka';
import { createKafkaMetrics } from './metrics';
import { deadLetterOf, ingestMessage } from './messages';

export interface KafkaConsumerDeps {
  settings: KafkaSettings;
  journeys: JourneyClient;
  /** The process's registry: lag and dead letters are counted there. */
  registry: Registry;
  log: (line: string) => void;
}

export interface RunningKafkaConsumer {
  /** Rejects if the consumer stops on an error it cannot get past (kafkajs gave up restarting it). */
  failed: Promise<never>;
  /** Commits what is recorded, leaves the group and disconnects. */
  stop(): Promise<void>;
}

/** Retries of a transient failure wait twice as long each time, up to this. */
const MAX_RETRY_DELAY_MS = 30_000;
const FIRST_RETRY_DELAY_MS = 500;

export async function startKafkaConsumer({ settings, journeys, registry, log }: KafkaConsumerDeps): Promise<RunningKafkaConsumer> {
  const kafka = new Kafka(clientConfig(settings, log));
  const formats: Record<string, KafkaFormat> = Object.fromEntries(settings.topics.map((t) => [t.topic, t.format]));
  const topics = settings.topics.map((t) => t.topic);
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({
    groupId: settings.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: settings.sessionTimeoutMs,
    // At most a third of the session, as Kafka advises, so one lost heartbeat does not cost the partitions.
    heartbeatInterval: Math.min(3_000, Math.floor(settings.sessionTimeoutMs / 3)),
    // How long a fetch waits for new messages, and so how long a stop may wait for the fetch in hand.
    maxWaitTimeInMs: 1_000,
  });
  const opened: { disconnect(): Promise<void> }[] = [];
  try {
    for (const client of [admin, producer, consumer]) {
      await client.connect().catch((err: Error) => {
        throw new Error(`cannot reach the Kafka brokers ${settings.brokers.join(',')} (KAFKA_BROKERS): ${err.message}`);
      });
      opened.push(client);
    }
    await checkTopics(admin, topics, settings.deadLetterTopic, log);
  } catch (err) {
    for (const client of opened.reverse()) await client.disconnect().catch(() => undefined);
    throw err;
  }
  const metrics = createKafkaMetrics(registry, admin, settings.groupId, topics, log);
  const described = settings.topics.map(({ topic, format }) => `${topic} (${format})`).join(', ');
  log(`consuming ${described} from ${settings.brokers.join(',')} as group ${settings.groupId}; dead letters go to ${settings.deadLetterTopic}`);

  // The offset after the last message recorded, by partition, since the last join: what a stop
  // commits when no batch is in hand (within a batch, kafkajs's resolved offsets do).
  const recorded = new Map<string, { topic: string; partition: number; offset: string }>();
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    recorded.clear();
    const assigned = Object.entries(payload.memberAssignment).map(([topic, partitions]) => `${topic} [${partitions.join(', ')}]`);
    log(`joined group ${settings.groupId}: ${assigned.join(', ') || 'no partitions assigned'}`);
  });
  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) fail(new Error(`the Kafka consumer stopped: ${payload.error.message}`));
  });

  const handleBatch = async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale }: EachBatchPayload) => {
    const { topic, partition } = batch;
    const format = formats[topic];
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      const done = await retryTransient(`${topic}[${partition}] offset ${message.offset}`, isRunning, heartbeat, log, async () => {
        const verdict = await ingestMessage(journeys, format, message.value);
        if (verdict.outcome === 'recorded') return;
        await producer.send({ topic: settings.deadLetterTopic, acks: -1, messages: [deadLetterOf({ topic, partition, message }, verdict.reason, verdict.error)] });
        metrics.deadLettered(topic, verdict.reason);
        log(`${topic}[${partition}] offset ${message.offset} sent to ${settings.deadLetterTopic}: ${verdict.error}`);
      });
      if (!done) break;
      resolveOffset(message.offset);
      recorded.set(`${topic}:${partition}`, { topic, partition, offset: String(BigInt(message.offset) + 1n) });
      if (settings.commitIntervalMs > 0) await commitOffsetsIfNecessary();
      await heartbeat();
    }
    // Interval 0 commits each batch once it is recorded; a stop commits what is recorded.
    if (settings.commitIntervalMs === 0 || !isRunning()) await commitOffsetsIfNecessary(uncommittedOffsets());
  };

  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    // Read by commitOffsetsIfNecessary() alone: with autoCommit off, kafkajs commits nothing by itself.
    autoCommitInterval: settings.commitIntervalMs || null,
    eachBatchAutoResolve: false,
    eachBatch: handleBatch,
  });

  let stopping: Promise<void> | undefined;
  return {
    failed,
    stop: () =>
      (stopping ??= (async () => {
        await commitRecorded(consumer, recorded, log);
        // Waits for the batch in hand, which commits what it recorded on its way out.
        await consumer.disconnect();
        await producer.disconnect();
        await admin.disconnect();
      })()),
  };
}

function clientConfig(settings: KafkaSettings, log: (line: string) => void): KafkaConfig {
  // kafkajs logs JSON lines at INFO by default; only its warnings and errors reach our log.
  const logCreator: logCreator = () => ({ namespace, label, log: entry }) => {
    const detail = typeof entry.error === 'string' && entry.error !== entry.message ? ` (${entry.error})` : '';
    log(`kafka ${label.toLowerCase()}${namespace ? ` [${namespace}]` : ''}: ${entry.message}${detail}`);
  };
  return {
    clientId: 'journeys',
    brokers: settings.brokers,
    ssl: settings.tls,
    ...(settings.sasl && { sasl: settings.sasl }),
    logLevel: logLevel.WARN,
    logCreator,
  };
}

/**
 * The consumed topics must exist: a misspelt name would otherwise wait forever (or, where the
 * brokers create topics on first use, read an empty new one). The dead-letter topic is created
 * when missing, with the brokers' defaults.
 */
async function checkTopics(admin: Admin, topics: string[], deadLetterTopic: string, log: (line: string) => void): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !existing.has(topic));
  if (missing.length > 0) throw new Error(`KAFKA_TOPICS names ${missing.map((t) => `"${t}"`).join(', ')}, which the brokers do not have: create ${missing.length > 1 ? 'them' : 'it'} or fix KAFKA_TOPICS`);
  if (existing.has(deadLetterTopic)) return;
  await admin.createTopics({ topics: [{ topic: deadLetterTopic }], waitForLeaders: true }).catch((err: Error) => {
    throw new Error(`the dead-letter topic "${deadLetterTopic}" (KAFKA_DEAD_LETTER_TOPIC) does not exist and could not be created: ${err.message}; create it, or name another`);
  });
  log(`created the dead-letter topic ${deadLetterTopic}`);
}

/**
 * Runs `attempt` until it succeeds, waiting longer after each failure (heartbeating, so the
 * group keeps the partition), or until the consumer is stopping: then false, and the message
 * stays uncommitted for whoever reads the partition next.
 */
async function retryTransient(what: string, isRunning: () => boolean, heartbeat: () => Promise<void>, log: (line: string) => void, attempt: () => Promise<void>): Promise<boolean> {
  for (let delay = FIRST_RETRY_DELAY_MS; ; delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)) {
    try {
      await attempt();
      return true;
    } catch (err) {
      if (!isRunning()) return false;
      log(`${what}: ${(err as Error).message.split('\n')[0]}; retrying in ${delay / 1000} s (not committed)`);
      for (const waitUntil = Date.now() + delay; Date.now() < waitUntil; ) {
        if (!isRunning()) return false;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, waitUntil - Date.now())));
        await heartbeat();
      }
    }
  }
}

async function commitRecorded(consumer: Consumer, recorded: Map<string, { topic: string; partition: number; offset: string }>, log: (line: string) => void): Promise<void> {
  if (recorded.size === 0) return;
  await consumer.commitOffsets([...recorded.values()]).catch((err: Error) => {
    // Nothing is lost: whoever reads these partitions next re-reads the messages as duplicates.
    log(`committing the recorded offsets on the way out failed: ${err.message}`);
  });
}

