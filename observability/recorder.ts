// What journeys counts, as the application core and the activities see it: a small interface
// they receive (JourneyClient's options, the activities' deps), so neither knows Prometheus.
// ./metrics.ts implements it on a prom-client registry, one per process, built by compose.
// Every label value passed here is from a bounded set (a journey, a step, an outcome, a reason
// class): never an address, a customer, or the free text of a reason or an SMTP reply.

/** What became of one ingested event (`journeys_events_ingested_total{outcome}`). */
export type IngestOutcome =
  /** Started at least one journey run. */
  | 'started'
  /** Signalled running journeys (a goal, a waitFor, a newer trigger event), started none. */
  | 'signalled'
  /** Matched a journey's trigger, but started nothing (too old, consent withdrawn, cooling down, entered before). */
  | 'ignored'
  /** Recorded as a fact; no journey listens for it. */
  | 'recorded'
  /** Recorded; Temporal could not be reached, so the event-routing sweep routes it. */
  | 'routing_pending'
  /** Seen before: nothing new happened. */
  | 'duplicate'
  /** Its id was recorded before with other contents: refused (409). */
  | 'conflict'
  /** Refused (400); nothing was recorded. */
  | 'invalid'
  /** Recorded as history (`events:batch?mode=history`, `journeys events import`). */
  | 'history';

/** What one attempt of a send ended in (`journeys_sends_total{outcome}`). */
export type SendOutcome = 'sent' | 'skipped' | 'deferred' | 'in_doubt' | 'failed' | 'retried';

/** Why, as a class (`journeys_sends_total{reason}`): a skip's or deferral's reason, or the SMTP verdict. */
export type SendReason =
  | 'consent_withdrawn'
  | 'no_profile'
  | 'sunset'
  | 'suppressed_bounce'
  | 'suppressed_complaint'
  | 'suppressed_manual'
  | 'suppressed_erased'
  | 'frequency_cap'
  | 'quiet_hours'
  /** In doubt: an earlier attempt stopped while handing the email over (a worker died mid-send). */
  | 'attempt_lost'
  /** In doubt: the connection broke after the hand-off, without a reply. */
  | 'no_reply'
  /** Failed: 5.1.x / 5.2.1 at RCPT, the address is suppressed (a hard bounce). */
  | 'bad_recipient'
  /** Failed: 5.7.x, our sending refused on policy grounds. */
  | 'sender_rejected'
  /** Failed: any other permanent SMTP refusal. */
  | 'rejected'
  /** Failed: the template did not render. */
  | 'template'
  /** Retried: a 4xx or a connection fault before the hand-off. */
  | 'smtp_temporary'
  /** Retried or failed: anything else that went wrong in the attempt (the store, say). */
  | 'error'
  /** Sent: an operator's resend of a send in doubt. */
  | 'resent'
  | 'other';

/** One send attempt, timed from its start. */
export interface SendTimer {
  /** Counts the attempt's outcome and observes its duration; only the first call counts. */
  end(outcome: SendOutcome, reason?: SendReason): void;
}

export interface MetricsRecorder {
  eventIngested(type: string, outcome: IngestOutcome): void;
  runStarted(journey: string): void;
  /** A journey run ended: `status` is its JourneyStatus (completed, goal_reached, consent_withdrawn). */
  runEnded(journey: string, status: string): void;
  /** Starts timing one send attempt; an attempt that changes nothing (a retry finding its send done) never ends it. */
  sendStarted(journey: string, step: string): SendTimer;
  /** SMTP refused our sending on policy grounds (5.7.x). */
  smtpSenderRejected(): void;
  /** An address was suppressed through JourneyClient.suppress (`bounce`, `complaint`, `manual`). */
  suppressionAdded(reason: string): void;
  /** Starts timing one store call; the returned function stops it. */
  storeCall(call: string): () => void;
}

/** Counts nothing: for a JourneyClient or activities built without a registry. */
export const noMetrics: MetricsRecorder = {
  eventIngested: () => undefined,
  runStarted: () => undefined,
  runEnded: () => undefined,
  sendStarted: () => ({ end: () => undefined }),
  smtpSenderRejected: () => undefined,
  suppressionAdded: () => undefined,
  storeCall: () => () => undefined,
};

const SUPPRESSED = /^suppressed: (bounce|complaint|manual|erased)$/;

/** The class of a skip's or a deferral's reason as the send step and the ledger word it ("suppressed: bounce", "frequency cap 1 per 24h on marketing"). */
export function sendReasonOf(reason: string): SendReason {
  if (reason === 'consent_withdrawn' || reason === 'no_profile' || reason === 'sunset') return reason;
  const suppressed = SUPPRESSED.exec(reason);
  if (suppressed) return `suppressed_${suppressed[1] as 'bounce' | 'complaint' | 'manual' | 'erased'}`;
  if (reason.startsWith('frequency cap')) return 'frequency_cap';
  if (reason.startsWith('quiet hours')) return 'quiet_hours';
  return 'other';
}
