import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compose, type Composition } from '../compose';
import { httpApi } from '../compose/apiRole';
import { PROJECT_ROOT, readConfig } from '../config';
import { cacheDir } from '../config/cacheDir';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { cachedWorkflowBundle } from '../worker/bundle';
import { startJourneyEnv, requiredEnv, TEST_UNSUBSCRIBE, type JourneyEnv } from './support/journeyEnv';
import { scriptedReplies, startMailbox, type Mailbox } from './support/mail';
import { freePort } from './support/ports';
import { roleProcesses } from './support/roleProcess';

const cartEvent = (id: string, customerId: string, cartId: string) => ({
  id,
  type: 'cart.updated',
  customerId,
  properties: { cartId, total: 80, currency: 'EUR', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }] },
});

/** The value of one sample in Prometheus text, e.g. `journeys_runs_started_total{journey="cartAbandonment"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics after a journey sends, on the time-skipping server', () => {
  let t: JourneyEnv;
  // The private API as the roles serve it: /metrics beside /v1, behind the same keys.
  let api: FastifyInstance;
  // What the SMTP server answers at RCPT TO, by recipient, for the next attempts.
  const scripted = scriptedReplies();
  const { replies } = scripted;
  beforeAll(async () => {
    t = await startJourneyEnv({
      mailbox: { onRecipient: scripted.onRecipient },
    });
    api = httpApi(t.app, { logger: false });
  });
  afterAll(async () => {
    await api?.close();
    await t?.close();
  });

  const scrape = async () => {
    const response = await api.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.body;
  };

  it('counts the ingest, the run started, each send with its outcome and reason, and times the sends and store calls', async () => {
    await t.client.upsertProfile({ customerId: 'ada', email: 'ada@example.com', attributes: { firstName: 'Ada' } });
    await t.client.upsertProfile({ customerId: 'ben', email: 'ben@example.com', attributes: {} });
    expect((await t.client.ingest(cartEvent('m-1', 'ada', 'cart-a'))).started).toEqual(['cartAbandonment:ada:cart-a']);
    expect((await t.client.ingest(cartEvent('m-1', 'ada', 'cart-a'))).duplicate).toBe(true);
    await expect(t.client.ingest({ id: 'm-bad', type: 'cart.updated', customerId: 'ada', properties: {} })).rejects.toThrow(/cartId/);
    await t.client.ingest(cartEvent('m-2', 'ben', 'cart-b'));
    // Ben's withdrawal reaches the ledger but, as if its signal were lost, not his run: the send step reads the ledger.
    await t.store.recordConsent({ customerId: 'ben', topic: 'marketing', status: 'withdrawn', source: 'test', at: new Date(await t.env.currentTimeMs()).toISOString() });

    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'ada@example.com' });
    await vi.waitFor(async () => expect(await scrape()).toContain('journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="skipped",reason="consent_withdrawn"} 1'), { timeout: 10_000 });
    let text = await scrape();
    expect(text).toContain('journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="sent"} 1');
    expect(text).toContain('journeys_send_duration_seconds_count{journey="cartAbandonment",outcome="sent"} 1');
    expect(sample(text, 'journeys_send_duration_seconds_sum{journey="cartAbandonment",outcome="sent"}')).toBeGreaterThan(0);
    expect(text).toContain('journeys_events_ingested_total{type="cart.updated",outcome="started"} 2');
    expect(text).toContain('journeys_events_ingested_total{type="cart.updated",outcome="duplicate"} 1');
    expect(text).toContain('journeys_events_ingested_total{type="cart.updated",outcome="invalid"} 1');
    expect(text).toContain('journeys_runs_started_total{journey="cartAbandonment"} 2');
    expect(sample(text, 'journeys_store_call_duration_seconds_count{call="recordEvent"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'journeys_store_call_duration_seconds_count{call="claimSend"}')).toBe(1);
    expect(text).toMatch(/^journeys_store_call_duration_seconds_bucket\{le="0\.001",call="getProfile"\} \d+$/m);
    expect(text).toContain('# TYPE journeys_smtp_sender_rejected_total counter');

    // A bounce reported later suppresses Ada's address: her next reminder is skipped for it.
    await t.client.suppress({ email: 'ada@example.com', reason: 'bounce', source: 'bounce webhook' });
    await t.env.sleep('24h');
    await vi.waitFor(async () => expect(await scrape()).toContain('journeys_sends_total{journey="cartAbandonment",step="reminder2",outcome="skipped",reason="suppressed_bounce"} 1'), { timeout: 10_000 });
    text = await scrape();
    expect(text).toContain('journeys_suppressions_total{reason="bounce"} 1');
    expect(text).toContain('journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="sent"} 1');
    expect(text).not.toMatch(/example\.com/);

    // Ada's run ends when she orders (and the order's receipt runs to its end); Ben's ended at the send that found his consent withdrawn.
    await t.client.ingest({ id: 'm-order', type: 'order.completed', customerId: 'ada', properties: { cartId: 'cart-a', orderId: 'o-a', items: [], total: 80 } });
    await t.env.sleep('1h');
    await vi.waitFor(async () => expect(await scrape()).toContain('journeys_runs_ended_total{journey="cartAbandonment",status="goal_reached"} 1'), { timeout: 10_000 });
    text = await scrape();
    expect(text).toContain('journeys_runs_ended_total{journey="cartAbandonment",status="consent_withdrawn"} 1');
    expect(text).toContain('journeys_runs_ended_total{journey="orderReceipt",status="completed"} 1');
  });

  it('counts each SMTP verdict: a hard bounce, our sending refused (5.7.x), a 4xx retried and then sent', async () => {
    replies.set('gone@example.com', { code: 550, text: '5.1.1 <gone@example.com>: mailbox does not exist', times: Infinity });
    replies.set('policy@example.com', { code: 550, text: '5.7.1 message rejected by policy', times: Infinity });
    replies.set('busy@example.com', { code: 451, text: '4.3.0 try again later', times: 1 });
    const sentBefore = sample(await scrape(), 'journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="sent"}') ?? 0;
    for (const customerId of ['gone', 'policy', 'busy']) {
      await t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: {} });
      await t.client.ingest(cartEvent(`v-${customerId}`, customerId, `cart-${customerId}`));
    }

    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'busy@example.com' });
    const series = (outcome: string, reason: string) => `journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="${outcome}",reason="${reason}"} 1`;
    await vi.waitFor(
      async () => {
        const text = await scrape();
        expect(text).toContain(series('failed', 'bad_recipient'));
        expect(text).toContain(series('failed', 'sender_rejected'));
      },
      { timeout: 10_000 },
    );
    const text = await scrape();
    expect(text).toContain('journeys_smtp_sender_rejected_total 1');
    expect(text).toContain(series('retried', 'smtp_temporary'));
    expect(sample(text, 'journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="sent"}')).toBe(sentBefore + 1);
    expect(text).toContain('journeys_send_duration_seconds_count{journey="cartAbandonment",outcome="failed"} 2');
    expect(text).not.toMatch(/example\.com|5\.7\.1/);
  });
});

describe('a worker role process with METRICS_PORT and TEMPORAL_METRICS_ADDRESS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-metrics-'));
  const roles = roleProcesses();
  let devServer: DevServer | undefined;
  let mailbox: Mailbox | undefined;
  let app: Composition | undefined;
  let env: Record<string, string> = {};
  let serverMetricsPort = 0;
  const scripted = scriptedReplies();

  beforeAll(async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    serverMetricsPort = await freePort();
    [devServer, mailbox] = await Promise.all([
      startDevServer({ cliPath: requiredEnv('TEMPORAL_CLI_PATH'), ip: '127.0.0.1', port, uiPort, metricsPort: serverMetricsPort, dbFile: join(dir, 'temporal.db'), log: () => {} }),
      startMailbox({ onRecipient: scripted.onRecipient }),
      // Built once per code change: here, so the worker process starts without webpack.
      cachedWorkflowBundle(cacheDir()),
    ]);
    env = {
      DATA_DIR: dir,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: `metrics-${randomBytes(4).toString('hex')}`,
      SMTP_URL: mailbox.url,
      UNSUBSCRIBE_KEYS: TEST_UNSUBSCRIBE.keys.map(({ id, secret }) => `${id}:${secret}`).join(','),
      PUBLIC_URL: TEST_UNSUBSCRIBE.publicUrl,
      MAIL_FROM: 'Shop <hello@shop.example.com>',
      JOURNEY_WAIT_SCALE: '3600',
      QUIET_HOURS: 'off',
      METRICS_PORT: String(await freePort()),
      TEMPORAL_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
    };
    // The shop's side, in this process: the same store (SQLite in DATA_DIR) and Temporal.
    app = await compose(readConfig({ ...env, TEMPORAL_CONFIG_FILE: process.env.TEMPORAL_CONFIG_FILE }, PROJECT_ROOT));
  }, 180_000);

  afterAll(async () => {
    await roles.stopAll();
    await app?.close();
    await mailbox?.close();
    await devServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the worker\'s sends on METRICS_PORT and the SDK\'s own metrics on TEMPORAL_METRICS_ADDRESS, over HTTP', async () => {
    const worker = await roles.start('worker', { ...process.env, ...env });
    expect(worker.output()).toContain(`metrics on http://127.0.0.1:${env.METRICS_PORT}/metrics`);
    const metricsUrl = `http://127.0.0.1:${env.METRICS_PORT}/metrics`;

    await app!.journeys.upsertProfile({ customerId: 'kim', email: 'kim@example.com', attributes: {} });
    expect((await app!.journeys.ingest(cartEvent('w-1', 'kim', 'cart-k'))).started).toEqual(['cartAbandonment:kim:cart-k']);
    // An hour at 3,600× is a second.
    await mailbox!.waitForCount(1, { to: 'kim@example.com', timeoutMs: 30_000 });

    await vi.waitFor(
      async () => {
        const response = await fetch(metricsUrl);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
        const text = await response.text();
        expect(text).toContain('journeys_sends_total{journey="cartAbandonment",step="reminder1",outcome="sent"} 1');
        expect(text).toContain('journeys_send_duration_seconds_count{journey="cartAbandonment",outcome="sent"} 1');
        expect(sample(text, 'journeys_store_call_duration_seconds_count{call="claimSend"}')).toBe(1);
        expect(text).toMatch(/^process_cpu_seconds_total \d/m);
      },
      { timeout: 10_000 },
    );
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);

    const sdk = await fetch(`http://${env.TEMPORAL_METRICS_ADDRESS}/metrics`);
    expect(sdk.status).toBe(200);
    const sdkText = await sdk.text();
    expect(sdkText).toMatch(/^temporal_num_pollers\{/m);
    expect(sdkText).toMatch(/^temporal_local_activity_execution_latency_count\{activity_type="sendStep",[^}]*workflow_type="cartAbandonment"\} 1$/m);
    // The send ran as a local activity in the workflow task that reached its step: no activity
    // task for the server to hand out, no completion or heartbeat to report.
    expect(sdkText).not.toMatch(/^temporal_request\{[^}]*operation="RespondActivityTaskCompleted"/m);
    expect(sdkText).not.toMatch(/^temporal_request\{[^}]*operation="RecordActivityTaskHeartbeat"/m);

    // A send whose first attempt meets a 4xx goes on as the sendStep activity, which the embedded
    // server hands to the worker in its reply to the workflow task that scheduled it (eager
    // dispatch), not through a poll of its matching service.
    scripted.replies.set('lee@example.com', { code: 451, text: '4.3.0 Try again later', times: 1 });
    await app!.journeys.upsertProfile({ customerId: 'lee', email: 'lee@example.com', attributes: {} });
    await app!.journeys.ingest(cartEvent('w-2', 'lee', 'cart-l'));
    await mailbox!.waitForCount(1, { to: 'lee@example.com', timeoutMs: 30_000 });
    await vi.waitFor(async () => {
      const after = await (await fetch(`http://${env.TEMPORAL_METRICS_ADDRESS}/metrics`)).text();
      expect(after).toMatch(/^temporal_activity_execution_latency_count\{activity_type="sendStep",[^}]*workflow_type="cartAbandonment"\} 1$/m);
      expect(after).toMatch(/^temporal_request\{[^}]*operation="RespondActivityTaskCompleted"[^}]*\} 1$/m);
    }, { timeout: 10_000 });
    // The server's counters reach its endpoint on the next report (about a second).
    await vi.waitFor(async () => {
      const server = await (await fetch(`http://127.0.0.1:${serverMetricsPort}/metrics`)).text();
      expect(server).toMatch(/^activity_eager_execution\{[^}]*namespace="default"[^}]*\} [1-9]/m);
    }, { timeout: 10_000 });
  });

  it('reads the transfer queue for each run the embedded server starts, not at most 20 times a second', async () => {
    // A new run's first workflow task leaves the history service through its transfer queue.
    // Temporal's default reads it at most 20 times a second per shard (a burst of 20, then 20 a
    // second), and the embedded server has one shard: past 20 starts a second, each start would
    // wait for the next read. So: more reads, while runs start one after another, than that allows.
    const serverMetrics = `http://127.0.0.1:${serverMetricsPort}/metrics`;
    const reads = async () =>
      (await (await fetch(serverMetrics)).text())
        .split('\n')
        .filter((line) => /^persistence_requests\{[^}]*operation="GetTransferTasks"/.test(line))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    const connection = await Connection.connect({ address: devServer!.address });
    try {
      const client = new Client({ connection });
      const taskQueue = `transfer-reads-${randomBytes(4).toString('hex')}`;
      // The counters reach the endpoint on the server's next report: start from a settled figure.
      let before = -1;
      await vi.waitFor(async () => {
        const now = await reads();
        const settled = now === before;
        before = now;
        expect(settled).toBe(true);
      }, { timeout: 10_000, interval: 1_500 });
      const startedAt = performance.now();
      for (let i = 0; i < 150; i++) await client.workflow.start('noSuchWorkflow', { taskQueue, workflowId: `${taskQueue}-${i}` });
      const seconds = (performance.now() - startedAt) / 1000;
      const mostAt20PerSecond = 20 + 20 * seconds;
      await vi.waitFor(async () => expect((await reads()) - before).toBeGreaterThan(mostAt20PerSecond + 10), { timeout: 10_000 });
    } finally {
      await connection.close();
    }
  });
});
