import type { CustomerEvent } from '../customer/types';

/** The event whose items count as sales: best sellers and what is bought together. */
export const ORDER_EVENT = 'order.completed';

/** A product as events describe it: `sku` identifies it; the rest is shown when known. */
export interface Product {
  sku: string;
  name?: string;
  category?: string;
  price?: number;
  url?: string;
}

export interface Recommendation extends Product {
  /** Why it was chosen, in the order tried: bought together, same category, best seller. */
  reason: 'bought together' | 'same category' | 'best seller';
}

/**
 * The fields of an item a product keeps, as the event gave them (a string, a finite number or a
 * boolean; other values are left out). Nothing else of an order's item reaches another
 * customer's email, nor the sales figures, which outlive the customer's erasure.
 */
const PRODUCT_FIELDS = ['name', 'category', 'price', 'url'] as const;

/** The products an event names, in its order: its `items`, or the event itself when it has a `sku`; each needs a string `sku`. */
export function productsOf(event: Pick<CustomerEvent, 'properties'>): Product[] {
  const { items, sku } = (event.properties ?? {}) as { items?: unknown; sku?: unknown };
  const list: unknown[] = Array.isArray(items) ? items : typeof sku === 'string' ? [event.properties] : [];
  return list.flatMap((item) => {
    if (typeof item !== 'object' || item === null || typeof (item as Product).sku !== 'string') return [];
    const product: Record<string, unknown> = { sku: (item as Product).sku };
    for (const field of PRODUCT_FIELDS) {
      const value = (item as Record<string, unknown>)[field];
      if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) product[field] = value;
    }
    return [product as unknown as Product];
  });
}

/**
 * The newest order that had a product (by occurredAt, then arrival) and the product's place in
 * it. Ranked lists order equal counts by it, newest first, then by place: the order in which a
 * walk through the orders from the newest meets the products.
 */
export interface LastSeen {
  atMs: number;
  seq: number;
  pos: number;
}

export interface ProductSales {
  /** The product's fields, the newest order's first; an older order only fills in what is missing. */
  product: Product;
  /** Order lines with the product (a product on two lines of one order counts twice). */
  lines: number;
  last: LastSeen;
}

export interface PairSales {
  /** Order lines with the partner in orders that also had the product. */
  lines: number;
  last: LastSeen;
}

/** Sales counted from orders: per product, and per ordered pair of products bought in one order. */
export interface SalesTally {
  products: Map<string, ProductSales>;
  /** `pairs.get(a).get(b)`: b's lines in orders that also had a (never a itself). */
  pairs: Map<string, Map<string, PairSales>>;
}

/**
 * Orders with more distinct products than this count for best sellers only, not for what is
 * bought together: one order of n products adds n·(n−1) pairs, so a wholesale order (or a
 * malformed one listing a catalogue) would otherwise write millions of rows in one go.
 */
export const MAX_PAIRED_PRODUCTS = 50;

/** An order as the sales figures count it: its properties, when it occurred and its place of arrival. */
export interface CountedOrder {
  properties: CustomerEvent['properties'];
  atMs: number;
  seq: number;
}

export function newer(a: Pick<LastSeen, 'atMs' | 'seq'>, b: Pick<LastSeen, 'atMs' | 'seq'>): boolean {
  return a.atMs !== b.atMs ? a.atMs > b.atMs : a.seq > b.seq;
}

/**
 * Adds orders to a tally, in any order: counts add up, `last` keeps the newest order, and a
 * product's fields come from the newest order first. The stores apply the same rules when they
 * add a tally to the figures they keep.
 */
export function tallyOrders(orders: Iterable<CountedOrder>, into: SalesTally = { products: new Map(), pairs: new Map() }): SalesTally {
  for (const order of orders) {
    // Each distinct product once, at its first place, with its fields merged line by line.
    const inOrder = new Map<string, { product: Product; lines: number; pos: number }>();
    productsOf(order).forEach((product, pos) => {
      const seen = inOrder.get(product.sku);
      inOrder.set(product.sku, seen ? { product: { ...seen.product, ...product }, lines: seen.lines + 1, pos: seen.pos } : { product, lines: 1, pos });
    });
    for (const [sku, { product, lines, pos }] of inOrder) {
      addProductSales(into, sku, { product, lines, last: { atMs: order.atMs, seq: order.seq, pos } });
    }
    if (inOrder.size > MAX_PAIRED_PRODUCTS) continue;
    for (const sku of inOrder.keys()) {
      const partners = into.pairs.get(sku) ?? new Map<string, PairSales>();
      into.pairs.set(sku, partners);
      for (const [partner, { lines, pos }] of inOrder) {
        if (partner === sku) continue;
        const last = { atMs: order.atMs, seq: order.seq, pos };
        const before = partners.get(partner);
        partners.set(partner, before ? { lines: before.lines + lines, last: newer(last, before.last) ? last : before.last } : { lines, last });
      }
    }
  }
  return into;
}

