import type { CustomerEvent } from '../domain/customer/types';
import type { EventField } from './types';

/** The first copy of an event as a store keeps it: what a later copy under the same id is compared with. */
export interface FirstCopy {
  customerId: string;
  type: string;
  occurredAtMs: number;
  properties: unknown;
}

/**
 * How a copy differs from the first one recorded under its id. Both stores answer with this one
 * function, so "the same event again" means the same thing on SQLite and PostgreSQL: key order
 * and UTC offset never matter, and without the sender's occurredAt the time is not compared.
 */
export function eventDifferences(first: FirstCopy, event: CustomerEvent, occurredAtGiven: boolean): EventField[] {
  return [
    first.customerId !== event.customerId && 'customerId',
    first.type !== event.type && 'type',
    canonicalJson(first.properties) !== canonicalJson(event.properties ?? {}) && 'properties',
    occurredAtGiven && first.occurredAtMs !== epochMs(event.occurredAt, 'occurredAt') && 'occurredAt',
  ].filter((field): field is EventField => field !== false);
}

/** JSON with object keys sorted at every depth: two payloads that differ only in key order compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );
}

/**
 * Times arrive with any UTC offset; both stores sort and compare them as epoch milliseconds,
 * because ISO text only sorts correctly when every value has the same offset.
 */
export function epochMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`${field} "${iso}" is not an ISO-8601 date-time`);
  return ms;
}
