// The code the bench's worker processes and the pure-ingest phase's API run: by default the
// production path, compiled JavaScript from a fresh build of the working tree on plain Node (as
// `node dist/cli/index.js worker` runs), loading the workflow bundle the build prepared; or,
// for comparison, the TypeScript sources through tsx (`--worker-code sources`), which adds
// tsx's own memory.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { PROJECT_ROOT } from '../config';
import { WORKFLOWS_PATH } from '../worker';
import { bundleJourneyWorkflows } from '../worker/bundle';

const run = promisify(execFile);

export type WorkerCodeMode = 'compiled' | 'sources';

/** How a bench worker process is started: WorkerProcess forks `entry` with `execArgv` (journey workers with `nodeFlags` first). */
export interface WorkerCode {
  mode: WorkerCodeMode;
  entry: string;
  execArgv: string[];
  /** The product's worker flags: journey workers only; the bare baseline runs on Node's defaults, as a bare sample would. */
  nodeFlags: string[];
  /** One line for the log and the report: what the workers run. */
  describe: string;
}

export interface BenchCode {
  worker: WorkerCode;
  /** Workflow bundles, one file each, built once per run. */
  bundles: { baseline: string; journeys: string };
}

/**
 * Builds what the workers run into `dir` (the run's scratch folder, so a developer's dist/ is
 * never touched): for `compiled`, the steps of `npm run build` with another output folder.
 */
export async function prepareWorkerCode(mode: WorkerCodeMode, nodeFlags: string[], dir: string, log: (line: string) => void): Promise<BenchCode> {
  const flags = nodeFlags.length > 0 ? `${nodeFlags.join(' ')} ` : '';
  if (mode === 'sources') {
    const [baseline, journeys] = await Promise.all([
      bundle(join(__dirname, 'baselineWorkflow.ts'), join(dir, 'baseline-bundle.js')),
      bundleJourneyWorkflows(WORKFLOWS_PATH).then(({ code }) => write(join(dir, 'journeys-bundle.js'), code)),
    ]);
    const entry = join(__dirname, 'workerProcess.ts');
    return { worker: { mode, entry, execArgv: ['--import', 'tsx'], nodeFlags, describe: `the TypeScript sources through tsx (journey workers: node ${flags}--import tsx ${entry}; the bare baseline's without the product's flags)` }, bundles: { baseline, journeys } };
  }
  const started = Date.now();
  const root = await compile(join(dir, 'build'), log);
  const dist = join(root, 'dist');
  // `npm run build`'s last step, as it runs: the bundle a worker loads, in a cache of the run's own.
  const { stdout } = await run(process.execPath, [join(dist, 'worker', 'prebuild.js')], { env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  const journeys = /^workflow bundle: (.+)$/m.exec(stdout)?.[1];
  if (!journeys) throw new Error(`the build's prebuild step named no workflow bundle:\n${stdout}`);
  const baseline = await bundle(join(dist, 'bench', 'baselineWorkflow.js'), join(dir, 'baseline-bundle.js'));
  const entry = join(dist, 'bench', 'workerProcess.js');
  log(`compiled the working tree into ${dist} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { worker: { mode, entry, execArgv: [], nodeFlags, describe: `compiled JavaScript on plain Node (journey workers: node ${flags}${entry}, workflow bundle ${journeys}; the bare baseline's without the product's flags)` }, bundles: { baseline, journeys } };
}

/**
 * `npm run build` (tsc -p tsconfig.build.json, the templates copied next to the compiled
 * catalogue) into `root`/dist, plus the bench's worker process and the baseline workflow. The
 * root gets the project's package.json and a link to its node_modules, so the compiled code
 * resolves its packages and finds its project root as it does in a deployment.
 */
async function compile(root: string, log: (line: string) => void): Promise<string> {
  mkdirSync(root, { recursive: true });
  cpSync(join(PROJECT_ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  const build = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  const tsconfig = join(root, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(PROJECT_ROOT, 'tsconfig.build.json'),
      compilerOptions: { rootDir: PROJECT_ROOT, outDir: join(root, 'dist') },
      include: [...build.include, 'bench/workerProcess.ts', 'bench/apiProcess.ts', 'bench/baselineWorkflow.ts'].map((path) => join(PROJECT_ROOT, path)),
    }),
  );
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', tsconfig]).catch((err: Error & { code?: number; stdout?: string }) => {
    // Exit status 2: type errors, JavaScript emitted all the same (tsx would run the sources
    // as they are, too). Others edit the tree while the bench runs; say so and go on.
    const errors = (err.stdout ?? '').split('\n').filter((line) => line.includes('error TS'));
    if (err.code === 2 && errors.length > 0) log(`the working tree has type errors; running what tsc emitted anyway: ${errors.slice(0, 3).join(' | ')}`);
    else throw new Error(`the bench could not compile the working tree (--worker-code sources runs without a build):\n${err.stdout ?? err.message}`);
  });
  cpSync(join(PROJECT_ROOT, 'journeys', 'templates'), join(root, 'dist', 'journeys', 'templates'), { recursive: true });
  cpSync(join(PROJECT_ROOT, 'bench', 'templates'), join(root, 'dist', 'bench', 'templates'), { recursive: true });
  return root;
}

/** The baseline's bundle, as a bare Temporal sample builds it (the SDK's defaults). */
async function bundle(workflowsPath: string, file: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return write(file, code);
}

function write(file: string, code: string): string {
  writeFileSync(file, code);
  return file;
}
