import type { CustomerEvent } from '../domain/customer/types';
import type { ApiKey, ApiKeyScope, ConsentRecord, EventNote, JourneyRun, SendRecord, SendStatus, Suppression } from './types';

// The rows both stores read, column for column (the two schemas name their columns alike), and
// how each becomes the record the Store interface returns.

export interface EventRow {
  id: string;
  customer_id: string;
  type: string;
  occurred_at: string;
  /** The properties as the JSON text received. */
  properties: string;
}

export function toEvent(row: EventRow): CustomerEvent {
  return { id: row.id, customerId: row.customer_id, type: row.type, occurredAt: row.occurred_at, properties: JSON.parse(row.properties) };
}

export interface ConsentRow {
  customer_id: string;
  topic: string;
  status: ConsentRecord['status'];
  source: string;
  at: string;
}

export function toConsent(row: ConsentRow): ConsentRecord {
  return { customerId: row.customer_id, topic: row.topic, status: row.status, source: row.source, at: row.at };
}

export interface JourneyRunRow {
  workflow_id: string;
  journey_id: string;
  customer_id: string;
  topic: string;
  started_at: string;
}

export function toJourneyRun(row: JourneyRunRow): JourneyRun {
  return { workflowId: row.workflow_id, journeyId: row.journey_id, customerId: row.customer_id, topic: row.topic, startedAt: row.started_at };
}

export interface ApiKeyRow {
  id: string;
  name: string;
  scope: ApiKeyScope;
  secret_hash: string;
  created_at: string;
  revoked_at: string | null;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  const key: ApiKey = { id: row.id, name: row.name, scope: row.scope, secretHash: row.secret_hash, createdAt: row.created_at };
  if (row.revoked_at) key.revokedAt = row.revoked_at;
  return key;
}

export interface EventNoteRow {
  event_id: string;
  customer_id: string;
  path: string;
  reason: string;
  at: string;
}

export function toEventNote(row: EventNoteRow): EventNote {
  return { eventId: row.event_id, customerId: row.customer_id, path: row.path, reason: row.reason, at: row.at };
}

export const SEND_COLUMNS = 'workflow_id, step_id, customer_id, journey_id, topic, transactional, status, template, message_id, owner, reason, created_at, updated_at';

export interface SendRow {
  workflow_id: string;
  step_id: string;
  customer_id: string;
  journey_id: string;
  topic: string;
  /** SQLite has no boolean: 0 or 1 there, a boolean in PostgreSQL. */
  transactional: number | boolean;
  status: SendStatus;
  template: string | null;
  message_id: string | null;
  owner: string | null;
  reason: string | null;
  created_at: string;
  updated_at: string;
}

export function toSend(row: SendRow): SendRecord {
  return {
    workflowId: row.workflow_id,
    stepId: row.step_id,
    customerId: row.customer_id,
    journeyId: row.journey_id,
    topic: row.topic,
    transactional: row.transactional === true || row.transactional === 1,
    status: row.status,
    ...(row.template !== null && { template: row.template }),
    ...(row.message_id !== null && { messageId: row.message_id }),
    ...(row.owner !== null && { owner: row.owner }),
    ...(row.reason !== null && { reason: row.reason }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Statuses that hold a place under a frequency limit: sent, on its way, or possibly delivered. */
export const COUNTED_SENDS = `status IN ('reserved', 'sending', 'sent', 'in_doubt')`;

export interface SuppressionRow {
  address_hash: string;
  reason: Suppression['reason'];
  source: string;
  customer_id: string | null;
  at: string;
}

export function toSuppression(row: SuppressionRow): Suppression {
  return { addressHash: row.address_hash, reason: row.reason, source: row.source, at: row.at, ...(row.customer_id !== null && { customerId: row.customer_id }) };
}
