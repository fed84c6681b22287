import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApi } from '../api/http';
import { createApiKey } from '../app/apiKeys';
import { PROJECT_ROOT, readConfig } from '../config';
import { shippedWebhooks } from '../journeys/webhooks';
import type journey from '../workflows';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const SECRET = 'shopify-orders-webhook-secret-0123456789';
let t: JourneyEnv;
let api: FastifyInstance;
let base: string;
let key: string;
beforeAll(async () => {
  t = await startJourneyEnv();
  // A second webhook declared without a secret, to show what an operator who forgot it sees.
  const webhooks = [...shippedWebhooks, { name: 'unsigned-demo', id: '$.id', type: { const: 'demo.received' }, customerId: '$.customer' }];
  api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 256 * 1024, logger: false, sources: { webhookSecrets: [{ name: 'shopify-orders', secret: SECRET }], webhooks } });
  base = `${await api.listen({ host: '127.0.0.1', port: 0 })}/v1/sources/webhook`;
  key = (await createApiKey(t.store, { name: 'shop-webhooks', scope: 'ingest' }, new Date())).key;
});
afterAll(async () => {
  await api?.close();
  await t?.close();
});

/** The signature scheme: Webhook-Timestamp in unix seconds, Webhook-Signature v1= hex HMAC-SHA256 of "<timestamp>.<body>". */
function signed(body: string, { secret = SECRET, ageSeconds = 0 } = {}) {
  const timestamp = String(Math.floor(Date.now() / 1000) - ageSeconds);
  return { 'webhook-timestamp': timestamp, 'webhook-signature': `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}` };
}

