// What becomes of one Kafka message: its event (or Segment calls) recorded through the same
// ingest path as the API, or, when no retry could ever take it (not JSON, not a valid event or
// call, an id naming another event), a dead letter saying why. Anything else thrown is transient
// (the store down, say) and retried by the caller; Temporal down is no failure here: ingest records
// the event and leaves it to the event-routing sweep.
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { EventIdConflictError, ValidationError } from '../app/errors';
import type { JourneyClient } from '../app/journeyClient';
import { ingestSegment } from '../app/sources/segment';
import type { KafkaFormat } from '../config/kafka';

/** Why a message went to the dead-letter topic: the value of its `journeys.error.reason` header. */
export type DeadLetterReason = 'not_json' | 'invalid_event' | 'invalid_call' | 'event_id_conflict';

export type Verdict = { outcome: 'recorded' } | { outcome: 'dead_letter'; reason: DeadLetterReason; error: string };

/** The headers a dead letter carries besides the original message's own. */
export const DEAD_LETTER_HEADERS = {
  reason: 'journeys.error.reason',
  error: 'journeys.error.message',
  topic: 'journeys.source.topic',
  partition: 'journeys.source.partition',
  offset: 'journeys.source.offset',
} as const;

/**
 * Records the message as POST /v1/events (format `event`) or POST /v1/sources/segment (format
 * `segment`) would; throws only what a retry may get past.
 */
export async function ingestMessage(journeys: JourneyClient, format: KafkaFormat, value: Buffer | null): Promise<Verdict> {
  const parsed = parseJson(value);
  if ('error' in parsed) return { outcome: 'dead_letter', reason: 'not_json', error: parsed.error };
  return format === 'segment' ? ingestSegmentMessage(journeys, parsed.input) : ingestEvent(journeys, parsed.input);
}

async function ingestEvent(journeys: JourneyClient, input: unknown): Promise<Verdict> {
  try {
    await journeys.ingest(input);
    return { outcome: 'recorded' };
  } catch (err) {
    if (err instanceof ValidationError) return { outcome: 'dead_letter', reason: 'invalid_event', error: err.message };
    if (err instanceof EventIdConflictError) return { outcome: 'dead_letter', reason: 'event_id_conflict', error: err.message };
    throw err;
  }
}

/**
 * A call or a batch of calls. The good calls of a batch are recorded whatever the others are, as
 * the HTTP source does; a message with a bad call goes to the dead letters whole, its error naming
 * each bad call by its path (`batch.1.userId`), so resending it after a fix repeats only
 * duplicates of the good ones.
 */
async function ingestSegmentMessage(journeys: JourneyClient, input: unknown): Promise<Verdict> {
  const { results } = await ingestSegment(journeys, input);
  const errors = results.flatMap((result) => (result.outcome === 'error' ? [result] : []));
  if (errors.length === 0) return { outcome: 'recorded' };
  const taken = results.length - errors.length;
  return {
    outcome: 'dead_letter',
    reason: errors.some((e) => e.error === 'invalid_call') ? 'invalid_call' : 'event_id_conflict',
    error: `${errors.map((e) => e.message).join('; ')}${taken > 0 ? `; the other ${taken} call(s) of the batch were taken` : ''}`,
  };
}

function parseJson(value: Buffer | null): { input: unknown } | { error: string } {
  if (value === null || value.length === 0) return { error: 'not JSON: the message has no value' };
  try {
    return { input: JSON.parse(value.toString('utf8')) };
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
}

/** The dead letter of a message: its key, value and headers unchanged, plus headers naming the error and where the message came from. */
export function deadLetterOf(source: { topic: string; partition: number; message: KafkaMessage }, reason: DeadLetterReason, error: string): Message {
  const { topic, partition, message } = source;
  const headers: IHeaders = {
    ...message.headers,
    [DEAD_LETTER_HEADERS.reason]: reason,
    [DEAD_LETTER_HEADERS.error]: error,
    [DEAD_LETTER_HEADERS.topic]: topic,
    [DEAD_LETTER_HEADERS.partition]: String(partition),
    [DEAD_LETTER_HEADERS.offset]: message.offset,
  };
  return { key: message.key, value: message.value, headers };
}
