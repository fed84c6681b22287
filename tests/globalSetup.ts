/**
 * Resolves (building once if needed) both Temporal servers before any test file runs, and
 * hands their paths to the test workers through the environment they inherit; likewise one
 * PostgreSQL server and one Kafka broker for the whole run, stopped after the last test. After
 * the last test, every email the suite received is checked for one-click unsubscribe.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporalCliPath, testServerPath } from '../scripts/temporalServers';
import { provideTestKafka, TEST_KAFKA_ENV } from './support/kafka';
import { provideTestPostgres, TEST_POSTGRES_ENV } from './support/postgres';
import { createSuiteOutbox, removeSuiteOutbox, SUITE_OUTBOX_ENV, unsubscribeProblems } from './support/suiteOutbox';

export default async function setup(): Promise<() => Promise<void>> {
  process.env.TEMPORAL_CLI_PATH = await temporalCliPath();
  process.env.TEMPORAL_TEST_SERVER_PATH = await testServerPath();
  // Started beside PostgreSQL: the broker's JVM takes seconds to answer. Awaited below, so a
  // PostgreSQL failure first leaves no unhandled rejection (the broker dies with this process).
  const kafkaStarting = provideTestKafka();
  kafkaStarting.catch(() => undefined);
  const postgres = await provideTestPostgres();
  process.env[TEST_POSTGRES_ENV] = postgres.url;
  console.log(`store tests use ${postgres.description}`);
  const kafka = await kafkaStarting;
  process.env[TEST_KAFKA_ENV] = kafka.brokers;
  console.log(`Kafka consumer tests use ${kafka.description}`);
  const outbox = createSuiteOutbox();
  process.env[SUITE_OUTBOX_ENV] = outbox;
  // A developer's own Temporal config file (a Cloud profile with an API key) must not reach
  // the servers the tests start: every process the suite runs reads this empty one instead.
  const noTemporalProfile = join(outbox, 'temporal.toml');
  writeFileSync(noTemporalProfile, '');
  process.env.TEMPORAL_CONFIG_FILE = noTemporalProfile;

  return async function teardown() {
    await kafka.stop();
    await postgres.stop();
    const { count, problems } = await unsubscribeProblems(outbox);
    removeSuiteOutbox(outbox);
    if (problems.length > 0) {
      throw new Error(`${problems.length} of ${count} emails in the suite lack one-click unsubscribe:\n  ${problems.slice(0, 20).join('\n  ')}`);
    }
    console.log(`every one of the ${count} emails the suite received carries List-Unsubscribe, List-Unsubscribe-Post and a body link`);
  };
}
