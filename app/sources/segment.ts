// Calls in the Segment spec (from Segment, RudderStack, a Kafka topic) into journeys: `track`,
// `page` and `screen` become events, `identify` updates the profile and merges what the
// customer did anonymously. Everything goes through JourneyClient, so ingest's rules (event
// ids, LINK_HOSTS, routing) hold for these events as for any other.
import type { DroppedValue } from '../../domain/delivery/linkHosts';
import { eventOf, identityOf, readSegmentCall, traitsOf, type Problem, type SegmentCall } from '../../domain/sources/segmentSpec';
import { EventIdConflictError, ValidationError } from '../errors';
import type { IngestResult, JourneyClient } from '../journeyClient';

/** Most calls one batch may carry (the events batch's limit): a larger one is refused whole. */
export const MAX_SEGMENT_BATCH = 500;

interface CallResultBase {
  /** The call's place in the batch (0 for a single call). */
  index: number;
  type?: string;
  messageId?: string;
}

/** A track, page or screen call: recorded, or a duplicate of a message recorded before. */
export interface EventCallResult extends CallResultBase {
  outcome: 'recorded' | 'duplicate';
  customerId: string;
  /** The customer is an anonymous visitor: recorded, and no journey starts until an identify merges it. */
  anonymous?: true;
  /** What POST /v1/events would have answered for the event. */
  event: IngestResult;
}

/** An identify: the profile was created or updated, and `merged` says which visitor it merged. */
export interface ProfileCallResult extends CallResultBase {
  outcome: 'profile_upserted';
  customerId: string;
  merged?: Merged;
  /** Traits not kept because their links point outside LINK_HOSTS. */
  dropped?: DroppedValue[];
}

/** An identify without an email of a customer journeys has no profile of: only the visitor was merged. */
export interface MergedCallResult extends CallResultBase {
  outcome: 'merged';
  customerId: string;
  merged: Merged;
}

export interface IgnoredCallResult extends CallResultBase {
  outcome: 'ignored';
  message: string;
}

export interface ErrorCallResult extends CallResultBase {
  outcome: 'error';
  error: 'invalid_call' | 'event_id_conflict';
  message: string;
  problems?: Problem[];
}

/** What became of one call. */
export type SegmentCallResult = EventCallResult | ProfileCallResult | MergedCallResult | IgnoredCallResult | ErrorCallResult;

/** An anonymous visitor merged into the customer: their events now belong to the customer. */
export interface Merged {
  from: string;
  /** Events moved by this merge (0 when a redelivered identify finds them moved already). */
  events: number;
}

export interface SegmentIngestResult {
  /** True when the input was a batch (`{batch: [...]}` of 1 to 500 calls); false for one call, or a batch refused whole. */
  batch: boolean;
  /** One per call, in the order sent. */
  results: SegmentCallResult[];
}

/**
 * Ingests one Segment call or a batch (`{batch: [...]}`), in order, and says per call what
 * happened. A bad call is that call's error (with field paths such as `batch.1.userId`) and the
 * others go on: a CDP does not resend a refused call, so one bad call must not lose the rest.
 * `now` is when an identify's merge is recorded; the client's clock when absent. A call's own
 * `timestamp` (or `originalTimestamp`) is its event's occurredAt; without one, its arrival.
 */
export async function ingestSegment(journeys: JourneyClient, input: unknown, now?: Date): Promise<SegmentIngestResult> {
  const batch = (input as { batch?: unknown } | null)?.batch;
  if (batch === undefined) return { batch: false, results: [await ingestCall(journeys, input, 0, '', now)] };
  if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_SEGMENT_BATCH) {
    const message = !Array.isArray(batch) ? 'a batch is a list of calls' : `a batch holds 1 to ${MAX_SEGMENT_BATCH} calls, this one ${batch.length}`;
    return { batch: false, results: [invalid(0, undefined, [{ path: 'batch', message }])] };
  }
  const results: SegmentCallResult[] = [];
  for (const [index, call] of batch.entries()) results.push(await ingestCall(journeys, call, index, `batch.${index}.`, now));
  return { batch: true, results };
}

