import type { ConsentStatus, CustomerEvent, Profile } from '../domain/customer/types';
import type { Product, RankedProduct } from '../domain/delivery/recommendations';
import type { FrequencyLimit, SendRecheck } from '../domain/delivery/sendPolicy';

// The send policy decides what a send checks and how often it may go; the store applies it.
export type { FrequencyLimit, SendRecheck };

export interface ConsentRecord {
  customerId: string;
  topic: string;
  status: ConsentStatus;
  source: string;
  /** ISO-8601 instant the change was recorded. */
  at: string;
}

/** What an API key may do: `ingest` events and profiles, `read` journeys and audits, `admin` everything. */
export type ApiKeyScope = 'ingest' | 'read' | 'admin';

/** An API key as stored: never the key itself, only a hash of its secret part. */
export interface ApiKey {
  /** The public part of the key, also its name in logs and `journeys keys list`. */
  id: string;
  name: string;
  scope: ApiKeyScope;
  /** SHA-256 of the secret part, hex. */
  secretHash: string;
  createdAt: string;
  revokedAt?: string;
}

export interface JourneyRun {
  workflowId: string;
  journeyId: string;
  customerId: string;
  topic: string;
  startedAt: string;
}

/**
 * One row per (workflowId, stepId): the send ledger that makes sends exactly-once. A state
 * machine whose every transition is conditional on the state it leaves (and on the attempt
 * that owns `sending`), so two attempts of one send never both reach SMTP:
 *
 *   reserved ──claim──► sending ──► sent
 *      │                 │  ├─────► in_doubt ──(operator: delivered)──► sent
 *      │                 │  │          └──(operator: resend, claim)──► sending
 *      │                 │  └─────► failed
 *      │                 └─(4xx: nothing delivered)─► reserved
 *      └──► skipped | failed
 *
 * `sending` means the message is being handed to the SMTP server: the server accepted MAIL,
 * RCPT and DATA and the first byte of the message is about to go out.
 */
export type SendStatus = 'reserved' | 'sending' | 'sent' | 'skipped' | 'in_doubt' | 'failed';

export interface SendRecord {
  workflowId: string;
  stepId: string;
  customerId: string;
  journeyId: string;
  topic: string;
  /** A transactional email (a receipt): sent without marketing consent, never to a suppressed address. */
  transactional: boolean;
  status: SendStatus;
  template?: string;
  messageId?: string;
  /** The attempt that holds (or last held) `sending`, e.g. "<runId>/<activityId>#2". */
  owner?: string;
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
  transactional?: boolean;
}

/** The message exactly as handed to SMTP, kept while its fate is open (sending, in doubt) so an operator can resend it. */
export interface StoredMessage {
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

export interface SendClaim {
  workflowId: string;
  stepId: string;
  /** The state the claim moves the row out of: `reserved` for a journey's send, `in_doubt` for an operator's resend. */
  from: 'reserved' | 'in_doubt';
  owner: string;
  at: string;
  template?: string;
  messageId: string;
  message: StoredMessage;
  recheck: SendRecheck;
  /**
   * A journey's send (from `reserved`): the tracking of the email as it goes out, recorded in the
   * claim's transaction, so before the message leaves and exactly as sent; absent, the email is
   * untracked and whatever an earlier attempt recorded is dropped. An operator's resend (from
   * `in_doubt`) sends the kept message and keeps what its first claim recorded.
   */
  tracking?: { links: string[]; variants: Record<string, string> };
}

/** The tracking of one marketing email, recorded as it was handed to SMTP: where the click redirect may lead. */
export interface TrackedEmail {
  workflowId: string;
  stepId: string;
  customerId: string;
  /** The original URL of each rewritten link, by link index. */
  links: string[];
  /** The variant each `split` step before the send assigned, by step id. */
  variants: Record<string, string>;
  recordedAt: string;
}

export type SendClaimResult =
  | { status: 'claimed' }
  /** Consent was withdrawn or the address suppressed since the send was decided: the row is now skipped. */
  | { status: 'skipped'; reason: string }
  /** The row was not in the state the claim expected: another attempt got there first. */
  | { status: 'lost'; record?: SendRecord };

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
  /**
   * Present when the id was recorded before with another payload: the fields that differ.
   * An id names one event, so such a copy is a mistake of the sender, never a retry.
   */
  differsIn?: EventField[];
}

