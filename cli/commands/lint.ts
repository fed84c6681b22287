import { resolve } from 'node:path';
import type { Command } from 'commander';
import { lintCatalogue, type LintableCatalogue } from '../../domain/authoring/journeyLint';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../../journeys';
import { UsageError } from '../usageError';

/** The shipped journeys and templates, as authored. */
export const shippedLintable = (): LintableCatalogue => ({ definitions: shippedJourneys, templates: loadCatalogue([], TEMPLATES_DIR).templates });

/**
 * A journeys folder to lint instead: its index module exports `journeys` (the definitions)
 * and its `templates/` folder holds the templates, as journeys/ itself does.
 */
export function lintableFromDir(dir: string): LintableCatalogue {
  const folder = resolve(dir);
  let definitions: unknown;
  try {
    // Definitions are TypeScript: tsx compiles them on load, from the CLI and from tests alike.
    // tsx (and esbuild) only when lint reads a folder of journeys, not in every command of the compiled CLI.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { require: tsxRequire } = require('tsx/cjs/api') as typeof import('tsx/cjs/api');
    const module = tsxRequire(folder, __filename) as { journeys?: unknown; shippedJourneys?: unknown };
    definitions = module.journeys ?? module.shippedJourneys;
  } catch (err) {
    throw new UsageError(`--dir ${dir}: cannot load its index module (${(err as Error).message.split('\n')[0]})`);
  }
  if (!Array.isArray(definitions)) throw new UsageError(`--dir ${dir}: its index module must export "journeys", an array of journey definitions`);
  return { definitions, templates: loadCatalogue([], resolve(folder, 'templates')).templates };
}

/** `journeys lint`: CI gates on its exit code (1 when any error, else 0). */
export function registerLint(program: Command, out: (line?: string) => void, setExitCode: (code: number) => void): void {
  program
    .command('lint')
    .description('check every journey and template: schema, shadowed rules, missing fallbacks, unreachable steps, unknown template variables')
    .option('--dir <dir>', 'a journeys folder (index exporting "journeys", plus templates/) instead of the shipped catalogue')
    .action((opts: { dir?: string }) => {
      const problems = lintCatalogue(opts.dir === undefined ? shippedLintable() : lintableFromDir(opts.dir));
      const width = Math.max(0, ...problems.map((p) => p.where.length));
      for (const p of problems) out(`${p.severity.padEnd(7)}  ${p.where.padEnd(width)}  ${p.message}`);
      const errors = problems.filter((p) => p.severity === 'error').length;
      const warnings = problems.length - errors;
      const checked = opts.dir ?? 'shipped journeys';
      out(`${errors} error(s), ${warnings} warning(s) in ${checked}`);
      setExitCode(errors ? 1 : 0);
    });
}
