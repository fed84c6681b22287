import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cartAbandonment } from '../journeys/cartAbandonment';
import type journey from '../workflows';
import { stateQuery } from '../workflows/messages';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv();
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
function cartEvent(customerId: string, cartId: string, items: { name: string; quantity: number; price: number }[], id = `evt-${++seq}`) {
  const total = items.reduce((sum, item) => sum + item.quantity * item.price, 0);
  return { id, type: 'cart.updated', customerId, properties: { cartId, items, total, currency: 'EUR' } };
}
const shoes = [{ name: 'Trail shoes', quantity: 1, price: 80 }];
const emailsTo = (address: string) => t.mailbox.emailsTo(address);
const journeyResult = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId).result();

/** The JourneyStep values a run upserted, in order (its start set the first step). */
async function upsertedSteps(workflowId: string): Promise<unknown[]> {
  const events = (await t.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const step = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.JourneyStep;
    return step ? [defaultPayloadConverter.fromPayload(step)] : [];
  });
}

describe('cart abandonment', () => {
  it('sends reminder 1 at 1 h, reminder 2 at 25 h and the last chance at 97 h, personalized by rules with fallbacks', async () => {
    await t.client.upsertProfile({ customerId: 'ada', email: 'ada@example.com', attributes: { firstName: 'Ada', loyaltyTier: 'silver' } });
    await t.client.upsertProfile({ customerId: 'gold', email: 'gold@example.com', attributes: { loyaltyTier: 'gold' } });
    await t.client.upsertProfile({ customerId: 'bigcart', email: 'big@example.com', attributes: { firstName: 'Bo' } });
    const started = await Promise.all([
      t.client.ingest(cartEvent('ada', 'cart-ada', shoes)),
      t.client.ingest(cartEvent('gold', 'cart-gold', shoes)),
      t.client.ingest(cartEvent('bigcart', 'cart-big', [{ name: 'Tent', quantity: 1, price: 250 }])),
    ]);
    expect(started.map((r) => r.started)).toEqual([['cartAbandonment:ada:cart-ada'], ['cartAbandonment:gold:cart-gold'], ['cartAbandonment:bigcart:cart-big']]);

    const arrived = (count: number) =>
      Promise.all(['ada@example.com', 'gold@example.com', 'big@example.com'].map((to) => t.mailbox.waitForCount(count, { to })));
    const steps = async () => (await emailsTo('ada@example.com')).map((e) => e.journeyStep);
    await t.env.sleep('59m');
    expect(await steps()).toEqual([]);
    await t.env.sleep('2m');
    await arrived(1);
    await t.env.sleep('23h');
    expect(await steps()).toEqual(['reminder1']);
    await t.env.sleep('1h');
    await arrived(2);
    await t.env.sleep('71h');
    expect(await steps()).toEqual(['reminder1', 'reminder2']);
    await t.env.sleep('1h');
    await arrived(3);
    expect(await steps()).toEqual(['reminder1', 'reminder2', 'lastChance']);

    const [ada1, , adaLast] = await emailsTo('ada@example.com');
    expect(ada1.subject).toBe('You left something in your cart');
    expect(ada1.html).toContain('Hi Ada,');
    expect(ada1.html).toContain('Trail shoes');
    expect(ada1.text).toContain('Trail shoes');
    expect(adaLast.html).toContain('COMEBACK10');

    const gold = await emailsTo('gold@example.com');
    expect(gold.map((e) => e.subject)).toEqual([
      'Your picks are reserved for you',
      'A personal note about your cart',
      'Last chance: 20% off, just for you',
    ]);
    expect(gold[0].html).toContain('Hello there,');
    expect((await emailsTo('big@example.com'))[2].html).toContain('VIP20');

    const state = await journeyResult('cartAbandonment:ada:cart-ada');
    expect(state.status).toBe('completed');
    expect(state.history.filter((h) => h.kind === 'send').map((h) => h.outcome)).toEqual(['sent reminder1', 'sent reminder2', 'sent lastChance']);
    // Each step shows in JourneyStep once: the first was set by the start, so it is never upserted again.
    const upserted = await upsertedSteps('cartAbandonment:ada:cart-ada');
    expect(upserted).not.toContain(cartAbandonment.steps[0].id);
    expect(new Set(upserted).size).toBe(upserted.length);
  });

  it('ends at once when order.completed arrives for the cart after reminder 1', async () => {
    await t.client.upsertProfile({ customerId: 'buyer', email: 'buyer@example.com', attributes: {} });
    await t.client.ingest(cartEvent('buyer', 'cart-b', shoes));
    await t.env.sleep('90m');
    await t.mailbox.waitForCount(1, { to: 'buyer@example.com' });
    const order = await t.client.ingest({ id: `order-${++seq}`, type: 'order.completed', customerId: 'buyer', properties: { cartId: 'cart-b', orderId: 'o-1', items: [], total: 80 } });
    expect(order).toMatchObject({ started: ['orderReceipt:buyer:o-1'], signalled: ['cartAbandonment:buyer:cart-b'] });
    const state = await journeyResult('cartAbandonment:buyer:cart-b');
    expect(state.status).toBe('goal_reached');
    await t.env.sleep('100h');
    expect((await emailsTo('buyer@example.com')).map((e) => e.journeyStep)).toEqual(['reminder1', 'receipt']);
  });

  it('sends nothing after an opt-out signalled at 2 h', async () => {
    await t.client.upsertProfile({ customerId: 'optout', email: 'optout@example.com', attributes: {} });
    await t.client.ingest(cartEvent('optout', 'cart-o', shoes));
    await t.env.sleep('2h');
    const { signalled } = await t.client.changeConsent({ customerId: 'optout', topic: 'marketing', status: 'withdrawn', source: 'test' });
    expect(signalled).toEqual(['cartAbandonment:optout:cart-o']);
    const state = await journeyResult('cartAbandonment:optout:cart-o');
    expect(state.status).toBe('consent_withdrawn');
    await t.env.sleep('100h');
    expect((await emailsTo('optout@example.com')).map((e) => e.journeyStep)).toEqual(['reminder1']);
    expect((await t.store.consentLedger('optout')).map((r) => r.status)).toEqual(['withdrawn']);
  });

  it('stops the next send when the opt-out reached only the ledger (no signal)', async () => {
    await t.client.upsertProfile({ customerId: 'ledgeronly', email: 'ledger@example.com', attributes: {} });
    await t.client.ingest(cartEvent('ledgeronly', 'cart-l', shoes));
    await t.env.sleep('30m');
    await t.store.recordConsent({ customerId: 'ledgeronly', topic: 'marketing', status: 'withdrawn', source: 'crm import', at: new Date().toISOString() });
    const state = await journeyResult('cartAbandonment:ledgeronly:cart-l');
    expect(state.status).toBe('consent_withdrawn');
    expect(await emailsTo('ledger@example.com')).toEqual([]);
    expect((await t.store.sendsOf('ledgeronly')).map((s) => [s.stepId, s.status, s.reason])).toEqual([['reminder1', 'skipped', 'consent_withdrawn']]);
  });

  it('starts one journey for an event posted twice, and a newer cart.updated changes what the next email shows', async () => {
    await t.client.upsertProfile({ customerId: 'twice', email: 'twice@example.com', attributes: {} });
    const event = cartEvent('twice', 'cart-t', shoes);
    const first = await t.client.ingest(event);
    const again = await t.client.ingest(event);
    expect(first).toMatchObject({ duplicate: false, started: ['cartAbandonment:twice:cart-t'] });
    expect(again).toEqual({ eventId: event.id, duplicate: true, started: [], signalled: [] });
    const updated = await t.client.ingest(cartEvent('twice', 'cart-t', [{ name: 'Rain jacket', quantity: 2, price: 60 }]));
    expect(updated).toMatchObject({ duplicate: false, started: [], signalled: ['cartAbandonment:twice:cart-t'] });
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'twice@example.com' });
    const [email] = await emailsTo('twice@example.com');
    expect(email.html).toContain('Rain jacket');
    expect(email.html).not.toContain('Trail shoes');
    const state = await t.env.client.workflow.getHandle('cartAbandonment:twice:cart-t').query(stateQuery);
    expect(state).toMatchObject({ status: 'running', currentStep: 'waitBeforeReminder2' });
  });

  it('sends nothing more when a send is retried after SMTP accepted the email', async () => {
    await t.client.upsertProfile({ customerId: 'retry', email: 'retry@example.com', attributes: {} });
    await t.client.ingest(cartEvent('retry', 'cart-r', shoes));
    t.faults.failAfterSmtpAccepted = 1;
    await t.env.sleep('61m');
    const handle = t.env.client.workflow.getHandle('cartAbandonment:retry:cart-r');
    for (let i = 0; i < 200 && (await handle.query(stateQuery)).currentStep === 'reminder1'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(t.faults.failAfterSmtpAccepted).toBe(0);
    expect((await emailsTo('retry@example.com')).length).toBe(1);
    expect((await t.store.sendsOf('retry')).map((s) => s.status)).toEqual(['in_doubt']);
  });

  it('shows products others bought with the cart in the last-chance email, not the cart itself', async () => {
    for (const [customer, skus] of [['o1', ['lamp', 'bulb']], ['o2', ['lamp', 'bulb', 'shade']]] as const) {
      await t.client.ingest({ id: `order-${++seq}`, type: 'order.completed', customerId: customer, properties: { orderId: `ord-${seq}`, items: skus.map((sku) => ({ sku, name: `The ${sku}`, category: 'lighting' })) } });
    }
    await t.client.upsertProfile({ customerId: 'lamp', email: 'lamp@example.com', attributes: {} });
    await t.client.ingest({ id: `evt-${++seq}`, type: 'cart.updated', customerId: 'lamp', properties: { cartId: 'l1', items: [{ sku: 'lamp', name: 'The lamp', quantity: 1, price: 40 }], total: 40 } });
    await t.env.sleep('98h');
    const emails = await t.mailbox.waitForCount(3, { to: 'lamp@example.com' });
    expect(emails[0].html).not.toContain('You might also like');
    const last = emails[2];
    expect(last.html).toContain('You might also like');
    expect(last.html.indexOf('The bulb')).toBeLessThan(last.html.indexOf('The shade'));
    expect(last.html.split('You might also like')[1]).not.toContain('The lamp');
  });
});