function addProductSales(tally: SalesTally, sku: string, sales: ProductSales): void {
  const before = tally.products.get(sku);
  if (!before) return void tally.products.set(sku, sales);
  const isNewer = newer(sales.last, before.last);
  tally.products.set(sku, {
    product: isNewer ? { ...before.product, ...sales.product } : { ...sales.product, ...before.product },
    lines: before.lines + sales.lines,
    last: isNewer ? sales.last : before.last,
  });
}

/** A product of a ranked list, with the order lines it was ranked by. */
export interface RankedProduct {
  product: Product;
  lines: number;
}

/** Most lines first; equal counts by the newest order that had the product, then by place in it. */
export function byRank(a: Pick<ProductSales, 'lines' | 'last'>, b: Pick<ProductSales, 'lines' | 'last'>): number {
  return b.lines - a.lines || (newer(a.last, b.last) ? -1 : newer(b.last, a.last) ? 1 : a.last.pos - b.last.pos);
}

/** What a customer's history asks of the sales figures, and what it rules out. */
export interface Interest {
  /** Products the customer bought, viewed or has in the cart, in the order met. */
  skus: string[];
  /** Those products as the customer's own events describe them. */
  described: Map<string, Product>;
  /** Never recommended: the customer's products and what the email already shows. */
  blocked: Set<string>;
  limit: number;
  /** How many of each ranked list to read: enough to fill `limit` past every blocked product and earlier pick. */
  candidates: number;
}

export function interestOf(input: { customerEvents: CustomerEvent[]; exclude?: string[]; limit?: number }): Interest {
  const limit = input.limit ?? 3;
  const described = new Map<string, Product>();
  for (const product of input.customerEvents.flatMap(productsOf)) described.set(product.sku, { ...described.get(product.sku), ...product });
  const blocked = new Set([...described.keys(), ...(input.exclude ?? [])]);
  return { skus: [...described.keys()], described, blocked, limit, candidates: 2 * limit + blocked.size };
}

/** The categories of the customer's products: as orders describe them, unless the customer's own events say otherwise. */
export function categoriesOf(interest: Interest, ordered: Product[]): string[] {
  const known = new Map(ordered.map((product) => [product.sku, product]));
  const categories = interest.skus.map((sku) => ({ ...known.get(sku), ...interest.described.get(sku) }).category);
  return [...new Set(categories.filter((category): category is string => typeof category === 'string' && category !== ''))];
}

/**
 * Picks products for one customer from purchase and browse history: first what others bought
 * together with what this customer bought, viewed or has in the cart; then best sellers of the
 * same categories; then best sellers. Always something new to the customer: nothing they
 * bought or looked at, and nothing the email already shows (`exclude`, the cart's items).
 * The ranked lists come from the sales figures: the store's (activities/facts.ts) or a tally
 * in memory (`recommend`).
 */
export function pick(interest: Interest, ranked: { together: RankedProduct[]; sameCategory: RankedProduct[]; bestSellers: RankedProduct[] }): Recommendation[] {
  const picks: Recommendation[] = [];
  const take = (list: RankedProduct[], reason: Recommendation['reason']) => {
    for (const { product } of list) {
      if (picks.length >= interest.limit) return;
      if (interest.blocked.has(product.sku) || picks.some((p) => p.sku === product.sku)) continue;
      picks.push({ ...product, reason });
    }
  };
  take(ranked.together, 'bought together');
  take(ranked.sameCategory, 'same category');
  take(ranked.bestSellers, 'best seller');
  return picks;
}

/**
 * The recommendations `orders` (newest first) give: the same picks as from the store's sales
 * figures when it holds just these orders, counted in memory. A reference for the rules above.
 */
export function recommend(input: { customerEvents: CustomerEvent[]; orders: CustomerEvent[]; exclude?: string[]; limit?: number }): Recommendation[] {
  // The list's order stands for time: the first order is the newest.
  const tally = tallyOrders(input.orders.map((order, index) => ({ properties: order.properties, atMs: 0, seq: input.orders.length - index })));
  const interest = interestOf(input);
  const ranked = (sales: Iterable<ProductSales>) =>
    [...sales].sort(byRank).slice(0, interest.candidates).map(({ product, lines }) => ({ product, lines }));
  const together = new Map<string, ProductSales>();
  for (const sku of interest.skus) {
    for (const [partner, pair] of tally.pairs.get(sku) ?? []) {
      if (interest.described.has(partner)) continue;
      const before = together.get(partner);
      const product = tally.products.get(partner)!.product;
      together.set(partner, { product, lines: (before?.lines ?? 0) + pair.lines, last: before && newer(before.last, pair.last) ? before.last : pair.last });
    }
  }
  const categories = new Set(categoriesOf(interest, interest.skus.flatMap((sku) => tally.products.get(sku)?.product ?? [])));
  const all = [...tally.products.values()];
  return pick(interest, {
    together: ranked(together.values()),
    sameCategory: categories.size > 0 ? ranked(all.filter(({ product }) => categories.has(product.category as string))) : [],
    bestSellers: ranked(all),
  });
}
