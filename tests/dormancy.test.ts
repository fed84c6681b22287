import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type journey from '../workflows';
import { stateQuery } from '../workflows/messages';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';
import type { ReceivedEmail } from './support/mail';

// The shipped catalogue on the time-skipping server. A customer becomes dormant when their
// last activity is 60 days old at a segment sweep; the tests date an order 61 days back and
// sweep at Temporal's now, as the segmentSweep Schedule does.
let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv();
});
afterAll(async () => {
  await t?.close();
});

const DAY = 86_400_000;
const at = (ms: number) => new Date(ms).toISOString();
const now = () => t.env.currentTimeMs();
let seq = 0;
const order = (customerId: string, total: number, occurredAt: number) =>
  t.client.ingest({ id: `dormancy-order-${++seq}`, type: 'order.completed', customerId, occurredAt: at(occurredAt), properties: { orderId: `o${seq}`, total, items: [{ name: 'Jacket', quantity: 1, price: total }] } });
const activity = async (customerId: string, type: string, properties: Record<string, unknown> = {}) =>
  t.client.ingest({ id: `dormancy-${type}-${++seq}`, type, customerId, occurredAt: at(await now()), properties });
const sweep = async () => t.client.sweepSegments(at(await now()));

/** The step that sent an email; a re-entrant journey's step ids carry a per-entry suffix ("winBack@1a2b3c4d"). */
const stepOf = (email: ReceivedEmail) => email.journeyStep?.replace(/@[0-9a-f]+$/, '');
/** The steps of the emails a customer got, in order, receipts left out. */
const marketingSteps = async (to: string) => (await t.mailbox.emailsTo(to)).map(stepOf).filter((step) => step !== 'receipt');
const receipts = async (to: string) => (await t.mailbox.emailsTo(to)).filter((e) => e.journeyStep === 'receipt');
/** Waits until `count` non-receipt emails have arrived for `to`. */
const marketingArrived = async (to: string, count: number) => {
  const receiptCount = (await receipts(to)).length;
  await t.mailbox.waitForCount(receiptCount + count, { to });
  return marketingSteps(to);
};
const dormancyRun = (customerId: string) => t.env.client.workflow.getHandle<typeof journey>(`dormancy:${customerId}:dormant60d`);

