import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressHash } from '../domain/delivery/address';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../journeys';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';
import { productTips } from './fixtures/journeys/productTips';
import type journey from '../workflows';
import { startJourneyEnv, workerLogs, type JourneyEnv } from './support/journeyEnv';
import { scriptedReplies } from './support/mail';

// What the SMTP server answers at RCPT TO, by recipient, for the next attempts.
const scripted = scriptedReplies();
const { replies } = scripted;
const refuse = (address: string, code: number, text: string, times = Infinity) => replies.set(address, { code, text, times });

let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv({
    catalogue: loadCatalogue([...shippedJourneys, productTips], [TEMPLATES_DIR, FIXTURE_TEMPLATES]),
    mailbox: { onRecipient: scripted.onRecipient },
  });
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
const cart = (customerId: string, cartId: string) => ({
  id: `trust-${++seq}`,
  type: 'cart.updated',
  customerId,
  properties: { cartId, items: [{ name: 'Socks', quantity: 1, price: 9 }], total: 9 },
});
const result = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId).result();
const customer = (customerId: string, email: string) => t.client.upsertProfile({ customerId, email, attributes: {} });

describe('suppression from SMTP replies', () => {
  it('suppresses an address the recipient server rejects with 550 5.1.1, and a later journey for it sends nothing', async () => {
    await customer('gone', 'gone@example.com');
    refuse('gone@example.com', 550, '5.1.1 <gone@example.com>: mailbox does not exist');
    await t.client.ingest(cart('gone', 'g1'));
    await t.env.sleep('2h');
    const suppression = await t.store.suppressionFor(addressHash('gone@example.com'));
    expect(suppression).toMatchObject({ reason: 'bounce', customerId: 'gone' });
    expect(suppression?.source).toContain('5.1.1');

    // The address is fixed on their side later, but it stays suppressed: no journey mails it.
    replies.delete('gone@example.com');
    await t.client.ingest(cart('gone', 'g2'));
    await t.env.sleep('100h');
    const first = await result('cartAbandonment:gone:g1');
    expect(first.history.find((h) => h.stepId === 'reminder1')?.outcome).toMatch(/^failed: the recipient's server rejected the address/);
    const second = await result('cartAbandonment:gone:g2');
    expect(second.history.filter((h) => h.kind === 'send').map((h) => h.outcome)).toEqual([
      'skipped: suppressed: bounce',
      'skipped: suppressed: bounce',
      'skipped: suppressed: bounce',
    ]);
    expect(await t.mailbox.emailsTo('gone@example.com')).toEqual([]);
  });

  it('retries a 421 and sends the email once when the server recovers', async () => {
    await customer('busy', 'busy@example.com');
    refuse('busy@example.com', 421, '4.3.2 try again later', 2);
    await t.client.ingest(cart('busy', 'b1'));
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'busy@example.com' });
    await t.env.sleep('1h');
    expect((await t.mailbox.emailsTo('busy@example.com')).map((e) => e.journeyStep)).toEqual(['reminder1']);
    expect(replies.get('busy@example.com')?.times).toBe(0);
    expect((await t.store.sendsOf('busy')).map((s) => [s.stepId, s.status])).toEqual([['reminder1', 'sent']]);
  });

  it('fails a 5.7.1 (our sending refused) without suppressing the customer', async () => {
    await customer('policy', 'policy@example.com');
    refuse('policy@example.com', 550, '5.7.1 message rejected by policy', 1);
    await t.client.ingest(cart('policy', 'p1'));
    await t.env.sleep('26h');
    expect(await t.store.suppressionFor(addressHash('policy@example.com'))).toBeUndefined();
    expect((await t.store.sendsOf('policy')).map((s) => [s.stepId, s.status, s.reason])).toEqual([
      ['reminder1', 'failed', 'sender rejected: 550 5.7.1 message rejected by policy'],
      ['reminder2', 'sent', undefined],
    ]);
    expect((await t.mailbox.emailsTo('policy@example.com')).map((e) => e.journeyStep)).toEqual(['reminder2']);
    // The alert operators see in the worker's log.
    expect(workerLogs.filter((e) => e.level === 'ERROR' && e.message.includes('5.7.x')).map((e) => e.meta?.reply)).toEqual(['550 5.7.1 message rejected by policy']);
  });
});

