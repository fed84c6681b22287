import { join } from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);

// Every setting, read once from the environment and passed down; the README lists them.
const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('journeys'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  DATA_DIR: z.string().min(1).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(256 * 1024),
  SMTP_URL: z.url().optional(),
  OUTBOX_PORT: port.default(1025),
  MAIL_FROM: z.string().min(3).default('Journeys demo <hello@shop.example.com>'),
  JOURNEY_WAIT_SCALE: z.coerce.number().min(1).default(1),
  MAX_STARTS_IN_FLIGHT: z.coerce.number().int().min(1).default(50),
});

export class ConfigError extends Error {}

export function readConfig(env: Record<string, string | undefined>, projectRoot: string) {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    throw new ConfigError(`invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  const dataDir = e.DATA_DIR ?? join(projectRoot, 'data');
  return {
    temporal: {
      /** Unset: `npm start` runs the embedded dev server on `port`. */
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      dbFile: join(dataDir, 'temporal.db'),
    },
    dataDir,
    storeFile: join(dataDir, 'journeys.db'),
    http: { host: e.HOST, port: e.PORT, bodyLimit: e.BODY_LIMIT_BYTES },
    smtp: {
      /** Unset: the embedded outbox on `outboxPort` keeps every email as an .eml file in `outboxDir`. */
      url: e.SMTP_URL,
      outboxPort: e.OUTBOX_PORT,
      outboxDir: join(dataDir, 'outbox'),
    },
    mailFrom: e.MAIL_FROM,
    waitScale: e.JOURNEY_WAIT_SCALE,
    maxStartsInFlight: e.MAX_STARTS_IN_FLIGHT,
  };
}

export type Config = ReturnType<typeof readConfig>;

/** The Temporal frontend address: the configured cluster, or the embedded dev server. */
export function temporalAddress(config: Config): string {
  return config.temporal.address ?? `${config.http.host}:${config.temporal.port}`;
}
