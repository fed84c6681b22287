// Every metric journeys exposes, defined once with its labels, on one prom-client registry per
// process (compose builds it). The README's "Metrics" section lists them; /metrics serves the
// registry: on the private listener (api/metrics.ts), and on METRICS_PORT for a worker alone.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { IngestOutcome, MetricsRecorder, SendOutcome, SendReason, SendTimer } from './recorder';

export type { IngestOutcome, MetricsRecorder, SendOutcome, SendReason, SendTimer } from './recorder';

/** The recorder, with the registry it counts on (what /metrics serves). */
export interface Metrics extends MetricsRecorder {
  readonly registry: Registry;
}

export interface MetricsOptions {
  /** The Node.js process's own metrics too (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, event loop lag…); default true. */
  processMetrics?: boolean;
}

/** Event types beyond this many distinct ones are counted as `other`, so a client sending made-up types cannot grow the series without bound. */
export const MAX_EVENT_TYPES = 100;

/** SMTP transactions: a loopback server answers in milliseconds, a provider in a second or two; the activity's timeout is 3 minutes. */
const SEND_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180];
/** Store calls: SQLite answers in microseconds, PostgreSQL over a network in milliseconds. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetrics({ processMetrics = true }: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (processMetrics) collectDefaultMetrics({ register: registry });

  const eventsIngested = new Counter({
    name: 'journeys_events_ingested_total',
    help: 'Events ingested, by event type and what became of each (started, signalled, ignored, recorded, routing_pending, duplicate, conflict, invalid, history)',
    labelNames: ['type', 'outcome'] as const,
    registers,
  });
  const runsStarted = new Counter({
    name: 'journeys_runs_started_total',
    help: 'Journey runs started, by journey',
    labelNames: ['journey'] as const,
    registers,
  });
  const runsEnded = new Counter({
    name: 'journeys_runs_ended_total',
    help: 'Journey runs ended, by journey and JourneyStatus (completed, goal_reached, consent_withdrawn)',
    labelNames: ['journey', 'status'] as const,
    registers,
  });
  const sends = new Counter({
    name: 'journeys_sends_total',
    help: 'Send attempts by journey, step and outcome (sent, skipped, deferred, in_doubt, failed, retried), with the reason class of all but sent',
    labelNames: ['journey', 'step', 'outcome', 'reason'] as const,
    registers,
  });
  const sendDuration = new Histogram({
    name: 'journeys_send_duration_seconds',
    help: 'Duration of send attempts, from the activity start to the outcome (SMTP included for sent), by journey and outcome',
    labelNames: ['journey', 'outcome'] as const,
    buckets: SEND_BUCKETS,
    registers,
  });
  const senderRejected = new Counter({
    name: 'journeys_smtp_sender_rejected_total',
    help: 'Emails the SMTP server refused on policy grounds (5.7.x: reputation, DKIM, the sending domain)',
    registers,
  });
  const suppressions = new Counter({
    name: 'journeys_suppressions_total',
    help: 'Addresses suppressed through POST /v1/suppressions, by reason (bounce, complaint, manual)',
    labelNames: ['reason'] as const,
    registers,
  });
  const storeCalls = new Histogram({
    name: 'journeys_store_call_duration_seconds',
    help: 'Duration of store calls (SQLite or PostgreSQL), by call',
    labelNames: ['call'] as const,
    buckets: STORE_BUCKETS,
    registers,
  });

  const eventTypes = new Set<string>();
  const typeLabel = (type: string) => {
    if (eventTypes.has(type)) return type;
    if (eventTypes.size >= MAX_EVENT_TYPES) return 'other';
    eventTypes.add(type);
    return type;
  };

  return {
    registry,
    eventIngested: (type: string, outcome: IngestOutcome) => eventsIngested.inc({ type: typeLabel(type), outcome }),
    runStarted: (journey) => runsStarted.inc({ journey }),
    runEnded: (journey, status) => runsEnded.inc({ journey, status }),
    sendStarted(journey, step): SendTimer {
      const started = performance.now();
      let ended = false;
      return {
        end(outcome: SendOutcome, reason?: SendReason) {
          if (ended) return;
          ended = true;
          sends.inc({ journey, step, outcome, ...(reason && { reason }) });
          sendDuration.observe({ journey, outcome }, (performance.now() - started) / 1000);
        },
      };
    },
    smtpSenderRejected: () => senderRejected.inc(),
    suppressionAdded: (reason) => suppressions.inc({ reason }),
    storeCall: (call) => {
      const stop = storeCalls.startTimer({ call });
      return () => void stop();
    },
  };
}