describe('topics and a global opt-out', () => {
  it('stops journeys of every topic on a global opt-out, while a transactional receipt still goes out', async () => {
    await customer('quitter', 'quitter@example.com');
    await t.client.ingest(cart('quitter', 'q1'));
    await t.client.ingest({ id: `trust-${++seq}`, type: 'fixture.product_tips', customerId: 'quitter' });
    const { signalled } = await t.client.changeConsent({ customerId: 'quitter', topic: 'all', status: 'withdrawn', source: 'preference centre' });
    expect(signalled.sort()).toEqual(['cartAbandonment:quitter:q1', 'productTips:quitter']);
    expect((await result('cartAbandonment:quitter:q1')).status).toBe('consent_withdrawn');
    expect((await result('productTips:quitter')).status).toBe('consent_withdrawn');

    const order = await t.client.ingest({ id: `trust-${++seq}`, type: 'order.completed', customerId: 'quitter', properties: { orderId: 'o-9', cartId: 'q1', items: [], total: 9 } });
    expect(order.started).toEqual(['orderReceipt:quitter:o-9']);
    expect((await result('orderReceipt:quitter:o-9')).status).toBe('completed');
    await t.env.sleep('100h');
    expect((await t.mailbox.emailsTo('quitter@example.com')).map((e) => e.subject)).toEqual(['Your order o-9 is confirmed']);
  });
});

describe('suppression feeds, audit and erasure', () => {
  it('takes a complaint from a feed: the address is suppressed and marketing consent withdrawn, stopping the journey', async () => {
    await customer('angry', 'angry@example.com');
    await t.client.ingest(cart('angry', 'a1'));
    const answer = await t.client.suppress({ email: 'ANGRY@example.com', reason: 'complaint', source: 'provider feedback loop' });
    expect(answer).toEqual({ suppressed: true, customers: ['angry'] });
    expect((await result('cartAbandonment:angry:a1')).status).toBe('consent_withdrawn');
    expect((await t.store.consentFor('angry', 'marketing'))?.source).toBe('complaint: provider feedback loop');
  });

  it("tells a customer's story in order and, after erase, keeps nothing but a suppressed hash of the address", async () => {
    await customer('leaving', 'leaving@example.com');
    await t.client.ingest(cart('leaving', 'l1'));
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'leaving@example.com' });
    const audit = await t.client.audit('leaving');
    expect(audit.map((e) => e.kind)).toEqual(['journey', 'send']);
    expect(audit[1].what).toMatch(/^sent reminder1 /);

    const forgotten = await t.client.erase('leaving');
    expect(forgotten).toEqual({ customerId: 'leaving', terminated: ['cartAbandonment:leaving:l1'], erased: true });
    expect(await t.store.getProfile('leaving')).toBeUndefined();
    expect(await t.store.eventsOf('leaving')).toEqual([]);
    expect(await t.client.audit('leaving')).toEqual([]);
    const { status } = await t.env.client.workflow.getHandle('cartAbandonment:leaving:l1').describe();
    expect(status.name).toBe('TERMINATED');

    // The old address comes back under a new customer ID: it is still never mailed.
    await customer('newcomer', 'leaving@example.com');
    await t.client.ingest(cart('newcomer', 'n1'));
    await t.env.sleep('2h');
    expect((await t.store.sendsOf('newcomer')).map((s) => [s.status, s.reason])).toEqual([['skipped', 'suppressed: erased']]);
    expect((await t.mailbox.emailsTo('leaving@example.com')).length).toBe(1);
  });
});
