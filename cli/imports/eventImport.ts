// `journeys events import`: a file of past events recorded as history (see app/history.ts).
import type { Writable } from 'node:stream';
import { z } from 'zod';
import { EventIdConflictError, problemsOf } from '../../app/errors';
import { historyEventSchema, recordHistory, type HistoryEvent } from '../../app/history';
import type { SegmentTracker } from '../../app/segmentTracker';
import type { Store } from '../../store/types';
import { cellValues, count, readRows, Rejects, type ImportKind, type RowHandler } from './fileImport';

const BATCH_SIZE = 1000;

// A JSON line with an unknown top-level key ("cartId" beside "properties") is a mistake, not a property to drop silently.
const jsonlEvent = z.strictObject(historyEventSchema.shape);

/** Validates rows and records them as history in batches; an id reused with another payload is a rejected row. */
class EventImport implements RowHandler {
  readonly csvColumns = ['id', 'type', 'customerId', 'occurredAt'];
  private pending: { line: number; event: HistoryEvent }[] = [];
  readonly customers = new Set<string>();
  imported = 0;
  duplicates = 0;

  constructor(
    private readonly store: Store,
    private readonly segments: SegmentTracker,
    private readonly rejects: Rejects,
    private readonly now: string,
  ) {}

  /** Every column other than id, type, customerId and occurredAt is a property. */
  fromCsv({ id, type, customerId, occurredAt, ...properties }: Record<string, string>) {
    return { id, type, customerId, occurredAt, properties: cellValues(properties) };
  }

  async add(line: number, input: unknown) {
    const parsed = jsonlEvent.safeParse(input);
    if (!parsed.success) return this.rejects.add(line, problemsOf(parsed.error));
    this.pending.push({ line, event: parsed.data });
    if (this.pending.length >= BATCH_SIZE) await this.flush();
  }

  async flush() {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const recorded = await recordHistory(this.store, this.segments, batch.map((row) => row.event), this.now);
    batch.forEach(({ line, event }, index) => {
      const { firstSeen, differsIn } = recorded[index];
      if (differsIn) {
        this.rejects.add(line, [{ path: 'id', message: new EventIdConflictError(event.id, differsIn).message }]);
      } else if (firstSeen) {
        this.imported++;
        this.customers.add(event.customerId);
      } else {
        this.duplicates++;
      }
    });
  }
}

/** `journeys events import`: needs only the store. Exit code 1 when a row was rejected or the file had none. */
export async function importEvents(file: string, kind: ImportKind, store: Store, segments: SegmentTracker, deps: { stdout: Writable; stderr: Writable }): Promise<number> {
  const rejects = new Rejects();
  const job = new EventImport(store, segments, rejects, new Date().toISOString());
  const { rows, seconds } = await readRows(file, kind, job, rejects, deps.stderr);

  const out = (line: string) => deps.stdout.write(`${line}\n`);
  out(
    `imported ${count(job.imported, 'event')}, skipped ${job.duplicates} already recorded, rejected ${count(rejects.count, 'row')} ` +
      `(read ${count(rows, 'row')} in ${seconds}s)`,
  );
  if (job.imported > 0) out(`  as history: no journey started or signalled; segments of ${count(job.customers.size, 'customer')} brought up to date`);
  for (const line of rejects.lines()) out(`  ${line}`);
  if (rows === 0) out(`  ${file} has no rows to import`);
  return rejects.count > 0 || rows === 0 ? 1 : 0;
}