async function post(name: string, body: string, headers: Record<string, string> = signed(body)) {
  const res = await fetch(`${base}/${name}`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * A Shopify orders/create payload, shortened, as text: its 18-digit ids are beyond what a JS
 * number holds, so they are written as Shopify writes them.
 */
const shopifyOrder = ({ orderId, customerId, cartToken, createdAt, price = '"199.00"', customer = true }: { orderId: string; customerId: string; cartToken: string; createdAt: string; price?: string; customer?: boolean }) => `{
  "id": ${orderId},
  "admin_graphql_api_id": "gid://shopify/Order/${orderId}",
  "email": "john@example.com",
  "created_at": "${createdAt}",
  "currency": "EUR",
  "total_price": "204.00",
  "financial_status": "paid",
  "cart_token": "${cartToken}",
  "customer": ${customer ? `{ "id": ${customerId}, "email": "john@example.com", "first_name": "John", "last_name": "Smith", "admin_graphql_api_id": "gid://shopify/Customer/${customerId}" }` : 'null'},
  "line_items": [
    { "id": 866550311766439020, "product_id": 632910392, "sku": "IPOD2008BLACK", "title": "IPod Nano - 8GB", "quantity": 1, "price": ${price} },
    { "id": 141249953214522974, "product_id": 632910393, "sku": null, "title": "Gift wrap", "quantity": 1, "price": "5.00" }
  ]
}`;

const serverNow = async () => new Date(await t.env.currentTimeMs()).toISOString();

describe('POST /v1/sources/webhook/:name', () => {
  it('turns a Shopify-style order into order.completed, which ends the running cart journey; a redelivery is a duplicate', async () => {
    const customerId = '115310627314723954';
    const email = 'john.smith@example.com';
    await t.client.upsertProfile({ customerId, email, attributes: { firstName: 'John' } });
    const cart = await t.client.ingest({ id: 'wh-cart-1', type: 'cart.updated', customerId, properties: { cartId: 'c1f2e3d4b5a6', items: [{ name: 'IPod Nano - 8GB', quantity: 1, price: 199 }], total: 199, currency: 'EUR' } });
    const cartRun = `cartAbandonment:${customerId}:c1f2e3d4b5a6`;
    expect(cart.started).toEqual([cartRun]);

    const body = shopifyOrder({ orderId: '820982911946154508', customerId, cartToken: 'c1f2e3d4b5a6', createdAt: await serverNow() });
    const res = await post('shopify-orders', body);
    expect(res.status).toBe(202);
    const receiptRun = `orderReceipt:${customerId}:820982911946154508`;
    expect(res.json).toEqual({ eventId: 'gid://shopify/Order/820982911946154508', duplicate: false, started: [receiptRun], signalled: [cartRun] });
    expect(await t.store.eventById('gid://shopify/Order/820982911946154508')).toMatchObject({
      type: 'order.completed',
      customerId,
      properties: {
        orderId: '820982911946154508',
        cartId: 'c1f2e3d4b5a6',
        total: 204,
        currency: 'EUR',
        items: [
          { sku: 'IPOD2008BLACK', name: 'IPod Nano - 8GB', quantity: 1, price: 199 },
          { name: 'Gift wrap', quantity: 1, price: 5 },
        ],
      },
    });
    expect((await t.env.client.workflow.getHandle<typeof journey>(cartRun).result()).status).toBe('goal_reached');
    // Every digit of the order id made it to the email.
    const [receipt] = await t.mailbox.waitForCount(1, { to: email });
    expect(receipt.subject).toBe('Your order 820982911946154508 is confirmed');

    const again = await post('shopify-orders', body);
    expect(again).toEqual({ status: 202, json: { eventId: 'gid://shopify/Order/820982911946154508', duplicate: true, started: [], signalled: [] } });
    await t.env.sleep('2h');
    expect((await t.mailbox.emailsTo(email)).map((e) => e.subject)).toEqual(['Your order 820982911946154508 is confirmed']);
  });

  it('refuses with 401 a webhook signed wrongly, not at all, over another body, or replayed after five minutes; nothing is recorded', async () => {
    const body = shopifyOrder({ orderId: '820982911946154600', customerId: '115310627314723000', cartToken: 'tok-2', createdAt: await serverNow() });
    const refusals: [string, Record<string, string>, RegExp][] = [
      ['another secret', signed(body, { secret: 'someone-elses-secret-0123456789' }), /does not match/],
      ['no signature', {}, /sign the webhook/],
      ['another body', signed(body.replace('204.00', '1.00')), /does not match/],
      ['replayed: signed 6 minutes ago', signed(body, { ageSeconds: 360 }), /is 36\d s old: signatures older than 5 minutes are refused/],
      ['signed 6 minutes ahead', signed(body, { ageSeconds: -360 }), /in the future/],
    ];
    for (const [name, headers, message] of refusals) {
      const res = await post('shopify-orders', body, headers);
      expect([name, res.status]).toEqual([name, 401]);
      expect(res.json).toEqual({ error: 'invalid_signature', message: expect.stringMatching(message) });
    }
    expect(await t.store.eventById('gid://shopify/Order/820982911946154600')).toBeUndefined();
    // Within five minutes is fine: the sender's clock may be a little off.
    expect((await post('shopify-orders', body, signed(body, { ageSeconds: 240 }))).status).toBe(202);
  });

  it('answers 404 for an unknown webhook, 503 for one without a secret, and 400 naming the payload path a mapping cannot read', async () => {
    const at = await serverNow();
    const body = shopifyOrder({ orderId: '820982911946154700', customerId: '115310627314723100', cartToken: 'tok-3', createdAt: at });
    const unknown = await post('woocommerce', body);
    expect(unknown).toEqual({ status: 404, json: { error: 'not_found', message: expect.stringContaining('shopify-orders') } });
    const unsigned = await post('unsigned-demo', body);
    expect(unsigned).toEqual({ status: 503, json: { error: 'not_configured', message: expect.stringContaining('WEBHOOK_SECRETS=unsigned-demo:') } });

    const guest = await post('shopify-orders', shopifyOrder({ orderId: '820982911946154701', customerId: '0', cartToken: 'tok-3', createdAt: at, customer: false }));
    expect(guest.status).toBe(400);
    expect(guest.json).toMatchObject({ error: 'invalid_request', problems: [{ path: '$.customer.id', message: 'customerId: the payload has no value here' }] });
    const free = await post('shopify-orders', shopifyOrder({ orderId: '820982911946154702', customerId: '115310627314723100', cartToken: 'tok-3', createdAt: at, price: '"free"' }));
    expect(free.json).toMatchObject({ problems: [{ path: '$.line_items[0].price', message: expect.stringContaining('expected a number') }] });
    const late = await post('shopify-orders', shopifyOrder({ orderId: '820982911946154703', customerId: '115310627314723100', cartToken: 'tok-3', createdAt: 'last tuesday' }));
    expect(late.json).toMatchObject({ problems: [{ path: '$.created_at', message: expect.stringContaining('occurredAt') }] });
    expect(await t.store.eventsOf('115310627314723100')).toEqual([]);
  });
});

describe('webhook settings', () => {
  it('refuses a short secret or a malformed entry in WEBHOOK_SECRETS, naming the setting and never the secret', () => {
    expect(() => readConfig({ WEBHOOK_SECRETS: 'shopify-orders:tooshort' }, PROJECT_ROOT)).toThrow(/WEBHOOK_SECRETS: the secret of shopify-orders is shorter than 16 characters/);
    expect(() => readConfig({ WEBHOOK_SECRETS: 'Shopify Orders:0123456789abcdef0123' }, PROJECT_ROOT)).toThrow(/WEBHOOK_SECRETS: write name:secret pairs/);
    expect(() => readConfig({ SEGMENT_SHARED_SECRET: 'short' }, PROJECT_ROOT)).toThrow(/SEGMENT_SHARED_SECRET: use at least 16 characters/);
    const config = readConfig({ WEBHOOK_SECRETS: 'shopify-orders:0123456789abcdef0123,shopify-orders:fedcba9876543210fedc' }, PROJECT_ROOT);
    expect(config.sources.webhookSecrets.map((s) => s.name)).toEqual(['shopify-orders', 'shopify-orders']);
  });

  it('refuses to start with a secret for a webhook no mapping declares', async () => {
    const misnamed = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 65_536, logger: false, sources: { webhookSecrets: [{ name: 'shopfiy-orders', secret: SECRET }] } });
    await expect(misnamed.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(
      /WEBHOOK_SECRETS has a secret for webhook "shopfiy-orders", but journeys\/webhooks.ts declares none of that name \(it declares shopify-orders\)/,
    );
    await misnamed.close();
  });
});