async function ingestCall(journeys: JourneyClient, input: unknown, index: number, at: string, now: Date | undefined): Promise<SegmentCallResult> {
  const reading = readSegmentCall(input, at);
  const messageId = typeof (input as { messageId?: unknown } | null)?.messageId === 'string' ? (input as { messageId: string }).messageId : undefined;
  if (reading.kind === 'ignored') return { index, type: reading.type, messageId, outcome: 'ignored', message: reading.message };
  if (reading.kind === 'invalid') return invalid(index, messageId, reading.problems, (input as { type?: unknown } | null)?.type);
  const { call } = reading;
  const base = { index, type: call.type, messageId: call.messageId };
  const identity = identityOf(call, at);
  if ('problems' in identity) return invalid(index, call.messageId, identity.problems, call.type);
  try {
    if (call.type === 'identify') return { ...base, ...(await identify(journeys, call, identity, at, now)) };
    return { ...base, ...(await record(journeys, call, identity, at)) };
  } catch (err) {
    if (err instanceof ValidationError) return invalid(index, call.messageId, err.problems.map((p) => ({ ...p, path: `${at}${eventPathOf(p.path)}` })), call.type);
    if (err instanceof EventIdConflictError) return { ...base, outcome: 'error', error: 'event_id_conflict', message: err.message };
    throw err;
  }
}

/** A result without the call's index, type and messageId, which the caller adds. */
type Outcome<R extends SegmentCallResult> = R extends unknown ? Omit<R, keyof CallResultBase> : never;

async function record(
  journeys: JourneyClient,
  call: Exclude<SegmentCall, { type: 'identify' }>,
  identity: { customerId: string; anonymousCustomerId?: string },
  at: string,
): Promise<Outcome<EventCallResult | ErrorCallResult>> {
  const mapped = eventOf(call, at);
  if ('problems' in mapped) return { outcome: 'error', error: 'invalid_call', message: problemMessage(mapped.problems), problems: mapped.problems };
  // A visitor identified before (by an earlier identify) is that customer from then on, whatever order calls arrive in.
  const anonymous = identity.customerId === identity.anonymousCustomerId;
  const customerId = anonymous ? ((await journeys.identifiedCustomerOf(identity.customerId)) ?? identity.customerId) : identity.customerId;
  const event = await journeys.ingest({ id: call.messageId, type: mapped.type, customerId, ...(mapped.occurredAt !== undefined && { occurredAt: mapped.occurredAt }), properties: mapped.properties });
  const stillAnonymous = customerId === identity.anonymousCustomerId;
  return { outcome: event.duplicate ? 'duplicate' : 'recorded', customerId, ...(stillAnonymous && { anonymous: true as const }), event };
}

async function identify(
  journeys: JourneyClient,
  call: Extract<SegmentCall, { type: 'identify' }>,
  identity: { customerId: string; anonymousCustomerId?: string },
  at: string,
  now: Date | undefined,
): Promise<Outcome<ProfileCallResult | MergedCallResult | ErrorCallResult>> {
  const { customerId, anonymousCustomerId } = identity;
  const { email: sentEmail, attributes } = traitsOf(call);
  // Merged before the profile is written, so the segment recomputation the profile marks reads the visitor's events too.
  const merged = anonymousCustomerId === undefined || anonymousCustomerId === customerId ? undefined : { from: anonymousCustomerId, ...(await journeys.mergeCustomer(anonymousCustomerId, customerId, now)) };
  const email = sentEmail ?? (await journeys.profileOf(customerId))?.email;
  if (email === undefined) {
    if (merged) return { outcome: 'merged', customerId, merged };
    const problems = [{ path: `${at}traits.email`, message: `journeys has no profile of ${customerId} yet, and a profile needs an email: send traits.email` }];
    return { outcome: 'error', error: 'invalid_call', message: problemMessage(problems), problems };
  }
  try {
    const { dropped } = await journeys.upsertProfile({ customerId, email, attributes });
    return { outcome: 'profile_upserted', customerId, ...(merged && { merged }), ...(dropped && { dropped }) };
  } catch (err) {
    // The profile's fields come from traits: a bad email is traits.email, an attribute traits.<name>.
    if (err instanceof ValidationError) throw new ValidationError('identify', err.problems.map((p) => ({ ...p, path: p.path === 'email' ? 'traits.email' : p.path.replace(/^attributes\b/, 'traits') })));
    throw err;
  }
}

/** Where a problem ingest found in the event lies in the call: `properties.cartId` is the call's too, `id` is its messageId. */
function eventPathOf(path: string): string {
  if (path === 'id') return 'messageId';
  if (path === 'occurredAt') return 'timestamp';
  if (path === 'customerId') return 'userId';
  return path;
}

function invalid(index: number, messageId: string | undefined, problems: Problem[], type?: unknown): SegmentCallResult {
  return { index, ...(typeof type === 'string' && { type }), messageId, outcome: 'error', error: 'invalid_call', message: problemMessage(problems), problems };
}

function problemMessage(problems: Problem[]): string {
  return `invalid call: ${problems.map((p) => `${p.path || '(call)'}: ${p.message}`).join('; ')}`;
}
