// The composition root: the one place that turns settings into a running product. Entry
// points (npm start, the worker role, the CLI, simulate, tests, the bench, the library's
// connect) call `compose` instead of wiring store, Temporal, SMTP and the send policy by
// hand; nothing else imports this folder, so the other folders never depend on each other
// through it. The roles (worker, HTTP API) start from ./roles, so a library user (client/)
// loads neither the worker's native runtime nor Fastify.
import { Client, Connection } from '@temporalio/client';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import type { NativeConnection, WorkflowBundleOption } from '@temporalio/worker';
import type { ActivityDeps } from '../activities';
import { createSmtpMailer } from '../activities/smtp';
import { JourneyClient } from '../app/journeyClient';
import { ensureEventRoutingSweepSchedule, ensureScoreTrainingSchedule, ensureSegmentSweepSchedule } from '../app/schedules';
import { payloadCodecOf } from '../codec/payloadCodec';
import { temporalConnectionOptions, type Config } from '../config';
import { dkimOptions, loadUnsubscribeKeys } from '../config/secrets';
import { createSendPolicy, type SendPolicy } from '../domain/delivery/sendPolicy';
import { createEmailTracker, createTrackingSigner, type TrackingSigner } from '../domain/delivery/tracking';
import { createUnsubscribeSigner, unsubscribeLinks, type UnsubscribeKey, type UnsubscribeSigner } from '../domain/delivery/unsubscribeTokens';
import { loadCatalogue, type Catalogue } from '../journeys';
import { createMetrics, type Metrics } from '../observability/metrics';
import { instrumentStore } from '../observability/store';
import { openStore } from '../store/open';
import type { Store } from '../store/types';
import { createActivityDeps } from '../worker/deps';
import { journeySearchAttributes } from '../workflows/searchAttributes';

/** What tests, simulate and the bench put in place of what the settings name. */
export interface Overrides {
  /** Used as it is and left open; otherwise the configured store is opened, and closed by `close`. */
  store?: Store;
  catalogue?: Catalogue;
  /** The SMTP server the worker sends through, instead of SMTP_URL or the embedded outbox. */
  smtpUrl?: string;
  /** The clock events are accepted on (JourneyClient's). */
  clock?: () => Date;
  /** The activities' clock: Temporal's, in time-skipping tests. */
  workerClock?: () => Promise<Date>;
  /** A Temporal to use as it is (a test environment's), left open; otherwise the configured one is connected. */
  temporal?: { client: Client; workerConnection?: NativeConnection };
  /** A prebuilt workflow bundle, where start-up time matters. */
  workflowBundle?: WorkflowBundleOption;
  unsubscribeKeys?: UnsubscribeKey[];
  /** The registry to count on; otherwise the composition makes its own. */
  metrics?: Metrics;
}

export interface Composition {
  config: Config;
  overrides: Overrides;
  /** The configured (or given) store, every call timed on `metrics`. */
  store: Store;
  catalogue: Catalogue;
  policy: SendPolicy;
  temporal: Client;
  /** The process's metrics: what the client, the activities and the store count, and the registry /metrics serves. */
  metrics: Metrics;
  /** The encryption codec of every payload when PAYLOAD_KEYS is set: the worker's, and the Web UI's codec endpoint's. */
  payloadCodec?: PayloadCodec;
  /** What the configured client and the worker encode payloads with; undefined: Temporal's default. */
  dataConverter?: DataConverter;
  journeys: JourneyClient;
  /** Built on first use: only the roles that send or serve /u need the keys. */
  unsubscribeSigner(): UnsubscribeSigner;
  /** The open pixel's and click redirect's tokens, signed with the unsubscribe keys (see domain/delivery/tracking.ts). */
  trackingSigner(): TrackingSigner;
  activityDeps(): ActivityDeps;
  /** The topics every customer has (the catalogue's), for the unsubscribe page. */
  topics: string[];
  /** The journey search attributes, on a Temporal that lacks them. */
  ensureSearchAttributes(): Promise<void>;
  /** The segment-sweep, event-routing-sweep and score-training Schedules, created or set to the configured intervals; `log` hears of a changed interval. */
  ensureSchedules(log?: (line: string) => void): Promise<void>;
  /** Runs `step` on close, before what was opened earlier is closed. */
  onClose(step: () => Promise<void>): void;
  /** Stops what was started and closes what was opened, in reverse order; what was given stays open. */
  close(): Promise<void>;
}

/** The one place the store is chosen: PostgreSQL when DATABASE_URL names one, else the embedded SQLite file. */
export function openConfiguredStore(config: Config): Promise<Store> {
  return openStore(config);
}

