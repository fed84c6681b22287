import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './paths';

const PROJECT_ROOT = join(__dirname, '..');
/** Every folder whose code the interpreter could import; a change anywhere in them gives a new bundle. */
const SOURCE_FOLDERS = ['workflows', 'domain', 'activities', 'store', 'config', 'journeys'];
/** How bundleJourneyWorkflows builds; part of the cache key, so a change here gives a new bundle too. */
const BUNDLE_FORMAT = 'inline-nosources-source-map';

/**
 * The interpreter's pure modules, evaluated once per workflow thread rather than once per
 * journey run. With the shared V8 context, the SDK instantiates every module a workflow imports
 * anew for each run (its functions, regexes and tables), unless the bundle preloads it: in the
 * bench's (b) phase the workflow thread allocated 636 KB per journey email without these seven
 * preloaded, 575 KB with them (bare Temporal's: 490 KB). A preloaded module is shared by every
 * run in the thread, so it must keep no state of a run and import nothing of
 * `@temporalio/workflow`; tests/workflowBundle.test.ts checks the imports, and that every module
 * of domain/ the interpreter reaches is here.
 */
export const SHARED_INTERPRETER_MODULES = [
  'domain/customer/topics',
  'domain/delivery/redact',
  'domain/journey/flow',
  'domain/journey/split',
  'domain/rules/evaluate',
  'domain/rules/path',
  'domain/time/duration',
];

/**
 * The interpreter's webpack bundle, as every worker of the product loads it. Its inline source
 * map (the SDK requires one, to map workflow stack traces to files and lines) leaves out the
 * sources' text: the SDK reads that only with `showStackTraceSources`, which journeys leaves
 * off, and both threads of a worker would hold it (about 5 MB of RSS). Stack traces still
 * name each file, line and column.
 */
export function bundleJourneyWorkflows(workflowsPath: string = WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    // Beside the interpreter's entry, whether that is the sources or a build (dist/).
    preloadModules: SHARED_INTERPRETER_MODULES.map((module) => join(dirname(workflowsPath), '..', module)),
    logger: new DefaultLogger('WARN'),
    webpackConfigHook: (config) => ({ ...config, devtool: BUNDLE_FORMAT }),
  });
}

/**
 * The interpreter's webpack bundle for the code as it is, built once per content hash and
 * kept in `<cacheDir>/workflow-bundles/`: a worker then starts without running webpack
 * (seconds of CPU per start), and `npm run build` can prepare it ahead of a deploy.
 */
export async function cachedWorkflowBundle(cacheDir: string, log: (line: string) => void = () => {}): Promise<{ codePath: string }> {
  const codePath = join(cacheDir, 'workflow-bundles', `${sourcesHash()}.js`);
  if (existsSync(codePath)) return { codePath };
  log(`bundling the journey interpreter into ${codePath} (once per code change)`);
  const { code } = await bundleJourneyWorkflows();
  mkdirSync(dirname(codePath), { recursive: true });
  // Written aside and renamed, so a second worker starting at the same moment never reads half a file.
  const partial = `${codePath}.${process.pid}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, codePath);
  return { codePath };
}

function sourcesHash(): string {
  const hash = createHash('sha256');
  hash.update(JSON.parse(readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')).version).update(BUNDLE_FORMAT).update(SHARED_INTERPRETER_MODULES.join());
  for (const file of SOURCE_FOLDERS.flatMap((folder) => sourceFiles(join(PROJECT_ROOT, folder)))) {
    hash.update(relative(PROJECT_ROOT, file)).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

function sourceFiles(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .sort()
    .flatMap((entry) => {
      const path = join(folder, entry);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return /\.(ts|js)$/.test(entry) ? [path] : [];
    });
}
