// `journeys scores import`: streams a .csv (customerId,name,value[,modelVersion]) or .jsonl file of
// scores into profiles. A bad row, or one whose customer has no profile, is rejected with its line
// and the rest is imported, as `profiles import` and `events import` do: a nightly file with one
// bad row should not leave every customer with yesterday's score.
import type { Writable } from 'node:stream';
import { problemsOf } from '../../app/errors';
import { writeImportedScores } from '../../app/scores/importScores';
import { importedScoreSchema, type ImportedScore } from '../../domain/scores/externalScores';
import type { Store } from '../../store/types';
import { count, readRows, Rejects, type ImportKind, type RowHandler } from './fileImport';

const BATCH_SIZE = 1000;

class ScoreImport implements RowHandler {
  readonly csvColumns = ['customerId', 'name', 'value'];
  private pending: { line: number; score: ImportedScore }[] = [];
  readonly customers = new Set<string>();
  written = 0;

  constructor(
    private readonly store: Store,
    private readonly rejects: Rejects,
  ) {}

  /** Cells as the JSON row would hold them: the value a number (a cell that is none stays text, and is rejected as such), an empty version absent. */
  fromCsv({ value, modelVersion, ...rest }: Record<string, string>) {
    const number = value === '' ? undefined : Number(value);
    return { ...rest, value: number !== undefined && Number.isNaN(number) ? value : number, ...(modelVersion && { modelVersion }) };
  }

  async add(line: number, row: unknown) {
    const parsed = importedScoreSchema.safeParse(row);
    if (!parsed.success) return this.rejects.add(line, problemsOf(parsed.error));
    this.pending.push({ line, score: parsed.data });
    if (this.pending.length >= BATCH_SIZE) await this.flush();
  }

  async flush() {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const { written, unknownCustomers } = await writeImportedScores(this.store, batch.map(({ score }) => score));
    this.written += written;
    const unknown = new Set(unknownCustomers);
    for (const { line, score } of batch) {
      if (unknown.has(score.customerId)) this.rejects.add(line, [{ path: 'customerId', message: `customer ${score.customerId} has no profile: import it first (journeys profiles import)` }]);
      else this.customers.add(score.customerId);
    }
  }
}

export async function importScores(file: string, kind: ImportKind, store: Store, deps: { stdout: Writable; stderr: Writable }): Promise<number> {
  const rejects = new Rejects();
  const job = new ScoreImport(store, rejects);
  const { rows, seconds } = await readRows(file, kind, job, rejects, deps.stderr);

  const out = (line: string) => deps.stdout.write(`${line}\n`);
  out(`imported ${count(job.written, 'score')} of ${count(job.customers.size, 'customer')}, rejected ${count(rejects.count, 'row')} (read ${count(rows, 'row')} in ${seconds}s)`);
  for (const line of rejects.lines()) out(`  ${line}`);
  if (job.written === 0 && rejects.count === 0) out(`  ${file} has no rows to import`);
  return rejects.count > 0 || job.written === 0 ? 1 : 0;
}
