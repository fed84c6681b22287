// The settings of `journeys consume kafka`: which brokers, which topics in which format, and
// how the consumer commits and reports what it could not take. Read with the other settings
// (config/index.ts); only the consumer role requires KAFKA_BROKERS and KAFKA_TOPICS.
import { z } from 'zod';
import { isDuration, parseDuration } from '../domain/time/duration';

/** What a topic's messages are: `event`, the JSON body of POST /v1/events; `segment`, a Segment-spec call or `{batch}`, as POST /v1/sources/segment takes it. */
export const KAFKA_FORMATS = ['event', 'segment'] as const;
export type KafkaFormat = (typeof KAFKA_FORMATS)[number];

export interface KafkaTopic {
  topic: string;
  format: KafkaFormat;
}

export interface KafkaSettings {
  /** host:port of each bootstrap broker; empty when KAFKA_BROKERS is unset. */
  brokers: string[];
  /** Empty when KAFKA_TOPICS is unset. */
  topics: KafkaTopic[];
  groupId: string;
  deadLetterTopic: string;
  /** 0: offsets are committed after each batch of recorded messages; more: at most this often. */
  commitIntervalMs: number;
  /** How long the group waits for a silent consumer (a crashed one) before its partitions go to the others. */
  sessionTimeoutMs: number;
  tls: boolean;
  sasl?: { [M in SaslMechanism]: { mechanism: M; username: string; password: string } }[SaslMechanism];
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
type SaslMechanism = (typeof SASL_MECHANISMS)[number];

// Kafka's own rule for topic names.
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const BROKER = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

const topicList = z.string().transform((text, ctx) => {
  const topics: KafkaTopic[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const [topic, format = 'event', ...rest] = entry.split(':');
    if (!TOPIC.test(topic) || rest.length > 0) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not topic or topic:format (topic names are letters, digits, ".", "_" and "-")` });
    } else if (!(KAFKA_FORMATS as readonly string[]).includes(format)) {
      ctx.addIssue({ code: 'custom', message: `"${entry}": the format is one of ${KAFKA_FORMATS.join(', ')}, not "${format}"` });
    } else if (topics.some((t) => t.topic === topic)) {
      ctx.addIssue({ code: 'custom', message: `"${topic}" is named twice` });
    } else {
      topics.push({ topic, format: format as KafkaFormat });
    }
  }
  return topics;
});

const kafkaEnv = z
  .object({
    KAFKA_BROKERS: z
      .string()
      .transform((text) => text.split(',').map((broker) => broker.trim()).filter(Boolean))
      .refine((brokers) => brokers.every((broker) => BROKER.test(broker) && Number(BROKER.exec(broker)?.[2]) <= 65535), 'list brokers as host:port, e.g. "kafka-1.internal:9092,kafka-2.internal:9092"')
      .default([]),
    KAFKA_TOPICS: topicList.default([]),
    KAFKA_GROUP_ID: z.string().min(1).default('journeys'),
    KAFKA_DEAD_LETTER_TOPIC: z.string().regex(TOPIC, 'a topic name: letters, digits, ".", "_" and "-"').default('journeys.dead-letter'),
    KAFKA_COMMIT_INTERVAL: z
      .string()
      .refine(isDuration, 'a duration such as "0s" (after each batch) or "5s"')
      .transform(parseDuration)
      .default(0),
    KAFKA_SESSION_TIMEOUT: z
      .string()
      .refine(isDuration, 'a duration such as "30s"')
      .transform(parseDuration)
      .refine((ms) => ms >= 6_000 && ms <= 300_000, 'between 6s and 5m (the brokers\' group.min.session.timeout.ms and group.max.session.timeout.ms by default)')
      .default(30_000),
    KAFKA_TLS: z.enum(['true', 'false'], 'true or false').default('false'),
    KAFKA_SASL_MECHANISM: z.enum(SASL_MECHANISMS, SASL_MECHANISMS.join(', ')).optional(),
    KAFKA_SASL_USERNAME: z.string().min(1).optional(),
    KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  })
  .superRefine((e, ctx) => {
    if (e.KAFKA_TOPICS.some(({ topic }) => topic === e.KAFKA_DEAD_LETTER_TOPIC)) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_DEAD_LETTER_TOPIC'], message: `"${e.KAFKA_DEAD_LETTER_TOPIC}" is also in KAFKA_TOPICS: a dead letter would be consumed again` });
    }
    const credentials = [e.KAFKA_SASL_USERNAME, e.KAFKA_SASL_PASSWORD].filter((value) => value !== undefined).length;
    if (e.KAFKA_SASL_MECHANISM !== undefined && credentials < 2) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_MECHANISM'], message: 'SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD too' });
    } else if (e.KAFKA_SASL_MECHANISM === undefined && credentials > 0) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_MECHANISM'], message: 'a SASL user name or password is set: set KAFKA_SASL_MECHANISM too (plain, scram-sha-256 or scram-sha-512)' });
    }
  });

/** The Kafka settings from the environment; throws an Error naming each bad setting. */
export function readKafkaSettings(env: Record<string, string | undefined>): KafkaSettings {
  const given = Object.fromEntries(Object.entries(env).filter(([name, value]) => name.startsWith('KAFKA_') && value !== ''));
  const parsed = kafkaEnv.safeParse(given);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const e = parsed.data;
  return {
    brokers: e.KAFKA_BROKERS,
    topics: e.KAFKA_TOPICS,
    groupId: e.KAFKA_GROUP_ID,
    deadLetterTopic: e.KAFKA_DEAD_LETTER_TOPIC,
    commitIntervalMs: e.KAFKA_COMMIT_INTERVAL,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT,
    tls: e.KAFKA_TLS === 'true',
    sasl: e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD ? { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD } : undefined,
  };
}
