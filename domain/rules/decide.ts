import { evaluateRule, RuleFactsError, type FactName, type RuleFacts } from './evaluate';
import type { DateRef, Rule, RuleSet, RuleSetDecision, RuleTrace } from './types';

/**
 * The facts a rule set reads beyond profile and event, so a caller loads history,
 * segments or scores only when some rule needs them.
 */
export function requiredFacts(rules: Rule | RuleSet<unknown>): FactName[] {
  const needed = new Set<FactName>();
  const visit = (rule: Rule): void => {
    if ('all' in rule) rule.all.forEach(visit);
    else if ('any' in rule) rule.any.forEach(visit);
    else if ('not' in rule) visit(rule.not);
    else if ('segment' in rule) needed.add('segments');
    else if ('event' in rule) needed.add('events').add('now');
    // A score is on the profile, which every decision has.
    else if ('score' in rule) return;
    else {
      if (rule.attr === 'rfm' || rule.attr.startsWith('rfm.')) needed.add('rfm');
      if (rule.op === 'within' || ((rule.op === 'before' || rule.op === 'after') && !isFixedDate(rule.value))) needed.add('now');
    }
  };
  if ('rules' in rules) rules.rules.forEach((r) => visit(r.when));
  else visit(rules);
  return [...needed];
}
const isFixedDate = (ref: DateRef): boolean => typeof ref === 'string' && ref !== 'now';

/**
 * Picks the first matching rule's choice, else the fallback. Missing facts the rule set
 * needs (see `requiredFacts`) throw a `RuleFactsError` before any rule runs: that is a
 * caller's wiring bug, and a rule such as "no purchase in 30 days" must not quietly hold
 * because nobody loaded the history.
 */
export function decide<T>(ruleSet: RuleSet<T>, facts: RuleFacts): RuleSetDecision<T> {
  const missing = requiredFacts(ruleSet).filter((name) => facts[name] === undefined);
  if (missing.length) throw new RuleFactsError(missing);
  const trace: RuleTrace[] = [];
  for (const candidate of ruleSet.rules) {
    const result = evaluateRule(candidate.when, facts);
    trace.push({ ...result, rule: `${candidate.name}: ${result.rule}` });
    if (result.matched) return { choice: candidate.use, chosenBy: candidate.name, trace };
  }
  return { choice: ruleSet.fallback, chosenBy: 'fallback', trace };
}
