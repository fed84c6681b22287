// The feature table of predictive scores: per customer, what the store knew at a cutoff.
import type { CustomerEvent } from '../../domain/customer/types';
import { CATEGORY_FEATURE, customerFeatureValues, FEATURE_EVENT_TYPES, NUMERIC_FEATURES, topCategories, type CustomerFeatures } from '../../domain/scores/features';
import type { Store } from '../../store/types';

export interface FeatureTable {
  names: string[];
  rows: { customerId: string; values: number[] }[];
}

export interface FeatureOptions {
  /** Only these customers, in this order; every customer with a profile or an event when absent. */
  customerIds?: string[];
  /**
   * The categories of the last order that get a one-hot column (`lastOrderCategory.<name>`), so a
   * model trained on one table reads the same columns in another; when absent, the
   * `MAX_CATEGORIES` most frequent in this table.
   */
  categories?: string[];
}

/** Customers read per store query: a page's events are a few MB however large the shop. */
const PAGE = 500;
/** One-hot columns beyond a handful add little to a linear model and dilute its standardization. */
export const MAX_CATEGORIES = 6;

/** Features of every customer (or those given) as known at `asOf`: nothing after it is read. */
export async function customerFeatures(store: Store, asOf: Date, options: FeatureOptions = {}): Promise<FeatureTable> {
  const asOfMs = asOf.getTime();
  if (Number.isNaN(asOfMs)) throw new Error('customerFeatures needs a valid asOf date');
  const computed: { customerId: string; features: CustomerFeatures }[] = [];
  for await (const page of customerPages(store, options.customerIds)) {
    const events = await store.eventsOfCustomers(page, { types: FEATURE_EVENT_TYPES, until: asOf.toISOString() });
    const byCustomer = new Map<string, CustomerEvent[]>(page.map((customerId) => [customerId, []]));
    for (const event of events) byCustomer.get(event.customerId)?.push(event);
    for (const customerId of page) computed.push({ customerId, features: customerFeatureValues(byCustomer.get(customerId)!, asOfMs) });
  }
  const categories = options.categories ?? topCategories(computed.map(({ features }) => features.lastOrderCategory), MAX_CATEGORIES);
  return {
    names: [...NUMERIC_FEATURES, ...categories.map((category) => `${CATEGORY_FEATURE}${category}`)],
    rows: computed.map(({ customerId, features }) => ({
      customerId,
      values: [...features.values, ...categories.map((category) => (features.lastOrderCategory === category ? 1 : 0))],
    })),
  };
}

async function* customerPages(store: Store, customerIds: string[] | undefined): AsyncGenerator<string[]> {
  if (customerIds) {
    for (let start = 0; start < customerIds.length; start += PAGE) yield customerIds.slice(start, start + PAGE);
    return;
  }
  for (let page = await store.customerIdsAfter(undefined, PAGE); page.length > 0; page = await store.customerIdsAfter(page[page.length - 1], PAGE)) {
    yield page;
  }
}