/** The parts of an event a reused id is compared on (properties as canonical JSON, occurredAt as an instant). */
export type EventField = 'customerId' | 'type' | 'properties' | 'occurredAt';

export interface RecordOptions {
  /**
   * False when the sender left occurredAt out and the arrival time stands in for it: a
   * retry without it is the same event although its arrival time differs. Default true.
   */
  occurredAtGiven?: boolean;
  /**
   * Record the event as routed already: no journey's trigger, goal or `waitFor` can take it,
   * so there is no routing to finish (and none for the routing sweep to retry). Default false.
   */
  routed?: boolean;
  /**
   * Mark the customer's segments for recomputation, in the transaction that inserts the event
   * (a repeated id marks nothing). Default false.
   */
  segmentsDirty?: boolean;
}

/** A customer whose segments are marked for recomputation, with the mark as it was read. */
export interface SegmentsDirty {
  customerId: string;
  /** Grows with every mark: clearing the mark read leaves a later one in place. */
  mark: number;
}

/**
 * The events of a customer that segment rules read: `all` of them, or every event of some types
 * in a window, and the latest of other types (which tells whether one ever occurred, or
 * occurred in any window, without reading the rest of the history).
 */
export type SegmentEventsRead =
  | 'all'
  | {
      /** Every event of `type` that occurred at or after `since` (all time when absent). */
      windows: { type: string; since?: string }[];
      /** The latest event of each of these types that occurred at or before `until`. */
      latest: string[];
      until: string;
    };

/** What segment rules read of one customer. */
export interface SegmentInputs {
  customerId: string;
  profile?: Profile;
  /** Ordered as `eventsOf` orders them. */
  events: CustomerEvent[];
  memberships: SegmentMembership[];
  /** The customer's mark for recomputation, read with the rest; absent when not marked. */
  dirtyMark?: number;
}

/** An event whose routing failed after it was recorded, with when it reached us. */
export interface UnroutedEvent {
  event: CustomerEvent;
  /** ISO-8601 instant the event was recorded: its age is judged as of then, not when it is finally routed. */
  recordedAt: string;
}

/** A note on a recorded event for its customer's audit: a value ingest did not keep, and why (never the value). */
export interface EventNote {
  eventId: string;
  customerId: string;
  /** Where in the event, e.g. "properties.cartUrl" or "properties.items.0.url". */
  path: string;
  reason: string;
  /** ISO-8601 instant it was noted. */
  at: string;
}

/** A segment the customer is in, since when. */
export interface SegmentMembership {
  segmentId: string;
  /** ISO-8601 instant the customer entered (the event's time, or the sweep's). */
  enteredAt: string;
}

/** The events `eventsOfCustomers` reads: those that occurred after `after` and at or before `until` (as instants). */
export interface CustomerEventsRead {
  /** Every type when absent. */
  types?: string[];
  /** Exclusive; from the first event when absent. */
  after?: string;
  /** Inclusive: nothing that occurred later is read. */
  until: string;
}

/** Scores to merge into a profile's `scores` attribute: the keys given replace theirs, every other key and attribute stays. */
export interface ProfileScores {
  customerId: string;
  scores: Record<string, number | string>;
}

/** A trained set of score models as kept: `content` is the JSON the app writes and validates when it reads it back. */
export interface ScoreModelsRecord {
  version: string;
  /** ISO-8601 instant the training finished. */
  trainedAt: string;
  content: unknown;
}

/** A run reaching a `split` step: the arm it got (see store/sqliteExperiments.ts). */
export interface Exposure {
  workflowId: string;
  /** The split's step id, with `@<entry>` in re-entrant journeys as in the send ledger. */
  stepId: string;
  journeyId: string;
  version: string;
  customerId: string;
  /** The variant's name, or "holdout". */
  arm: string;
  at: string;
}

/** A customer the global control group held out of a marketing journey they would have entered. */
export interface HeldOutEntry {
  workflowId: string;
  journeyId: string;
  customerId: string;
  at: string;
}

/** A journey's conversion event, with the email it is attributed to (none: the customer got none in the window). */
export interface Conversion {
  eventId: string;
  journeyId: string;
  customerId: string;
  occurredAt: string;
  value?: number;
  email?: { workflowId: string; stepId: string; template?: string; variants: Record<string, string> };
}

