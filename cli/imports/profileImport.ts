// `journeys profiles import`: streams a .jsonl or .csv file into the store.
import type { Writable } from 'node:stream';
import { z } from 'zod';
import { problemsOf } from '../../app/errors';
import { profileSchema } from '../../domain/customer/schema';
import type { Profile } from '../../domain/customer/types';
import type { Store } from '../../store/types';
import { cellValues, count, readRows, Rejects, type ImportKind, type RowHandler } from './fileImport';

const BATCH_SIZE = 1000;

// A JSON line with an unknown top-level key (say "firstName") is a mistake, not an attribute to drop silently.
const jsonlProfile = z.strictObject(profileSchema.shape);

/** Validates rows, merges repeats of a customer and writes in batches: memory grows with distinct customer IDs, not file size. */
class ProfileImport implements RowHandler {
  readonly csvColumns = ['customerId', 'email'];
  private readonly pending = new Map<string, Profile>();
  private readonly seen = new Set<string>();
  merged = 0;

  constructor(
    private readonly store: Store,
    private readonly rejects: Rejects,
  ) {}

  get imported() {
    return this.seen.size;
  }

  /** Every column other than customerId and email is an attribute. */
  fromCsv({ customerId, email, ...rest }: Record<string, string>) {
    return { customerId, email, attributes: cellValues(rest) };
  }

  async add(line: number, input: unknown) {
    const parsed = jsonlProfile.safeParse(input);
    if (!parsed.success) return this.rejects.add(line, problemsOf(parsed.error));
    const profile = parsed.data;
    if (this.seen.has(profile.customerId)) this.merged++;
    else this.seen.add(profile.customerId);
    // Later rows win per attribute; across batches the store's shallow merge does the same.
    const earlier = this.pending.get(profile.customerId);
    this.pending.set(profile.customerId, earlier ? { ...profile, attributes: { ...earlier.attributes, ...profile.attributes } } : profile);
    if (this.pending.size >= BATCH_SIZE) await this.flush();
  }

  async flush() {
    if (this.pending.size === 0) return;
    await this.store.upsertProfiles([...this.pending.values()]);
    this.pending.clear();
  }
}

export async function importProfiles(file: string, kind: ImportKind, store: Store, deps: { stdout: Writable; stderr: Writable }): Promise<number> {
  const rejects = new Rejects();
  const job = new ProfileImport(store, rejects);
  const { rows, seconds } = await readRows(file, kind, job, rejects, deps.stderr);

  const out = (line: string) => deps.stdout.write(`${line}\n`);
  out(`imported ${count(job.imported, 'profile')}, merged ${count(job.merged, 'duplicate')}, rejected ${count(rejects.count, 'row')} (read ${count(rows, 'row')} in ${seconds}s)`);
  for (const line of rejects.lines()) out(`  ${line}`);
  if (job.imported === 0 && rejects.count === 0) out(`  ${file} has no rows to import`);
  return rejects.count > 0 || job.imported === 0 ? 1 : 0;
}