describe('dormancy', () => {
  it('win-back at entry, offer or content by RFM at day 7, a last email at day 21, and sunset after 7 quiet days, which later marketing respects', async () => {
    await t.client.upsertProfile({ customerId: 'hana', email: 'hana@example.com', attributes: { firstName: 'Hana' } });
    await t.client.upsertProfile({ customerId: 'carl', email: 'carl@example.com', attributes: {} });
    const start = await now();
    // RFM windows are 90 days and dormancy starts at 60, so purchases 61 days old still
    // count at the day-7 step (68 days old): Hana spent 550 (monetary score 4), Carl 40 (1).
    // Orders this old send no receipt (orderReceipt's trigger.maxAge).
    await order('hana', 300, start - 61 * DAY);
    await order('hana', 250, start - 61 * DAY);
    await order('carl', 40, start - 61 * DAY);

    await sweep();
    expect((await t.client.segmentsOf('hana')).map((s) => s.segmentId)).toContain('dormant60d');
    expect(await marketingArrived('hana@example.com', 1)).toEqual(['winBack']);
    expect(await marketingArrived('carl@example.com', 1)).toEqual(['winBack']);
    const [winBack] = (await t.mailbox.emailsTo('hana@example.com')).filter((e) => stepOf(e) === 'winBack');
    expect(winBack.subject).toBe('We miss you, Hana');

    await t.env.sleep('167h');
    expect(await marketingSteps('hana@example.com')).toEqual(['winBack']);
    await t.env.sleep('2h');
    await marketingArrived('hana@example.com', 2);
    await marketingArrived('carl@example.com', 2);
    const second = async (to: string) => (await t.mailbox.emailsTo(to)).find((e) => stepOf(e) === 'second')?.subject;
    expect(await second('hana@example.com')).toBe('15% off your next order, just for you');
    expect(await second('carl@example.com')).toBe('Ideas for your next project');

    await t.env.sleep('334h');
    expect(await marketingSteps('hana@example.com')).toEqual(['winBack', 'second']);
    await t.env.sleep('2h');
    expect(await marketingArrived('hana@example.com', 3)).toEqual(['winBack', 'second', 'lastEmail']);
    expect(await marketingArrived('carl@example.com', 3)).toEqual(['winBack', 'second', 'lastEmail']);
    expect((await t.store.getProfile('hana'))?.attributes.lifecycle).toBeUndefined();

    await t.env.sleep('7d');
    const state = await dormancyRun('hana').result();
    expect(state.status).toBe('completed');
    expect(state.history.map((h) => `${h.stepId}: ${h.outcome}`)).toEqual([
      'winBack: sent winBack',
      'waitBeforeSecond: waited 7d',
      'second: sent offer',
      'waitBeforeLastEmail: waited 14d',
      'lastEmail: sent lastEmail',
      'waitForActivity: no segment.left within 7d',
      'sunset: tagged lifecycle=sunset',
      'done: exit',
    ]);
    expect((await dormancyRun('carl').result()).history.find((h) => h.stepId === 'second')?.outcome).toBe('sent content');
    // The tag merges into the profile: the other attributes stay.
    expect((await t.store.getProfile('hana'))?.attributes).toEqual({ firstName: 'Hana', lifecycle: 'sunset' });

    // Later, Hana abandons a cart: the marketing reminder is skipped, the receipt still goes out.
    const cart = await activity('hana', 'cart.updated', { cartId: 'hana-cart', items: [{ name: 'Tent', quantity: 1, price: 120 }], total: 120 });
    expect(cart.started).toEqual(['cartAbandonment:hana:hana-cart']);
    await t.env.sleep('2h');
    const cartState = await t.env.client.workflow.getHandle<typeof journey>('cartAbandonment:hana:hana-cart').query(stateQuery);
    expect(cartState.history.find((h) => h.stepId === 'reminder1')?.outcome).toBe('skipped: sunset');
    const receiptsBefore = (await receipts('hana@example.com')).length;
    await order('hana', 120, await now());
    await t.mailbox.waitForCount(receiptsBefore + 3 + 1, { to: 'hana@example.com' });
    expect(await receipts('hana@example.com')).toHaveLength(receiptsBefore + 1);
    expect(await marketingSteps('hana@example.com')).toEqual(['winBack', 'second', 'lastEmail']);
  });

  it('any activity ends the journey at once: leaving dormant60d is its goal', async () => {
    await t.client.upsertProfile({ customerId: 'gus', email: 'gus@example.com', attributes: {} });
    await order('gus', 60, (await now()) - 61 * DAY);
    await sweep();
    expect(await marketingArrived('gus@example.com', 1)).toEqual(['winBack']);

    await t.env.sleep('3d');
    await activity('gus', 'product.viewed', { productId: 'p1' });
    // The view makes gus leave dormant60d, and that segment.left reaches his run.
    expect(t.segmentChangesOf('gus').flatMap((change) => change.signalled)).toContain('dormancy:gus:dormant60d');
    const state = await dormancyRun('gus').result();
    expect(state).toMatchObject({ status: 'goal_reached', endedBy: 'segment.left', currentStep: 'waitBeforeSecond' });
    await t.env.sleep('30d');
    expect(await marketingSteps('gus@example.com')).toEqual(['winBack']);
  });

  it('a customer without a profile goes through unmailed, and the sunset tag creates no profile (recorded in the history)', async () => {
    await order('ghost', 10, (await now()) - 61 * DAY);
    await sweep();
    const run = dormancyRun('ghost');
    await t.env.sleep('29d');
    const state = await run.result();
    expect(state.history.filter((h) => h.kind === 'send' || h.kind === 'tag').map((h) => `${h.stepId}: ${h.outcome}`)).toEqual([
      'winBack: skipped: no_profile',
      'second: skipped: no_profile',
      'lastEmail: skipped: no_profile',
      'sunset: skipped: no profile to tag lifecycle=sunset',
    ]);
    expect(await t.store.getProfile('ghost')).toBeUndefined();
  });

  it('runs once per dormancy spell: a second spell after re-activation starts a new run, staying dormant starts none', async () => {
    // Gus was active in the test above; 61 days later he is dormant again.
    const firstRun = (await dormancyRun('gus').describe()).runId;
    await t.env.sleep('31d');
    await sweep();
    const secondRun = (await dormancyRun('gus').describe()).runId;
    expect(secondRun).not.toBe(firstRun);
    expect(await marketingArrived('gus@example.com', 2)).toEqual(['winBack', 'winBack']);

    // Still dormant a day later: no new entry, so the running spell's run is the only one.
    await t.env.sleep('1d');
    await sweep();
    expect((await dormancyRun('gus').describe()).runId).toBe(secondRun);
    expect(await marketingSteps('gus@example.com')).toEqual(['winBack', 'winBack']);
  });

  it('starts on entry into dormant60d only: entering another segment (vip) starts nothing', async () => {
    await t.client.upsertProfile({ customerId: 'goldie', email: 'goldie@example.com', attributes: { loyaltyTier: 'gold' } });
    expect((await t.client.segmentsOf('goldie')).map((s) => s.segmentId)).toEqual(['vip']);
    expect((await t.store.journeyRuns('goldie')).map((r) => r.journeyId)).toEqual([]);
  });
});