/** A split's winner, decided once: new entrants get only this variant (see app/experiments.ts). */
export interface SplitWinner {
  journeyId: string;
  stepId: string;
  winner: string;
  metric: 'conversion' | 'click';
  reason: string;
  /** The journey version new entrants get since the decision. */
  version: string;
  decidedAt: string;
}

/** Everything a journey's report counts, read at once. */
export interface JourneyActivity {
  runs: JourneyRun[];
  sends: SendRecord[];
  exposures: Exposure[];
  heldOut: HeldOutEntry[];
  conversions: Conversion[];
  /** email.delivered, email.bounced, email.opened and email.clicked events naming the journey. */
  emailEvents: CustomerEvent[];
  /** Withdrawals of consent by customers the journey has a send ledger row for. */
  withdrawals: ConsentRecord[];
  winners: SplitWinner[];
}

/**
 * Persistence for everything outside Temporal. SQLite is the embedded default; a
 * Postgres implementation fills the same interface, so every method is async.
 */
export interface Store {
  /**
   * Upserts by customerId, all rows in one transaction (bulk imports call it with 100k rows).
   * The email is replaced; attributes merge shallowly, so keys absent from the new row are kept.
   * With `segmentsDirty`, the customers' segments are marked for recomputation in the same transaction.
   */
  upsertProfiles(profiles: Profile[], options?: { segmentsDirty?: boolean }): Promise<void>;
  getProfile(customerId: string): Promise<Profile | undefined>;
  countProfiles(): Promise<number>;
  /** Those of `customerIds` that have a profile, each once, in the order given. */
  customersWithProfiles(customerIds: string[]): Promise<string[]>;

  recordEvent(event: CustomerEvent, options?: RecordOptions): Promise<RecordedEvent>;
  /**
   * Records past events, in one transaction, as already routed: history feeds RFM,
   * recommendations and segments, and no journey or routing sweep ever takes it up.
   * One answer per event, in order; a repeated id keeps its first copy, as in recordEvent.
   */
  recordHistory(events: CustomerEvent[]): Promise<RecordedEvent[]>;
  /** Throws for an id that was never recorded. */
  markEventRouted(eventId: string): Promise<void>;
  /** Events recorded before `recordedBefore` and never routed, in the order they were recorded. */
  unroutedEvents(recordedBefore: string, limit: number): Promise<UnroutedEvent[]>;
  /** The customer's events of these types that occurred at or after `since` (as instants), oldest first. */
  eventsSince(customerId: string, types: string[], since: string): Promise<CustomerEvent[]>;
  /** A recorded event by id; undefined once erased or never recorded. */
  eventById(eventId: string): Promise<CustomerEvent | undefined>;
  /** Ordered by occurredAt as an instant (any UTC offset), then by arrival. */
  eventsOf(customerId: string): Promise<CustomerEvent[]>;

  // Sales figures for recommendations, counted from the items of `order.completed` events in the
  // transaction that records each (recordEvent and recordHistory; a duplicate id counts nothing),
  // over every order ever recorded. Erasure leaves them as they are: they hold products and
  // counts, never a customer or an event. Ranked lists put the most order lines first, equal
  // counts by the newest order with the product, then its place in that order.

  /**
   * What was bought together with `skus` (never one of them), most first: a product's lines in
   * orders that also had one of `skus`, summed over `skus`.
   */
  coPurchased(skus: string[], limit: number): Promise<RankedProduct[]>;
  /** The best sellers of all orders, or those whose category is one of `categories`. */
  bestSellers(categories: string[] | undefined, limit: number): Promise<RankedProduct[]>;
  /** Those of `skus` that were ever ordered, as orders describe them (the newest order's fields first). */
  soldProducts(skus: string[]): Promise<Product[]>;

  /** Keeps notes on recorded events, in one transaction; a note the store has for the same event and path stays as it was. */
  recordEventNotes(notes: EventNote[]): Promise<void>;
  /** The customer's event notes, in the order they were kept. */
  eventNotesOf(customerId: string): Promise<EventNote[]>;

  /** Appends to the consent ledger; the latest row per customer and topic is the customer's consent. */
  recordConsent(record: ConsentRecord): Promise<void>;
  consentFor(customerId: string, topic: string): Promise<ConsentRecord | undefined>;
  /** The latest record of each of `topics` that has one, in one read. */
  consentsFor(customerId: string, topics: string[]): Promise<ConsentRecord[]>;
  consentLedger(customerId: string): Promise<ConsentRecord[]>;

