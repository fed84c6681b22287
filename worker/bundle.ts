import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './index';

const PROJECT_ROOT = join(__dirname, '..');
/** Every folder whose code the interpreter could import; a change anywhere in them gives a new bundle. */
const SOURCE_FOLDERS = ['workflows', 'domain', 'activities', 'store', 'config', 'journeys'];

/**
 * The interpreter's webpack bundle for the code as it is, built once per content hash and
 * kept in `<cacheDir>/workflow-bundles/`: a worker then starts without running webpack
 * (seconds of CPU per start), and `npm run build` can prepare it ahead of a deploy.
 */
export async function cachedWorkflowBundle(cacheDir: string, log: (line: string) => void = () => {}): Promise<{ codePath: string }> {
  const codePath = join(cacheDir, 'workflow-bundles', `${sourcesHash()}.js`);
  if (existsSync(codePath)) return { codePath };
  log(`bundling the journey interpreter into ${codePath} (once per code change)`);
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  mkdirSync(dirname(codePath), { recursive: true });
  // Written aside and renamed, so a second worker starting at the same moment never reads half a file.
  const partial = `${codePath}.${process.pid}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, codePath);
  return { codePath };
}

function sourcesHash(): string {
  const hash = createHash('sha256');
  hash.update(JSON.parse(readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')).version);
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
