/**
 * Records the histories tests/replay.test.ts replays: real runs of every shipped journey on
 * the time-skipping server, through the journey client, as production starts them.
 *
 *   npm run histories:record              # into tests/histories
 *   npm run histories:record -- <folder>  # elsewhere
 *
 * Re-record after a change to the interpreter, the workflow input or a shipped journey.
 * Before a change behind `patched()`, move the current files into
 * tests/histories/before-<patch-id>/ first: they stand for the runs in production, which the
 * new code must still replay (README, "Changing the interpreter").
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { testServerPath } from '../../scripts/temporalServers';
import { eventSignal } from '../../workflows/messages';
import { saveHistory } from './histories';
import { startJourneyEnv, type JourneyEnv } from './journeyEnv';

const DAY = 86_400_000;

/** One recorded scenario: what happens, and the workflow whose history it leaves, saved as `<name>.json`. */
interface Scenario {
  name: string;
  workflowId: string;
  play(t: JourneyEnv): Promise<void>;
}

const at = (ms: number) => new Date(ms).toISOString();
const cart = (id: string, customerId: string, cartId: string, items: { sku: string; name: string; quantity: number; price: number }[]) => ({
  id,
  type: 'cart.updated',
  customerId,
  properties: { cartId, items, total: items.reduce((sum, item) => sum + item.quantity * item.price, 0), currency: 'EUR' },
});
const shoes = [{ sku: 'shoe-1', name: 'Trail shoes', quantity: 1, price: 80 }];
const jacket = [{ sku: 'jacket-1', name: 'Rain jacket', quantity: 2, price: 60 }];
const profile = (t: JourneyEnv, customerId: string, attributes: Record<string, unknown> = {}) =>
  t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes });
const result = (t: JourneyEnv, workflowId: string) => t.env.client.workflow.getHandle(workflowId).result();

const scenarios: Scenario[] = [
  {
    name: 'cartAbandonment-allReminders',
    workflowId: 'cartAbandonment:rec-ada:cart-1',
    async play(t) {
      await profile(t, 'rec-ada', { firstName: 'Ada', loyaltyTier: 'gold' });
      await t.client.ingest(cart('rec-ada-1', 'rec-ada', 'cart-1', shoes));
      await t.env.sleep('30m');
      // A newer cart while the first wait runs: the event signal.
      await t.client.ingest(cart('rec-ada-2', 'rec-ada', 'cart-1', jacket));
      await result(t, this.workflowId);
    },
  },
  {
    name: 'cartAbandonment-goalReached',
    workflowId: 'cartAbandonment:rec-ben:cart-2',
    async play(t) {
      await profile(t, 'rec-ben');
      await t.client.ingest(cart('rec-ben-1', 'rec-ben', 'cart-2', shoes));
      await t.env.sleep('90m');
      await t.client.ingest({ id: 'rec-ben-order', type: 'order.completed', customerId: 'rec-ben', properties: { cartId: 'cart-2', orderId: 'order-2', items: shoes, total: 80 } });
      await result(t, this.workflowId);
    },
  },
  {
    name: 'cartAbandonment-consentWithdrawn',
    workflowId: 'cartAbandonment:rec-cy:cart-3',
    async play(t) {
      await profile(t, 'rec-cy');
      await t.client.ingest(cart('rec-cy-1', 'rec-cy', 'cart-3', shoes));
      await t.env.sleep('2h');
      await t.client.changeConsent({ customerId: 'rec-cy', topic: 'marketing', status: 'withdrawn', source: 'recording' });
      await result(t, this.workflowId);
    },
  },
  {
    // The run a chatty journey continues as: it resumes the wait it was in and goes on to the end.
    name: 'cartAbandonment-continuedAsNew',
    workflowId: 'cartAbandonment:rec-dee:cart-4',
    async play(t) {
      await profile(t, 'rec-dee');
      await t.client.ingest(cart('rec-dee-1', 'rec-dee', 'cart-4', shoes));
      const handle = t.env.client.workflow.getHandle(this.workflowId);
      // Just past the history length at which a run continues as new (workflows/index.ts).
      for (let n = 0; n < 2_100; n += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            handle.signal(eventSignal, { id: `rec-dee-view-${n + i}`, type: 'product.viewed', customerId: 'rec-dee', occurredAt: new Date().toISOString(), properties: { cartId: 'cart-4' } }),
          ),
        );
      }
      await handle.result();
    },
  },
  {
    name: 'orderReceipt-sent',
    workflowId: 'orderReceipt:rec-ben:order-2',
    async play(t) {
      await result(t, this.workflowId);
    },
  },
  {
    name: 'onboarding-allEmails',
    workflowId: 'onboarding:rec-tess',
    async play(t) {
      await profile(t, 'rec-tess', { firstName: 'Tess', plan: 'team' });
      await t.client.ingest({ id: 'rec-tess-1', type: 'user.signed_up', customerId: 'rec-tess', properties: {} });
      await result(t, this.workflowId);
    },
  },
  {
    name: 'onboarding-goalReached',
    workflowId: 'onboarding:rec-ivo',
    async play(t) {
      await profile(t, 'rec-ivo');
      await t.client.ingest({ id: 'rec-ivo-1', type: 'user.signed_up', customerId: 'rec-ivo', properties: {} });
      await t.env.sleep('1d');
      await t.client.ingest({ id: 'rec-ivo-2', type: 'user.activated', customerId: 'rec-ivo', properties: {} });
      await result(t, this.workflowId);
    },
  },
  {
    name: 'dormancy-sunset',
    workflowId: 'dormancy:rec-hana:dormant60d',
    async play(t) {
      await profile(t, 'rec-hana', { firstName: 'Hana' });
      const now = await t.env.currentTimeMs();
      await t.client.ingest({ id: 'rec-hana-order', type: 'order.completed', customerId: 'rec-hana', occurredAt: at(now - 61 * DAY), properties: { orderId: 'order-h', total: 300, items: [] } });
      await t.client.sweepSegments(at(now));
      await result(t, this.workflowId);
    },
  },
];

async function record(folder: string) {
  process.env.TEMPORAL_TEST_SERVER_PATH ??= await testServerPath();
  mkdirSync(folder, { recursive: true });
  const t = await startJourneyEnv();
  try {
    for (const scenario of scenarios) {
      await scenario.play(t);
      // The latest run: the one a run that continued as new went on in.
      const history = await t.env.client.workflow.getHandle(scenario.workflowId).fetchHistory();
      const file = join(folder, `${scenario.name}.json`);
      saveHistory(file, history);
      console.log(`${file}: ${history.events?.length} events`);
    }
  } finally {
    await t.close();
  }
}

if (require.main === module) {
  record(resolve(process.argv[2] ?? join(__dirname, '..', 'histories'))).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
