// `journeys scores generate`: a seeded, realistic shop history to train and judge predictive scores
// on. Customers have a latent purchase rate and email interest; some churn (their rates fade over
// the weeks before, then drop to almost nothing); demand follows the seasons; purchases come out of
// a funnel of sessions, product views and carts; a newsletter goes out every fortnight and is
// opened (by people, and by Apple's privacy proxy) and clicked as interest allows.
import { performance } from 'node:perf_hooks';
import type { Profile } from '../../domain/customer/types';
import { EMAIL_CLICKED, EMAIL_OPENED } from '../../domain/delivery/engagement';
import { ORDER_EVENT } from '../../domain/delivery/recommendations';
import { CART_UPDATED, PRODUCT_VIEWED } from '../../domain/scores/features';
import { seededRandom, type Random } from '../../domain/scores/random';
import type { Store } from '../../store/types';
import type { HistoryEvent } from '../history';
import { recordHistory } from '../history';
import type { SegmentTracker } from '../segmentTracker';

export interface ShopHistoryOptions {
  customers: number;
  days: number;
  seed: number;
  /** The end of the history: the newest event is before it. */
  end: Date;
}

export interface GeneratedCustomer {
  profile: Profile;
  /** In time order. */
  events: HistoryEvent[];
}

const DAY_MS = 86_400_000;
const NEWSLETTER_EVERY_DAYS = 14;
const FIRST_NAMES = ['Ada', 'Ben', 'Kim', 'Lena', 'Omar', 'Sofia', 'Yuki', 'Noah', 'Maya', 'Luca', 'Iris', 'Tom'];

/** Categories with their products' prices and how often their buyers come back (a rate multiplier). */
const CATEGORIES = [
  { name: 'coffee', price: 18, repeat: 2.2, weight: 3 },
  { name: 'running-shoes', price: 120, repeat: 0.7, weight: 2 },
  { name: 'outdoor', price: 75, repeat: 0.8, weight: 2 },
  { name: 'kitchen', price: 45, repeat: 1, weight: 2 },
  { name: 'books', price: 22, repeat: 1.4, weight: 2 },
  { name: 'toys', price: 30, repeat: 0.9, weight: 1 },
  { name: 'electronics', price: 240, repeat: 0.5, weight: 1 },
  { name: 'garden', price: 55, repeat: 0.8, weight: 1 },
] as const;
const CATEGORY_WEIGHTS = CATEGORIES.reduce((sum, category) => sum + category.weight, 0);
const SKUS_PER_CATEGORY = 12;

/** Demand through the year: a summer low, and November–December high for the gift season. */
function season(atMs: number): number {
  const date = new Date(atMs);
  const dayOfYear = (atMs - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY_MS;
  const gifts = date.getUTCMonth() === 10 && date.getUTCDate() >= 20 ? 1.8 : date.getUTCMonth() === 11 && date.getUTCDate() <= 22 ? 1.6 : 1;
  return (1 + 0.25 * Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365)) * gifts;
}

/**
 * The customers one by one, each with their profile and events (customer ids `shop-000001` on):
 * the same options always give the same history.
 */
export function* generateShopHistory({ customers, days, seed, end }: ShopHistoryOptions): Generator<GeneratedCustomer> {
  const random = seededRandom(seed);
  const endMs = end.getTime();
  const startMs = endMs - days * DAY_MS;
  const width = Math.max(6, String(customers).length);
  for (let n = 1; n <= customers; n++) {
    const customerId = `shop-${String(n).padStart(width, '0')}`;
    yield customerHistory(customerId, random, startMs, endMs);
  }
}

function pickCategory(random: Random) {
  let roll = random.next() * CATEGORY_WEIGHTS;
  for (const category of CATEGORIES) if ((roll -= category.weight) < 0) return category;
  return CATEGORIES[0];
}

