import { z } from 'zod';
import { isDuration } from '../time/duration';
import { isTimeZone, LOCAL_TIME, weekdays } from '../time/localTime';
import { comparisonSchema, ruleSchema, ruleSetSchema } from '../rules/schema';
import { topicSchema } from '../customer/schema';
import { experimentIssues, experimentSchema } from '../experiments/schema';
import { stepTargets } from './flow';

const stepId = z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'step ids are camelCase, e.g. "reminder1"');
const duration = z.string().refine(isDuration, 'a duration such as "90m", "24h" or "3d"');
const eventType = z.string().min(1);
const localTime = z.string().regex(LOCAL_TIME, 'a local time "HH:MM" on a 24-hour clock, e.g. "09:00"');
const timezone = z.string().refine(isTimeZone, 'an IANA timezone such as "Europe/Berlin", "Asia/Tokyo" or "UTC"');

/** Local hours no email should arrive in; start after end spans midnight ("21:00"–"08:00"). */
export const quietHoursSchema = z
  .strictObject({ start: localTime, end: localTime })
  .refine((q) => q.start !== q.end, { message: 'quiet hours need different start and end times', path: ['end'] });

const waitStep = z
  .strictObject({
    id: stepId,
    kind: z.literal('wait'),
    /** A fixed time, e.g. "24h". */
    duration: duration.optional(),
    /** A date in the profile or the entry event, e.g. a birthday or a delivery date. */
    until: z
      .strictObject({
        attribute: z
          .string()
          .regex(/^(profile\.attributes|event\.properties)(\.[A-Za-z0-9_]+)+$/, 'a date attribute such as "profile.attributes.birthday" or "event.properties.deliveryDate"'),
        /** Before (-) or after (+) the date, e.g. "-1d"; days and weeks count calendar days in the customer's timezone. */
        offset: z.string().refine((text) => /^[+-]/.test(text) && isDuration(text.slice(1)), 'an offset such as "-1d", "+2h" or "-30m"').optional(),
        /** The date's next anniversary (birthdays, sign-up dates) instead of the date itself. */
        yearly: z.boolean().optional(),
      })
      .optional(),
    /** A local time of day in the customer's timezone (profile attribute `timezone`, else the journey's `defaultTimezone`). */
    at: z
      .strictObject({
        localTime,
        weekdays: z.array(z.enum(weekdays)).min(1).optional(),
        quietHours: quietHoursSchema.optional(),
      })
      .optional(),
    next: stepId.optional(),
  })
  .refine((step) => [step.duration, step.until, step.at].filter((v) => v !== undefined).length === 1, {
    message: 'a wait needs exactly one of "duration", "until" or "at"',
  });

const sendStep = z.strictObject({
  id: stepId,
  kind: z.literal('send'),
  /** Which template this customer gets: an ordered rule set with a mandatory fallback. */
  template: ruleSetSchema(z.string().min(1)),
  /** When a frequency cap is full: wait until it frees (the default), or skip this email and go on. */
  whenCapped: z.enum(['wait', 'skip']).default('wait'),
  next: stepId.optional(),
});

const waitForStep = z.strictObject({
  id: stepId,
  kind: z.literal('waitFor'),
  event: eventType,
  /**
   * Only count the event when every comparison holds, with paths from the event, as in a
   * rule's event predicate: [{ attr: 'properties.rating', op: 'gte', value: 4 }].
   */
  where: z.array(comparisonSchema).min(1).optional(),
  /** Only count the event when it carries the journey's entry key (e.g. the same cart). */
  matchEntryKey: z.boolean().default(false),
  timeout: duration,
  onEvent: stepId,
  onTimeout: stepId,
});

const branchStep = z.strictObject({
  id: stepId,
  kind: z.literal('branch'),
  /** Ordered: the first rule that matches names the next step. */
  rules: z.array(z.strictObject({ name: z.string().min(1), when: ruleSchema, next: stepId })).min(1),
  otherwise: stepId,
});

const variantName = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'variant names are letters, digits, "_" or "-", e.g. "shortSubject"');
const weight = z.number().positive('a weight above 0').finite();
const splitStep = z
  .strictObject({
    id: stepId,
    kind: z.literal('split'),
    variants: z.array(z.strictObject({ name: variantName, weight, next: stepId })).min(1),
    /** Customers who get none of the variants; they exit unless `next` says otherwise. */
    holdout: z.strictObject({ weight, next: stepId.optional() }).optional(),
    /** How reports judge the split: its control, the minimum effect worth detecting, and an optional winner. */
    experiment: experimentSchema.optional(),
  })
  .superRefine((step, ctx) => {
    for (const issue of experimentIssues(step)) ctx.addIssue({ code: 'custom', ...issue });
    const names = new Set<string>();
    step.variants.forEach((variant, index) => {
      if (variant.name === 'holdout') ctx.addIssue({ code: 'custom', path: ['variants', index, 'name'], message: '"holdout" is reserved: use the holdout field' });
      if (names.has(variant.name)) ctx.addIssue({ code: 'custom', path: ['variants', index, 'name'], message: `duplicate variant name "${variant.name}"` });
      names.add(variant.name);
    });
  });

