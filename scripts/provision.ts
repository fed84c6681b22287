/**
 * `npm run servers`: finds or builds both Temporal servers and prints where they are, and
 * resolves the Kafka broker's classpath, so a machine (or CI) pays the one-time builds up front
 * instead of inside the first test run.
 */
import { delimiter } from 'node:path';
import { kafkaClasspath } from './kafkaBroker';
import { temporalCliPath, testServerPath } from './temporalServers';

async function main(): Promise<void> {
  // One after the other: the builds share a lock, and the CLI build alone needs most of a 2-core machine.
  const cli = await temporalCliPath();
  const testServer = await testServerPath();
  console.log(`TEMPORAL_CLI_PATH=${cli}`);
  console.log(`TEMPORAL_TEST_SERVER_PATH=${testServer}`);
  const kafka = await kafkaClasspath();
  console.log(`Kafka broker: ${kafka.split(delimiter).length} jars resolved`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