function customerHistory(customerId: string, random: Random, startMs: number, endMs: number): GeneratedCustomer {
  const span = endMs - startMs;
  // Most customers were there before the history starts; the rest sign up during it.
  const isNew = random.chance(0.3);
  const joinMs = isNew ? startMs + random.next() * span * 0.9 : startMs;
  const favourite = pickCategory(random);
  // Orders a day: a long tail (a few order weekly, many a few times a year).
  const rate = random.gamma(1.1, 1 / 110) * favourite.repeat;
  // Interest in the newsletter, tied to how much they buy.
  const interest = 1 / (1 + Math.exp(-(0.9 * random.normal() + 0.7 * Math.log(rate * 100))));
  const openChance = 0.04 + 0.5 * interest;
  const appleMail = random.chance(0.2);
  // Over half stop buying at some point, in the history or after it: fading over the weeks before.
  const churnMs = random.chance(0.55) ? joinMs + random.next() * (endMs + 150 * DAY_MS - joinMs) : Infinity;
  const fadeMs = (20 + random.next() * 60) * DAY_MS;
  const activity = (atMs: number) => (atMs >= churnMs ? 0.02 : atMs > churnMs - fadeMs ? 0.25 + (0.75 * (churnMs - atMs)) / fadeMs : 1);

  const events: HistoryEvent[] = [];
  let seq = 0;
  const add = (type: string, atMs: number, properties: Record<string, unknown>) => {
    if (atMs < endMs) events.push({ id: `${customerId}-${++seq}`, type, customerId, occurredAt: new Date(atMs).toISOString(), properties });
  };
  if (isNew) add('user.signed_up', joinMs, {});

  // A session ends in a cart 40% of the time and a cart in an order 55% of the time, so sessions
  // come at the order rate over 0.22.
  const sessionRate = rate / 0.22;
  for (let dayMs = joinMs; dayMs < endMs; dayMs += DAY_MS) {
    const sessions = random.poisson(sessionRate * season(dayMs) * activity(dayMs));
    for (let s = 0; s < sessions; s++) session(customerId, random, dayMs + random.next() * DAY_MS, random.chance(0.8) ? favourite : pickCategory(random), add);
  }

  // The newsletter, every fortnight from the first Monday of the history, to everyone who has joined.
  const firstIssue = startMs + ((8 - new Date(startMs).getUTCDay()) % 7) * DAY_MS + 9 * 3_600_000;
  for (let issue = 0, sentMs = firstIssue; sentMs < endMs; issue++, sentMs += NEWSLETTER_EVERY_DAYS * DAY_MS) {
    if (sentMs < joinMs) continue;
    const email = { workflowId: `newsletter:${customerId}:${issue}`, journeyId: 'newsletter', stepId: `issue${issue}`, template: 'newsletter' };
    if (appleMail) add(EMAIL_OPENED, sentMs + 60_000 + random.next() * 600_000, { ...email, machine: true });
    if (!random.chance(openChance * Math.max(activity(sentMs), 0.1))) continue;
    const openedMs = sentMs + random.exponential(8 * 3_600_000);
    add(EMAIL_OPENED, openedMs, { ...email, machine: false });
    if (random.chance(0.15 + 0.3 * interest)) add(EMAIL_CLICKED, openedMs + random.exponential(120_000), { ...email, linkIndex: 0, machine: false });
  }
  events.sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : 0));
  const number = customerId.replace(/\D/g, '');
  return { profile: { customerId, email: `customer${number}@example.com`, attributes: { firstName: FIRST_NAMES[Number(number) % FIRST_NAMES.length] } }, events };
}

type Add = (type: string, atMs: number, properties: Record<string, unknown>) => void;

/** One visit: a few product views, perhaps a cart, perhaps an order of what is in it. */
function session(customerId: string, random: Random, atMs: number, category: (typeof CATEGORIES)[number], add: Add): void {
  const product = () => {
    const index = random.below(SKUS_PER_CATEGORY);
    const price = Math.round(category.price * (0.6 + 0.08 * index) * 100) / 100;
    return { sku: `${category.name}-${index + 1}`, name: `${category.name} ${index + 1}`, category: category.name, price };
  };
  const viewed = Array.from({ length: 1 + random.poisson(0.6) }, product);
  viewed.forEach((item, i) => add(PRODUCT_VIEWED, atMs + i * 45_000, { sku: item.sku, category: item.category, price: item.price }));
  if (!random.chance(0.4)) return;
  const items = viewed.slice(0, 1 + random.below(Math.min(2, viewed.length))).map((item) => ({ ...item, quantity: 1 }));
  const total = Math.round(items.reduce((sum, item) => sum + item.price, 0) * 100) / 100;
  const cartId = `cart-${customerId}-${Math.floor(atMs / 1000)}`;
  const cartMs = atMs + viewed.length * 45_000;
  add(CART_UPDATED, cartMs, { cartId, total, currency: 'EUR', items });
  if (random.chance(0.55)) add(ORDER_EVENT, cartMs + random.exponential(30 * 60_000), { orderId: `order-${cartId.slice(5)}`, cartId, total, currency: 'EUR', items });
}

export interface WrittenHistory {
  customers: number;
  events: number;
  seconds: number;
}

/** Events per recordHistory call: one transaction each, as `journeys events import` writes them. */
const EVENTS_PER_BATCH = 5_000;

/**
 * Generates the history and writes it through the import path: profiles upserted as `journeys
 * profiles import` does, events recorded as history (no journey started, segments brought up to
 * date silently) as `journeys events import` does.
 */
export async function writeShopHistory(store: Store, segments: SegmentTracker, options: ShopHistoryOptions, progress: (customers: number) => void = () => {}): Promise<WrittenHistory> {
  const started = performance.now();
  const now = new Date().toISOString();
  let profiles: Profile[] = [];
  let events: HistoryEvent[] = [];
  let customers = 0;
  let written = 0;
  const flush = async () => {
    // Profiles first, so segments recomputed with the events see them.
    await store.upsertProfiles(profiles);
    if (events.length > 0) written += (await recordHistory(store, segments, events, now)).filter((recorded) => recorded.firstSeen).length;
    [profiles, events] = [[], []];
    progress(customers);
  };
  for (const customer of generateShopHistory(options)) {
    profiles.push(customer.profile);
    events.push(...customer.events);
    customers++;
    if (events.length >= EVENTS_PER_BATCH) await flush();
  }
  await flush();
  return { customers, events: written, seconds: (performance.now() - started) / 1000 };
}
