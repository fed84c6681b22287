import type { Command } from 'commander';
import { scoreWithModels } from '../../app/scores/onnxModels';
import type { Store } from '../../store/types';
import type { CliDeps } from '..';
import { importKindOf } from '../imports/fileImport';
import { importScores } from '../imports/scoreImport';
import { UsageError } from '../usageError';
import { table } from './table';

/**
 * `journeys scores import` and `journeys scores run-models`: scores made outside journeys, pushed
 * from a file or computed by the ONNX models journeys/models.ts declares. Both need only the store.
 */
export function registerExternalScoreCommands(scores: Command, deps: CliDeps, setExitCode: (code: number) => void): void {
  const withStore = async <T>(use: (store: Store) => Promise<T>): Promise<T> => {
    const { store, close } = await deps.openStore();
    try {
      return await use(store);
    } finally {
      await close();
    }
  };
  const out = (line: string) => deps.stdout.write(`${line}\n`);

  scores
    .command('import <file>')
    .description(
      'write scores into profiles from .csv (header customerId,name,value[,modelVersion]) or .jsonl: scores.<name> and ' +
        'scores.<name>Version; bad rows and customers without a profile are rejected by line, the rest is imported',
    )
    .action(async (file: string) => {
      const kind = importKindOf(file);
      setExitCode(await withStore((store) => importScores(file, kind, store, deps)));
    });

  scores
    .command('run-models')
    .description('score every customer with the ONNX models journeys/models.ts declares, into scores.<name> and scores.<name>Version')
    .option('--as-of <iso>', 'features as known at this instant (default: now)')
    .action(async (opts: { asOf?: string }) => {
      const asOf = opts.asOf === undefined ? new Date() : new Date(opts.asOf);
      if (Number.isNaN(asOf.getTime())) throw new UsageError(`--as-of "${opts.asOf}" is not a date: use ISO-8601, e.g. 2026-11-30T00:00:00Z`);
      const result = await withStore((store) => scoreWithModels({ store, asOf }));
      if (result.models.length === 0) {
        out('no models declared in journeys/models.ts: nothing to score (see "Bring your own model" in the README)');
        return;
      }
      out(`scored ${result.customers} profiles with ${result.models.length} model(s) in ${result.seconds.toFixed(1)}s (features as of ${result.asOf})`);
      out(table([['MODEL', 'VERSION', 'FILE'], ...result.models.map((m) => [`scores.${m.name}`, m.version, m.file])]));
    });
}