  recordJourneyRun(run: JourneyRun): Promise<void>;
  journeyRuns(customerId: string): Promise<JourneyRun[]>;

  sendRecord(workflowId: string, stepId: string): Promise<SendRecord | undefined>;
  /**
   * Inserts a `reserved` row, or returns the row an earlier attempt left. The frequency
   * limits are checked in the same transaction as the insert, so two journeys of one
   * customer racing for the last slot get one send between them. Rows in doubt count.
   */
  reserveSend(key: SendKey, at: string, limits?: FrequencyLimit[]): Promise<SendReservation>;
  /** Records a send that will not happen (no consent, suppressed, capped), or turns a reserved row into one. */
  skipSend(key: SendKey, reason: string, at: string): Promise<void>;
  /**
   * Moves the row from `claim.from` to `sending`, owned by `claim.owner`, in one transaction
   * that first re-checks consent and suppression (a withdrawal turns the row `skipped`).
   * The message is kept with the row until its fate is known.
   */
  claimSend(claim: SendClaim): Promise<SendClaimResult>;
  /**
   * Moves the row to `to` only if it is in `from` (and, when given, held by `owner`);
   * false when it is not, which means another attempt or an operator moved it first.
   * The kept message is dropped once the row leaves `sending` and `in_doubt`.
   */
  moveSend(
    workflowId: string,
    stepId: string,
    from: { status: SendStatus; owner?: string },
    to: { status: SendStatus; reason?: string; at: string },
  ): Promise<boolean>;
  /** The message a `sending` or `in_doubt` row keeps. */
  sendMessage(workflowId: string, stepId: string): Promise<StoredMessage | undefined>;
  sendsOf(customerId: string): Promise<SendRecord[]>;
  /** Rows in one state across all customers, oldest change first (e.g. what is in doubt). */
  sendsWithStatus(status: SendStatus, limit: number): Promise<SendRecord[]>;
  /** The send whose email carried this Message-ID (`<…>`), for a provider's delivery, bounce or complaint notification. */
  sendByMessageId(messageId: string): Promise<SendRecord | undefined>;
  /** The tracking a claim recorded for this send (see `SendClaim.tracking`); undefined for an untracked or erased one. */
  trackedEmail(workflowId: string, stepId: string): Promise<TrackedEmail | undefined>;

  addSuppression(suppression: Suppression): Promise<void>;
  suppressionFor(addressHash: string): Promise<Suppression | undefined>;
  suppressionsOf(customerId: string): Promise<Suppression[]>;
  /** Customers whose profile has this address (case-insensitive), e.g. for a complaint feed. */
  customersWithAddress(email: string): Promise<string[]>;

  /**
   * Erases a customer: profile, events and their notes, consent ledger, journey runs, send ledger and tracked emails, segment
   * memberships and the mark to recompute them. Their
   * suppressions stay, without the customer ID; the sales figures their orders added stay too (products and
   * counts only). Returns the address the profile had.
   */
  eraseCustomer(customerId: string): Promise<{ email?: string }>;

  /**
   * Merges the customer `from` (an anonymous visitor) into `into`, in one transaction: remembers
   * that `from` is `into` (a later merge of `from` into another customer replaces that), moves
   * `from`'s events and their notes to `into`, drops `from`'s segment memberships and mark, and
   * marks `into`'s segments for recomputation when events moved. Erasing `into` forgets the link.
   */
  mergeCustomer(from: string, into: string, at: string): Promise<{ events: number }>;
  /** The customer `from` was last merged into; undefined when never merged. */
  mergedInto(from: string): Promise<string | undefined>;

