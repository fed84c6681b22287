import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../api/http';
import { createApiKey } from '../app/apiKeys';
import { anonymousCustomerId, eventTypeOf } from '../domain/sources/segmentSpec';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const SECRET = 'segment-shared-secret-for-tests-0123';
let t: JourneyEnv;
let api: FastifyInstance;
let url: string;
let key: string;
beforeAll(async () => {
  t = await startJourneyEnv();
  api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 256 * 1024, logger: false, sources: { segmentSecret: SECRET } });
  url = `${await api.listen({ host: '127.0.0.1', port: 0 })}/v1/sources/segment`;
  key = (await createApiKey(t.store, { name: 'segment-destination', scope: 'ingest' }, new Date())).key;
});
afterAll(async () => {
  await api?.close();
  await t?.close();
});

/** Segment's webhook destinations sign the exact body: X-Signature is its hex HMAC-SHA1 with the shared secret. */
const signature = (body: string, secret = SECRET) => createHmac('sha1', secret).update(body).digest('hex');
/** The write key as Segment's HTTP API sends it: HTTP Basic, the key as user name, no password. */
const basic = (writeKey: string) => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

async function post(payload: unknown, headers: Record<string, string | undefined> = {}) {
  const body = JSON.stringify(payload);
  const sent = { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-signature': signature(body), ...headers };
  const res = await fetch(url, { method: 'POST', body, headers: Object.fromEntries(Object.entries(sent).filter(([, v]) => v !== undefined)) as Record<string, string> });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { results: Record<string, unknown>[] } };
}

/** Now on the test server's clock, which the journeys follow: Segment stamps calls with when they happened. */
const now = async () => new Date(await t.env.currentTimeMs()).toISOString();