/** Sets one profile attribute, e.g. lifecycle = "sunset", which later sends respect. */
const tagStep = z.strictObject({
  id: stepId,
  kind: z.literal('tag'),
  attribute: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'a profile attribute name such as "lifecycle"'),
  value: z.union([z.string(), z.number(), z.boolean()], { error: 'a string, number or boolean, e.g. "sunset"' }),
  next: stepId.optional(),
});

const exitStep = z.strictObject({ id: stepId, kind: z.literal('exit') });

const conversionSchema = z.strictObject({
  event: eventType,
  within: duration,
  /** Where the conversion's value is in the event, e.g. "properties.total"; without it, conversions are counted with no revenue. */
  value: z.string().regex(/^properties(\.[A-Za-z0-9_]+)+$/, 'a number in the event such as "properties.total"').optional(),
  /** Attribute a conversion only to an email the customer clicked. */
  requireClick: z.boolean().optional(),
});

export const stepSchema = z.discriminatedUnion('kind', [waitStep, sendStep, waitForStep, branchStep, splitStep, tagStep, exitStep]);

export const reentrySchema = z.union([z.literal('once'), z.literal('always'), z.strictObject({ afterCooldown: duration })], {
  error: 'reentry is "once", "always" or { afterCooldown: "30d" }',
});

export const journeySchema = z
  .strictObject({
    /** Also the workflow type operators see in the Temporal UI. */
    id: z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'journey ids are camelCase, e.g. "cartAbandonment"'),
    name: z.string().min(1),
    topic: topicSchema.default('marketing'),
    /** Receipts and the like: sent whatever the customer's consent, caps or quiet hours, never to a suppressed address. */
    transactional: z.boolean().default(false),
    /**
     * false: the journey's emails carry no open pixel and no tracked links. No default, so the
     * definitions that leave it out keep their version hash; transactional email is never tracked.
     */
    tracking: z.boolean().optional(),
    trigger: z.strictObject({
      event: eventType,
      /** Path in the event that tells one entry from another, e.g. "properties.cartId". */
      entryKey: z.string().min(1).optional(),
      /** Only events meeting every comparison start the journey, e.g. one segment's `segment.entered`. */
      where: z.array(comparisonSchema).optional(),
      /**
       * An event older than this when it reaches journeys (a late delivery, a replayed
       * backlog) starts nothing: a receipt an hour late is news, one for last year's order is
       * not. Without it, any age starts the journey.
       */
      maxAge: duration.optional(),
    }),
    /**
     * once: a customer (per entry key) goes through the journey one time only;
     * always: a new entry may start once the previous one has ended;
     * afterCooldown: a new entry may start once the previous one ended at least this long before the event.
     */
    reentry: reentrySchema.default('once'),
    /** The timezone of local-time waits for customers whose profile has no valid `timezone` attribute. */
    defaultTimezone: timezone.default('UTC'),
    /**
     * What counts as a conversion of this journey: an event (e.g. "order.completed") within
     * `within` of the journey's last email before it, worth the number at `value`.
     */
    conversion: conversionSchema.optional(),
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
      for (const { path, target } of stepTargets(step)) {
        if (!ids.has(target)) ctx.addIssue({ code: 'custom', path: ['steps', index, ...path], message: `no step with id "${target}"` });
      }
      const fallsThrough = (step.kind === 'wait' || step.kind === 'send' || step.kind === 'tag') && step.next === undefined;
      if (fallsThrough && index === journey.steps.length - 1) {
        ctx.addIssue({ code: 'custom', path: ['steps', index], message: 'the last step must be an exit or name its next step' });
      }
      if (step.kind === 'split' && step.experiment?.winner?.metric === 'conversion' && !journey.conversion) {
        ctx.addIssue({ code: 'custom', path: ['steps', index, 'experiment', 'winner', 'metric'], message: 'a winner on conversion needs the journey\'s "conversion" (e.g. { event: "order.completed", within: "5d" }), or pick the metric "click"' });
      }
    });
  });