  /** The segments the customer is in, in the order they entered them. */
  segmentsOf(customerId: string): Promise<SegmentMembership[]>;
  /**
   * Makes `segmentIds` the customer's whole membership, in one transaction: new ones enter
   * at `at`, those not listed leave, the rest keep their entry time. Returns what changed.
   */
  setSegments(customerId: string, segmentIds: string[], at: string): Promise<{ entered: string[]; left: string[] }>;
  /**
   * One page of the customers with a profile or an event, for the segment sweep: at most
   * `limit` ids after `after` (from the first when absent), in byte order. The last id of a
   * page is the cursor of the next, so customers added or erased meanwhile shift no page.
   */
  customerIdsAfter(after: string | undefined, limit: number): Promise<string[]>;
  /**
   * Customers whose segments are marked for recomputation (see `RecordOptions.segmentsDirty`),
   * with their marks: those of `customerIds` that are marked, or at most `limit` of all, in id order.
   */
  dirtySegments(query: { customerIds: string[] } | { limit: number }): Promise<SegmentsDirty[]>;
  /** Clears the marks as they were read, in one transaction: a customer marked again since stays marked. */
  clearDirtySegments(marks: SegmentsDirty[]): Promise<void>;
  /** The customer's events a segment recomputation reads, ordered as `eventsOf` orders them, each once. */
  segmentEvents(customerId: string, read: SegmentEventsRead): Promise<CustomerEvent[]>;
  /** What the segment rules read of each customer (`segmentEvents`, profile, memberships), in one read; customers with nothing at all included, empty. */
  segmentInputs(customerIds: string[], read: SegmentEventsRead): Promise<SegmentInputs[]>;

  /** Keeps the templates of a journey version (content hash); the first record of a version wins. */
  recordJourneyVersion(version: { journeyId: string; version: string; templates: Record<string, string> }): Promise<void>;
  /** The templates a journey version was started with; undefined for a version never recorded. */
  journeyVersionTemplates(journeyId: string, version: string): Promise<Record<string, string> | undefined>;

  /** Fails if the id or the name is taken. */
  createApiKey(key: ApiKey): Promise<void>;
  /** Every key, revoked ones too, oldest first. */
  apiKeys(): Promise<ApiKey[]>;
  apiKey(id: string): Promise<ApiKey | undefined>;
  /** Revokes the key with this id or name; false when there is none or it was revoked before. */
  revokeApiKey(idOrName: string, at: string): Promise<boolean>;
  /** Whether any key is not revoked: without one, the private API serves loopback only. */
  hasActiveApiKeys(): Promise<boolean>;

  // Predictive scores: bulk reads for features and labels, the scores on profiles, the trained models.

  /** The events of `customerIds` that `read` selects, in one read, ordered as `eventsOf` orders them (customers mixed). */
  eventsOfCustomers(customerIds: string[], read: CustomerEventsRead): Promise<CustomerEvent[]>;
  /** When the latest event of all occurred (ISO-8601, UTC); undefined with no events. */
  lastEventAt(): Promise<string | undefined>;
  /**
   * Merges each customer's scores into their profile's `scores` attribute, in one transaction,
   * leaving every other attribute as it is; customers without a profile are skipped. With
   * `segmentsDirty`, their segments are marked for recomputation. Returns the profiles updated.
   */
  writeScores(scores: ProfileScores[], options?: { segmentsDirty?: boolean }): Promise<number>;
  /** Keeps a trained set of score models; a version recorded before is replaced. */
  recordScoreModels(record: ScoreModelsRecord): Promise<void>;
  /** The set trained last (by `trainedAt`), or undefined before the first training. */
  latestScoreModels(): Promise<ScoreModelsRecord | undefined>;

  // Experiments and reports (store/sqliteExperiments.ts, store/postgresExperiments.ts).

  /** Keeps the arm a run got at a split; the first record of a run's split wins (a replayed activity changes nothing). */
  recordExposure(exposure: Exposure): Promise<void>;
  /** The customer's exposures, oldest first. */
  exposuresOf(customerId: string): Promise<Exposure[]>;
  /** Keeps that the global control held a customer out of a journey; the first record per workflow id wins. */
  recordHeldOut(entry: HeldOutEntry): Promise<void>;
  /** The journeys the global control held the customer out of. */
  heldOutOf(customerId: string): Promise<HeldOutEntry[]>;
  /** Keeps a conversion; false when this event was recorded as a conversion of this journey before (nothing changes). */
  recordConversion(conversion: Conversion): Promise<boolean>;
  /** Records a split's winner unless one is recorded; returns the one recorded (the earlier one if any). */
  recordWinner(winner: SplitWinner): Promise<SplitWinner>;
  /** The winners decided for a journey's splits. */
  winnersOf(journeyId: string): Promise<SplitWinner[]>;
  /** What the report of a journey counts. */
  journeyActivity(journeyId: string): Promise<JourneyActivity>;

  close(): Promise<void>;
}
