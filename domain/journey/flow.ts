// How a journey's steps connect, and whether an event meets a step's conditions. Kept free
// of zod, since the workflow bundle imports it: zod would weigh down every journey's sandbox.
import type { CustomerEvent } from '../customer/types';
import type { JourneyDefinition, Step } from './types';
import { evaluateRule } from '../rules/evaluate';
import type { Comparison } from '../rules/types';

/** The steps a step names explicitly, with the field that names each (for validation, lint and graphs). */
export function stepTargets(step: Step): { path: (string | number)[]; target: string }[] {
  switch (step.kind) {
    case 'wait':
    case 'send':
    case 'tag':
      return step.next === undefined ? [] : [{ path: ['next'], target: step.next }];
    case 'waitFor':
      return [
        { path: ['onEvent'], target: step.onEvent },
        { path: ['onTimeout'], target: step.onTimeout },
      ];
    case 'branch':
      return [...step.rules.map((rule, i) => ({ path: ['rules', i, 'next'], target: rule.next })), { path: ['otherwise'], target: step.otherwise }];
    case 'split':
      return [
        ...step.variants.map((variant, i) => ({ path: ['variants', i, 'next'], target: variant.next })),
        ...(step.holdout?.next === undefined ? [] : [{ path: ['holdout', 'next'], target: step.holdout.next }]),
      ];
    case 'exit':
      return [];
  }
}

/** The step that follows `step` when it names none: the next one in the list. */
export function nextStepId(journey: JourneyDefinition, step: Step & { next?: string }): string | undefined {
  if (step.next) return step.next;
  const index = journey.steps.findIndex((s) => s.id === step.id);
  return journey.steps[index + 1]?.id;
}

/** Whether an event passes a `waitFor` step's `where` comparisons (all must hold; none means yes) at `now` (ISO-8601). */
export function eventMatches(event: CustomerEvent, where: Comparison[] | undefined, now: string): boolean {
  try {
    return (where ?? []).every((comparison) => evaluateRule(comparison, { ...event, now }).matched);
  } catch {
    // A comparison on a fact events do not carry (`rfm.…`) cannot hold for an event.
    return false;
  }
}
