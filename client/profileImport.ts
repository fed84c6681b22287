// `journeys profiles import`: streams a .jsonl or .csv file into the store.
import { createReadStream, statSync, type ReadStream } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { Presets, SingleBar } from 'cli-progress';
import { parse as parseCsv, type CsvError } from 'csv-parse';
import { z } from 'zod';
import { profileSchema, type Profile } from '../domain/customer';
import type { Store } from '../store/types';
import { problemsOf, type Problem } from './errors';
import { UsageError } from './usageError';

const BATCH_SIZE = 1000;
const LISTED_REJECTS = 50;

export type ImportKind = 'jsonl' | 'csv';

export function importKindOf(file: string): ImportKind {
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

export async function importProfiles(file: string, kind: ImportKind, store: Store, deps: { stdout: Writable; stderr: Writable }): Promise<number> {
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
