import { ApplicationFailure } from '@temporalio/activity';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { categoriesOf, interestOf, pick, type Recommendation } from '../domain/delivery/recommendations';
import { computeRfm } from '../domain/rules/rfm';
import { RuleFactsError, type RuleFacts } from '../domain/rules/evaluate';
import { decide, requiredFacts } from '../domain/rules/decide';
import type { RuleSet, RuleSetDecision } from '../domain/rules/types';
import type { Store } from '../store/types';

/**
 * Decides a rule set on fresh facts: the profile as given, and the customer's event history,
 * RFM scores and segments only when a rule reads them, so a plain send loads none of them.
 */
export async function decideOnFacts<T>(
  store: Store,
  ruleSet: RuleSet<T>,
  facts: { now: string; customerId: string; profile?: Profile; event?: CustomerEvent },
  what: string,
): Promise<RuleSetDecision<T>> {
  const needed = requiredFacts(ruleSet);
  const [events, memberships] = await Promise.all([
    needed.includes('events') || needed.includes('rfm') ? store.eventsOf(facts.customerId) : undefined,
    // The memberships the client keeps up to date as events and profile changes arrive, and the sweep as time passes.
    needed.includes('segments') ? store.segmentsOf(facts.customerId) : undefined,
  ]);
  const full: RuleFacts = {
    now: facts.now,
    profile: facts.profile,
    event: facts.event,
    events,
    segments: memberships?.map((m) => m.segmentId),
    rfm: events && needed.includes('rfm') ? computeRfm(events, facts.now) : undefined,
  };
  try {
    return decide(ruleSet, full);
  } catch (err) {
    // Every fact a rule can read is loaded above, so this is a bad `now`: it fails the same way on every retry.
    if (err instanceof RuleFactsError) throw ApplicationFailure.nonRetryable(`${what}: ${err.message}`, 'RuleFactsError');
    throw err;
  }
}

/**
 * Products for an email's recommendations block, never the ones it already shows (the cart):
 * from the customer's events and the sales figures the store keeps over every order, a few
 * rows of each ranked list instead of the orders themselves.
 */
export async function recommendationsFor(store: Store, customerId: string, event: CustomerEvent): Promise<Recommendation[]> {
  const shown = Array.isArray(event.properties.items) ? event.properties.items.map((item: { sku?: unknown }) => String(item.sku)) : [];
  const interest = interestOf({ customerEvents: await store.eventsOf(customerId), exclude: shown });
  const [ordered, together, bestSellers] = await Promise.all([
    store.soldProducts(interest.skus),
    store.coPurchased(interest.skus, interest.candidates),
    store.bestSellers(undefined, interest.candidates),
  ]);
  const categories = categoriesOf(interest, ordered);
  const sameCategory = categories.length > 0 ? await store.bestSellers(categories, interest.candidates) : [];
  return pick(interest, { together, sameCategory, bestSellers });
}
