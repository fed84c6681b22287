import { z } from 'zod';

// Customer IDs appear in workflow IDs and search attributes, so they are restricted to
// characters that are safe there and can never be an email address.
export const customerId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "." or "-" only (no email addresses or spaces)');

const attributes = z.record(z.string(), z.unknown());

export const profileSchema = z.object({
  customerId,
  email: z.email(),
  attributes: attributes.default({}),
});

export const eventSchema = z.object({
  id: z.string().min(1).max(200),
  type: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/, 'use dotted lower-case names such as "cart.updated"'),
  customerId,
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  properties: attributes.default({}),
});

export const topicSchema = z.string().min(1).max(64).regex(/^[a-z][a-z0-9_-]*$/, 'use lower-case letters, digits, "_" or "-"');

export const consentStatus = z.enum(['granted', 'withdrawn']);

export const consentChangeSchema = z.object({
  customerId,
  topic: topicSchema,
  status: consentStatus,
  source: z.string().min(1).max(200),
});
