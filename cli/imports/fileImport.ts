// What `profiles import` and `events import` share: a .jsonl or .csv file read as a stream,
// each row handed on with its line number, rejects listed with their reasons, a progress bar.
import { createReadStream, statSync, type ReadStream } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { Presets, SingleBar } from 'cli-progress';
import { parse as parseCsv, type CsvError } from 'csv-parse';
import type { Problem } from '../../app/errors';
import { UsageError } from '../usageError';

const LISTED_REJECTS = 50;
/** Rows between two updates of the progress bar. */
const PROGRESS_EVERY = 1000;

export type ImportKind = 'jsonl' | 'csv';

export function importKindOf(file: string): ImportKind {
  const ext = extname(file).toLowerCase();
  if (ext !== '.jsonl' && ext !== '.csv') throw new UsageError(`cannot import "${file}": use a .jsonl or .csv file`);
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new UsageError(`cannot import "${file}": no such file`);
  return ext === '.jsonl' ? 'jsonl' : 'csv';
}

/** What an import does with the rows of a file. */
export interface RowHandler {
  /** The columns a CSV header must name. */
  csvColumns: string[];
  /** A CSV record (header → trimmed cell) as the value a .jsonl line of the same row holds. */
  fromCsv(record: Record<string, string>): unknown;
  /** Validates and keeps one row; a bad one goes to the rejects. */
  add(line: number, row: unknown): Promise<void>;
  /** Writes what `add` kept; called once more after the last row. */
  flush(): Promise<void>;
}

/** Rejected rows: every one counted, the first few listed with their line and reason. */
export class Rejects {
  count = 0;
  private readonly listed: { line: number; text: string }[] = [];

  add(line: number, problems: Problem[]) {
    this.count++;
    const reasons = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    if (this.listed.length < LISTED_REJECTS) this.listed.push({ line, text: `line ${line}: ${reasons.join('; ')}` });
  }

  /** The listed rejects in line order (a batch's rejects are found when it is written), then how many more there were. */
  lines(): string[] {
    const listed = [...this.listed].sort((a, b) => a.line - b.line).map((reject) => reject.text);
    const more = this.count - listed.length;
    return more > 0 ? [...listed, `… and ${count(more, 'more rejected row')}`] : listed;
  }
}

export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * Reads every row of the file into `handler`, then flushes it; returns how many rows it read
 * (blank lines aside) and in how many seconds.
 */
export async function readRows(file: string, kind: ImportKind, handler: RowHandler, rejects: Rejects, stderr: Writable): Promise<{ rows: number; seconds: string }> {
  const started = Date.now();
  const input = createReadStream(file);
  const bar = progressBar(stderr, statSync(file).size);
  let rows = 0;
  const counted = () => {
    if (++rows % PROGRESS_EVERY === 0) bar.update(input.bytesRead, rows);
  };
  try {
    await (kind === 'jsonl' ? readJsonl(input, handler, rejects, counted) : readCsv(input, handler, rejects, counted));
    await handler.flush();
  } finally {
    bar.stop();
    input.destroy();
  }
  return { rows, seconds: ((Date.now() - started) / 1000).toFixed(1) };
}

async function readJsonl(input: ReadStream, handler: RowHandler, rejects: Rejects, counted: () => void) {
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    counted();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      rejects.add(line, [{ path: '', message: `not valid JSON (${(err as Error).message})` }]);
      continue;
    }
    await handler.add(line, value);
  }
}

async function readCsv(input: ReadStream, handler: RowHandler, rejects: Rejects, counted: () => void) {
  const parser = parseCsv({
    columns: (header: string[]) => {
      const missing = handler.csvColumns.filter((column) => !header.includes(column));
      if (missing.length) throw new UsageError(`the CSV header needs the columns ${missing.join(' and ')} (found: ${header.join(', ')})`);
      return header;
    },
    info: true,
    bom: true,
    trim: true,
    skip_empty_lines: true,
    // A malformed row (stray quote, wrong number of fields) is rejected with its line; the rest still imports.
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      if (!err) return;
      counted();
      rejects.add(Number(err.lines), [{ path: '', message: err.message.replace(/ (on|at) line \d+/, '') }]);
    },
  });
  input.on('error', (err) => parser.destroy(err));
  for await (const { record, info } of input.pipe(parser) as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    counted();
    await handler.add(info.lines, handler.fromCsv(record));
  }
}

// Plain decimals only: "007", "1e3" and long card-like digit runs stay strings.
const CLEARLY_NUMERIC = /^-?(0|[1-9]\d{0,14})(\.\d+)?$/;

/** CSV cells as values: empty cells are left out (so they keep stored values), plain decimals become numbers. */
export function cellValues(cells: Record<string, string>): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(cells)
      .filter(([, value]) => value !== '')
      .map(([key, value]) => [key, CLEARLY_NUMERIC.test(value) ? Number(value) : value]),
  );
}

/** A bar on stderr that appears only once a file proves longer than a thousand rows, and only on a terminal. */
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
