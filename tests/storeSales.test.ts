import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { recommendationsFor } from '../activities/facts';
import type { CustomerEvent } from '../domain/customer/types';
import { MAX_PAIRED_PRODUCTS, ORDER_EVENT, recommend, type RankedProduct } from '../domain/delivery/recommendations';
import { migrate, migrations } from '../store/migrations';
import { openPostgresStore } from '../store/postgres';
import { migratePostgres, postgresMigrations } from '../store/postgresMigrations';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { freshPostgresDatabase } from './support/postgres';
import { describeStores } from './support/stores';

let seq = 0;
const order = (customerId: string, items: unknown[], at = '2026-11-01T10:00:00Z', id = `o${++seq}`): CustomerEvent => ({
  id,
  type: ORDER_EVENT,
  customerId,
  occurredAt: at,
  properties: { orderId: id, items },
});
const item = (sku: string, category?: string, extra: Record<string, unknown> = {}) => ({ sku, name: sku.toUpperCase(), ...(category && { category }), ...extra });
const counts = (list: RankedProduct[]) => list.map(({ product, lines }) => [product.sku, lines]);

/** Every figure the store keeps, as its read methods answer. */
async function figures(store: Store, skus: string[]) {
  return {
    best: await store.bestSellers(undefined, 100),
    together: Object.fromEntries(await Promise.all(skus.map(async (sku) => [sku, counts(await store.coPurchased([sku], 100))]))),
    products: await store.soldProducts(skus),
  };
}

/** The orders of tests/recommendations.test.ts, oldest first (a is the oldest). */
const shopOrders = () => [
  order('a', [item('shoes', 'running'), item('socks', 'running')], '2026-11-01T10:00:00Z'),
  order('b', [item('shoes', 'running'), item('socks', 'running'), item('bottle', 'hydration')], '2026-11-01T11:00:00Z'),
  order('c', [item('tent', 'camping'), item('stove', 'camping')], '2026-11-01T12:00:00Z'),
  order('d', [item('tent', 'camping'), item('stove', 'camping')], '2026-11-01T13:00:00Z'),
  order('e', [item('tent', 'camping'), item('shorts', 'running')], '2026-11-01T14:00:00Z'),
  order('f', [item('tent', 'camping')], '2026-11-01T15:00:00Z'),
];