export async function compose(config: Config, overrides: Overrides = {}): Promise<Composition> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const step of closers.splice(0).reverse()) await step();
  };
  const catalogue = overrides.catalogue ?? loadCatalogue();
  const metrics = overrides.metrics ?? createMetrics();
  const opened = overrides.store ?? (await openConfiguredStore(config));
  if (!overrides.store) closers.push(() => opened.close());
  const store = instrumentStore(opened, metrics);
  // The one place the data converter is built from the settings; a client given in overrides keeps its own.
  const payloadCodec = payloadCodecOf(config.payloadKeys);
  const dataConverter: DataConverter | undefined = payloadCodec && { payloadCodecs: [payloadCodec] };
  const temporal = overrides.temporal?.client ?? lazyClient(config, closers, dataConverter);
  const { optInTopics } = config.consent;
  const policy = createSendPolicy({ optInTopics, frequencyCaps: config.frequencyCaps, quietHours: config.quietHours, defaultTimezone: config.defaultTimezone });
  const journeys = new JourneyClient({
    temporal,
    store,
    catalogue,
    policy,
    taskQueue: config.temporal.taskQueue,
    waitScale: config.waitScale,
    maxStartsInFlight: config.maxStartsInFlight,
    linkHosts: config.linkHosts,
    now: overrides.clock,
    metrics,
    globalControlPercent: config.globalControlPercent,
  });
  // Segments are recomputed in the background after the ingest that marks them; closing recomputes what is left.
  journeys.startSegmentUpdates();
  closers.push(() => journeys.stopSegmentUpdates());

  let keys: UnsubscribeKey[] | undefined;
  const signingKeys = () => (keys ??= overrides.unsubscribeKeys ?? loadUnsubscribeKeys(config));
  let signer: UnsubscribeSigner | undefined;
  const unsubscribeSigner = () => (signer ??= createUnsubscribeSigner(signingKeys()));
  let tracking: TrackingSigner | undefined;
  const trackingSigner = () => (tracking ??= createTrackingSigner(signingKeys()));
  const onClose = (step: () => Promise<void>) => {
    closers.push(step);
  };
  let deps: ActivityDeps | undefined;
  const activityDeps = () => {
    if (deps) return deps;
    const mailer = createSmtpMailer({ url: overrides.smtpUrl ?? config.smtp.url ?? `smtp://127.0.0.1:${config.smtp.outboxPort}`, dkim: dkimOptions(config), poolSize: config.smtp.poolSize });
    // Its pooled connections QUIT on close, after the worker (registered later) has stopped.
    onClose(() => mailer.close());
    return (deps = createActivityDeps({
      store,
      catalogue,
      policy,
      clock: overrides.workerClock,
      from: config.mailFrom,
      mailer,
      unsubscribe: unsubscribeLinks(unsubscribeSigner(), config.unsubscribe),
      tracking: config.tracking.enabled ? createEmailTracker(trackingSigner(), config.unsubscribe.publicUrl) : undefined,
      sweepSegmentPage: (now, page) => journeys.sweepSegmentPage(now, page),
      routePendingEvents: (now) => journeys.routePendingEvents(now),
      metrics,
    }));
  };

  return {
    config,
    overrides,
    store,
    catalogue,
    policy,
    temporal,
    metrics,
    payloadCodec,
    dataConverter,
    journeys,
    unsubscribeSigner,
    trackingSigner,
    activityDeps,
    topics: [...new Set(catalogue.journeys.map((j) => j.definition.topic))],
    async ensureSearchAttributes() {
      const { namespace } = config.temporal;
      const { operatorService } = temporal.connection;
      // The time-skipping test server cannot list them (UNIMPLEMENTED); it tells which exist
      // by refusing them (ALREADY_EXISTS), as a second process starting at once would.
      const listed = await operatorService.listSearchAttributes({ namespace }).catch(unlessGrpc(GRPC_UNIMPLEMENTED));
      const missing = journeySearchAttributes.filter((key) => !listed?.customAttributes?.[key.name]);
      // 2 is KEYWORD in Temporal's IndexedValueType enum.
      const searchAttributes = Object.fromEntries(missing.map((key) => [key.name, 2]));
      if (missing.length > 0) await operatorService.addSearchAttributes({ namespace, searchAttributes }).catch(unlessGrpc(GRPC_ALREADY_EXISTS));
    },
    async ensureSchedules(log = () => {}) {
      const previous = await ensureSegmentSweepSchedule(temporal, config.temporal.taskQueue, config.segmentSweepEvery);
      if (previous) log(`segment-sweep Schedule now runs every ${config.segmentSweepEvery} (SEGMENT_SWEEP_EVERY), was every ${previous}`);
      await ensureEventRoutingSweepSchedule(temporal, config.temporal.taskQueue);
      const trainedEvery = await ensureScoreTrainingSchedule(temporal, config.temporal.taskQueue, config.scoreTrainingEvery);
      if (trainedEvery) log(`score-training Schedule now runs every ${config.scoreTrainingEvery} (SCORE_TRAINING_EVERY), was every ${trainedEvery}`);
    },
    onClose,
    close,
  };
}

const GRPC_ALREADY_EXISTS = 6;
const GRPC_UNIMPLEMENTED = 12;

/** A rejection handler that swallows one gRPC status and rethrows every other error. */
function unlessGrpc(code: number) {
  return (err: { code?: number }): undefined => {
    if (err.code !== code) throw err;
    return undefined;
  };
}

/** Connects on first use, so store-only work (imports, the activity harness) never needs Temporal up. */
function lazyClient(config: Config, closers: (() => Promise<void>)[], dataConverter: DataConverter | undefined): Client {
  const connection = Connection.lazy({ ...temporalConnectionOptions(config), connectTimeout: '3s' });
  closers.push(() => connection.close());
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter });
}
