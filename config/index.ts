import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { isDuration, parseDuration } from '../domain/time/duration';
import { isTimeZone, LOCAL_TIME, type QuietHours } from '../domain/time/localTime';
import { parseKeyList } from '../domain/delivery/unsubscribeTokens';
import { defaultLinkHosts, parseLinkHosts } from '../domain/delivery/linkHosts';
import { parsePayloadKeys } from '../codec/payloadKeys';
import { urlHost } from './hosts';
import { readProviderFeedbackSettings } from './providerFeedback';
import { readSourceSettings, type SourceSettings } from './sources';
import { readKafkaSettings, type KafkaSettings } from './kafka';
import { readTemporalConnection, type TemporalConnection } from './temporal';

/** The package's folder (where package.json is), from the sources or from a build in dist/: `data/` lives there by default. */
export const PROJECT_ROOT = [join(__dirname, '..'), join(__dirname, '..', '..')].find((dir) => existsSync(join(dir, 'package.json'))) ?? join(__dirname, '..');

/** The version the API describes itself with, from package.json. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Journeys a worker keeps in memory between workflow tasks: waiting ones need no place there. */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 100;

const port = z.coerce.number().int().min(1).max(65535);
const QUIET = /^(\d\d:\d\d)-(\d\d:\d\d)$/;
const CAP = /^([a-z][a-z0-9_-]*):(\d+)\/(\d+[smhdw])$/;

/** `count/window` (e.g. `600/1m`) or `off`. */
const rateLimit = z
  .string()
  .refine((text) => text === 'off' || /^\d+\/\d+(ms|s|m|h)$/.test(text), 'write a rate limit as count/window, e.g. "600/1m", or "off"')
  .transform((text) => {
    if (text === 'off') return undefined;
    const [max, window] = text.split('/');
    return { max: Number(max), windowMs: parseDuration(window) };
  });

const METRICS_PORT_HINT = 'a port (1 to 65535) where a worker serves /metrics, e.g. "9100", or unset for none';
/** An IP address and port, as the Temporal SDK's Prometheus exporter binds (no host names): "127.0.0.1:9464", "[::1]:9464". */
function isSocketAddress(text: string): boolean {
  const [, bracketed, plain, portText] = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text) ?? [];
  const ip = bracketed ?? plain;
  return ip !== undefined && isIP(ip) === (bracketed ? 6 : 4) && Number(portText) >= 1 && Number(portText) <= 65535;
}

