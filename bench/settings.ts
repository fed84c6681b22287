import { parseArgs } from 'node:util';
import { z } from 'zod';
import { WORKER_NODE_FLAGS } from '../worker';

// Read once: a CLI flag wins over its environment variable, which wins over the default.
// The defaults aim at a full run under ~25 minutes on a quiet 2-core machine (see README.md).
export const PHASES = ['a', 'ai', 'af', 'b', 'c', 'workers2', 'steady-a', 'steady-af', 'steady', 'ingest', 'rules', 'templates', 'sweep', 'memory', 'waiting'] as const;
export type PhaseName = (typeof PHASES)[number];

/** A comma-separated list of at least one item. */
const list = (text: string) => text.split(',').map((part) => part.trim()).filter((part) => part !== '');
const numberList = z
  .string()
  .transform((text) => list(text).map(Number))
  .pipe(z.array(z.number().int().min(1)).min(1));
const nameList = <const T extends readonly [string, ...string[]]>(names: T) => z.string().transform(list).pipe(z.array(z.enum(names)).min(1));
const templateList = z
  .string()
  .transform(list)
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9_]+\/[A-Za-z0-9_]+$/, 'name templates as journey/template')).min(1));

const schema = z.object({
  /** Events per throughput phase (a), (b), (c) and the two-worker phase, in each round. */
  n: z.coerce.number().int().min(1).default(500),
  /** Submissions in flight at once in the throughput phases; also JourneyClient's maxStartsInFlight. */
  concurrency: z.coerce.number().int().min(1).default(100),
  /**
   * What holds a slot of `concurrency` in the throughput phases: `email`, an event until its
   * email has arrived (at most that many journeys in the system, the pace it sustains); or
   * `submit`, an event until its submission returned (the whole `n` lands as a burst on
   * Temporal's task queues, and the figure is how fast that backlog drains).
   */
  loop: z.enum(['email', 'submit']).default('email'),
  /**
   * Partitions of every task queue on the bench's dev server. Temporal's default of 4 spreads
   * a queue's tasks over partitions that the few pollers of one worker reach in turn, so a
   * burst waits on whichever partition is not being polled: from round to round the same bare
   * phase ran anywhere between 36 and 85 emails/s. One partition leaves the server's own
   * pace, for the baseline and journeys alike.
   */
  taskQueuePartitions: z.coerce.number().int().min(1).default(1),
  /**
   * Whether each phase that uses the Temporal dev server gets a fresh one on an empty database
   * (`per-phase`, about 2 s to stop and start), or the whole run shares one (`per-run`), whose
   * server CPU per email rose from 12 to 20 ms as its database grew.
   */
  server: z.enum(['per-phase', 'per-run']).default('per-phase'),
  /** Interleaved rounds of the ratio phases (bare, journeys, HTTP, two workers, steady bare, steady), every other one in reverse: ratios are judged on their median. */
  rounds: z.coerce.number().int().min(1).default(4),
  /** Events per second in the steady-rate phases. */
  rate: z.coerce.number().positive().default(20),
  /**
   * Seconds each steady-rate phase lasts: long enough that its p99 is not one stall's (at 20/s,
   * the 12th slowest of 1,200 emails; bench/README.md has what 15 and 30 s gave).
   */
  duration: z.coerce.number().positive().default(60),
  /** Cart-abandonment journeys left waiting for the memory phase. */
  waiting: z.coerce.number().int().min(1).default(5000),
  /**
   * The waiting phase's levels: worker RSS is read once this many journeys wait, for each level
   * in turn on one worker. 100,000 (the target's size) takes far longer than the rest of the run
   * together, so it is asked for: --phases waiting --waiting-levels 1000,10000,100000.
   */
  waitingLevels: numberList.default([1000, 10_000, 20_000]).transform((levels) => [...new Set(levels)].sort((x, y) => x - y)),
  /**
   * Events POSTed and timed in the pure-ingest phase (a type no journey listens to), after a
   * fifth as many untimed. Enough for seconds of load on a fast host: 20,000 lasted 1.5 s there
   * and read 12,224 and 13,420/s, 50,000 read 13,704 and 13,809/s.
   */
  ingestEvents: z.coerce.number().int().min(1).default(50_000),
  /** Requests in flight at once in the pure-ingest phase. */
  ingestConcurrency: z.coerce.number().int().min(1).default(50),
  /** Customers (with profiles and a little history) the segment sweep goes over. */
  sweepCustomers: z.coerce.number().int().min(100).default(100_000),
  /** Seconds each in-process CPU phase (rules, templates) measures, after a warm-up of a fifth of that. */
  microDuration: z.coerce.number().positive().default(5),
  /** Templates the templates phase renders, "journey/template" as in the catalogue. */
  renderTemplates: templateList.default(['cartAbandonment/reminder1', 'cartAbandonment/lastChance']),
  /**
   * What the worker processes run: compiled JavaScript from a build the bench makes at its start
   * (the production path, `node dist/cli/index.js worker`), or the TypeScript sources through
   * tsx, which adds tsx's own memory (about 35 MB) to every worker's RSS.
   */
  workerCode: z.enum(['compiled', 'sources']).default('compiled'),
  /**
   * The Node flags the worker processes start with: by default the product's (WORKER_NODE_FLAGS,
   * worker/index.ts), as a production worker is started; "none" for Node's defaults, to compare.
   */
  workerNodeFlags: z
    .string()
    .default(WORKER_NODE_FLAGS.join(' '))
    .transform((text) => (text.trim() === 'none' ? [] : text.split(/\s+/).filter((flag) => flag !== '')))
    .pipe(z.array(z.string().regex(/^--[a-z0-9-_]+(=\S+)?$/, 'Node flags such as --max-semi-space-size=1, or none'))),
  /**
   * memory and waiting: after each reading, a full garbage collection in every thread of the
   * worker and the RSS read again, which tells garbage not yet collected from memory held.
   * Later levels then start from a collected heap, so it is off unless asked for.
   */
  gcProbe: z.enum(['on', 'off']).default('off').transform((value) => value === 'on'),
  /** Which phases to run, e.g. "memory" alone while looking into the worker's memory. */
  phases: nameList(PHASES).default([...PHASES]),
});

