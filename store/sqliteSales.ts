import type Database from 'better-sqlite3';
import { ORDER_EVENT, tallyOrders, type CountedOrder, type Product, type RankedProduct } from '../domain/delivery/recommendations';
import type { Store } from './types';

interface RankedRow {
  sku: string;
  lines: number;
  info: string;
}

const toRanked = (row: RankedRow): RankedProduct => ({ product: { sku: row.sku, ...(JSON.parse(row.info) as Omit<Product, 'sku'>) }, lines: row.lines });

/** A newer order (occurredAt, then arrival) than the one a row last saw: its fields and place win. */
const NEWER = '(excluded.last_ms, excluded.last_seq) > (last_ms, last_seq)';
const RANK = 'lines DESC, last_ms DESC, last_seq DESC, last_pos';

/**
 * The sales figures in the SQLite store (tables `product_sales` and `co_purchases`, migration
 * 0010): `count` adds orders inside the transaction that records them, the rest reads them.
 */
export function sqliteSales(db: Database.Database): {
  store: Pick<Store, 'coPurchased' | 'bestSellers' | 'soldProducts'>;
  /** Adds orders just recorded; the caller's transaction makes it one with their insert. */
  count(orders: CountedOrder[]): void;
} {
  const sql = {
    addProduct: db.prepare<[string, number, number, number, number, string]>(
      `INSERT INTO product_sales (sku, lines, last_ms, last_seq, last_pos, info) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sku) DO UPDATE SET
         lines = lines + excluded.lines,
         info = CASE WHEN ${NEWER} THEN json_patch(info, excluded.info) ELSE json_patch(excluded.info, info) END,
         last_pos = CASE WHEN ${NEWER} THEN excluded.last_pos ELSE last_pos END,
         last_seq = CASE WHEN ${NEWER} THEN excluded.last_seq ELSE last_seq END,
         last_ms = CASE WHEN ${NEWER} THEN excluded.last_ms ELSE last_ms END`,
    ),
    addPair: db.prepare<[string, string, number, number, number, number]>(
      `INSERT INTO co_purchases (sku, partner, lines, last_ms, last_seq, last_pos) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sku, partner) DO UPDATE SET
         lines = lines + excluded.lines,
         last_pos = CASE WHEN ${NEWER} THEN excluded.last_pos ELSE last_pos END,
         last_seq = CASE WHEN ${NEWER} THEN excluded.last_seq ELSE last_seq END,
         last_ms = CASE WHEN ${NEWER} THEN excluded.last_ms ELSE last_ms END`,
    ),
    // A partner's lines summed over the given products; its rank among equals from the newest order it shared with one of them.
    coPurchased: db.prepare<[string, number], RankedRow>(
      `WITH mine(sku) AS (SELECT value FROM json_each(?)),
       together AS (
         SELECT partner, sum(lines) OVER (PARTITION BY partner) AS lines, last_ms, last_seq, last_pos,
                row_number() OVER (PARTITION BY partner ORDER BY last_ms DESC, last_seq DESC) AS newest
         FROM co_purchases WHERE sku IN mine AND partner NOT IN mine
       )
       SELECT t.partner AS sku, t.lines, p.info FROM together t JOIN product_sales p ON p.sku = t.partner
       WHERE t.newest = 1 ORDER BY t.lines DESC, t.last_ms DESC, t.last_seq DESC, t.last_pos LIMIT ?`,
    ),
    bestSellers: db.prepare<[number], RankedRow>(`SELECT sku, lines, info FROM product_sales ORDER BY ${RANK} LIMIT ?`),
    bestSellersIn: db.prepare<[string, number], RankedRow>(
      `SELECT sku, lines, info FROM product_sales WHERE category IN (SELECT value FROM json_each(?)) ORDER BY ${RANK} LIMIT ?`,
    ),
    soldProducts: db.prepare<[string], Omit<RankedRow, 'lines'>>('SELECT sku, info FROM product_sales WHERE sku IN (SELECT value FROM json_each(?))'),
  };

  return {
    count(orders) {
      if (orders.length === 0) return;
      const tally = tallyOrders(orders);
      for (const [sku, { product, lines, last }] of tally.products) {
        sql.addProduct.run(sku, lines, last.atMs, last.seq, last.pos, JSON.stringify({ ...product, sku: undefined }));
      }
      for (const [sku, partners] of tally.pairs) {
        for (const [partner, { lines, last }] of partners) sql.addPair.run(sku, partner, lines, last.atMs, last.seq, last.pos);
      }
    },
    store: {
      async coPurchased(skus, limit) {
        return skus.length === 0 ? [] : sql.coPurchased.all(JSON.stringify(skus), limit).map(toRanked);
      },
      async bestSellers(categories, limit) {
        const rows = categories === undefined ? sql.bestSellers.all(limit) : sql.bestSellersIn.all(JSON.stringify(categories), limit);
        return rows.map(toRanked);
      },
      async soldProducts(skus) {
        return skus.length === 0 ? [] : sql.soldProducts.all(JSON.stringify(skus)).map((row) => toRanked({ ...row, lines: 0 }).product);
      },
    },
  };
}

/**
 * Counts the orders a store recorded before the sales figures existed, once, in the migration
 * that creates them, page by page in order of arrival.
 */
export function backfillSqliteSales(db: Database.Database): void {
  const sales = sqliteSales(db);
  const page = db.prepare<[string, number, number], { seq: number; occurred_at_ms: number; properties: string }>(
    'SELECT seq, occurred_at_ms, properties FROM events WHERE type = ? AND seq > ? ORDER BY seq LIMIT ?',
  );
  for (let after = 0; ; ) {
    const rows = page.all(ORDER_EVENT, after, 1000);
    if (rows.length === 0) return;
    sales.count(rows.map((row) => ({ properties: JSON.parse(row.properties) as CountedOrder['properties'], atMs: row.occurred_at_ms, seq: row.seq })));
    after = rows[rows.length - 1].seq;
  }
}