// Every setting, read once from the environment and passed down; the README lists them.
// Where Temporal is and how to reach it are Temporal's own settings (./temporal.ts).
const envSchema = z.object({
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('journeys'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  DATA_DIR: z.string().min(1).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'a PostgreSQL URL such as "postgres://user:password@db.example.com:5432/journeys", or unset for the embedded SQLite store' }).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_PORT: port.default(3001),
  /** The embedded dev server and its Web UI: on loopback unless this says otherwise, whatever HOST is. */
  TEMPORAL_DEV_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  API_RATE_LIMIT: rateLimit.prefault('1000/1s'),
  PUBLIC_RATE_LIMIT: rateLimit.prefault('600/1m'),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_PORT: z
    .string()
    .regex(/^\d+$/, METRICS_PORT_HINT)
    .transform(Number)
    .refine((n) => n >= 1 && n <= 65535, METRICS_PORT_HINT)
    .optional(),
  TEMPORAL_METRICS_ADDRESS: z
    .string()
    .refine(isSocketAddress, 'an IP address and port where the worker\'s Temporal SDK serves its Prometheus metrics, e.g. "127.0.0.1:9464" or "0.0.0.0:9464" (no host name)')
    .optional(),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(256 * 1024),
  SMTP_URL: z.url().optional(),
  OUTBOX_PORT: port.default(1025),
  SMTP_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5),
  MAIL_FROM: z.string().min(3).default('Journeys demo <hello@shop.example.com>'),
  JOURNEY_WAIT_SCALE: z.coerce.number().min(1).default(1),
  MAX_STARTS_IN_FLIGHT: z.coerce.number().int().min(1).default(50),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(1).default(DEFAULT_MAX_CACHED_WORKFLOWS),
  SEGMENT_SWEEP_EVERY: z.string().default('1h').refine(isDuration, 'a duration such as "15m" or "1h"'),
  SCORE_TRAINING_EVERY: z.string().default('7d').refine((text) => text === 'off' || isDuration(text), 'a duration such as "7d" or "24h", or "off"'),
  CONSENT_OPT_IN_TOPICS: z.string().default(''),
  QUIET_HOURS: z
    .string()
    .default('21:00-08:00')
    .refine((text) => text === 'off' || (QUIET.exec(text)?.slice(1).every((t) => LOCAL_TIME.test(t)) ?? false), 'write quiet hours as HH:MM-HH:MM in local time, e.g. "21:00-08:00", or "off"'),
  DEFAULT_TIMEZONE: z.string().default('UTC').refine(isTimeZone, 'an IANA timezone such as "Europe/Berlin"'),
  FREQUENCY_CAPS: z
    .string()
    .default('')
    .refine((text) => text.split(',').every((cap) => cap.trim() === '' || CAP.test(cap.trim())), 'write caps as topic:count/window, e.g. "marketing:1/24h,marketing:3/7d"'),
  /** Where customers reach the unsubscribe page; RFC 8058 wants https, the http default is for local use only. */
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'give the public http(s) address of the HTTP API, e.g. "https://journeys.shop.example.com"' }).optional(),
  /** Hosts event properties and profile attributes may link to (each with its subdomains); unset: PUBLIC_URL's host and MAIL_FROM's domain. */
  LINK_HOSTS: z
    .string()
    .transform((text, ctx) => {
      const { hosts, problems } = parseLinkHosts(text);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return problems.length > 0 ? z.NEVER : hosts;
    })
    .optional(),
  UNSUBSCRIBE_MAILTO: z.email().default('unsubscribe@shop.example.com'),
  /** Open pixel and tracked links in marketing email; off: emails go out as rendered, and links sent before still redirect. */
  TRACKING: z.enum(['on', 'off'], { error: 'write "on" or "off"' }).default('on'),
  /** Clicks this soon after the send are a security scanner's, not the recipient's. */
  TRACKING_SCANNER_WINDOW: z.string().default('10s').refine(isDuration, 'a duration such as "10s" or "1m"'),
  /** The share of customers held out of every marketing journey, to measure the journeys' lift against. */
  GLOBAL_CONTROL_PERCENT: z.coerce
    .number({ error: 'a percentage such as 5' })
    .min(0, 'a percentage from 0 (no global control group) to 50, e.g. 5')
    .max(50, 'at most 50: a global control group holds out a minority of customers, e.g. 5')
    .default(0),
  UNSUBSCRIBE_KEYS: z
    .string()
    .transform((text, ctx) => {
      const { keys, problems } = parseKeyList(text);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return problems.length > 0 ? z.NEVER : keys;
    })
    .optional(),
  /** Unset: payloads go to Temporal unencrypted. Set: the first key encrypts every payload, all decrypt (see codec/). */
  /** Web UI origins whose pages may call /codec, beyond the embedded dev server's. */
  TEMPORAL_UI_ORIGINS: z
    .string()
    .default('')
    .transform((text) => text.split(',').map((origin) => origin.trim().replace(/\/+$/, '')).filter(Boolean))
    .refine((origins) => origins.every((origin) => /^https?:\/\/[^/\s]+$/.test(origin)), 'list origins as scheme://host[:port], e.g. "https://temporal.shop.example.com"'),
  PAYLOAD_KEYS: z
    .string()
    .transform((text, ctx) => {
      const { keys, problems } = parsePayloadKeys(text);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return problems.length > 0 ? z.NEVER : keys;
    })
    .optional(),
  DKIM_DOMAIN: z.string().min(1).optional(),
  DKIM_SELECTOR: z.string().min(1).optional(),
  DKIM_PRIVATE_KEY_FILE: z.string().min(1).optional(),
}).superRefine((e, ctx) => {
  const dkim = { DKIM_DOMAIN: e.DKIM_DOMAIN, DKIM_SELECTOR: e.DKIM_SELECTOR, DKIM_PRIVATE_KEY_FILE: e.DKIM_PRIVATE_KEY_FILE };
  const missing = Object.entries(dkim).filter(([, value]) => value === undefined).map(([name]) => name);
  if (missing.length > 0 && missing.length < 3) {
    ctx.addIssue({ code: 'custom', path: [missing[0]], message: `DKIM signing needs DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE together; set ${missing.join(' and ')} too, or unset all three` });
  }
  // Real email must carry unsubscribe links customers can use: a local http address is none.
  if (e.SMTP_URL !== undefined && !/^https:/i.test(e.PUBLIC_URL ?? '')) {
    const given = e.PUBLIC_URL === undefined ? 'it is unset' : `"${e.PUBLIC_URL}" is not https`;
    ctx.addIssue({
      code: 'custom',
      path: ['PUBLIC_URL'],
      message: `SMTP_URL sends real email, so PUBLIC_URL must be the https address where customers reach /u/… (RFC 8058), and ${given}; set PUBLIC_URL=https://… (e.g. https://journeys.shop.example.com)`,
    });
  }
});

