import type { Command } from 'commander';

/**
 * `journeys consume kafka`: the Kafka consumer role as a long-lived process, as many as the
 * topics have partitions. Loaded on demand, so the other commands never load kafkajs.
 */
export function registerConsume(program: Command, out: (line: string) => void): void {
  program
    .command('consume')
    .description('read events from a stream and ingest them, until SIGTERM')
    .command('kafka')
    .description(
      'consume KAFKA_TOPICS from KAFKA_BROKERS as group KAFKA_GROUP_ID: each message is ingested as POST /v1/events (or as a ' +
        'Segment call) and its offset committed once it is recorded; a message that can never be ingested goes to KAFKA_DEAD_LETTER_TOPIC',
    )
    .action(async () => {
      // A require, not import(): see registerRoles (bin/journeys.js runs the sources through tsx's CommonJS hook).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runRoles } = require('../../compose/run') as typeof import('../../compose/run');
      await runRoles(['kafka-consumer'], (line) => out(`journeys consume kafka: ${line}`));
    });
}