// The Segment spec's identify example (spec/identify), on our customer ids and the test server's clock.
const identify = (userId: string, at: string, extra: Record<string, unknown> = {}) => ({
  anonymousId: '507f191e810c19729de860ea',
  channel: 'browser',
  context: { ip: '8.8.8.8', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/40.0.2214.115 Safari/537.36' },
  integrations: { All: false, Mixpanel: true, Salesforce: true },
  messageId: `identify-${userId}`,
  receivedAt: at,
  sentAt: at,
  timestamp: at,
  traits: { name: 'Peter Gibbons', email: `${userId}@example.com`, plan: 'premium', logins: 5 },
  type: 'identify',
  userId,
  version: '1.1',
  ...extra,
});

// The spec's track example (spec/track), as a cart update the cart abandonment journey starts on.
const cartUpdated = (userId: string | undefined, messageId: string, at: string, items: { name: string; quantity: number; price: number }[], extra: Record<string, unknown> = {}) => ({
  anonymousId: '23adfd82-aa0f-45a7-a756-24f2a7a4c895',
  context: { library: { name: 'analytics.js', version: '2.11.1' }, page: { path: '/cart', title: 'Your cart' }, ip: '108.0.78.21' },
  event: 'Cart Updated',
  integrations: {},
  messageId,
  properties: { cartId: 'cart-77', items, total: items.reduce((sum, i) => sum + i.quantity * i.price, 0), currency: 'EUR' },
  receivedAt: at,
  sentAt: at,
  timestamp: at,
  type: 'track',
  ...(userId && { userId }),
  originalTimestamp: at,
  ...extra,
});

/** A page call of an identified customer. */
const page = (userId: string, messageId: string, at: string) => ({ type: 'page', userId, messageId, name: 'Pricing', properties: { title: 'Pricing' }, timestamp: at });

describe('POST /v1/sources/segment', () => {
  it('a batch with an identify and two cart updates starts the cart journey once, its reminder arrives, and the same batch again changes nothing', async () => {
    const at = await now();
    // The HTTP Tracking API's batch example: one identify and two track calls, with the batch's own context.
    const batch = {
      batch: [
        identify('seg-peter', at),
        cartUpdated('seg-peter', 'ajs-f8ca1e4de5024d9430b3928bd8ac6b96', at, [{ name: 'Trail shoes', quantity: 1, price: 80 }]),
        cartUpdated('seg-peter', 'ajs-f8ca1e4de5024d9430b3928bd8ac6b97', at, [{ name: 'Trail shoes', quantity: 1, price: 80 }, { name: 'Running socks', quantity: 2, price: 9 }]),
      ],
      context: { device: { type: 'phone', name: 'Apple iPhone 6' } },
    };
    const workflowId = 'cartAbandonment:seg-peter:cart-77';
    const first = await post(batch, { authorization: basic(key) });
    expect(first.status).toBe(202);
    expect(first.json.batch).toBe(true);
    expect(first.json.results.map((r) => [r.index, r.type, r.outcome, r.customerId])).toEqual([
      [0, 'identify', 'profile_upserted', 'seg-peter'],
      [1, 'track', 'recorded', 'seg-peter'],
      [2, 'track', 'recorded', 'seg-peter'],
    ]);
    expect(first.json.results[1].event).toMatchObject({ eventId: 'ajs-f8ca1e4de5024d9430b3928bd8ac6b96', duplicate: false, started: [workflowId] });
    expect(first.json.results[2].event).toMatchObject({ duplicate: false, started: [], signalled: [workflowId] });
    expect(await t.store.getProfile('seg-peter')).toEqual({ customerId: 'seg-peter', email: 'seg-peter@example.com', attributes: { name: 'Peter Gibbons', plan: 'premium', logins: 5 } });
    expect((await t.store.eventsOf('seg-peter')).map((e) => [e.type, e.occurredAt])).toEqual([
      ['cart.updated', at],
      ['cart.updated', at],
    ]);
    const run = await t.env.client.workflow.getHandle(workflowId).describe();
    expect(run.status.name).toBe('RUNNING');

    await t.env.sleep('61m');
    const [reminder] = await t.mailbox.waitForCount(1, { to: 'seg-peter@example.com' });
    expect(reminder.subject).toBe('You left something in your cart');
    // The newer cart update is what the email shows.
    expect(reminder.html).toContain('Running socks');

    const again = await post(batch);
    expect(again.status).toBe(202);
    expect(again.json.results.map((r) => r.outcome)).toEqual(['profile_upserted', 'duplicate', 'duplicate']);
    expect(again.json.results.slice(1).map((r) => r.event)).toEqual([
      { eventId: 'ajs-f8ca1e4de5024d9430b3928bd8ac6b96', duplicate: true, started: [], signalled: [] },
      { eventId: 'ajs-f8ca1e4de5024d9430b3928bd8ac6b97', duplicate: true, started: [], signalled: [] },
    ]);
    expect(await t.store.eventsOf('seg-peter')).toHaveLength(2);
    expect((await t.store.journeyRuns('seg-peter')).map((r) => r.workflowId)).toEqual([workflowId]);
    expect((await t.env.client.workflow.getHandle(workflowId).describe()).runId).toBe(run.runId);
    await t.env.sleep('1m');
    expect(await t.mailbox.emailsTo('seg-peter@example.com')).toHaveLength(1);
  });

  it('refuses a missing or wrong signature, a tampered body and a call without a key with 401, recording nothing', async () => {
    const call = cartUpdated('seg-mallory', 'sig-1', await now(), [{ name: 'Tent', quantity: 1, price: 250 }]);
    const body = JSON.stringify(call);
    const cases: [string, Record<string, string | undefined>][] = [
      ['no signature', { 'x-signature': undefined }],
      ['signed with another secret', { 'x-signature': signature(body, 'someone-elses-secret-0123456789') }],
      ['signed over another body', { 'x-signature': signature(body.replace('250', '1')) }],
      ['a wrong shared secret', { 'x-signature': undefined, 'x-shared-secret': 'not-the-secret' }],
    ];
    for (const [, headers] of cases) {
      const res = await post(call, headers);
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: 'invalid_signature', message: expect.stringMatching(/X-Signature|X-Shared-Secret/) });
    }
    expect((await post(call, { authorization: undefined })).status).toBe(401);
    expect(await t.store.eventsOf('seg-mallory')).toEqual([]);

    // RudderStack's webhook destination sends fixed headers: the secret itself, over https.
    const rudder = await post(call, { 'x-signature': undefined, 'x-shared-secret': SECRET });
    expect([rudder.status, rudder.json.results[0].outcome]).toEqual([202, 'recorded']);
  });

  it('keeps anonymous calls without starting a journey, and merges them into the customer an identify names', async () => {
    const anonymousId = 'a6b0b8a4-3c2b-4a8e-9d71-0f1b2c3d4e5f';
    const visitor = anonymousCustomerId(anonymousId);
    expect(visitor).toBe(`anon-${anonymousId}`);
    const at = await now();
    // The spec's page example, from a visitor not signed in.
    const home = { anonymousId, channel: 'browser', messageId: 'page-1', name: 'Home', properties: { title: 'Welcome | Initech', url: 'http://www.example.com' }, timestamp: at, type: 'page' };
    const cart = cartUpdated(undefined, 'anon-cart-1', at, [{ name: 'Tent', quantity: 1, price: 250 }], { anonymousId });
    const seen = await post({ batch: [home, cart] });
    expect(seen.json.results.map((r) => [r.outcome, r.customerId, r.anonymous])).toEqual([
      ['recorded', visitor, true],
      ['recorded', visitor, true],
    ]);
    // A link to a host outside LINK_HOSTS is dropped, as from any event.
    expect(seen.json.results[0].event).toMatchObject({ dropped: [{ path: 'properties.url' }] });
    expect(seen.json.results[1].event).toMatchObject({ started: [], ignored: [{ journeyId: 'cartAbandonment', reason: 'anonymous' }] });
    expect((await t.store.eventsOf(visitor)).map((e) => [e.type, e.properties.name ?? e.properties.cartId])).toEqual([
      ['page.viewed', 'Home'],
      ['cart.updated', 'cart-77'],
    ]);

    const signedIn = await post(identify('seg-milton', at, { anonymousId, messageId: 'identify-milton' }));
    expect(signedIn.json.results[0]).toMatchObject({ outcome: 'profile_upserted', customerId: 'seg-milton', merged: { from: visitor, events: 2 } });
    expect((await t.store.eventsOf('seg-milton')).map((e) => e.id)).toEqual(['page-1', 'anon-cart-1']);
    expect(await t.store.eventsOf(visitor)).toEqual([]);
    // Merged events are facts: the journey they would have started as the customer's does not start now.
    expect(await t.store.journeyRuns('seg-milton')).toEqual([]);

    // The visitor is the customer from now on, even in a call that names only the anonymousId.
    const later = await post(cartUpdated(undefined, 'anon-cart-2', await now(), [{ name: 'Tent', quantity: 1, price: 250 }], { anonymousId }));
    expect(later.json.results[0]).toMatchObject({ outcome: 'recorded', customerId: 'seg-milton', event: { started: ['cartAbandonment:seg-milton:cart-77'] } });
    expect(later.json.results[0].anonymous).toBeUndefined();
    // The identify again moves nothing more.
    expect((await post(identify('seg-milton', at, { anonymousId, messageId: 'identify-milton' }))).json.results[0]).toMatchObject({ merged: { from: visitor, events: 0 } });
  });

  it('answers 400 naming the field for a bad single call, and in a batch reports the bad call while the others are recorded', async () => {
    const at = await now();
    const bad: [unknown, string][] = [
      [{ ...cartUpdated('seg-bad', 'bad-1', at, []), event: 'Commande passée' }, 'event'],
      [{ ...cartUpdated('seg-bad', 'bad-2', at, []), userId: 'eve@example.com' }, 'userId'],
      [{ ...cartUpdated('seg-bad', 'bad-3', at, []), messageId: undefined }, 'messageId'],
      [{ ...cartUpdated('seg-bad', 'bad-4', at, []), timestamp: 'yesterday' }, 'timestamp'],
      [{ ...cartUpdated('seg-bad', 'bad-5', at, []), type: 'spam' }, 'type'],
      [{ ...cartUpdated('seg-bad', 'bad-6', at, []), properties: { items: [] } }, 'properties.cartId'],
      [{ ...identify('seg-nobody', at), traits: { plan: 'basic' }, anonymousId: undefined }, 'traits.email'],
    ];
    for (const [call, path] of bad) {
      const res = await post(call);
      expect(res.status, path).toBe(400);
      expect(res.json).toMatchObject({ error: 'invalid_request', problems: [expect.objectContaining({ path })] });
    }
    expect(await t.store.eventsOf('seg-bad')).toEqual([]);

    const mixed = await post({ batch: [page('seg-ok', 'mixed-1', at), { ...page('seg-ok', 'mixed-2', at), userId: 'has space' }, { type: 'group', groupId: 'g1', messageId: 'mixed-3' }, page('seg-ok', 'mixed-4', at)] });
    expect(mixed.status).toBe(202);
    expect(mixed.json.results.map((r) => r.outcome)).toEqual(['recorded', 'error', 'ignored', 'recorded']);
    expect(mixed.json.results[1]).toMatchObject({ error: 'invalid_call', problems: [{ path: 'batch.1.userId' }] });
    expect((await t.store.eventsOf('seg-ok')).map((e) => e.id)).toEqual(['mixed-1', 'mixed-4']);

    // The same messageId with other contents is no redelivery.
    const conflict = await post({ ...page('seg-ok', 'mixed-1', at), name: 'Home' });
    expect([conflict.status, conflict.json.error, conflict.json.eventId]).toEqual([409, 'event_id_conflict', 'mixed-1']);
  });

  it('answers 503 naming the setting while SEGMENT_SHARED_SECRET is unset', async () => {
    const unconfigured = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 65_536, logger: false });
    const res = await unconfigured.inject({ method: 'POST', url: '/v1/sources/segment', headers: { authorization: `Bearer ${key}` }, payload: page('seg-x', 'nc-1', await now()) });
    await unconfigured.close();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'not_configured', message: expect.stringContaining('set SEGMENT_SHARED_SECRET') });
  });
});

describe('track names as event types', () => {
  it.each([
    ['Order Completed', 'order.completed'],
    ['order_completed', 'order.completed'],
    ['orderCompleted', 'order.completed'],
    ['Cart-Updated', 'cart.updated'],
    ['user.signed_up', 'user.signed_up'],
    ['Product Viewed 2', 'product.viewed.2'],
  ])('%s is %s', (name, type) => {
    expect(eventTypeOf(name)).toBe(type);
  });

  it.each(['Commande passée', '404 Page', '   ', 'Order: Completed'])('"%s" is no event type', (name) => {
    expect(eventTypeOf(name)).toBeUndefined();
  });
});
