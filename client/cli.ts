import { randomUUID } from 'node:crypto';
import { createReadStream, statSync, type ReadStream } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { Presets, SingleBar } from 'cli-progress';
import { Command, CommanderError } from 'commander';
import { parse as parseCsv, type CsvError } from 'csv-parse';
import { z } from 'zod';
import { ConfigError } from '../domain/config';
import { consentChangeSchema, eventSchema, profileSchema, type Profile } from '../domain/customer';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { parseInput, problemsOf, ValidationError, type Problem } from './errors';
import { configFromEnv, connectJourneys } from './index';
import type { CustomerJourney, IngestResult, JourneyClient } from './journeyClient';

/** What the commands reach for. Opened lazily, so `profiles import` and `--help` work while Temporal is down. */
export interface CliDeps {
  connect(): Promise<{ journeys: JourneyClient; close(): Promise<void> }>;
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
  stdout: Writable;
  stderr: Writable;
}

/** The user asked for something that cannot work as asked (exit code 2). */
export class UsageError extends Error {}

const BATCH_SIZE = 1000;
const LISTED_REJECTS = 50;

/** Runs one command line (without `node` and the script) and returns the exit code. */
export async function runCli(args: string[], deps: CliDeps): Promise<number> {
  let exitCode = 0;
  const program = buildCli(deps, (code) => (exitCode = Math.max(exitCode, code)));
  try {
    await program.parseAsync(args, { from: 'user' });
    return exitCode;
  } catch (err) {
    return reportError(err, deps.stderr);
  }
}

export async function main(argv: string[] = process.argv): Promise<void> {
  process.exitCode = await runCli(argv.slice(2), {
    connect: () => connectJourneys(configFromEnv()),
    async openStore() {
      const store = openSqliteStore(configFromEnv().storeFile);
      return { store, close: () => store.close() };
    },
    stdout: process.stdout,
    stderr: process.stderr,
  });
}

export function buildCli(deps: CliDeps, setExitCode: (code: number) => void): Command {
  const out = (line = '') => deps.stdout.write(`${line}\n`);
  const withJourneys = async <T>(use: (journeys: JourneyClient) => Promise<T>): Promise<T> => {
    const connected = await deps.connect();
    try {
      return await use(connected.journeys);
    } finally {
      await connected.close();
    }
  };

  const program = new Command('journeys')
    .description('Customer email journeys on Temporal: send events, record opt-outs, see where a customer is, import profiles.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.stdout.write(s), writeErr: (s) => deps.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');

  program
    .command('event <type> <customerId>')
    .description('record a customer event and route it to its journeys (cart.updated starts cartAbandonment)')
    .option('--id <id>', 'event id; sending the same id again changes nothing (default: a random UUID)')
    .option('--properties <json>', 'event properties as a JSON object, e.g. \'{"cartId":"c1"}\'')
    .option('--occurred-at <iso>', 'when it happened, ISO-8601 with offset (default: now)')
    .action(async (type: string, customerId: string, opts: { id?: string; properties?: string; occurredAt?: string }) => {
      const properties = opts.properties === undefined ? undefined : parseJsonOption('--properties', opts.properties);
      // Validated before connecting, so bad input is reported as such even when Temporal is down.
      const event = parseInput(eventSchema, { id: opts.id ?? randomUUID(), type, customerId, occurredAt: opts.occurredAt, properties }, 'event');
      printIngest(await withJourneys((journeys) => journeys.ingest(event)), out);
    });

  program
    .command('optout <customerId>')
    .description("withdraw a customer's consent and stop their running journeys on that topic")
    .option('--topic <topic>', 'consent topic', 'marketing')
    .option('--source <source>', 'who or what asked, kept in the consent ledger', 'cli')
    .action(async (customerId: string, opts: { topic: string; source: string }) => {
      const change = parseInput(consentChangeSchema, { customerId, topic: opts.topic, status: 'withdrawn', source: opts.source }, 'consent change');
      const { signalled } = await withJourneys((journeys) => journeys.changeConsent(change));
      out(`${opts.topic} consent withdrawn for ${customerId} (source: ${opts.source})`);
      out(signalled.length ? `  stopping ${signalled.length} running journey(s): ${signalled.join(', ')}` : '  no running journeys on this topic');
    });

  program
    .command('status <customerId>')
    .description("list a customer's journeys with their current step and next wake-up")
    .action(async (customerId: string) => {
      const list = await withJourneys((journeys) => journeys.journeysOf(customerId));
      out(list.length ? journeyTable(list) : `no journeys for customer ${customerId}`);
    });

  program
    .command('profiles')
    .description('customer profiles in the store')
    .command('import <file>')
    .description(
      'upsert profiles from .jsonl ({"customerId","email","attributes"} per line) or .csv (header row with customerId, email ' +
        'and one column per attribute); needs only the store, not Temporal',
    )
    .action(async (file: string) => {
      const kind = importKindOf(file);
      const { store, close } = await deps.openStore();
      try {
        setExitCode(await importProfiles(file, kind, store, deps));
      } finally {
        await close();
      }
    });

  return program;
}