export type BenchSettings = z.infer<typeof schema>;

/** Each setting's flag and environment variable. */
const flags: Record<keyof BenchSettings, [flag: string, variable: string]> = {
  n: ['n', 'BENCH_N'],
  concurrency: ['concurrency', 'BENCH_CONCURRENCY'],
  loop: ['loop', 'BENCH_LOOP'],
  taskQueuePartitions: ['task-queue-partitions', 'BENCH_TASK_QUEUE_PARTITIONS'],
  server: ['server', 'BENCH_SERVER'],
  rounds: ['rounds', 'BENCH_ROUNDS'],
  rate: ['rate', 'BENCH_RATE'],
  duration: ['duration', 'BENCH_DURATION_S'],
  waiting: ['waiting', 'BENCH_WAITING'],
  waitingLevels: ['waiting-levels', 'BENCH_WAITING_LEVELS'],
  ingestEvents: ['ingest-events', 'BENCH_INGEST_EVENTS'],
  ingestConcurrency: ['ingest-concurrency', 'BENCH_INGEST_CONCURRENCY'],
  sweepCustomers: ['sweep-customers', 'BENCH_SWEEP_CUSTOMERS'],
  microDuration: ['micro-duration', 'BENCH_MICRO_DURATION_S'],
  renderTemplates: ['render-templates', 'BENCH_RENDER_TEMPLATES'],
  workerCode: ['worker-code', 'BENCH_WORKER_CODE'],
  workerNodeFlags: ['worker-node-flags', 'BENCH_WORKER_NODE_FLAGS'],
  gcProbe: ['gc-probe', 'BENCH_GC_PROBE'],
  phases: ['phases', 'BENCH_PHASES'],
};

/** Bad settings: the message names each problem, and the bench prints it without a stack. */
export class BenchSettingsError extends Error {}

export function readSettings(argv = process.argv.slice(2), env = process.env): BenchSettings {
  const values = parseFlags(argv);
  const raw = Object.fromEntries(
    Object.entries(flags).map(([name, [flag, variable]]) => [name, values[flag] ?? (env[variable] || undefined)]),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const [flag, variable] = flags[i.path[0] as keyof BenchSettings];
      return `--${flag} (${variable}): ${i.message}`;
    });
    throw new BenchSettingsError(`invalid bench settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}

function parseFlags(argv: string[]): Record<string, string | undefined> {
  try {
    return parseArgs({ args: argv, options: Object.fromEntries(Object.values(flags).map(([flag]) => [flag, { type: 'string' as const }])) }).values;
  } catch (err) {
    // parseArgs reads `--worker-node-flags --trace-gc` as a flag without its value: say how to write one that starts with a dash.
    const message = (err as Error).message.split('\n')[0];
    const dashed = /^Option '(--[a-z-]+)' argument is ambiguous/.exec(message);
    throw new BenchSettingsError(
      dashed
        ? `invalid bench settings: ${dashed[1]} needs its value after "=" when the value starts with a dash, e.g. ${dashed[1]}="--max-semi-space-size=4 --trace-gc"`
        : `invalid bench settings: ${message} (bench/README.md lists every flag)`,
    );
  }
}