describeStores('sales figures', ({ open }) => {
  it('counts best sellers, per category, and what is bought together, from the orders recorded', async () => {
    const store = await open();
    for (const event of shopOrders()) await store.recordEvent(event);
    // A cart or a view is no sale.
    await store.recordEvent({ id: `cart-${++seq}`, type: 'cart.updated', customerId: 'a', occurredAt: '2026-11-02T10:00:00Z', properties: { items: [item('tent')] } });
    await store.recordEvent({ id: `view-${++seq}`, type: 'product.viewed', customerId: 'a', occurredAt: '2026-11-02T10:00:00Z', properties: item('bottle') });

    // Equal counts: the product of the newest order first, then by place in that order.
    expect(counts(await store.bestSellers(undefined, 10))).toEqual([['tent', 4], ['stove', 2], ['shoes', 2], ['socks', 2], ['shorts', 1], ['bottle', 1]]);
    expect(counts(await store.bestSellers(undefined, 2))).toEqual([['tent', 4], ['stove', 2]]);
    expect(counts(await store.bestSellers(['running', 'hydration'], 10))).toEqual([['shoes', 2], ['socks', 2], ['shorts', 1], ['bottle', 1]]);
    expect(await store.bestSellers(['nothing'], 10)).toEqual([]);

    expect(counts(await store.coPurchased(['shoes'], 10))).toEqual([['socks', 2], ['bottle', 1]]);
    expect(counts(await store.coPurchased(['tent'], 10))).toEqual([['stove', 2], ['shorts', 1]]);
    // Summed over the products asked about, never one of them.
    expect(counts(await store.coPurchased(['shoes', 'socks'], 10))).toEqual([['bottle', 2]]);
    expect(counts(await store.coPurchased(['tent', 'shoes'], 1))).toEqual([['stove', 2]]);
    expect(await store.coPurchased(['unknown'], 10)).toEqual([]);
    expect(await store.coPurchased([], 10)).toEqual([]);

    expect((await store.bestSellers(undefined, 1))[0].product).toEqual({ sku: 'tent', name: 'TENT', category: 'camping' });
    expect(await store.soldProducts(['bottle', 'nothing'])).toEqual([{ sku: 'bottle', name: 'BOTTLE', category: 'hydration' }]);
  });

  it('counts each line, keeps the newest order’s fields and only the product fields, and pairs no wholesale order', async () => {
    const store = await open();
    await store.recordEvent(order('a', [item('lamp', 'lighting', { price: 40, url: 'https://shop.example.com/lamp', giftNote: 'for Ada' }), item('bulb'), item('bulb')], '2026-03-02T10:00:00Z'));
    // Older, arriving later: it fills in what the newer order left out, and changes nothing it gave.
    await store.recordEvent(order('b', [item('lamp', 'old-category', { price: 35 }), item('bulb', 'lighting')], '2026-03-01T10:00:00+01:00'));
    // An item without a string sku is no product.
    await store.recordEvent(order('c', [{ name: 'no sku' }, { sku: 7 }, 'text', item('lamp')], '2026-03-03T10:00:00Z'));

    expect(await store.soldProducts(['lamp', 'bulb'])).toEqual(
      expect.arrayContaining([
        { sku: 'lamp', name: 'LAMP', category: 'lighting', price: 40, url: 'https://shop.example.com/lamp' },
        { sku: 'bulb', name: 'BULB', category: 'lighting' },
      ]),
    );
    // Lamp was in the newest order.
    expect(counts(await store.bestSellers(undefined, 10))).toEqual([['lamp', 3], ['bulb', 3]]);
    expect(counts(await store.coPurchased(['lamp'], 10))).toEqual([['bulb', 3]]);
    expect(counts(await store.coPurchased(['bulb'], 10))).toEqual([['lamp', 2]]);

    const catalogue = Array.from({ length: MAX_PAIRED_PRODUCTS + 1 }, (_, i) => item(`p${i}`));
    await store.recordEvent(order('wholesale', [item('lamp'), ...catalogue]));
    expect((await store.bestSellers(undefined, 1))[0]).toMatchObject({ product: { sku: 'lamp' }, lines: 4 });
    expect(counts(await store.coPurchased(['lamp'], 10))).toEqual([['bulb', 3]]);
  });

  it('counts an order once: a duplicate id, or its id with other contents, changes nothing', async () => {
    const store = await open();
    const first = order('a', [item('lamp', 'lighting'), item('bulb', 'lighting')], '2026-03-01T10:00:00Z', 'dup');
    expect((await store.recordEvent(first)).firstSeen).toBe(true);
    const before = await figures(store, ['lamp', 'bulb']);

    expect((await store.recordEvent(first)).firstSeen).toBe(false);
    const conflicting = await store.recordEvent({ ...first, properties: { items: [item('lamp', 'other'), item('shade')] } });
    expect(conflicting).toMatchObject({ firstSeen: false, differsIn: ['properties'] });
    expect(await store.recordHistory([first, { ...first, occurredAt: '2027-01-01T00:00:00Z' }])).toMatchObject([{ firstSeen: false }, { firstSeen: false }]);

    expect(await figures(store, ['lamp', 'bulb'])).toEqual(before);
    expect(await store.soldProducts(['shade'])).toEqual([]);
  });

  it('counts history imports, each order once, as recorded live', async () => {
    const store = await open();
    const live = await open();
    const orders = shopOrders();
    const answers = await store.recordHistory([...orders, orders[0], { ...orders[1], properties: { items: [item('tent')] } }]);
    expect(answers.map((a) => a.firstSeen)).toEqual([true, true, true, true, true, true, false, false]);
    // The same orders again under other ids, recorded live: each recording counted once, so every count doubles.
    for (const event of orders) await live.recordEvent({ ...event, id: `live-${event.id}` });
    const skus = ['shoes', 'socks', 'bottle', 'tent', 'stove', 'shorts'];
    const imported = await figures(store, skus);
    expect(counts(imported.best)).toEqual([['tent', 8], ['stove', 4], ['shoes', 4], ['socks', 4], ['shorts', 2], ['bottle', 2]]);
    expect(imported.together.shoes).toEqual([['socks', 4], ['bottle', 2]]);
    expect(await store.recordHistory([])).toEqual([]);
  });

  it('keeps the figures when a customer is erased: products and counts, no customer in them', async () => {
    const store = await open();
    for (const event of shopOrders()) await store.recordEvent(event);
    const before = await figures(store, ['shoes', 'tent']);
    await store.eraseCustomer('b');
    expect(await store.eventsOf('b')).toEqual([]);
    expect(await figures(store, ['shoes', 'tent'])).toEqual(before);
  });

  it('adds every order two instances record at once: no count is lost', async () => {
    const [a, b] = [await open(), await open()];
    const orders = Array.from({ length: 40 }, (_, i) => order(`c${i}`, [item('lamp', 'lighting'), item('bulb', 'lighting'), item(`extra${i % 3}`)]));
    await Promise.all([
      ...orders.map((event, i) => (i % 2 ? a : b).recordEvent(event)),
      // The same order at both: counted once.
      ...[a, b, a, b].map((store) => store.recordEvent(order('twice', [item('lamp'), item('bulb')], '2026-11-01T10:00:00Z', 'twice'))),
      b.recordHistory(orders.slice(0, 10).map((event) => ({ ...event, id: `h-${event.id}` }))),
    ]);
    // 40 orders, the one recorded twice, 10 imported; extra1 and extra2 tie, in whichever order their last orders committed.
    expect(Object.fromEntries(counts(await a.coPurchased(['lamp'], 10)))).toEqual({ bulb: 51, extra0: 18, extra1: 16, extra2: 16 });
    expect(Object.fromEntries(counts(await b.bestSellers(undefined, 2)))).toEqual({ lamp: 51, bulb: 51 });
  });

  it('recommends from the figures what the orders themselves give', async () => {
    const store = await open();
    const orders = shopOrders();
    for (const event of orders) await store.recordEvent(event);
    const me = [
      { id: `v${++seq}`, type: 'product.viewed', customerId: 'me', occurredAt: '2026-11-02T10:00:00Z', properties: { sku: 'shoes' } },
      order('me', [item('cap', 'running')], '2026-11-02T11:00:00Z'),
    ];
    for (const event of me) await store.recordEvent(event);
    const cart = { id: 'cart', type: 'cart.updated', customerId: 'me', occurredAt: '2026-11-03T10:00:00Z', properties: { items: [item('socks')] } };
    const newestFirst = [me[1], ...[...orders].reverse()];
    const expected = recommend({ customerEvents: me, orders: newestFirst, exclude: ['socks'] });
    expect(expected.map((p) => [p.sku, p.reason])).toEqual([
      ['bottle', 'bought together'],
      ['shorts', 'same category'],
      ['tent', 'best seller'],
    ]);
    expect(await recommendationsFor(store, 'me', cart)).toEqual(expected);
    expect(await recommendationsFor(store, 'nobody', cart)).toEqual(recommend({ customerEvents: [], orders: newestFirst, exclude: ['socks'] }));
  });
});

