// The Segment spec (https://segment.com/docs/connections/spec/) as journeys reads it: the
// `track`, `identify`, `page` and `screen` calls that Segment, RudderStack and mParticle send,
// and the rules that turn one into our event or profile. Pure: no store, no Temporal.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { customerId as customerIdSchema, eventSchema } from '../customer/schema';

/**
 * Customer ids of anonymous visitors begin with this. They are kept apart from identified
 * customers: no journey starts for one (no address to write to), and an `identify` that names
 * both ids merges the visitor's events into the customer.
 */
export const ANONYMOUS_PREFIX = 'anon-';

export function isAnonymousCustomer(customerId: string): boolean {
  return customerId.startsWith(ANONYMOUS_PREFIX);
}

/** Where in the input a problem is ("batch.2.userId") and what is wrong, as the API's `problems` list them. */
export interface Problem {
  path: string;
  message: string;
}

/** The calls journeys takes; `group` and `alias` are answered `ignored`, anything else is an error. */
export const SEGMENT_CALL_TYPES = ['track', 'identify', 'page', 'screen'] as const;
const IGNORED_CALL_TYPES = ['group', 'alias'];

// CDPs send ids as strings, some as numbers; an empty string or null means "none" (RudderStack's anonymous calls).
const identifier = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((value) => (value === null || value === undefined || value === '' ? undefined : String(value)));
const instant = z.iso.datetime({ offset: true, error: 'an ISO-8601 time with its offset, e.g. "2026-12-01T10:00:00.000Z"' }).nullish();
const record = z.record(z.string(), z.unknown());

const common = {
  messageId: z.string({ error: 'required: journeys keeps it as the event id, so a redelivered call is a duplicate' }).min(1).max(200),
  userId: identifier,
  anonymousId: identifier,
  timestamp: instant,
  originalTimestamp: instant,
  // Accepted and not read: a retry may carry another sentAt, and the event must stay the same.
  sentAt: instant,
  context: z.object({ traits: record.nullish() }).loose().nullish(),
};

const trackCall = z.object({ ...common, type: z.literal('track'), event: z.string({ error: 'required: the name of what the customer did' }).min(1), properties: record.nullish() }).loose();
const identifyCall = z.object({ ...common, type: z.literal('identify'), traits: record.nullish() }).loose();
const pageCall = z.object({ ...common, type: z.literal('page'), name: z.string().nullish(), category: z.string().nullish(), properties: record.nullish() }).loose();
const screenCall = z.object({ ...common, type: z.literal('screen'), name: z.string().nullish(), category: z.string().nullish(), properties: record.nullish() }).loose();

export const segmentCallSchema = z.discriminatedUnion('type', [trackCall, identifyCall, pageCall, screenCall]);
export type SegmentCall = z.infer<typeof segmentCallSchema>;

/** One call or a batch of them, as the HTTP Tracking API's `/v1/batch` takes it (the OpenAPI document's body). */
export const segmentBodySchema = z.union([segmentCallSchema, z.object({ batch: z.array(segmentCallSchema).min(1) }).loose()]);

/** What a call asks of journeys once read: an event to record, a profile to update, or nothing. */
export type SegmentReading =
  | { kind: 'call'; call: SegmentCall }
  | { kind: 'ignored'; type: string; message: string }
  | { kind: 'invalid'; problems: Problem[] };

/** Reads one call; every problem's path starts with `at` (e.g. "batch.2."). */
export function readSegmentCall(input: unknown, at = ''): SegmentReading {
  const type = (input as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && IGNORED_CALL_TYPES.includes(type)) {
    return { kind: 'ignored', type, message: `${type} calls are not kept: journeys takes ${SEGMENT_CALL_TYPES.join(', ')}` };
  }
  if (typeof type !== 'string' || !(SEGMENT_CALL_TYPES as readonly string[]).includes(type)) {
    const found = input === null || typeof input !== 'object' ? `a call is a JSON object, not ${JSON.stringify(input)?.slice(0, 40) ?? 'nothing'}` : `one of ${SEGMENT_CALL_TYPES.join(', ')} (or group and alias, which are ignored), not ${JSON.stringify(type) ?? 'missing'}`;
    return { kind: 'invalid', problems: [{ path: `${at}type`, message: found }] };
  }
  const parsed = segmentCallSchema.safeParse(input);
  if (!parsed.success) return { kind: 'invalid', problems: parsed.error.issues.map((issue) => ({ path: `${at}${issue.path.map(String).join('.')}`, message: issue.message })) };
  return { kind: 'call', call: parsed.data };
}

