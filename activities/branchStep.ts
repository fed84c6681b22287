import type { CustomerEvent } from '../domain/customer/types';
import type { StepOf } from '../domain/journey/types';
import type { RuleTrace } from '../domain/rules/types';
import { loadEntryEvent } from './entryEvent';
import { decideOnFacts } from './facts';
import type { ActivityDeps } from './index';

export interface BranchStepInput {
  journeyId: string;
  customerId: string;
  stepId: string;
  rules: StepOf<'branch'>['rules'];
  otherwise: string;
  /** The journey's entry event as last updated (loaded whole from the store by id). */
  event: CustomerEvent;
  /** The workflow's clock (Temporal's time, ISO-8601), for time windows in rules. */
  now: string;
}

export interface BranchStepResult {
  /** The step the journey goes on to. */
  next: string;
  /** The name of the rule that matched, or "otherwise". */
  chosenBy: string;
  /** Every rule tried, in order, with why it matched or not: the activity result operators read in the Temporal UI. */
  trace: RuleTrace[];
}

/**
 * Decides a `branch` step on fresh facts: the profile and (when a rule reads them) the
 * customer's events and RFM scores as the store has them now, not as they were when the
 * journey started.
 */
export function createBranchStep(deps: Pick<ActivityDeps, 'store'>) {
  return async function branchStep(input: BranchStepInput): Promise<BranchStepResult> {
    const ruleSet = { rules: input.rules.map((rule) => ({ name: rule.name, when: rule.when, use: rule.next })), fallback: input.otherwise };
    const profile = await deps.store.getProfile(input.customerId);
    const facts = { now: input.now, customerId: input.customerId, profile, event: await loadEntryEvent(deps.store, input.event) };
    const decision = await decideOnFacts(deps.store, ruleSet, facts, `branch ${input.stepId}`);
    const matched = decision.trace.at(-1)?.matched === true;
    return { next: decision.choice, chosenBy: matched ? decision.chosenBy : 'otherwise', trace: decision.trace };
  };
}
