import type { CustomerEvent } from '../customer/types';

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

function productsOf(event: CustomerEvent): Product[] {
  const { items, sku } = event.properties as { items?: unknown; sku?: unknown };
  const list = Array.isArray(items) ? items : typeof sku === 'string' ? [event.properties] : [];
  return list.filter((p): p is Product => typeof p === 'object' && p !== null && typeof (p as Product).sku === 'string');
}

/** Products ranked by how often `count` sees them, most first, ties by first appearance. */
function ranked(counts: Map<string, number>): string[] {
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([sku]) => sku);
}

/**
 * Picks products for one customer from purchase and browse history: first what others bought
 * together with what this customer bought, viewed or has in the cart; then popular products
 * of the same categories; then best sellers. Always something new to the customer: nothing
 * they bought or looked at, and nothing the email already shows (`exclude`, the cart's items).
 */
export function recommend(input: { customerEvents: CustomerEvent[]; orders: CustomerEvent[]; exclude?: string[]; limit?: number }): Recommendation[] {
  const limit = input.limit ?? 3;
  const known = new Map<string, Product>();
  const remember = (p: Product) => known.set(p.sku, { ...known.get(p.sku), ...p });
  const baskets = input.orders.map((order) => productsOf(order).map((p) => (remember(p), p.sku)));

  const interested = new Set(input.customerEvents.flatMap((event) => productsOf(event).map((p) => (remember(p), p.sku))));
  const blocked = new Set([...interested, ...(input.exclude ?? [])]);

  const together = new Map<string, number>();
  const sales = new Map<string, number>();
  for (const basket of baskets) {
    const withMine = basket.some((sku) => interested.has(sku));
    for (const sku of basket) {
      sales.set(sku, (sales.get(sku) ?? 0) + 1);
      if (withMine && !interested.has(sku)) together.set(sku, (together.get(sku) ?? 0) + 1);
    }
  }
  const categories = new Set([...interested].map((sku) => known.get(sku)?.category).filter(Boolean));
  const bestSellers = ranked(sales);

  const picks: Recommendation[] = [];
  const take = (skus: string[], reason: Recommendation['reason']) => {
    for (const sku of skus) {
      if (picks.length >= limit) return;
      if (blocked.has(sku) || picks.some((p) => p.sku === sku)) continue;
      picks.push({ ...(known.get(sku) ?? { sku }), reason });
    }
  };
  take(ranked(together), 'bought together');
  take(bestSellers.filter((sku) => categories.has(known.get(sku)?.category)), 'same category');
  take(bestSellers, 'best seller');
  return picks;
}
