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

/** At most `max` sends per customer and topic within `windowMs`, e.g. 1 per 24 h. */
export interface FrequencyLimit {
  max: number;
  windowMs: number;
  /** How people say it, e.g. "1 per 24h": it is what a capped send records. */
  label: string;
}

/** The row this send owns, or, when a frequency limit is full, when a slot frees. */
export type SendReservation =
  | { record: SendRecord; capped?: undefined }
  | { record?: undefined; capped: { limit: string; until: string } };

export type SuppressionReason = 'bounce' | 'complaint' | 'manual' | 'erased';

/** An address never to be mailed; kept as a hash, so an erased customer leaves no address behind. */
export interface Suppression {
  addressHash: string;
  reason: SuppressionReason;
  source: string;
  /** Absent once the customer has been erased. */
  customerId?: string;
  at: string;
}

export interface RecordedEvent {
  /** False when an event with this id was recorded before (its first copy is kept as it was). */
  firstSeen: boolean;
  /** True once the event has been routed to its journeys; a first copy that was never routed is routed again. */
  routed: boolean;
}

/** A segment the customer is in, since when. */
export interface SegmentMembership {
  segmentId: string;
  /** ISO-8601 instant the customer entered (the event's time, or the sweep's). */
  enteredAt: string;
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
  /** A recorded event by id; undefined once erased or never recorded. */
  eventById(eventId: string): Promise<CustomerEvent | undefined>;
  /** Ordered by occurredAt as an instant (any UTC offset), then by arrival. */
  eventsOf(customerId: string): Promise<CustomerEvent[]>;
  /** The latest events of one type across all customers, newest first (e.g. orders, for recommendations). */
  latestEventsOfType(type: string, limit: number): Promise<CustomerEvent[]>;

  /** Appends to the consent ledger; the latest row per customer and topic is the customer's consent. */
  recordConsent(record: ConsentRecord): Promise<void>;
  consentFor(customerId: string, topic: string): Promise<ConsentRecord | undefined>;
  consentLedger(customerId: string): Promise<ConsentRecord[]>;

  recordJourneyRun(run: JourneyRun): Promise<void>;
  journeyRuns(customerId: string): Promise<JourneyRun[]>;

  sendRecord(workflowId: string, stepId: string): Promise<SendRecord | undefined>;
  /**
   * Inserts a `reserved` row, or returns the row an earlier attempt left. The frequency
   * limits are checked in the same transaction as the insert, so two journeys of one
   * customer racing for the last slot get one send between them.
   */
  reserveSend(key: SendKey, at: string, limits?: FrequencyLimit[]): Promise<SendReservation>;
  /** Records a send that will not happen (no consent, suppressed, capped), or turns a reserved row into one. */
  skipSend(key: SendKey, reason: string, at: string): Promise<void>;
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

  addSuppression(suppression: Suppression): Promise<void>;
  suppressionFor(addressHash: string): Promise<Suppression | undefined>;
  suppressionsOf(customerId: string): Promise<Suppression[]>;
  /** Customers whose profile has this address (case-insensitive), e.g. for a complaint feed. */
  customersWithAddress(email: string): Promise<string[]>;

  /**
   * Erases a customer: profile, events, consent ledger, journey runs and send ledger. Their
   * suppressions stay, without the customer ID. Returns the address the profile had.
   */
  forgetCustomer(customerId: string): Promise<{ email?: string }>;

  /** The segments the customer is in, in the order they entered them. */
  segmentsOf(customerId: string): Promise<SegmentMembership[]>;
  /**
   * Makes `segmentIds` the customer's whole membership, in one transaction: new ones enter
   * at `at`, those not listed leave, the rest keep their entry time. Returns what changed.
   */
  setSegments(customerId: string, segmentIds: string[], at: string): Promise<{ entered: string[]; left: string[] }>;
  /** Every customer with a profile or an event, for the segment sweep. */
  customerIds(): Promise<string[]>;

  close(): Promise<void>;
}
