import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { buildHttpApi } from '../api/http';
import type { JourneyDefinitionInput } from '../domain/journey/types';
import { loadCatalogue } from '../journeys';
import { orderReceipt } from '../journeys/orderReceipt';
import type journey from '../workflows';
import { stateQuery } from '../workflows/messages';
import { Captured } from './support/captured';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// The shipped catalogue on the time-skipping server, spoken to over the HTTP API. Event
// times are on the real clock, which is the client's: how old an event is when it reaches
// journeys is measured there.
let t: JourneyEnv;
let api: FastifyInstance;
beforeAll(async () => {
  t = await startJourneyEnv({ now: () => new Date() });
  api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 64 * 1024, logger: false });
});
afterAll(async () => {
  await api?.close();
  await t?.close();
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const post = (url: string, payload: object) => api.inject({ method: 'POST', url, payload });
const handle = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId);
const notStarted = (workflowId: string) => expect(handle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
const stepsTo = async (address: string) => (await t.mailbox.emailsTo(address)).map((email) => email.journeyStep?.replace(/@[0-9a-f]+$/, ''));

let seq = 0;
const items = [{ sku: 'shoe', name: 'Trail shoes', quantity: 1, price: 80 }];
const cartUpdated = (customerId: string, cartId: string, occurredAt?: string) => ({
  id: `eit-cart-${++seq}`,
  type: 'cart.updated',
  customerId,
  ...(occurredAt && { occurredAt }),
  properties: { cartId, items, total: 80, currency: 'EUR' },
});
const orderCompleted = (customerId: string, properties: Record<string, unknown> = {}, occurredAt?: string) => ({
  id: `eit-order-${++seq}`,
  type: 'order.completed',
  customerId,
  ...(occurredAt && { occurredAt }),
  properties: { orderId: `o-${seq}`, items, total: 80, ...properties },
});
const customer = (customerId: string) => t.client.upsertProfile({ customerId, email: `${customerId}@example.com` });

describe('trigger.maxAge: an event older than its journey allows starts nothing', () => {
  it('an old order gets no receipt, an old sign-up no welcome, a stale cart no reminders, and the answer says why; fresh ones start as before', async () => {
    await customer('late-lu');
    const oldOrder = await post('/v1/events', orderCompleted('late-lu', { orderId: 'o-old' }, ago(2 * DAY)));
    expect(oldOrder.statusCode).toBe(202);
    expect(oldOrder.json()).toMatchObject({
      duplicate: false,
      started: [],
      ignored: [{ journeyId: 'orderReceipt', reason: 'too_old', message: expect.stringContaining('orderReceipt starts only on events at most 30m old (trigger.maxAge)') }],
    });
    const oldSignUp = await post('/v1/events', { id: 'eit-signup-old', type: 'user.signed_up', customerId: 'late-lu', occurredAt: ago(3 * DAY) });
    expect(oldSignUp.json()).toEqual({
      eventId: 'eit-signup-old',
      duplicate: false,
      started: [],
      signalled: [],
      ignored: [{ journeyId: 'onboarding', reason: 'too_old', message: expect.stringContaining('at most 24h old') }],
    });
    const staleCart = await post('/v1/events', cartUpdated('late-lu', 'cart-stale', ago(7 * HOUR)));
    expect(staleCart.json()).toMatchObject({ started: [], ignored: [{ journeyId: 'cartAbandonment', reason: 'too_old' }] });

    const lateCart = await post('/v1/events', cartUpdated('late-lu', 'cart-late', ago(5 * HOUR)));
    expect(lateCart.json()).toMatchObject({ started: ['cartAbandonment:late-lu:cart-late'] });
    expect(lateCart.json()).not.toHaveProperty('ignored');
    const freshOrder = await post('/v1/events', orderCompleted('late-lu', { orderId: 'o-fresh' }));
    expect(freshOrder.json()).toMatchObject({ started: ['orderReceipt:late-lu:o-fresh'] });

    await t.mailbox.waitForCount(1, { to: 'late-lu@example.com' });
    await notStarted('orderReceipt:late-lu:o-old');
    await notStarted('onboarding:late-lu');
    await notStarted('cartAbandonment:late-lu:cart-stale');
    expect((await t.store.journeyRuns('late-lu')).map((run) => run.workflowId).sort()).toEqual(['cartAbandonment:late-lu:cart-late', 'orderReceipt:late-lu:o-fresh']);
    expect(await stepsTo('late-lu@example.com')).toEqual(['receipt']);
  });

  it('a journey without trigger.maxAge starts on an event of any age, as before', async () => {
    await customer('ever');
    const { maxAge, ...anyAge } = orderReceipt.trigger;
    expect(maxAge).toBe('30m');
    const definition: JourneyDefinitionInput = { ...orderReceipt, trigger: anyAge };
    const client = (await t.compose({ catalogue: loadCatalogue([definition]) })).journeys;
    const result = await client.ingest(orderCompleted('ever', { orderId: 'o-ancient' }, ago(400 * DAY)));
    expect(result).toEqual({ eventId: expect.any(String), duplicate: false, started: ['orderReceipt:ever:o-ancient'], signalled: [] });
    await t.mailbox.waitForCount(1, { to: 'ever@example.com' });
    expect(await stepsTo('ever@example.com')).toEqual(['receipt']);
  });

  it('the answer also says when consent, a once-only entry that has run, or a reentry cooldown kept a journey from starting', async () => {
    await customer('why-wes');
    await t.client.changeConsent({ customerId: 'why-wes', topic: 'marketing', status: 'withdrawn', source: 'test' });
    // An order from two months ago makes her dormant now: the segment entry starts no win-back either.
    const oldOrder = await post('/v1/events', orderCompleted('why-wes', { orderId: 'o-w0' }, ago(61 * DAY)));
    expect(oldOrder.json()).toMatchObject({ started: [], ignored: [{ journeyId: 'orderReceipt', reason: 'too_old' }] });
    // The segment entry it causes is routed just after the answer, and says the same of dormancy.
    expect(t.segmentChangesOf('why-wes')).toEqual([expect.objectContaining({ started: [], ignored: [expect.objectContaining({ journeyId: 'dormancy', reason: 'consent_withdrawn' })] })]);
    const cart = await post('/v1/events', cartUpdated('why-wes', 'cart-w'));
    expect(cart.json()).toMatchObject({ started: [], ignored: [{ journeyId: 'cartAbandonment', reason: 'consent_withdrawn', message: 'why-wes has withdrawn consent for marketing' }] });

    const first = await post('/v1/events', orderCompleted('why-wes', { orderId: 'o-w' }));
    expect(first.json()).toMatchObject({ started: ['orderReceipt:why-wes:o-w'] });
    expect((await handle('orderReceipt:why-wes:o-w').result()).status).toBe('completed');
    const sameOrder = await post('/v1/events', orderCompleted('why-wes', { orderId: 'o-w' }));
    expect(sameOrder.json()).toMatchObject({
      started: [],
      ignored: [{ journeyId: 'orderReceipt', reason: 'entered_before', message: 'orderReceipt:why-wes:o-w has run before, and orderReceipt takes each entry once (reentry once)' }],
    });

    const coolOff: JourneyDefinitionInput = { id: 'coolOff', name: 'Fixture: cooldown', trigger: { event: 'fixture.cool' }, reentry: { afterCooldown: '30d' }, steps: [{ id: 'done', kind: 'exit' }] };
    const client = (await t.compose({ catalogue: loadCatalogue([coolOff]) })).journeys;
    await customer('cool-cy');
    expect(await client.ingest({ id: 'eit-cool-1', type: 'fixture.cool', customerId: 'cool-cy' })).toMatchObject({ started: ['coolOff:cool-cy'] });
    await handle('coolOff:cool-cy').result();
    expect(await client.ingest({ id: 'eit-cool-2', type: 'fixture.cool', customerId: 'cool-cy' })).toMatchObject({
      started: [],
      ignored: [{ journeyId: 'coolOff', reason: 'cooling_down', message: expect.stringContaining('a new one may start from') }],
    });
  });
});

describe('segments are computed at the current time, never at a late event\'s', () => {
  it('a product view from 70 days ago arriving late leaves a dormant customer dormant: the win-back run goes on, and the next sweep sends no second win-back', async () => {
    await customer('dot');
    await t.client.ingest(orderCompleted('dot', {}, ago(61 * DAY)));
    await t.client.sweepSegments();
    expect((await t.client.segmentsOf('dot')).map((s) => s.segmentId)).toEqual(['dormant60d']);
    await t.mailbox.waitForCount(1, { to: 'dot@example.com' });
    const { runId } = await handle('dormancy:dot:dormant60d').describe();

    const late = await t.client.ingest({ id: 'eit-late-view', type: 'product.viewed', customerId: 'dot', occurredAt: ago(70 * DAY), properties: { sku: 'tent' } });
    expect(late).toEqual({ eventId: 'eit-late-view', duplicate: false, started: [], signalled: [] });
    await t.client.sweepSegments();

    expect((await t.client.segmentsOf('dot')).map((s) => s.segmentId)).toEqual(['dormant60d']);
    const run = await handle('dormancy:dot:dormant60d').describe();
    expect([run.runId, run.status.name]).toEqual([runId, 'RUNNING']);
    expect((await t.store.eventsOf('dot')).filter((e) => e.type.startsWith('segment.')).map((e) => e.type)).toEqual(['segment.entered']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await stepsTo('dot@example.com')).toEqual(['winBack']);
  });
});

describe('a goal event that arrived before its journey started ends the journey at its start', () => {
  it('an order that overtook its cart update: the cart journey ends goal_reached at once and no reminder goes out', async () => {
    await customer('quick');
    const order = await post('/v1/events', orderCompleted('quick', { cartId: 'cart-q', orderId: 'o-q' }, ago(5 * MINUTE)));
    expect(order.json()).toMatchObject({ started: ['orderReceipt:quick:o-q'], signalled: [] });
    const cart = await post('/v1/events', cartUpdated('quick', 'cart-q', ago(10 * MINUTE)));
    expect(cart.json()).toMatchObject({ started: ['cartAbandonment:quick:cart-q'] });

    const state = await handle('cartAbandonment:quick:cart-q').result();
    expect(state).toMatchObject({ status: 'goal_reached', endedBy: 'order.completed' });
    expect(state.history.filter((h) => h.kind === 'send')).toEqual([]);
    await t.env.sleep('100h');
    expect(await stepsTo('quick@example.com')).toEqual(['receipt']);
  });

  it('an order of the same cart from before the cart update, or of another cart, does not end it', async () => {
    await customer('refill');
    await post('/v1/events', orderCompleted('refill', { cartId: 'cart-r', orderId: 'o-r1' }, ago(20 * MINUTE)));
    await post('/v1/events', orderCompleted('refill', { cartId: 'cart-other', orderId: 'o-r2' }, ago(MINUTE)));
    await t.mailbox.waitForCount(2, { to: 'refill@example.com' });
    const cart = await post('/v1/events', cartUpdated('refill', 'cart-r', ago(10 * MINUTE)));
    expect(cart.json()).toMatchObject({ started: ['cartAbandonment:refill:cart-r'] });
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(3, { to: 'refill@example.com' });
    expect(await stepsTo('refill@example.com')).toEqual(['receipt', 'receipt', 'reminder1']);
    expect(await handle('cartAbandonment:refill:cart-r').query(stateQuery)).toMatchObject({ status: 'running' });
  });
});

describe('an event id names one event', () => {
  const occurredAt = Date.now() - MINUTE;
  const event = {
    id: 'eit-conflict-1',
    type: 'cart.updated',
    customerId: 'conflict-cy',
    occurredAt: new Date(occurredAt).toISOString(),
    properties: { cartId: 'c1', total: 80, items: [{ name: 'Trail shoes', price: 80, quantity: 1 }] },
  };

  it('the same event again (keys in another order, the same instant in another offset, or without occurredAt) is a duplicate; other contents under its id get 409 and change nothing', async () => {
    expect((await post('/v1/events', event)).statusCode).toBe(202);
    const reordered = {
      properties: { items: [{ quantity: 1, price: 80, name: 'Trail shoes' }], total: 80, cartId: 'c1' },
      occurredAt: new Date(occurredAt + HOUR).toISOString().replace('Z', '+01:00'),
      customerId: 'conflict-cy',
      type: 'cart.updated',
      id: 'eit-conflict-1',
    };
    const withoutTime = { ...event, occurredAt: undefined };
    for (const retry of [event, reordered, withoutTime]) {
      const res = await post('/v1/events', retry);
      expect([res.statusCode, res.json()]).toEqual([202, { eventId: 'eit-conflict-1', duplicate: true, started: [], signalled: [] }]);
    }

    for (const [changed, field] of [
      [{ ...event, properties: { ...event.properties, total: 95 } }, 'properties'],
      [{ ...event, occurredAt: ago(HOUR) }, 'occurredAt'],
      [{ ...event, customerId: 'conflict-other' }, 'customerId'],
      [{ ...event, type: 'cart.viewed' }, 'type'],
    ] as const) {
      const res = await post('/v1/events', changed);
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({
        error: 'event_id_conflict',
        eventId: 'eit-conflict-1',
        message: `event id "eit-conflict-1" was recorded before with different ${field}: an id names one event, so send a new event with a new id`,
      });
    }
    expect(await t.store.eventsOf('conflict-cy')).toEqual([event]);
    expect(await t.store.eventsOf('conflict-other')).toEqual([]);
    await notStarted('cartAbandonment:conflict-other:c1');
  });

  it('journeys event reports the conflict and exits 1', async () => {
    const stdout = new Captured();
    const stderr = new Captured();
    const properties = JSON.stringify({ ...event.properties, total: 95 });
    const code = await runCli(['event', 'cart.updated', 'conflict-cy', '--id', 'eit-conflict-1', '--properties', properties], {
      connect: async () => ({ journeys: t.client, close: async () => undefined }),
      openStore: async () => {
        throw new Error('event needs no store of its own');
      },
      stdout,
      stderr,
    });
    expect({ code, stdout: stdout.text, stderr: stderr.text }).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: event id "eit-conflict-1" was recorded before with different properties: an id names one event, so send a new event with a new id\n',
    });
  });
});