function reportError(err: unknown, stderr: Writable): number {
  const say = (line: string) => stderr.write(`${line}\n`);
  if (err instanceof CommanderError) {
    // Commander has already printed the help, version or usage error.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  }
  if (err instanceof ValidationError) {
    say(`error: invalid ${err.what}`);
    for (const p of err.problems) say(`  ${p.path || err.what}: ${p.message}`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  // Only the first line: users get the reason, not a gRPC or SQLite stack.
  say(`error: ${message.split('\n')[0]}`);
  return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
}

function parseJsonOption(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${name} is not valid JSON (${(err as Error).message}); quote it for the shell, e.g. ${name} '{"cartId":"c1"}'`);
  }
}

function printIngest(result: IngestResult, out: (line: string) => void) {
  if (result.duplicate) {
    out(`event ${result.eventId} was recorded before: nothing new happened`);
    return;
  }
  out(`event ${result.eventId} recorded`);
  out(`  started:   ${result.started.join(', ') || 'none'}`);
  out(`  signalled: ${result.signalled.join(', ') || 'none'}`);
}

function journeyTable(journeys: CustomerJourney[]): string {
  const rows = [
    ['WORKFLOW ID', 'JOURNEY', 'STATUS', 'CURRENT STEP', 'NEXT WAKE-UP'],
    ...journeys.map((j) => [j.workflowId, j.journeyId, j.status, j.currentStep ?? '-', j.nextWakeAt ?? '-']),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

// ---- profiles import ----

type ImportKind = 'jsonl' | 'csv';

function importKindOf(file: string): ImportKind {
  const ext = extname(file).toLowerCase();
  if (ext !== '.jsonl' && ext !== '.csv') throw new UsageError(`cannot import "${file}": use a .jsonl or .csv file`);
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new UsageError(`cannot import "${file}": no such file`);
  return ext === '.jsonl' ? 'jsonl' : 'csv';
}

// A JSON line with an unknown top-level key (say "firstName") is a mistake, not an attribute to drop silently.
const jsonlProfile = z.strictObject(profileSchema.shape);

/** Validates rows, merges repeats of a customer and writes in batches: memory grows with distinct customer IDs, not file size. */
class ProfileImport {
  private readonly pending = new Map<string, Profile>();
  private readonly seen = new Set<string>();
  readonly listed: string[] = [];
  rows = 0;
  merged = 0;
  rejected = 0;

  constructor(
    private readonly store: Store,
    private readonly onBatch: () => void,
  ) {}

  get imported() {
    return this.seen.size;
  }

  async add(line: number, input: unknown, schema: z.ZodType<Profile, unknown>) {
    const parsed = schema.safeParse(input);
    if (!parsed.success) return this.reject(line, problemsOf(parsed.error));
    this.rows++;
    const profile = parsed.data;
    if (this.seen.has(profile.customerId)) this.merged++;
    else this.seen.add(profile.customerId);
    // Later rows win per attribute; across batches the store's shallow merge does the same.
    const earlier = this.pending.get(profile.customerId);
    this.pending.set(profile.customerId, earlier ? { ...profile, attributes: { ...earlier.attributes, ...profile.attributes } } : profile);
    if (this.pending.size >= BATCH_SIZE) await this.flush();
  }

  reject(line: number, problems: Problem[]) {
    this.rows++;
    this.rejected++;
    const reasons = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    if (this.listed.length < LISTED_REJECTS) this.listed.push(`line ${line}: ${reasons.join('; ')}`);
  }

  async flush() {
    if (this.pending.size === 0) return;
    await this.store.upsertProfiles([...this.pending.values()]);
    this.pending.clear();
    this.onBatch();
  }
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

async function importProfiles(file: string, kind: ImportKind, store: Store, deps: CliDeps): Promise<number> {
  const started = Date.now();
  const input = createReadStream(file);
  const bar = progressBar(deps.stderr, statSync(file).size);
  const job = new ProfileImport(store, () => bar.update(input.bytesRead, job.rows));
  try {
    await (kind === 'jsonl' ? readJsonl(input, job) : readCsv(input, job));
    await job.flush();
  } finally {
    bar.stop();
    input.destroy();
  }

  const out = (line: string) => deps.stdout.write(`${line}\n`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out(`imported ${count(job.imported, 'profile')}, merged ${count(job.merged, 'duplicate')}, rejected ${count(job.rejected, 'row')} (read ${count(job.rows, 'row')} in ${seconds}s)`);
  for (const line of job.listed) out(`  ${line}`);
  if (job.rejected > job.listed.length) out(`  … and ${count(job.rejected - job.listed.length, 'more rejected row')}`);
  if (job.imported === 0 && job.rejected === 0) out(`  ${file} has no rows to import`);
  return job.rejected > 0 || job.imported === 0 ? 1 : 0;
}

async function readJsonl(input: ReadStream, job: ProfileImport) {
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      job.reject(line, [{ path: '', message: `not valid JSON (${(err as Error).message})` }]);
      continue;
    }
    await job.add(line, value, jsonlProfile);
  }
}

async function readCsv(input: ReadStream, job: ProfileImport) {
  const parser = parseCsv({
    columns: checkCsvHeader,
    info: true,
    bom: true,
    trim: true,
    skip_empty_lines: true,
    // A malformed row (stray quote, wrong number of fields) is rejected with its line; the rest still imports.
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      if (err) job.reject(Number(err.lines), [{ path: '', message: err.message.replace(/ (on|at) line \d+/, '') }]);
    },
  });
  input.on('error', (err) => parser.destroy(err));
  for await (const { record, info } of input.pipe(parser) as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    await job.add(info.lines, csvRowToProfile(record), profileSchema);
  }
}

function checkCsvHeader(header: string[]): string[] {
  const missing = ['customerId', 'email'].filter((column) => !header.includes(column));
  if (missing.length) throw new UsageError(`the CSV header needs the columns ${missing.join(' and ')} (found: ${header.join(', ')})`);
  return header;
}

// Plain decimals only: "007", "1e3" and long card-like digit runs stay strings.
const CLEARLY_NUMERIC = /^-?(0|[1-9]\d{0,14})(\.\d+)?$/;

/** Every column other than customerId and email is an attribute; empty cells are left out so they keep stored values. */
function csvRowToProfile({ customerId, email, ...rest }: Record<string, string>) {
  const attributes = Object.fromEntries(
    Object.entries(rest)
      .filter(([, value]) => value !== '')
      .map(([key, value]) => [key, CLEARLY_NUMERIC.test(value) ? Number(value) : value]),
  );
  return { customerId, email, attributes };
}

/** A bar on stderr that appears only once a file proves longer than one batch, and only on a terminal. */
function progressBar(stderr: Writable, totalBytes: number) {
  let bar: SingleBar | undefined;
  return {
    update(bytesRead: number, rows: number) {
      if (!bar) {
        bar = new SingleBar({ stream: stderr, format: 'importing |{bar}| {percentage}% | {rows} rows', hideCursor: true }, Presets.shades_classic);
        bar.start(totalBytes, 0, { rows });
      }
      bar.update(bytesRead, { rows });
    },
    stop() {
      bar?.update(totalBytes);
      bar?.stop();
    },
  };
}
