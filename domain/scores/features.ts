// The features of one customer as known at a cutoff, from their events. Pure: the caller reads
// the events (none after the cutoff) and passes the cutoff in.
import type { CustomerEvent } from '../customer/types';
import { EMAIL_CLICKED, EMAIL_OPENED, isMachineEngagement } from '../delivery/engagement';
import { ORDER_EVENT, productsOf } from '../delivery/recommendations';

export const PRODUCT_VIEWED = 'product.viewed';
export const CART_UPDATED = 'cart.updated';

/**
 * What a customer does, as features read it: orders, engagement with email, browsing, and signing
 * up or in (which count for tenure and the last activity only). Segment changes and the like are
 * the shop's doing, not the customer's, so they are left out.
 */
export const FEATURE_EVENT_TYPES = [ORDER_EVENT, EMAIL_OPENED, EMAIL_CLICKED, PRODUCT_VIEWED, CART_UPDATED, 'user.signed_up', 'user.logged_in'];

const DAY_MS = 86_400_000;
const ORDER_WINDOWS = [30, 90, 365] as const;
const ENGAGEMENT_WINDOWS = [7, 30, 90] as const;
const ENGAGEMENT = [
  ['opens', EMAIL_OPENED],
  ['clicks', EMAIL_CLICKED],
  ['views', PRODUCT_VIEWED],
  ['carts', CART_UPDATED],
] as const;

/** The prefix of the one-hot features of the last order's category: `lastOrderCategory.shoes`. */
export const CATEGORY_FEATURE = 'lastOrderCategory.';

/**
 * The numeric features, in table order; the last order's category follows as one-hot columns.
 * Days are fractional; revenue is the sum of `properties.total` (a missing or non-numeric total counts 0).
 */
export const NUMERIC_FEATURES: readonly string[] = [
  // Days since the last order; for a customer who never ordered, since their first activity.
  'recencyDays',
  ...ORDER_WINDOWS.map((days) => `orders${days}d`),
  'ordersTotal',
  ...ORDER_WINDOWS.map((days) => `revenue${days}d`),
  'revenueTotal',
  'averageOrderValue',
  // The mean gap between consecutive orders, 0 with fewer than two: with recencyDays, how overdue the next one is.
  'meanDaysBetweenOrders',
  ...ENGAGEMENT.flatMap(([name]) => ENGAGEMENT_WINDOWS.map((days) => `${name}${days}d`)),
  'tenureDays',
  'daysSinceLastActivity',
];

/** The numeric features of one customer (every one 0 before their first activity), and the category of their last order, for the one-hot columns. */
export interface CustomerFeatures {
  values: number[];
  lastOrderCategory?: string;
}

/**
 * The numeric features of one customer at `asOfMs`, from their events of `FEATURE_EVENT_TYPES`
 * in time order. Events after `asOfMs` are ignored (the caller reads none), and so are machine
 * opens and scanner clicks: they are no engagement.
 */
export function customerFeatureValues(events: CustomerEvent[], asOfMs: number): CustomerFeatures {
  const orders: { at: number; total: number }[] = [];
  const engagement = ENGAGEMENT.map(() => ENGAGEMENT_WINDOWS.map(() => 0));
  let first = Infinity;
  let last = -Infinity;
  let lastOrder: CustomerEvent | undefined;
  for (const event of events) {
    const at = Date.parse(event.occurredAt);
    if (!(at <= asOfMs) || isMachineEngagement(event)) continue;
    first = Math.min(first, at);
    last = Math.max(last, at);
    if (event.type === ORDER_EVENT) {
      const total = Number(event.properties?.total);
      orders.push({ at, total: Number.isFinite(total) ? total : 0 });
      if (!lastOrder || at >= Date.parse(lastOrder.occurredAt)) lastOrder = event;
      continue;
    }
    const kind = ENGAGEMENT.findIndex(([, type]) => type === event.type);
    if (kind === -1) continue;
    ENGAGEMENT_WINDOWS.forEach((days, w) => {
      if (asOfMs - at < days * DAY_MS) engagement[kind][w]++;
    });
  }
  if (first === Infinity) return { values: NUMERIC_FEATURES.map(() => 0) };

  const daysAgo = (at: number) => (asOfMs - at) / DAY_MS;
  const inWindow = (days: number) => orders.filter((order) => asOfMs - order.at < days * DAY_MS);
  const sum = (list: { total: number }[]) => list.reduce((total, order) => total + order.total, 0);
  const orderTimes = orders.map((order) => order.at).sort((a, b) => a - b);
  const revenueTotal = sum(orders);
  const values = [
    daysAgo(orderTimes.length > 0 ? orderTimes[orderTimes.length - 1] : first),
    ...ORDER_WINDOWS.map((days) => inWindow(days).length),
    orders.length,
    ...ORDER_WINDOWS.map((days) => sum(inWindow(days))),
    revenueTotal,
    orders.length > 0 ? revenueTotal / orders.length : 0,
    orderTimes.length > 1 ? (orderTimes[orderTimes.length - 1] - orderTimes[0]) / DAY_MS / (orderTimes.length - 1) : 0,
    ...engagement.flat(),
    daysAgo(first),
    daysAgo(last),
  ];
  const category = lastOrder && productsOf(lastOrder).find((product) => typeof product.category === 'string')?.category;
  return { values, ...(category !== undefined && { lastOrderCategory: category }) };
}

/** The categories most customers' last order was in, most first (equal counts by name), at most `limit`. */
export function topCategories(categories: (string | undefined)[], limit: number): string[] {
  const counts = new Map<string, number>();
  for (const category of categories) if (category !== undefined) counts.set(category, (counts.get(category) ?? 0) + 1);
  return [...counts].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1)).slice(0, limit).map(([category]) => category);
}
