import type { ConsentStatus, CustomerEvent, Profile } from '../domain/customer';

export interface ConsentRecord {
  customerId: string;
  topic: string;
  status: ConsentStatus;
  source: string;
  /** ISO-8601 instant the change was recorded. */
  at: string;
}

export interface JourneyRun {
  workflowId: string;
  journeyId: string;
  customerId: string;
  topic: string;
  startedAt: string;
}

/**
 * One row per (workflowId, stepId): the send ledger that makes sends exactly-once.
 * reserved → sending (written just before SMTP) → sent; or skipped / in_doubt / failed.
 */
export type SendStatus = 'reserved' | 'sending' | 'sent' | 'skipped' | 'in_doubt' | 'failed';

export interface SendRecord {
  workflowId: string;
  stepId: string;
  customerId: string;
  journeyId: string;
  topic: string;
  status: SendStatus;
  template?: string;
  messageId?: string;
  /** Why a send was skipped, in doubt or failed. */
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

export interface SendKey {
  workflowId: string;
  stepId: string;
  customerId: string;
  journeyId: string;
  topic: string;
}

export interface RecordedEvent {
  /** False when an event with this id was recorded before (its first copy is kept as it was). */
  firstSeen: boolean;
  /** True once the event has been routed to its journeys; a first copy that was never routed is routed again. */
  routed: boolean;
}

/**
 * Persistence for everything outside Temporal. SQLite is the embedded default; a
 * Postgres implementation fills the same interface, so every method is async.
 */
export interface Store {
  /**
   * Upserts by customerId, all rows in one transaction (bulk imports call it with 100k rows).
   * The email is replaced; attributes merge shallowly, so keys absent from the new row are kept.
   */
  upsertProfiles(profiles: Profile[]): Promise<void>;
  getProfile(customerId: string): Promise<Profile | undefined>;
  countProfiles(): Promise<number>;

  recordEvent(event: CustomerEvent): Promise<RecordedEvent>;
  /** Throws for an id that was never recorded. */
  markEventRouted(eventId: string): Promise<void>;
  /** Ordered by occurredAt as an instant (any UTC offset), then by arrival. */
  eventsOf(customerId: string): Promise<CustomerEvent[]>;

  /** Appends to the consent ledger; the latest row per customer and topic is the customer's consent. */
  recordConsent(record: ConsentRecord): Promise<void>;
  consentFor(customerId: string, topic: string): Promise<ConsentRecord | undefined>;
  consentLedger(customerId: string): Promise<ConsentRecord[]>;

  recordJourneyRun(run: JourneyRun): Promise<void>;
  journeyRuns(customerId: string): Promise<JourneyRun[]>;

  /** Inserts a `reserved` row, or returns the row an earlier attempt left, atomically. */
  reserveSend(key: SendKey, at: string): Promise<SendRecord>;
  /**
   * Sets status, reason (cleared when not given) and updatedAt; template and messageId are
   * kept when not given. Throws when the row was never reserved.
   */
  updateSend(
    workflowId: string,
    stepId: string,
    change: { status: SendStatus; template?: string; messageId?: string; reason?: string; at: string },
  ): Promise<void>;
  sendsOf(customerId: string): Promise<SendRecord[]>;

  close(): Promise<void>;
}
