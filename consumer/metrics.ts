// The Kafka consumer's metrics, on the process's registry (what METRICS_PORT serves).
import type { Admin } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DeadLetterReason } from './messages';

export interface KafkaMetrics {
  deadLettered(topic: string, reason: DeadLetterReason): void;
}

/** A scrape waits at most this long for the broker's offsets; past it the lag is left out of that scrape. */
const LAG_READ_TIMEOUT_MS = 5_000;

/**
 * Lag is read from the broker at each scrape, as `kafka-consumer-groups.sh --describe` shows it:
 * each partition's end offset minus the offset the group committed (its start offset when the
 * group has committed none). So it also grows while the consumer is down or stuck retrying, and
 * it counts what is recorded but not committed yet (see KAFKA_COMMIT_INTERVAL).
 */
export function createKafkaMetrics(registry: Registry, admin: Admin, groupId: string, topics: string[], log: (line: string) => void): KafkaMetrics {
  const registers = [registry];
  let lagReadFailed = false;
  new Gauge({
    name: 'journeys_kafka_consumer_lag',
    help: "Messages of each consumed partition the consumer group has not committed: the partition's end offset minus the group's committed offset, read from the broker at each scrape",
    labelNames: ['topic', 'partition'] as const,
    registers,
    async collect() {
      this.reset();
      try {
        const read = Promise.all([admin.fetchOffsets({ groupId, topics }), Promise.all(topics.map(async (topic) => ({ topic, ends: await admin.fetchTopicOffsets(topic) })))]);
        const [committed, ends] = await withTimeout(read, LAG_READ_TIMEOUT_MS);
        for (const { topic, ends: partitions } of ends) {
          const committedOf = committed.find((c) => c.topic === topic)?.partitions ?? [];
          for (const { partition, high, low } of partitions) {
            const offset = Number(committedOf.find((c) => c.partition === partition)?.offset ?? -1);
            this.set({ topic, partition: String(partition) }, Number(high) - (offset >= 0 ? offset : Number(low)));
          }
        }
        lagReadFailed = false;
      } catch (err) {
        // Said once per outage; the series is absent meanwhile, so a stale lag never looks current.
        if (!lagReadFailed) log(`consumer lag could not be read from the brokers: ${(err as Error).message}`);
        lagReadFailed = true;
      }
    },
  });
  const deadLetters = new Counter({
    name: 'journeys_kafka_dead_letters_total',
    help: 'Messages sent to the dead-letter topic, by source topic and reason (not_json, invalid_event, event_id_conflict)',
    labelNames: ['topic', 'reason'] as const,
    registers,
  });
  return { deadLettered: (topic, reason) => deadLetters.inc({ topic, reason }) };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
