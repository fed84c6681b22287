import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextLocalTime } from '../domain/time/localTime';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../journeys';
import type journey from '../workflows';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';
import { productTips, weeklyNews } from './fixtures/journeys/productTips';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// One environment with the send policies a cautious brand would set: quiet hours
// 21:00–08:00 local and at most one marketing email per customer per 24 h.
let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv({
    catalogue: loadCatalogue([...shippedJourneys, weeklyNews, productTips], [TEMPLATES_DIR, FIXTURE_TEMPLATES]),
    optInTopics: ['product'],
    quietHours: { start: '21:00', end: '08:00' },
    frequencyCaps: [{ topic: 'marketing', max: 1, window: '24h' }],
  });
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
const cart = (customerId: string, cartId: string) => ({
  id: `policy-${++seq}`,
  type: 'cart.updated',
  customerId,
  properties: { cartId, items: [{ name: 'Scarf', quantity: 1, price: 25 }], total: 25 },
});
const sleepUntil = async (instant: Date) => t.env.sleep(Math.max(0, instant.getTime() - (await t.env.currentTimeMs())));
const now = async () => new Date(await t.env.currentTimeMs());

describe('send policies across journeys', () => {
  it('sends one email when two journeys of a customer race for the same cap, and the other when the cap frees', async () => {
    await t.client.upsertProfile({ customerId: 'racer', email: 'racer@example.com', attributes: { timezone: 'UTC' } });
    // Start at 09:00 UTC so quiet hours stay out of the way of the 1 h and 25 h reminders.
    await sleepUntil(nextLocalTime(await now(), { timezone: 'UTC', localTime: '09:00' }));
    await Promise.all([t.client.ingest(cart('racer', 'r1')), t.client.ingest(cart('racer', 'r2'))]);
    await t.env.sleep('2h');
    await t.mailbox.waitForCount(1, { to: 'racer@example.com' });
    await t.env.sleep('1h');
    expect((await t.mailbox.emailsTo('racer@example.com')).length).toBe(1);
    const sends = await t.store.sendsOf('racer');
    expect(sends.map((s) => [s.stepId, s.status])).toEqual([['reminder1', 'sent']]);

    // The capped reminder waits for the cap, not the journey's own schedule: it goes out 24 h after the first.
    const capped = sends[0].workflowId.endsWith(':r1') ? 'cartAbandonment:racer:r2' : 'cartAbandonment:racer:r1';
    const state = await t.env.client.workflow.getHandle(capped).query('state');
    expect(state).toMatchObject({ currentStep: 'reminder1', nextWakeAt: new Date(Date.parse(sends[0].createdAt) + 24 * 3_600_000).toISOString() });
    await t.env.sleep('23h');
    await t.mailbox.waitForCount(2, { to: 'racer@example.com' });
    expect((await t.store.sendsOf('racer')).filter((s) => s.status === 'sent').map((s) => s.workflowId)).toEqual([sends[0].workflowId, capped]);
  });

  it('skips a capped email when its step says so, records why, and the journey goes on', async () => {
    await t.client.upsertProfile({ customerId: 'skipper', email: 'skipper@example.com', attributes: { timezone: 'UTC' } });
    await sleepUntil(nextLocalTime(await now(), { timezone: 'UTC', localTime: '09:00' }));
    await t.client.ingest(cart('skipper', 's1'));
    await t.client.ingest({ id: `policy-${++seq}`, type: 'fixture.weekly_news', customerId: 'skipper' });
    await t.env.sleep('3h');
    // Read before awaiting the result: that lets the test server skip time while the news run
    // finishes, and on a loaded machine it skipped to the cart's reminder2, a day on.
    await t.mailbox.waitForCount(1, { to: 'skipper@example.com' });
    expect((await t.mailbox.emailsTo('skipper@example.com')).map((e) => e.journeyStep)).toEqual(['reminder1']);
    const news = await t.env.client.workflow.getHandle<typeof journey>('weeklyNews:skipper').result();
    expect(news.status).toBe('completed');
    expect(news.history.find((h) => h.stepId === 'news')?.outcome).toBe('skipped: frequency cap 1 per 24h on marketing');
    expect((await t.mailbox.emailsTo('skipper@example.com')).map((e) => e.journeyStep)).not.toContain('news');
  });

  it('holds an email due at 23:00 local until 08:00 local, in each customer’s own timezone', async () => {
    const customers = [
      { customerId: 'night-ny', email: 'ny@example.com', timezone: 'America/New_York' },
      { customerId: 'night-tokyo', email: 'tokyo@example.com', timezone: 'Asia/Tokyo' },
    ];
    for (const c of customers) {
      await t.client.upsertProfile({ customerId: c.customerId, email: c.email, attributes: { timezone: c.timezone } });
      // The cart is left at 22:00 local, so reminder 1 falls due at 23:00 local, inside quiet hours.
      const leftAt = nextLocalTime(await now(), { timezone: c.timezone, localTime: '22:00' });
      await sleepUntil(leftAt);
      await t.client.ingest(cart(c.customerId, `night-${c.customerId}`));
      const morning = nextLocalTime(new Date(leftAt.getTime() + 3_600_000), { timezone: c.timezone, localTime: '08:00' });
      await sleepUntil(new Date(morning.getTime() - 60_000));
      expect(await t.mailbox.emailsTo(c.email)).toEqual([]);
      await sleepUntil(new Date(morning.getTime() + 60_000));
      await t.mailbox.waitForCount(1, { to: c.email });
      const [sent] = await t.store.sendsOf(c.customerId);
      expect(sent).toMatchObject({ stepId: 'reminder1', status: 'sent' });
      expect(Math.abs(Date.parse(sent.updatedAt) - morning.getTime())).toBeLessThan(2 * 60_000);
      const local = new Intl.DateTimeFormat('en-GB', { timeZone: c.timezone, hour: '2-digit', minute: '2-digit' }).format(new Date(sent.updatedAt));
      expect(local).toBe('08:00');
    }
    const state = await t.env.client.workflow.getHandle(`cartAbandonment:night-ny:night-night-ny`).query('state');
    expect(JSON.stringify(state)).toContain('quiet hours');
  });

  it('sends a transactional receipt at once, even in quiet hours and over the cap', async () => {
    await t.client.upsertProfile({ customerId: 'late-buyer', email: 'late@example.com', attributes: { timezone: 'Asia/Tokyo' } });
    await sleepUntil(nextLocalTime(await now(), { timezone: 'Asia/Tokyo', localTime: '23:30' }));
    await t.client.ingest(cart('late-buyer', 'lb1'));
    await t.client.ingest({ id: `policy-${++seq}`, type: 'order.completed', customerId: 'late-buyer', properties: { orderId: 'o-late', cartId: 'lb1', items: [], total: 25 } });
    await t.mailbox.waitForCount(1, { to: 'late@example.com' });
    const [receipt] = await t.store.sendsOf('late-buyer');
    expect(receipt).toMatchObject({ workflowId: 'orderReceipt:late-buyer:o-late', status: 'sent' });
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' }).format(new Date(receipt.updatedAt));
    expect(local).toBe('23:30');
  });

  it('starts nothing on an opt-in topic for a customer who never opted in, and sends once they do', async () => {
    await t.client.upsertProfile({ customerId: 'optin', email: 'optin@example.com', attributes: {} });
    expect(await t.client.ingest({ id: `policy-${++seq}`, type: 'fixture.product_tips', customerId: 'optin' })).toMatchObject({ started: [] });
    await t.client.changeConsent({ customerId: 'optin', topic: 'product', status: 'granted', source: 'signup form' });
    expect(await t.client.ingest({ id: `policy-${++seq}`, type: 'fixture.product_tips', customerId: 'optin' })).toMatchObject({ started: ['productTips:optin'] });
    await sleepUntil(nextLocalTime(new Date((await t.env.currentTimeMs()) + 2 * 86_400_000), { timezone: 'UTC', localTime: '09:00' }));
    await t.mailbox.waitForCount(1, { to: 'optin@example.com' });
  });

  it('holds quiet hours across a DST change: a reminder due 23:00 before New York springs forward arrives at 08:00 EDT', async () => {
    await t.client.upsertProfile({ customerId: 'dst', email: 'dst@example.com', attributes: { timezone: 'America/New_York' } });
    // The next US spring-forward: the second Sunday of March, clocks 02:00 → 03:00.
    const current = new Date(await t.env.currentTimeMs());
    const secondSunday = (year: number) => [8, 9, 10, 11, 12, 13, 14].find((day) => new Date(Date.UTC(year, 2, day)).getUTCDay() === 0) ?? 8;
    let year = current.getUTCFullYear();
    if (Date.UTC(year, 2, secondSunday(year), 3) <= current.getTime()) year++;
    const sunday = secondSunday(year);
    // Saturday 22:00 EST is 03:00 UTC on Sunday; the reminder falls due at 23:00 EST.
    await sleepUntil(new Date(Date.UTC(year, 2, sunday, 3)));
    await t.client.ingest(cart('dst', 'dst1'));
    // 08:00 EDT is 12:00 UTC; without the DST change it would have been 13:00 UTC.
    const morning = Date.UTC(year, 2, sunday, 12);
    await sleepUntil(new Date(morning - 60_000));
    expect(await t.mailbox.emailsTo('dst@example.com')).toEqual([]);
    await sleepUntil(new Date(morning + 60_000));
    await t.mailbox.waitForCount(1, { to: 'dst@example.com' });
    const [sent] = await t.store.sendsOf('dst');
    expect(Math.abs(Date.parse(sent.updatedAt) - morning)).toBeLessThan(60_000);
  });
});
