import { parseArgs } from 'node:util';
import { z } from 'zod';

// Read once: a CLI flag wins over its environment variable, which wins over the default.
// The defaults keep a full run under ~5 minutes on a 2-core machine.
export const PHASES = ['a', 'b', 'c', 'steady-a', 'steady', 'memory'] as const;

const schema = z.object({
  /** Events per throughput phase (a), (b) and (c). */
  n: z.coerce.number().int().min(1).default(500),
  /** Submissions in flight at once in the throughput phases; also JourneyClient's maxStartsInFlight. */
  concurrency: z.coerce.number().int().min(1).default(100),
  /** Events per second in the steady-rate phase. */
  rate: z.coerce.number().positive().default(20),
  /** Seconds the steady-rate phase lasts. */
  duration: z.coerce.number().positive().default(15),
  /** Cart-abandonment journeys left waiting for the memory phase. */
  waiting: z.coerce.number().int().min(1).default(5000),
  /** Which phases to run, e.g. "memory" alone while looking into the worker's memory. */
  phases: z
    .string()
    .default(PHASES.join(','))
    .transform((list) => list.split(',').map((name) => name.trim()))
    .pipe(z.array(z.enum(PHASES)).min(1)),
});

export type BenchSettings = z.infer<typeof schema>;

const flags = { n: 'BENCH_N', concurrency: 'BENCH_CONCURRENCY', rate: 'BENCH_RATE', duration: 'BENCH_DURATION_S', waiting: 'BENCH_WAITING', phases: 'BENCH_PHASES' } as const;

export function readSettings(argv = process.argv.slice(2), env = process.env): BenchSettings {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(flags).map((name) => [name, { type: 'string' as const }])),
  });
  const raw = Object.fromEntries(
    Object.entries(flags).map(([name, variable]) => [name, values[name] ?? (env[variable] || undefined)]),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `--${i.path.join('.')} (${flags[i.path[0] as keyof typeof flags]}): ${i.message}`);
    throw new Error(`invalid bench settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}
