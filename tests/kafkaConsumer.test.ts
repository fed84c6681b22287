import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compose, type Composition } from '../compose';
import { PROJECT_ROOT, readConfig } from '../config';
import { DEAD_LETTER_HEADERS } from '../consumer/messages';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { requiredEnv } from './support/journeyEnv';
import { consumerProcesses, testKafka, testKafkaBrokers } from './support/kafka';
import { freePort } from './support/ports';
import { freshPostgresDatabase, query, testPostgresUrl } from './support/postgres';

// `journeys consume kafka` as an operator runs it, a process of its own, reading topics of the
// run's real Kafka broker into a SQLite store and the Temporal dev server, which this test reads
// as the shop would. No worker runs: a started journey waits at its first step, which is all
// these tests look at.
const run = randomBytes(4).toString('hex');
const cartEvent = (id: string, customerId: string, cartId: string) => ({ id, type: 'cart.updated', customerId, properties: { cartId, total: 40, currency: 'EUR', items: [] } });
const waitLong = { timeout: 30_000, interval: 200 };

describe('journeys consume kafka, against a real broker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-kafka-'));
  const kafka = testKafka();
  const consumers = consumerProcesses();
  const deadLetterTopic = `journeys.dead-letter.${run}`;
  let devServer: DevServer | undefined;
  let app: Composition | undefined;
  let env: NodeJS.ProcessEnv = {};

  const scrape = async (port: string) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  /** The workflow ids of the customer's journey runs, as Temporal lists them. */
  const runsOf = async (customerId: string) => {
    const ids: string[] = [];
    for await (const execution of app!.temporal.workflow.list({ query: `CustomerId = "${customerId}"` })) ids.push(execution.workflowId);
    return ids;
  };
  /** Events a run was told after its start: an event routed again would be one. */
  const signalsTo = async (workflowId: string) => ((await app!.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;

  beforeAll(async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    devServer = await startDevServer({ cliPath: requiredEnv('TEMPORAL_CLI_PATH'), ip: '127.0.0.1', port, uiPort, dbFile: join(dir, 'temporal.db'), log: () => {} });
    env = {
      ...process.env,
      DATA_DIR: dir,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: `kafka-${run}`,
      KAFKA_BROKERS: testKafkaBrokers(),
      KAFKA_DEAD_LETTER_TOPIC: deadLetterTopic,
    };
    // The shop's side, in this process: the same store (SQLite in DATA_DIR) and Temporal.
    app = await compose(readConfig({ DATA_DIR: dir, TEMPORAL_ADDRESS: devServer.address, TEMPORAL_CONFIG_FILE: process.env.TEMPORAL_CONFIG_FILE }, PROJECT_ROOT));
  }, 120_000);

  afterAll(async () => {
    await consumers.stopAll();
    await kafka.close();
    await app?.close();
    await devServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('one consumer on an event topic and a Segment topic', () => {
    const events = `shop.events.${run}`;
    const calls = `cdp.calls.${run}`;
    const group = `journeys-${run}`;
    let metricsPort = '';

    beforeAll(async () => {
      await kafka.createTopics(events, calls);
      metricsPort = String(await freePort());
      await consumers.start({ ...env, KAFKA_TOPICS: `${events},${calls}:segment`, KAFKA_GROUP_ID: group, METRICS_PORT: metricsPort });
    }, 120_000);

    it('starts the cart journey from a cart.updated message once, commits its offset after recording it, and takes a resent event as a duplicate', async () => {
      await kafka.produce(events, cartEvent('kafka-evt-1', 'kafka-ada', 'cart-1'));
      await vi.waitFor(async () => expect(await kafka.committedOffset(group, events)).toBe(1), waitLong);
      expect(await app!.store.eventById('kafka-evt-1')).toMatchObject({ type: 'cart.updated', customerId: 'kafka-ada' });
      const workflowId = 'cartAbandonment:kafka-ada:cart-1';
      const started = await app!.temporal.workflow.getHandle(workflowId).describe();
      expect([started.type, started.status.name]).toEqual(['cartAbandonment', 'RUNNING']);

      // The shop's producer sends the event again (a retry after a timeout, say): same id, a duplicate.
      await kafka.produce(events, cartEvent('kafka-evt-1', 'kafka-ada', 'cart-1'));
      await vi.waitFor(async () => expect(await kafka.committedOffset(group, events)).toBe(2), waitLong);
      await vi.waitFor(async () => expect(await runsOf('kafka-ada')).toEqual([workflowId]), waitLong);
      expect(await signalsTo(workflowId)).toBe(0);
      const metrics = await scrape(metricsPort);
      expect(metrics).toContain('journeys_events_ingested_total{type="cart.updated",outcome="started"} 1');
      expect(metrics).toContain('journeys_events_ingested_total{type="cart.updated",outcome="duplicate"} 1');
      expect(metrics).toContain(`journeys_kafka_consumer_lag{topic="${events}",partition="0"} 0`);
    });

    it('sends a message that is not JSON, and one that is no valid event, to the dead-letter topic with their errors, and consumes the next', async () => {
      const [notJson, noCustomer, good] = await kafka.produce(
        events,
        'not json {',
        { id: 'kafka-bad-1', type: 'cart.updated', properties: { cartId: 'cart-x', total: 1, items: [] } },
        cartEvent('kafka-evt-2', 'kafka-ben', 'cart-2'),
      );
      await vi.waitFor(async () => expect(await kafka.committedOffset(group, events)).toBe(Number(good) + 1), waitLong);
      expect(await runsOf('kafka-ben')).toEqual(['cartAbandonment:kafka-ben:cart-2']);

      const letters = await kafka.read(deadLetterTopic, 2);
      expect(letters.map((l) => l.value)).toEqual(['not json {', JSON.stringify({ id: 'kafka-bad-1', type: 'cart.updated', properties: { cartId: 'cart-x', total: 1, items: [] } })]);
      expect(letters.map((l) => [l.headers[DEAD_LETTER_HEADERS.reason], l.headers[DEAD_LETTER_HEADERS.topic], l.headers[DEAD_LETTER_HEADERS.partition], l.headers[DEAD_LETTER_HEADERS.offset]])).toEqual([
        ['not_json', events, '0', notJson],
        ['invalid_event', events, '0', noCustomer],
      ]);
      expect(letters[0].headers[DEAD_LETTER_HEADERS.error]).toMatch(/^not JSON: /);
      expect(letters[1].headers[DEAD_LETTER_HEADERS.error]).toMatch(/^invalid event: customerId: /);
      expect(await app!.store.eventById('kafka-bad-1')).toBeUndefined();
      const metrics = await scrape(metricsPort);
      expect(metrics).toContain(`journeys_kafka_dead_letters_total{topic="${events}",reason="not_json"} 1`);
      expect(metrics).toContain(`journeys_kafka_dead_letters_total{topic="${events}",reason="invalid_event"} 1`);
    });

    it('takes a Segment batch from a segment topic: the identify makes the profile, the track starts the cart journey, and the batch resent changes nothing', async () => {
      const batch = {
        batch: [
          { type: 'identify', messageId: 'seg-identify-1', userId: 'kafka-sam', traits: { email: 'sam@example.com', firstName: 'Sam' } },
          { type: 'track', messageId: 'seg-track-1', userId: 'kafka-sam', event: 'Cart Updated', properties: { cartId: 'cart-s', total: 25, currency: 'EUR', items: [] } },
        ],
      };
      await kafka.produce(calls, batch);
      await vi.waitFor(async () => expect(await kafka.committedOffset(group, calls)).toBe(1), waitLong);
      expect(await app!.store.getProfile('kafka-sam')).toMatchObject({ email: 'sam@example.com', attributes: { firstName: 'Sam' } });
      const workflowId = 'cartAbandonment:kafka-sam:cart-s';

      await kafka.produce(calls, batch);
      await vi.waitFor(async () => expect(await kafka.committedOffset(group, calls)).toBe(2), waitLong);
      await vi.waitFor(async () => expect(await runsOf('kafka-sam')).toEqual([workflowId]), waitLong);
      expect(await signalsTo(workflowId)).toBe(0);
      expect(await scrape(metricsPort)).toContain(`journeys_kafka_consumer_lag{topic="${calls}",partition="0"} 0`);
    });
  });

  it('refuses to start without its settings, or on a topic the brokers do not have, naming the setting', async () => {
    const consume = (settings: NodeJS.ProcessEnv) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'journeys.js'), 'consume', 'kafka'], { env: settings }, (err, _stdout, stderr) => resolve({ code: Number(err?.code ?? 0), stderr }));
      });
    expect(await consume({ ...env, KAFKA_BROKERS: '', KAFKA_TOPICS: 'shop.events' })).toEqual({ code: 2, stderr: 'error: journeys consume kafka needs KAFKA_BROKERS, the brokers to read from, e.g. KAFKA_BROKERS=kafka-1.internal:9092\n' });
    expect(await consume({ ...env, KAFKA_TOPICS: 'shop.events:avro' })).toEqual({ code: 2, stderr: 'error: invalid settings: KAFKA_TOPICS: "shop.events:avro": the format is one of event, segment, not "avro"\n' });
    const missing = await consume({ ...env, KAFKA_TOPICS: `no.such.topic.${run}` });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining(`error: KAFKA_TOPICS names "no.such.topic.${run}", which the brokers do not have: create it or fix KAFKA_TOPICS\n`) });
  });

  it('waits out a store outage: the message is tried again, not dead-lettered, and recorded once the store is back', async () => {
    const topic = `shop.outage.${run}`;
    const group = `journeys-outage-${run}`;
    await kafka.createTopics(topic);
    const database = await freshPostgresDatabase();
    const name = new URL(database.url).pathname.slice(1);
    try {
      const port = String(await freePort());
      const consumer = await consumers.start({ ...env, DATABASE_URL: database.url, KAFKA_TOPICS: topic, KAFKA_GROUP_ID: group, METRICS_PORT: port });
      // The store's database refuses every connection, those open included.
      await query(testPostgresUrl(), `ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await query(testPostgresUrl(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      await kafka.produce(topic, cartEvent('kafka-outage-1', 'kafka-lou', 'cart-l'));
      await vi.waitFor(() => expect(consumer.output()).toMatch(new RegExp(`${topic.replace(/\./g, '\\.')}\\[0\\] offset 0: .*; retrying in`)), waitLong);
      expect(await kafka.committedOffset(group, topic)).toBe(-1);

      await query(testPostgresUrl(), `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await vi.waitFor(async () => expect(await kafka.committedOffset(group, topic)).toBe(1), waitLong);
      expect(await runsOf('kafka-lou')).toEqual(['cartAbandonment:kafka-lou:cart-l']);
      expect(await scrape(port)).not.toContain('journeys_kafka_dead_letters_total{');
      expect(await consumer.stop()).toBe(0);
    } finally {
      await query(testPostgresUrl(), `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await database.drop();
    }
  }, 120_000);

  it('re-reads a message recorded but not committed when killed with SIGKILL, records it as a duplicate, starts the journey once, and commits on SIGTERM', async () => {
    const topic = `shop.crash.${run}`;
    const group = `journeys-crash-${run}`;
    await kafka.createTopics(topic);
    // A commit interval of an hour holds every offset back until the consumer stops: the window
    // between recording an event and committing its offset stays open as long as the test needs.
    // The short session lets the group give the killed consumer's partition to the next one soon.
    const settings = { ...env, KAFKA_TOPICS: topic, KAFKA_GROUP_ID: group, KAFKA_COMMIT_INTERVAL: '1h', KAFKA_SESSION_TIMEOUT: '6s' };
    const firstPort = String(await freePort());
    const first = await consumers.start({ ...settings, METRICS_PORT: firstPort });
    await kafka.produce(topic, cartEvent('kafka-crash-1', 'kafka-kim', 'cart-k'));
    const workflowId = 'cartAbandonment:kafka-kim:cart-k';
    // Ingested (recorded and routed), and not committed: the group's lag is the message.
    await vi.waitFor(async () => expect(await scrape(firstPort)).toContain('journeys_events_ingested_total{type="cart.updated",outcome="started"} 1'), waitLong);
    expect(await app!.store.eventById('kafka-crash-1')).toBeDefined();
    expect(await scrape(firstPort)).toContain(`journeys_kafka_consumer_lag{topic="${topic}",partition="0"} 1`);
    expect(await kafka.committedOffset(group, topic)).toBe(-1);

    await first.kill();
    expect(await kafka.committedOffset(group, topic)).toBe(-1);

    const secondPort = String(await freePort());
    const second = await consumers.start({ ...settings, METRICS_PORT: secondPort });
    await vi.waitFor(async () => expect(await scrape(secondPort)).toContain('journeys_events_ingested_total{type="cart.updated",outcome="duplicate"} 1'), waitLong);
    expect(await scrape(secondPort)).not.toContain('outcome="started"');
    await vi.waitFor(async () => expect(await runsOf('kafka-kim')).toEqual([workflowId]), waitLong);
    expect(await signalsTo(workflowId)).toBe(0);
    expect(await kafka.committedOffset(group, topic)).toBe(-1);

    expect(await second.stop()).toBe(0);
    expect(second.output()).toContain('SIGTERM: finishing the work in hand');
    expect(await kafka.committedOffset(group, topic)).toBe(1);
  }, 120_000);
});