/** The index of the migration that brought the sales figures: the stores below start one short of it. */
const SALES = migrations.findIndex((m) => m.id === '0010_sales');

describe('sales figures on upgrade', () => {
  const rows = () =>
    shopOrders()
      .concat([{ id: 'cart', type: 'cart.updated', customerId: 'a', occurredAt: '2026-11-02T10:00:00Z', properties: { items: [item('tent')] } }])
      .map((e) => ({ id: e.id, customer_id: e.customerId, type: e.type, occurred_at: e.occurredAt, occurred_at_ms: Date.parse(e.occurredAt), properties: JSON.stringify(e.properties) }));
  const expectBackfilled = async (store: Store) => {
    expect(counts(await store.bestSellers(undefined, 10))).toEqual([['tent', 4], ['stove', 2], ['shoes', 2], ['socks', 2], ['shorts', 1], ['bottle', 1]]);
    expect(counts(await store.coPurchased(['shoes'], 10))).toEqual([['socks', 2], ['bottle', 1]]);
    // Later orders add to what the backfill counted.
    await store.recordEvent(order('g', [item('shoes'), item('bottle')], '2026-11-03T10:00:00Z'));
    expect(counts(await store.coPurchased(['shoes'], 10))).toEqual([['bottle', 2], ['socks', 2]]);
  };

  it('SQLite counts the orders a store had before the migration, once', async () => {
    expect(SALES).toBeGreaterThan(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-sales-'));
    const file = path.join(dir, 'journeys.db');
    try {
      const old = new Database(file);
      migrate(old, migrations.slice(0, SALES));
      const insert = old.prepare(
        'INSERT INTO events (id, customer_id, type, occurred_at, occurred_at_ms, properties) VALUES (@id, @customer_id, @type, @occurred_at, @occurred_at_ms, @properties)',
      );
      for (const row of rows()) insert.run(row);
      old.close();

      const store = openSqliteStore(file);
      await expectBackfilled(store);
      await store.close();
      const again = openSqliteStore(file);
      expect(counts(await again.bestSellers(undefined, 1))).toEqual([['tent', 4]]);
      await again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL counts the orders a store had before the migration, once', async () => {
    expect(postgresMigrations[SALES].id).toBe('0010_sales');
    const database = await freshPostgresDatabase();
    try {
      const pool = new pg.Pool({ connectionString: database.url });
      await migratePostgres(pool, postgresMigrations.slice(0, SALES));
      for (const row of rows()) {
        await pool.query('INSERT INTO events (id, customer_id, type, occurred_at, occurred_at_ms, properties) VALUES ($1, $2, $3, $4, $5, $6)', Object.values(row));
      }
      await pool.end();

      const [store, other] = await Promise.all([openPostgresStore(database.url), openPostgresStore(database.url)]);
      await expectBackfilled(store);
      expect(counts(await other.bestSellers(undefined, 1))).toEqual([['tent', 4]]);
      await Promise.all([store.close(), other.close()]);
    } finally {
      await database.drop();
    }
  });
});