export class ConfigError extends Error {}

function quietHoursOf(text: string): QuietHours {
  const [, start, end] = QUIET.exec(text) ?? [];
  return { start, end };
}

export function readConfig(env: Record<string, string | undefined>, projectRoot: string) {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    throw new ConfigError(`invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  let connection: TemporalConnection;
  try {
    connection = readTemporalConnection(env);
  } catch (err) {
    throw new ConfigError(`invalid settings: ${(err as Error).message}`);
  }
  let kafka: KafkaSettings;
  try {
    kafka = readKafkaSettings(env);
  } catch (err) {
    throw new ConfigError(`invalid settings: ${(err as Error).message}`);
  }
  let sources: SourceSettings;
  try {
    sources = readSourceSettings(env);
  } catch (err) {
    throw new ConfigError(`invalid settings: ${(err as Error).message}`);
  }
  let providerFeedback: ReturnType<typeof readProviderFeedbackSettings>;
  try {
    providerFeedback = readProviderFeedbackSettings(env);
  } catch (err) {
    throw new ConfigError(`invalid settings: ${(err as Error).message}`);
  }
  const dataDir = e.DATA_DIR ?? join(projectRoot, 'data');
  const resolved = {
    temporal: {
      /** `address` unset: `npm start` runs the embedded dev server on `port`. */
      ...connection,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      devServerHost: e.TEMPORAL_DEV_SERVER_HOST,
      dbFile: join(dataDir, 'temporal.db'),
    },
    dataDir,
    storeFile: join(dataDir, 'journeys.db'),
    /** Set: the store is this PostgreSQL database instead of `storeFile` (see store/open.ts). */
    databaseUrl: e.DATABASE_URL,
    /** The private listener: /v1, /codec, /metrics. */
    http: { host: e.HOST, port: e.PORT, bodyLimit: e.BODY_LIMIT_BYTES, rateLimit: e.API_RATE_LIMIT },
    /** The public listener: /u and /healthz, what customers and mailbox providers reach. */
    public: { host: e.PUBLIC_HOST, port: e.PUBLIC_PORT, rateLimit: e.PUBLIC_RATE_LIMIT },
    metrics: {
      /** Set: the worker role serves /metrics on this port of `host`, as it has no HTTP API of its own. */
      port: e.METRICS_PORT,
      host: e.METRICS_HOST,
      /** Set: the worker role's Temporal runtime serves the SDK's own metrics (pollers, task latencies) there, in Prometheus format. */
      temporalAddress: e.TEMPORAL_METRICS_ADDRESS,
    },
    smtp: {
      /** Unset: the embedded outbox on `outboxPort` keeps every email as an .eml file in `outboxDir`. */
      url: e.SMTP_URL,
      outboxPort: e.OUTBOX_PORT,
      outboxDir: join(dataDir, 'outbox'),
      /** SMTP connections each worker keeps and uses at once (see activities/smtp.ts). */
      poolSize: e.SMTP_POOL_SIZE,
    },
    mailFrom: e.MAIL_FROM,
    waitScale: e.JOURNEY_WAIT_SCALE,
    maxStartsInFlight: e.MAX_STARTS_IN_FLIGHT,
    /** Journeys the worker keeps in memory between workflow tasks (about 0.3 MB each). */
    maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
    /** How often the segment-sweep Schedule recomputes time-based segments. */
    segmentSweepEvery: e.SEGMENT_SWEEP_EVERY,
    /** How often the score-training Schedule retrains churn and propensity and rescores every profile; undefined: never (off). */
    scoreTrainingEvery: e.SCORE_TRAINING_EVERY === 'off' ? undefined : e.SCORE_TRAINING_EVERY,
    consent: {
      /** Topics where a customer without a consent record has not consented (opt-in topics); on all others the default is granted. */
      optInTopics: e.CONSENT_OPT_IN_TOPICS.split(',').map((t) => t.trim()).filter(Boolean),
    },
    /** No marketing email arrives in these local hours of the customer's timezone; transactional email ignores them. */
    quietHours: e.QUIET_HOURS === 'off' ? undefined : quietHoursOf(e.QUIET_HOURS),
    /** The timezone of customers whose profile names none (or an unknown one). */
    defaultTimezone: e.DEFAULT_TIMEZONE,
    frequencyCaps: e.FREQUENCY_CAPS.split(',')
      .map((cap) => CAP.exec(cap.trim()))
      .filter((match) => match !== null)
      .map(([, topic, max, window]) => ({ topic, max: Number(max), window })),
    unsubscribe: {
      publicUrl: (e.PUBLIC_URL ?? `http://${urlHost(e.PUBLIC_HOST)}:${e.PUBLIC_PORT}`).replace(/\/+$/, ''),
      mailto: e.UNSUBSCRIBE_MAILTO,
      /** Empty: the embedded default keeps one generated key in `<dataDir>/unsubscribe-keys` (see loadUnsubscribeKeys). */
      keys: e.UNSUBSCRIBE_KEYS ?? [],
    },
    /** Engagement tracking (see domain/delivery/tracking.ts); its tokens are signed with the unsubscribe keys. */
    tracking: { enabled: e.TRACKING === 'on', scannerWindowMs: parseDuration(e.TRACKING_SCANNER_WINDOW) },
    /** The share of customers (by hash of their id) held out of every marketing journey (app/experiments.ts). */
    globalControlPercent: e.GLOBAL_CONTROL_PERCENT,
    /** Set: every payload Temporal stores is encrypted, with the first key (see codec/payloadCodec.ts); absent: none is. */
    payloadKeys: e.PAYLOAD_KEYS,
    /** Web UIs of a Temporal of one's own that decode through /codec. */
    temporalUiOrigins: e.TEMPORAL_UI_ORIGINS,
    /** The secrets POST /v1/sources/segment and /v1/sources/webhook/:name verify signatures with (see config/sources.ts). */
    sources,
    /** What `journeys consume kafka` reads and where its dead letters go (see config/kafka.ts). */
    kafka,
    /** What each email provider's feedback webhook on the public listener verifies calls with; an unset provider answers 404 (see config/providerFeedback.ts). */
    providerFeedback,
    /** Absent: emails go out unsigned (the relay may sign them). */
    dkim:
      e.DKIM_DOMAIN && e.DKIM_SELECTOR && e.DKIM_PRIVATE_KEY_FILE
        ? { domainName: e.DKIM_DOMAIN, keySelector: e.DKIM_SELECTOR, privateKeyFile: e.DKIM_PRIVATE_KEY_FILE }
        : undefined,
  };
  return {
    ...resolved,
    /** Hosts (each with its subdomains) that links in event properties and profile attributes may point to; other links are dropped at ingest. */
    linkHosts: e.LINK_HOSTS ?? defaultLinkHosts(resolved.unsubscribe.publicUrl, e.MAIL_FROM),
  };
}

export type Config = ReturnType<typeof readConfig>;

/** The settings of this process, read once at its start. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  return readConfig(env, PROJECT_ROOT);
}

/** The Temporal frontend address: the configured cluster, or the embedded dev server. */
export function temporalAddress(config: Config): string {
  return config.temporal.address ?? `${urlHost(config.temporal.devServerHost)}:${config.temporal.port}`;
}

/** What the client's Connection and the worker's NativeConnection both connect with. */
export function temporalConnectionOptions(config: Config) {
  const { tls, apiKey, metadata } = config.temporal;
  return { address: temporalAddress(config), tls, apiKey, metadata };
}
