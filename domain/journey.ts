import { z } from 'zod';
import { isDuration } from './duration';
import { ruleSetSchema, type RuleSet } from './rules';
import { topicSchema } from './customer';

const stepId = z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'step ids are camelCase, e.g. "reminder1"');
const duration = z.string().refine(isDuration, 'a duration such as "90m", "24h" or "3d"');
const eventType = z.string().min(1);

const waitStep = z.strictObject({ id: stepId, kind: z.literal('wait'), duration, next: stepId.optional() });
const sendStep = z.strictObject({
  id: stepId,
  kind: z.literal('send'),
  /** Which template this customer gets: an ordered rule set with a mandatory fallback. */
  template: ruleSetSchema(z.string().min(1)),
  next: stepId.optional(),
});
const waitForStep = z.strictObject({
  id: stepId,
  kind: z.literal('waitFor'),
  event: eventType,
  /** Only count the event when it carries the journey's entry key (e.g. the same cart). */
  matchEntryKey: z.boolean().default(false),
  timeout: duration,
  onEvent: stepId,
  onTimeout: stepId,
});
const exitStep = z.strictObject({ id: stepId, kind: z.literal('exit') });

export const stepSchema = z.discriminatedUnion('kind', [waitStep, sendStep, waitForStep, exitStep]);

export const journeySchema = z
  .strictObject({
    /** Also the workflow type operators see in the Temporal UI. */
    id: z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'journey ids are camelCase, e.g. "cartAbandonment"'),
    name: z.string().min(1),
    topic: topicSchema.default('marketing'),
    trigger: z.strictObject({
      event: eventType,
      /** Path in the event that tells one entry from another, e.g. "properties.cartId". */
      entryKey: z.string().min(1).optional(),
    }),
    /**
     * once: a customer (per entry key) goes through the journey one time only;
     * always: a new entry may start once the previous one has ended.
     */
    reentry: z.enum(['once', 'always']).default('once'),
    /** Events that end the journey at once, from any step (matched on the entry key when there is one). */
    goals: z.array(z.strictObject({ event: eventType })).default([]),
    steps: z.array(stepSchema).min(1),
  })
  .superRefine((journey, ctx) => {
    const ids = new Set<string>();
    journey.steps.forEach((step, index) => {
      if (ids.has(step.id)) ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step id "${step.id}"` });
      ids.add(step.id);
    });
    journey.steps.forEach((step, index) => {
      const targets: [string, string | undefined][] =
        step.kind === 'waitFor' ? [['onEvent', step.onEvent], ['onTimeout', step.onTimeout]] : step.kind === 'exit' ? [] : [['next', step.next]];
      for (const [field, target] of targets) {
        if (target !== undefined && !ids.has(target)) {
          ctx.addIssue({ code: 'custom', path: ['steps', index, field], message: `no step with id "${target}"` });
        }
      }
      const fallsThrough = (step.kind === 'wait' || step.kind === 'send') && step.next === undefined;
      if (fallsThrough && index === journey.steps.length - 1) {
        ctx.addIssue({ code: 'custom', path: ['steps', index], message: 'the last step must be an exit or name its next step' });
      }
    });
  });

export type JourneyDefinition = z.infer<typeof journeySchema>;
export type JourneyDefinitionInput = z.input<typeof journeySchema>;
export type Step = z.infer<typeof stepSchema>;
export type TemplateRuleSet = RuleSet<string>;

/** The step that follows `step` when it names none: the next one in the list. */
export function nextStepId(journey: JourneyDefinition, step: Step & { next?: string }): string | undefined {
  if (step.next) return step.next;
  const index = journey.steps.findIndex((s) => s.id === step.id);
  return journey.steps[index + 1]?.id;
}

export const journeyStatuses = ['running', 'completed', 'goal_reached', 'opted_out'] as const;
export type JourneyStatus = (typeof journeyStatuses)[number];
