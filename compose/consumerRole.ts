// The Kafka consumer role: the configured topics into the composition's JourneyClient, lag and
// dead letters on its registry (served on METRICS_PORT). It needs no Fastify and no worker, and
// stops when its composition closes.
import { ConfigError, type Config } from '../config';
import { startKafkaConsumer, type RunningKafkaConsumer } from '../consumer/kafka';
import type { Composition } from './index';
import { serveWorkerMetrics } from './roles';

/** What the role cannot start without, checked before anything is opened. */
export function checkKafkaSettings(config: Config): void {
  const { brokers, topics } = config.kafka;
  if (brokers.length === 0) throw new ConfigError('journeys consume kafka needs KAFKA_BROKERS, the brokers to read from, e.g. KAFKA_BROKERS=kafka-1.internal:9092');
  if (topics.length === 0) throw new ConfigError('journeys consume kafka needs KAFKA_TOPICS, the topics to read, e.g. KAFKA_TOPICS=shop.events or KAFKA_TOPICS=shop.events,cdp.calls:segment');
}

export async function startKafkaConsumerRole(app: Composition, log: (line: string) => void): Promise<RunningKafkaConsumer> {
  await serveWorkerMetrics(app, log);
  const consumer = await startKafkaConsumer({ settings: app.config.kafka, journeys: app.journeys, registry: app.metrics.registry, log });
  app.onClose(() => consumer.stop());
  return consumer;
}