const EVENT_TYPE = eventSchema.shape.type;

/**
 * Our event type for a `track` name. A name with a dot that is already in our form is kept
 * (`user.signed_up`); any other is cut into words at spaces, `_`, `-`, `.` and where a lower-case
 * letter or digit meets a capital, lower-cased and joined with dots: `Order Completed`,
 * `order_completed` and `orderCompleted` are all `order.completed`. Undefined when the result is
 * no type (a word with other characters than a-z and 0-9, a first word not starting with a letter).
 */
export function eventTypeOf(name: string): string | undefined {
  const trimmed = name.trim();
  if (trimmed.includes('.') && EVENT_TYPE.safeParse(trimmed).success) return trimmed;
  const words = trimmed
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_.-]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
  const type = words.join('.');
  return EVENT_TYPE.safeParse(type).success ? type : undefined;
}

const SAFE_ANONYMOUS_ID = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * The customer id an anonymous visitor's calls are kept under: `anon-` and the anonymousId when it
 * is safe in a customer id (a UUID, a cookie id), else `anon-sha256-` and 40 hex digits of its
 * hash, so an email address or other text never becomes a customer id.
 */
export function anonymousCustomerId(anonymousId: string): string {
  if (SAFE_ANONYMOUS_ID.test(anonymousId)) return `${ANONYMOUS_PREFIX}${anonymousId}`;
  return `${ANONYMOUS_PREFIX}sha256-${createHash('sha256').update(anonymousId).digest('hex').slice(0, 40)}`;
}

/** Who a call is about: the identified customer (userId), or the anonymous visitor; or what is wrong. */
export type CallIdentity = { customerId: string; anonymousCustomerId?: string } | { problems: Problem[] };

export function identityOf(call: SegmentCall, at = ''): CallIdentity {
  const anonymous = call.anonymousId === undefined ? undefined : anonymousCustomerId(call.anonymousId);
  if (call.userId === undefined) {
    if (anonymous === undefined) return { problems: [{ path: `${at}userId`, message: 'a call needs a userId or an anonymousId' }] };
    return { customerId: anonymous, anonymousCustomerId: anonymous };
  }
  const checked = customerIdSchema.safeParse(call.userId);
  if (!checked.success) {
    return { problems: [{ path: `${at}userId`, message: `journeys uses userId as the customer id: ${checked.error.issues[0].message}` }] };
  }
  if (isAnonymousCustomer(call.userId)) {
    return { problems: [{ path: `${at}userId`, message: `customer ids beginning with "${ANONYMOUS_PREFIX}" are kept for anonymous visitors; send the visitor's id as anonymousId` }] };
  }
  return { customerId: call.userId, ...(anonymous !== undefined && { anonymousCustomerId: anonymous }) };
}

/** The event a track, page or screen call becomes (customer aside), or the problem with its name. */
export function eventOf(call: Exclude<SegmentCall, { type: 'identify' }>, at = ''): { type: string; occurredAt?: string; properties: Record<string, unknown> } | { problems: Problem[] } {
  const occurredAt = call.timestamp ?? call.originalTimestamp ?? undefined;
  const properties = call.properties ?? {};
  if (call.type !== 'track') {
    // The spec puts a page's name and category beside its properties; the event keeps them inside.
    const named = { ...properties, ...(call.name ? { name: call.name } : {}), ...(call.category ? { category: call.category } : {}) };
    return { type: `${call.type}.viewed`, occurredAt, properties: named };
  }
  const type = eventTypeOf(call.event);
  if (type === undefined) {
    return {
      problems: [
        {
          path: `${at}event`,
          message: `"${call.event.slice(0, 100)}" cannot be turned into an event type: use words of letters a-z and digits separated by spaces, "_" or "-" ("Order Completed" is order.completed), or our dotted form ("order.completed")`,
        },
      ],
    };
  }
  return { type, occurredAt, properties };
}

/** What an identify says about the profile: its email when it names one, and the other traits. */
export function traitsOf(call: Extract<SegmentCall, { type: 'identify' }>): { email?: unknown; attributes: Record<string, unknown> } {
  // RudderStack puts an identify's traits in context.traits; Segment at the top. The top wins.
  const { email, ...attributes } = { ...(call.context?.traits ?? {}), ...(call.traits ?? {}) };
  return { email, attributes };
}