describe('an accepted event is never lost', () => {
  it('recorded while Temporal could not be reached: 202 with routing pending, then one routing sweep routes it, judging its age as of its arrival', async () => {
    await customer('outage-oz');
    // A client whose connection to the test server is closed: every call to Temporal fails.
    const connection = await Connection.connect({ address: t.env.address });
    await connection.close();
    const unreachable = (await t.compose({ temporal: { client: new Client({ connection }) } })).journeys;
    const outageApi = buildHttpApi({ journeys: unreachable, store: t.store, bodyLimit: 64 * 1024, logger: false });
    const cart = cartUpdated('outage-oz', 'cart-oz');
    const order = orderCompleted('outage-oz', { orderId: 'o-oz' });
    for (const event of [cart, order]) {
      const res = await outageApi.inject({ method: 'POST', url: '/v1/events', payload: event });
      expect([res.statusCode, res.json()]).toEqual([202, { eventId: event.id, duplicate: false, started: [], signalled: [], routingPending: true }]);
    }
    await outageApi.close();
    expect((await t.store.eventsOf('outage-oz')).map((e) => e.id)).toEqual([cart.id, order.id]);
    await notStarted('cartAbandonment:outage-oz:cart-oz');

    // An event recorded under an earlier catalogue, which no journey can route now, holds up nothing.
    await t.store.recordEvent({ id: 'eit-keyless', type: 'cart.updated', customerId: 'outage-oz', occurredAt: ago(0), properties: {} });

    // Two hours on (the receipt's maxAge is 30m), Temporal is back and the Schedule's sweep runs.
    await t.env.sleep('2h');
    const swept = await t.env.client.workflow.execute('eventRoutingSweep', { taskQueue: 'journeys-test', workflowId: 'event-routing-sweep-1' });
    expect(swept).toEqual({ routed: 3 });
    expect((await handle('cartAbandonment:outage-oz:cart-oz').describe()).status.name).toBe('RUNNING');
    await t.mailbox.waitForCount(1, { to: 'outage-oz@example.com' });
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(2, { to: 'outage-oz@example.com' });
    expect(await stepsTo('outage-oz@example.com')).toEqual(['receipt', 'reminder1']);

    const again = await t.env.client.workflow.execute('eventRoutingSweep', { taskQueue: 'journeys-test', workflowId: 'event-routing-sweep-2' });
    expect(again).toEqual({ routed: 0 });
  });
});
