import { ApplicationFailure } from '@temporalio/activity';
import type { CustomerEvent, Profile } from '../domain/customer';
import { computeRfm } from '../domain/rfm';
import { decide, requiredFacts, RuleFactsError, type RuleFacts, type RuleSet, type RuleSetDecision } from '../domain/rules';
import type { Store } from '../store/types';

/**
 * Decides a rule set on fresh facts: the profile as given, and the customer's event history
 * and RFM scores only when a rule reads them, so a plain send never loads the history.
 */
export async function decideOnFacts<T>(
  store: Store,
  ruleSet: RuleSet<T>,
  facts: { now: string; customerId: string; profile?: Profile; event?: CustomerEvent },
  what: string,
): Promise<RuleSetDecision<T>> {
  const needed = requiredFacts(ruleSet);
  const events = needed.includes('events') || needed.includes('rfm') ? await store.eventsOf(facts.customerId) : undefined;
  const full: RuleFacts = { now: facts.now, profile: facts.profile, event: facts.event, events, rfm: events && needed.includes('rfm') ? computeRfm(events, facts.now) : undefined };
  try {
    return decide(ruleSet, full);
  } catch (err) {
    // A rule reading facts nobody loads (segments, for now) fails the same way on every retry.
    if (err instanceof RuleFactsError) throw ApplicationFailure.nonRetryable(`${what}: ${err.message}`, 'RuleFactsError');
    throw err;
  }
}
