import type pg from 'pg';
import { ORDER_EVENT, tallyOrders, type CountedOrder, type Product, type RankedProduct } from '../domain/delivery/recommendations';
import type { Queryable } from './postgresPool';
import type { Store } from './types';

interface RankedRow {
  sku: string;
  // bigint sums arrive as text.
  lines: string;
  info: Omit<Product, 'sku'>;
}

const toRanked = (row: RankedRow): RankedProduct => ({ product: { sku: row.sku, ...row.info }, lines: Number(row.lines) });

/** A newer order (occurredAt, then arrival) than the one a row last saw: its fields and place win. */
const NEWER = (table: string) => `(excluded.last_ms, excluded.last_seq) > (${table}.last_ms, ${table}.last_seq)`;
const RANK = 'lines DESC, last_ms DESC, last_seq DESC, last_pos';
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The sales figures in PostgreSQL (tables `product_sales` and `co_purchases`, migration 0010). */
export function postgresSales(pool: pg.Pool): Pick<Store, 'coPurchased' | 'bestSellers' | 'soldProducts'> {
  const ranked = async (text: string, values: unknown[]) => (await pool.query<RankedRow>(text, values)).rows.map(toRanked);
  return {
    async coPurchased(skus, limit) {
      if (skus.length === 0) return [];
      // A partner's lines summed over the given products; its rank among equals from the newest order it shared with one of them.
      return ranked(
        `WITH together AS (
           SELECT partner, sum(lines) OVER (PARTITION BY partner) AS lines, last_ms, last_seq, last_pos,
                  row_number() OVER (PARTITION BY partner ORDER BY last_ms DESC, last_seq DESC) AS newest
           FROM co_purchases WHERE sku = ANY($1::text[]) AND NOT partner = ANY($1::text[])
         )
         SELECT t.partner AS sku, t.lines, p.info FROM together t JOIN product_sales p ON p.sku = t.partner
         WHERE t.newest = 1 ORDER BY t.lines DESC, t.last_ms DESC, t.last_seq DESC, t.last_pos LIMIT $2`,
        [skus, limit],
      );
    },
    async bestSellers(categories, limit) {
      return categories === undefined
        ? ranked(`SELECT sku, lines, info FROM product_sales ORDER BY ${RANK} LIMIT $1`, [limit])
        : ranked(`SELECT sku, lines, info FROM product_sales WHERE category = ANY($1::text[]) ORDER BY ${RANK} LIMIT $2`, [categories, limit]);
    },
    async soldProducts(skus) {
      if (skus.length === 0) return [];
      const { rows } = await pool.query<Omit<RankedRow, 'lines'>>('SELECT sku, info FROM product_sales WHERE sku = ANY($1::text[])', [skus]);
      return rows.map((row) => ({ sku: row.sku, ...row.info }));
    },
  };
}

/**
 * Adds orders just recorded to the sales figures, on the transaction that recorded them. One
 * statement per table, rows in key order: concurrent transactions lock shared rows in one order
 * (products, then pairs) and never deadlock, and each adds to the count the other committed.
 */
export async function countPostgresSales(client: Queryable, orders: CountedOrder[]): Promise<void> {
  if (orders.length === 0) return;
  const tally = tallyOrders(orders);
  const products = [...tally.products].sort(([a], [b]) => byKey(a, b));
  await client.query(
    `INSERT INTO product_sales AS s (sku, lines, last_ms, last_seq, last_pos, info)
     SELECT sku, lines, last_ms, last_seq, last_pos, info::jsonb
     FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $6::text[]) WITH ORDINALITY
       AS p(sku, lines, last_ms, last_seq, last_pos, info, position)
     ORDER BY position
     ON CONFLICT (sku) DO UPDATE SET
       lines = s.lines + excluded.lines,
       info = CASE WHEN ${NEWER('s')} THEN s.info || excluded.info ELSE excluded.info || s.info END,
       last_pos = CASE WHEN ${NEWER('s')} THEN excluded.last_pos ELSE s.last_pos END,
       last_seq = CASE WHEN ${NEWER('s')} THEN excluded.last_seq ELSE s.last_seq END,
       last_ms = CASE WHEN ${NEWER('s')} THEN excluded.last_ms ELSE s.last_ms END`,
    [
      products.map(([sku]) => sku),
      products.map(([, p]) => p.lines),
      products.map(([, p]) => p.last.atMs),
      products.map(([, p]) => p.last.seq),
      products.map(([, p]) => p.last.pos),
      products.map(([, { product }]) => JSON.stringify({ ...product, sku: undefined })),
    ],
  );
  const pairs = [...tally.pairs]
    .sort(([a], [b]) => byKey(a, b))
    .flatMap(([sku, partners]) => [...partners].sort(([a], [b]) => byKey(a, b)).map(([partner, pair]) => ({ sku, partner, ...pair })));
  if (pairs.length === 0) return;
  await client.query(
    `INSERT INTO co_purchases AS c (sku, partner, lines, last_ms, last_seq, last_pos)
     SELECT sku, partner, lines, last_ms, last_seq, last_pos
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[]) WITH ORDINALITY
       AS p(sku, partner, lines, last_ms, last_seq, last_pos, position)
     ORDER BY position
     ON CONFLICT (sku, partner) DO UPDATE SET
       lines = c.lines + excluded.lines,
       last_pos = CASE WHEN ${NEWER('c')} THEN excluded.last_pos ELSE c.last_pos END,
       last_seq = CASE WHEN ${NEWER('c')} THEN excluded.last_seq ELSE c.last_seq END,
       last_ms = CASE WHEN ${NEWER('c')} THEN excluded.last_ms ELSE c.last_ms END`,
    [
      pairs.map((p) => p.sku),
      pairs.map((p) => p.partner),
      pairs.map((p) => p.lines),
      pairs.map((p) => p.last.atMs),
      pairs.map((p) => p.last.seq),
      pairs.map((p) => p.last.pos),
    ],
  );
}

/**
 * Counts the orders a store recorded before the sales figures existed, once, in the migration
 * that creates them (under its lock), page by page in order of arrival.
 */
export async function backfillPostgresSales(client: pg.PoolClient): Promise<void> {
  for (let after = '0'; ; ) {
    const { rows } = await client.query<{ seq: string; occurred_at_ms: string; properties: string }>(
      'SELECT seq, occurred_at_ms, properties FROM events WHERE type = $1 AND seq > $2 ORDER BY seq LIMIT 1000',
      [ORDER_EVENT, after],
    );
    if (rows.length === 0) return;
    await countPostgresSales(
      client,
      rows.map((row) => ({ properties: JSON.parse(row.properties) as CountedOrder['properties'], atMs: Number(row.occurred_at_ms), seq: Number(row.seq) })),
    );
    after = rows[rows.length - 1].seq;
  }
}
